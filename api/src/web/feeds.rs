//! 日历订阅: a person's calendar feed links (their own deadlines, and those
//! of the organizations they manage). A feed link carries a token of its
//! own that opens the feeds and nothing else; making a new one revokes the
//! old. The token is shown once, when it is made (only its hash is kept).

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use stageflow_app::policy::Op;

use super::{error_page, forbidden_form, frame, render, session};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/calendar",
            Access::Op(Op::ReadOwnFeed),
            get(show),
        ),
        page(
            Method::POST,
            "/calendar",
            Access::Op(Op::CreateToken),
            axum::routing::post(make),
        ),
    ]
}

async fn show(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let s = match session(&app, &headers, "/calendar").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        "feeds",
        "日历订阅",
        json!({ "csrf": s.csrf }),
        frame(&s, "calendar"),
    )
}

/// The site's address as the browser reached it (for links that leave the
/// browser: calendar apps).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

#[derive(Deserialize)]
struct MakeForm {
    csrf: String,
}

async fn make(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<MakeForm>,
) -> Response {
    let s = match session(&app, &headers, "/calendar").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.csrf != s.csrf {
        return forbidden_form();
    }
    let (token, revoked) = match app.new_feed_token(&s.caller).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, &e),
    };
    let person = &s.caller.person;
    let base = base_url(&headers);
    let mut feeds = vec![json!({
        "name": "我的待办期限",
        "url": format!("{base}/api/v1/calendar/people/{person}.ics?token={token}"),
    })];
    for o in app.managed_orgs(&s.caller).await.unwrap_or_default() {
        feeds.push(json!({
            "name": format!("{}（含下级组织）的期限", o.name),
            "url": format!("{base}/api/v1/calendar/orgs/{}.ics?token={token}", o.id),
        }));
    }
    let mut f = frame(&s, "calendar");
    f["notice"] = json!(if revoked {
        "已生成新的订阅链接，原有链接已失效。"
    } else {
        "已生成订阅链接。"
    });
    render(
        StatusCode::OK,
        "feeds",
        "日历订阅",
        json!({ "csrf": s.csrf, "feeds": feeds }),
        f,
    )
}
