//! 日历订阅: a person's calendar feed links (their own deadlines, and those
//! of the organizations they manage). A feed link carries a token of its
//! own that opens the feeds and nothing else; making a new one revokes the
//! old. The token is shown once, when it is made (only its hash is kept).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use stageflow_store::TokenKind;

use super::{forbidden_form, frame, render, session};
use crate::AppState;
use crate::auth::{hash_token, new_token};
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/calendar", get(page).post(make))
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match session(&state, &headers, "/calendar").await {
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
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<MakeForm>,
) -> Response {
    let s = match session(&state, &headers, "/calendar").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.csrf != s.csrf {
        return forbidden_form();
    }
    let person = s.caller.person.clone();
    let revoked = match state.store.delete_tokens_of(&person, TokenKind::Feed).await {
        Ok(n) => n,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let token = new_token();
    if let Err(e) = state
        .store
        .put_token(
            &hash_token(&token),
            &person,
            TokenKind::Feed,
            state.clock.now(),
            None,
        )
        .await
    {
        return ApiError::from(e).into_response();
    }
    let base = base_url(&headers);
    let mut feeds = vec![json!({
        "name": "我的待办期限",
        "url": format!("{base}/api/v1/calendar/people/{person}.ics?token={token}"),
    })];
    for (id, name) in super::overdue::managed(&state, &s).await {
        feeds.push(json!({
            "name": format!("{name}（含下级组织）的期限"),
            "url": format!("{base}/api/v1/calendar/orgs/{id}.ics?token={token}"),
        }));
    }
    let mut f = frame(&s, "calendar");
    f["notice"] = json!(if revoked > 0 {
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
