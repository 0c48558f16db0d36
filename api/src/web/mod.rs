//! The web pages, server-rendered (handlebars), in Simplified Chinese:
//! sign-in, 待办 / 已办, the task page with its case file, and the
//! organizer's console. Every core action works without JavaScript.
//!
//! The pages are an adapter like the JSON API: each reads the form, calls
//! the application's operation and renders what it answers. Sessions are
//! made by the application ([`stageflow_app::signin`]); a signed-in
//! browser carries its session token in an HttpOnly, SameSite=Strict
//! cookie (Secure behind HTTPS), and every form a CSRF token derived
//! from it.

mod campaigns;
mod casefile;
mod console;
mod email;
mod feeds;
mod files;
mod format;
mod history;
mod lists;
mod orgs;
mod overdue;
mod pipeline;
mod schedules;
mod signin;
mod task;
mod task_form;

use std::sync::LazyLock;

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use handlebars::Handlebars;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stageflow_app::{AppError, Caller, Credential, ErrorKind};

use crate::AppState;
use crate::routes::{Access, Route, page};

pub(crate) use signin::COOKIE;

static PAGES: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut h = Handlebars::new();
    h.set_strict_mode(false);
    for (name, text) in [
        ("layout", include_str!("templates/layout.hbs")),
        ("login", include_str!("templates/login.hbs")),
        ("list", include_str!("templates/list.hbs")),
        ("task", include_str!("templates/task.hbs")),
        ("definitions", include_str!("templates/definitions.hbs")),
        ("campaigns", include_str!("templates/campaigns.hbs")),
        ("overdue", include_str!("templates/overdue.hbs")),
        ("pipeline", include_str!("templates/pipeline.hbs")),
        ("orgs", include_str!("templates/orgs.hbs")),
        ("schedules", include_str!("templates/schedules.hbs")),
        ("feeds", include_str!("templates/feeds.hbs")),
        ("inputs", include_str!("templates/inputs.hbs")),
        ("confirm", include_str!("templates/confirm.hbs")),
    ] {
        // The templates are part of the binary and tested: a broken one
        // fails every page test.
        if let Err(e) = h.register_template_string(name, text) {
            tracing::error!(template = name, error = %e, "page template does not compile");
        }
    }
    h
});

/// The page routes.
pub(crate) fn routes() -> Vec<Route> {
    let mut routes = vec![
        page(
            Method::GET,
            "/",
            Access::Public,
            get(|| async { Redirect::to("/inbox") }),
        ),
        page(Method::GET, "/static/app.css", Access::Public, get(css)),
    ];
    routes.extend(signin::routes());
    routes.extend(email::routes());
    routes.extend(lists::routes());
    routes.extend(task::routes());
    routes.extend(console::routes());
    routes.extend(campaigns::routes());
    routes.extend(overdue::routes());
    routes.extend(pipeline::routes());
    routes.extend(orgs::routes());
    routes.extend(schedules::routes());
    routes.extend(feeds::routes());
    routes.extend(files::routes());
    routes
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("templates/app.css"),
    )
}

/// A signed-in person.
pub(crate) struct Session {
    pub(crate) caller: Caller,
    pub(crate) csrf: String,
    pub(crate) token: String,
    /// Whether the console's pages are theirs (the navigation shows them).
    pub(crate) organizer: bool,
    /// Their pending tasks (the count beside 待办 in the navigation).
    pub(crate) pending: u64,
}

fn csrf_for(session_token: &str) -> String {
    hex::encode(Sha256::digest(format!("csrf:{session_token}").as_bytes()))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The session of the request, or a redirect to the sign-in page that
/// comes back to `here`.
pub(crate) async fn session(
    app: &AppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Session, Response> {
    let to_login = |expired: bool| {
        let flag = if expired { "&expired=1" } else { "" };
        Redirect::to(&format!("/login?next={}{flag}", encode(here))).into_response()
    };
    let Some(token) = cookie_value(headers) else {
        return Err(to_login(false));
    };
    match app.authenticate(&token, Credential::Session).await {
        Ok(caller) => Ok(Session {
            csrf: csrf_for(&token),
            organizer: app.open_console(&caller).is_ok(),
            pending: app.pending_count(&caller).await.unwrap_or(0),
            caller,
            token,
        }),
        Err(e) if e.kind == ErrorKind::Unauthorized => Err(to_login(true)),
        Err(e) => Err(crate::error::ApiError(e).into_response()),
    }
}

/// The signed-in organizer, or the page that says they are not one.
pub(crate) async fn organizer(
    app: &AppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Session, Response> {
    let s = session(app, headers, here).await?;
    if !s.organizer {
        let f = frame(&s, "definitions");
        return Err(render(
            StatusCode::FORBIDDEN,
            "list",
            "无权访问",
            json!({ "heading": "无权访问", "tasks": [],
                    "empty": "控制台由书记、副书记、组织委员、组织员或组织部门使用。" }),
            f,
        ));
    }
    Ok(s)
}

/// A path as a query value.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Renders a page into the layout.
pub(crate) fn render(
    status: StatusCode,
    template: &str,
    title: &str,
    page: Value,
    frame: Value,
) -> Response {
    let content = match PAGES.render(template, &page) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(template, error = %e, "rendering a page failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败").into_response();
        }
    };
    let mut data = frame;
    data["title"] = json!(title);
    data["content"] = json!(content);
    match PAGES.render("layout", &data) {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the layout failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败").into_response()
        }
    }
}

/// The frame around a signed-in page.
pub(crate) fn frame(s: &Session, page: &str) -> Value {
    json!({
        "user": s.caller.name, "csrf": s.csrf, "page": page,
        "organizer": s.organizer, "pending": s.pending,
    })
}

/// Merges `messages` (`notice`, `error`) into a frame.
pub(crate) fn with_messages(mut frame: Value, messages: &Value) -> Value {
    if let Some(m) = messages.as_object() {
        for (k, v) in m {
            frame[k] = v.clone();
        }
    }
    frame
}

/// The page for a form whose CSRF token does not match.
pub(crate) fn forbidden_form() -> Response {
    render(
        StatusCode::FORBIDDEN,
        "list",
        "表单已失效",
        json!({ "heading": "表单已失效", "tasks": [],
                "empty": "安全校验未通过：请返回上一页，刷新后再提交。" }),
        json!({}),
    )
}

/// The page for a form posted from another site.
pub(crate) fn cross_site_form() -> Response {
    render(
        StatusCode::FORBIDDEN,
        "list",
        "表单来源无效",
        json!({ "heading": "表单来源无效", "tasks": [],
                "empty": "该表单不是从本站页面提交的，已拒绝。请从本站页面重新操作。" }),
        json!({}),
    )
}

/// The page for an operation that failed (a thing missing or not one's
/// own looks the same).
pub(crate) fn error_page(s: &Session, e: &AppError) -> Response {
    let status = crate::error::status_of(e.kind).0;
    let text = match e.kind {
        ErrorKind::NotFound => "找不到该事项（可能已被删除，或不在您的权限范围内）。".to_string(),
        ErrorKind::Forbidden => format!("您无权进行该操作：{}", e.detail),
        ErrorKind::Internal => "服务器出错，请稍后再试。".to_string(),
        _ => e.detail.clone(),
    };
    render(
        status,
        "list",
        "无法打开",
        json!({ "heading": "无法打开", "tasks": [], "empty": text }),
        frame(s, "task"),
    )
}

/// Today in Beijing.
pub(crate) fn today(app: &AppState) -> chrono::NaiveDate {
    app.now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// The organization a report page shows: the one asked for, or the first
/// the person manages; with the choices for the page's selector and its
/// name. `None` when they manage none by an organizer role.
pub(crate) async fn org_choice(
    app: &AppState,
    s: &Session,
    wanted: Option<String>,
) -> Result<Option<(String, String, Vec<Value>)>, AppError> {
    let orgs = app.managed_orgs(&s.caller).await?;
    let Some(org) = wanted.or_else(|| orgs.first().map(|o| o.id.clone())) else {
        return Ok(None);
    };
    let name = orgs
        .iter()
        .find(|o| o.id == org)
        .map_or(org.clone(), |o| o.name.clone());
    let options = orgs
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name, "selected": o.id == org }))
        .collect();
    Ok(Some((org, name, options)))
}

/// The organization a report page is asked for (`?org=`).
#[derive(serde::Deserialize)]
pub(crate) struct OrgParam {
    pub(crate) org: Option<String>,
}
