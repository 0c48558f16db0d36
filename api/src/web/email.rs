//! Confirming a change of one's own e-mail address from the link sent to
//! the old one: the link opens a page with one button (a mail scanner
//! fetching the link does not use it up); the button applies the change.

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::render;
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/email/confirm",
            Access::Public,
            get(confirm_page),
        ),
        page(
            Method::POST,
            "/email/confirm",
            Access::Public,
            post(confirm),
        ),
    ]
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

async fn confirm_page(Query(q): Query<TokenParam>) -> Response {
    render(
        StatusCode::OK,
        "confirm",
        "确认更改邮箱",
        json!({
            "heading": "确认更改邮箱", "action": "/email/confirm",
            "token": q.token.unwrap_or_default(),
            "text": "点击下面的按钮，确认将您的邮箱改为申请中填写的新地址。",
            "button": "确认更改",
        }),
        json!({}),
    )
}

async fn confirm(
    State(app): State<AppState>,
    axum::Form(form): axum::Form<TokenParam>,
) -> Response {
    let token = form.token.unwrap_or_default();
    match app.confirm_email(&token).await {
        Ok(person) => render(
            StatusCode::OK,
            "confirm",
            "邮箱已更改",
            json!({
                "heading": "邮箱已更改",
                "text": format!("您的邮箱已改为 {}。", person.email.unwrap_or_default()),
            }),
            json!({}),
        ),
        Err(e) => render(
            crate::error::status_of(e.kind).0,
            "confirm",
            "无法确认",
            json!({ "heading": "无法确认", "text": e.detail }),
            json!({}),
        ),
    }
}
