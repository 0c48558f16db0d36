//! Signing in and out: with a personal token, or with a one-time link
//! sent by mail. `next=` after sign-in is followed only to a path of this
//! site written in printable characters.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use stageflow_app::ErrorKind;
use stageflow_app::signin::Session as NewSession;

use super::{forbidden_form, render, session};
use crate::AppState;
use crate::auth::ClientAddr;
use crate::error::ApiError;
use crate::routes::{Access, Route, page};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "sf_session";

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(Method::GET, "/login", Access::Public, get(login_page)),
        page(Method::POST, "/login", Access::Public, post(login)),
        page(
            Method::POST,
            "/login/mail",
            Access::Public,
            post(login_mail),
        ),
        page(Method::GET, "/login/link", Access::Public, get(link_page)),
        page(
            Method::POST,
            "/login/link",
            Access::Public,
            post(link_login),
        ),
        page(Method::POST, "/logout", Access::SignedIn, post(logout)),
    ]
}

/// Where to go after signing in: a path of this site (`/…`, not `//…`),
/// printable ASCII; anything else goes to the 待办. `Err` for a value with
/// control characters, which no browser sends.
fn safe_next(next: Option<&str>) -> Result<String, ()> {
    let Some(n) = next else {
        return Ok("/inbox".into());
    };
    if n.chars().any(|c| c.is_control()) {
        return Err(());
    }
    let same_site = n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && n.bytes().all(|b| b.is_ascii_graphic());
    Ok(if same_site { n.into() } else { "/inbox".into() })
}

/// The page for a `next=` no browser sends.
fn bad_next(app: &AppState) -> Response {
    login_form(
        app,
        StatusCode::BAD_REQUEST,
        "/inbox",
        json!({ "error": "登录后要打开的地址无效（含控制字符），请从首页重新登录。" }),
    )
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
    expired: Option<String>,
}

async fn login_page(State(app): State<AppState>, Query(q): Query<NextParam>) -> Response {
    let Ok(next) = safe_next(q.next.as_deref()) else {
        return bad_next(&app);
    };
    let mut f = json!({});
    if q.expired.is_some() {
        f["error"] = json!(format!(
            "登录已失效（超过 {} 小时或已在别处退出），请重新登录。",
            app.config().session_hours
        ));
    }
    login_form(&app, StatusCode::OK, &next, f)
}

fn login_form(app: &AppState, status: StatusCode, next: &str, frame: Value) -> Response {
    render(
        status,
        "login",
        "登录",
        json!({ "next": next, "link_minutes": app.config().link_minutes }),
        frame,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let Ok(next) = safe_next(form.next.as_deref()) else {
        return bad_next(&app);
    };
    match app.sign_in_with_token(&form.token).await {
        Ok(s) => with_cookie(&headers, &s, &next, app.config().session_hours),
        Err(e) if e.kind == ErrorKind::Unauthorized => login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            &next,
            json!({ "error": "令牌无效、已过期或已被撤销，请核对后重新输入。" }),
        ),
        Err(e) => ApiError(e).into_response(),
    }
}

/// The session's cookie, and on to `next`.
fn with_cookie(headers: &HeaderMap, s: &NewSession, next: &str, hours: i64) -> Response {
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        s.token,
        hours * 3600,
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
struct MailForm {
    email: String,
    next: Option<String>,
}

/// Sends a one-time sign-in link to a registered address. The answer is
/// the same, and as quick, whether the address is known or not; too many
/// requests for an address or from a client are refused.
async fn login_mail(
    State(app): State<AppState>,
    ClientAddr(client): ClientAddr,
    axum::Form(form): axum::Form<MailForm>,
) -> Response {
    let Ok(next) = safe_next(form.next.as_deref()) else {
        return bad_next(&app);
    };
    let minutes = app.config().link_minutes;
    match app.request_login_link(&form.email, client) {
        Ok(()) => login_form(
            &app,
            StatusCode::OK,
            &next,
            json!({ "notice": format!(
                "如果该邮箱已登记，登录链接已发送，请在 {minutes} 分钟内打开（仅可使用一次）。"
            ) }),
        ),
        Err(e) => {
            let status = crate::error::status_of(e.kind).0;
            login_form(&app, status, &next, json!({ "error": e.detail }))
        }
    }
}

#[derive(Deserialize)]
struct LinkParam {
    token: Option<String>,
}

/// The page a sign-in link opens: one button that signs in. Opening the
/// link alone (a mail scanner fetching it) does not use it up.
async fn link_page(Query(q): Query<LinkParam>) -> Response {
    render(
        StatusCode::OK,
        "login",
        "登录",
        json!({ "link_token": q.token.unwrap_or_default() }),
        json!({}),
    )
}

async fn link_login(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LinkParam>,
) -> Response {
    let token = form.token.unwrap_or_default();
    match app.sign_in_with_link(&token).await {
        Ok(s) => with_cookie(&headers, &s, "/inbox", app.config().session_hours),
        Err(e) if e.kind == ErrorKind::Unauthorized => login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            "/inbox",
            json!({ "error": e.detail }),
        ),
        Err(e) => ApiError(e).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let s = match session(&app, &headers, "/inbox").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.csrf != s.csrf {
        return forbidden_form();
    }
    if let Err(e) = app.sign_out(&s.token).await {
        return ApiError(e).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sf_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_printable_path_of_this_site() {
        assert_eq!(safe_next(None), Ok("/inbox".into()));
        assert_eq!(safe_next(Some("/tasks/1?x=2")), Ok("/tasks/1?x=2".into()));
        assert_eq!(safe_next(Some("//evil.example")), Ok("/inbox".into()));
        assert_eq!(safe_next(Some("https://evil.example")), Ok("/inbox".into()));
        assert_eq!(safe_next(Some("/\\evil.example")), Ok("/inbox".into()));
        assert_eq!(safe_next(Some("/待办")), Ok("/inbox".into()));
        assert_eq!(safe_next(Some("/inbox\r\nSet-Cookie: x=1")), Err(()));
        assert_eq!(safe_next(Some("/in\u{0}box")), Err(()));
    }
}
