//! The web pages, server-rendered (handlebars), in Simplified Chinese:
//! sign-in with a personal token, 待办 / 已办, and the task page with the
//! instance's stage map, its history and the form and buttons of the step.
//! Every core action works without JavaScript.
//!
//! Sessions: signing in with a personal token, or with a one-time link sent
//! by mail, creates a session token of its own (stored hashed, like every
//! token, and expiring after [`SESSION_HOURS`]) in an HttpOnly,
//! SameSite=Strict cookie (Secure behind HTTPS); signing out deletes it.
//! Every form carries a CSRF token derived from the session token.

mod campaigns;
mod console;
mod feeds;
mod format;
mod orgs;
mod overdue;
mod pipeline;
mod schedules;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Caller, hash_token, new_token};
use crate::error::ApiError;
use crate::extract::Params;
use crate::routes::tasks::{Action, ActionRequest, InboxParams};
use stageflow_store::TokenKind;

const COOKIE: &str = "sf_session";
/// How long a web session lasts.
pub const SESSION_HOURS: i64 = 12;
/// How long a sign-in link sent by mail stays valid.
pub const LOGIN_LINK_MINUTES: i64 = 15;

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
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(login_page).post(login))
        .route("/login/mail", post(login_mail))
        .route("/login/link", get(link_page).post(link_login))
        .route("/logout", post(logout))
        .route("/inbox", get(inbox))
        .route("/done", get(done))
        .route("/tasks/{id}", get(task_page).post(task_action))
        .route("/static/app.css", get(css))
        .merge(console::routes())
        .merge(campaigns::routes())
        .merge(overdue::routes())
        .merge(pipeline::routes())
        .merge(orgs::routes())
        .merge(schedules::routes())
        .merge(feeds::routes())
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
struct Session {
    caller: Caller,
    name: String,
    csrf: String,
    token: String,
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
async fn session(state: &AppState, headers: &HeaderMap, here: &str) -> Result<Session, Response> {
    let to_login = |expired: bool| {
        let flag = if expired { "&expired=1" } else { "" };
        Redirect::to(&format!("/login?next={}{flag}", encode(here))).into_response()
    };
    let Some(token) = cookie_value(headers) else {
        return Err(to_login(false));
    };
    let caller = match crate::auth::caller_for_token(state, &token, TokenKind::Session).await {
        Ok(c) => c,
        Err(_) => return Err(to_login(true)),
    };
    let name = caller.name.clone();
    Ok(Session {
        csrf: csrf_for(&token),
        caller,
        name,
        token,
    })
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only paths of this site are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/inbox".into(),
    }
}

fn render(status: StatusCode, template: &str, title: &str, page: Value, frame: Value) -> Response {
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

fn frame(s: &Session, page: &str) -> Value {
    json!({ "user": s.name, "csrf": s.csrf, "page": page, "organizer": s.caller.is_organizer() })
}

// ----- sign-in ----------------------------------------------------------

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
    expired: Option<String>,
}

async fn login_page(Query(q): Query<NextParam>) -> Response {
    let next = safe_next(q.next.as_deref());
    let mut f = json!({});
    if q.expired.is_some() {
        f["error"] = json!(format!(
            "登录已失效（超过 {SESSION_HOURS} 小时或已在别处退出），请重新登录。"
        ));
    }
    login_form(StatusCode::OK, &next, f)
}

fn login_form(status: StatusCode, next: &str, frame: Value) -> Response {
    render(
        status,
        "login",
        "登录",
        json!({ "next": next, "link_minutes": LOGIN_LINK_MINUTES }),
        frame,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let token = form.token.trim();
    let now = state.clock.now();
    match state
        .store
        .token_person(&hash_token(token), TokenKind::Personal, now)
        .await
    {
        Ok(Some(person)) => start_session(&state, &headers, &person, &next).await,
        _ => login_form(
            StatusCode::UNAUTHORIZED,
            &next,
            json!({ "error": "令牌无效，请核对后重新输入。" }),
        ),
    }
}

/// A new session for a person: the cookie, and on to `next`.
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    person: &str,
    next: &str,
) -> Response {
    let session = new_token();
    let now = state.clock.now();
    if let Err(e) = state
        .store
        .put_token(
            &hash_token(&session),
            person,
            TokenKind::Session,
            now,
            Some(now + chrono::Duration::hours(SESSION_HOURS)),
        )
        .await
    {
        return ApiError::from(e).into_response();
    }
    let secure = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_HOURS * 3600,
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

/// Sends a one-time sign-in link to a registered address. The answer is the
/// same whether the address is known or not (nobody learns who is
/// registered); at most one link a minute per person goes out.
async fn login_mail(
    State(state): State<AppState>,
    axum::Form(form): axum::Form<MailForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let now = state.clock.now();
    let person = match state.store.person_by_email(&form.email).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some(person) = person {
        let token = new_token();
        let stored = state
            .store
            .put_token(
                &hash_token(&token),
                &person,
                TokenKind::LoginLink,
                now,
                Some(now + chrono::Duration::minutes(LOGIN_LINK_MINUTES)),
            )
            .await;
        if let Err(e) = stored {
            return ApiError::from(e).into_response();
        }
        let mut vars = stageflow_engine::state::Values::new();
        vars.insert("login".into(), token.into());
        vars.insert("reason".into(), format!("{LOGIN_LINK_MINUTES} 分钟").into());
        let mail = stageflow_engine::state::Mail {
            key: format!("login:{person}:{}", now.timestamp() / 60),
            to: person,
            kind: "login_link".into(),
            vars,
        };
        if let Err(e) = state.runtime.queue_mail(&mail, now).await {
            return ApiError::from(e).into_response();
        }
    }
    login_form(
        StatusCode::OK,
        &next,
        json!({ "notice": format!(
            "如果该邮箱已登记，登录链接已发送，请在 {LOGIN_LINK_MINUTES} 分钟内打开（仅可使用一次）。"
        ) }),
    )
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
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LinkParam>,
) -> Response {
    let token = form.token.unwrap_or_default();
    let now = state.clock.now();
    match state
        .store
        .take_token(&hash_token(token.trim()), TokenKind::LoginLink, now)
        .await
    {
        Ok(Some(person)) => start_session(&state, &headers, &person, "/inbox").await,
        Ok(None) => login_form(
            StatusCode::UNAUTHORIZED,
            "/inbox",
            json!({ "error": format!(
                "登录链接无效或已过期（{LOGIN_LINK_MINUTES} 分钟内有效，仅可使用一次），请重新获取。"
            ) }),
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Response {
    let s = match session(&state, &headers, "/inbox").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.csrf != s.csrf {
        return forbidden_form();
    }
    if let Err(e) = state.store.delete_token(&hash_token(&s.token)).await {
        return ApiError::from(e).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sf_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

fn forbidden_form() -> Response {
    render(
        StatusCode::FORBIDDEN,
        "list",
        "表单已失效",
        json!({ "heading": "表单已失效", "tasks": [],
                "empty": "安全校验未通过：请返回上一页，刷新后再提交。" }),
        json!({}),
    )
}

// ----- 待办 / 已办 --------------------------------------------------------

fn today(state: &AppState) -> chrono::NaiveDate {
    state
        .clock
        .now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// Filters of 待办 / 已办: one workflow; only overdue (待办).
#[derive(Deserialize, Default)]
struct ListFilter {
    ok: Option<Uuid>,
    workflow: Option<String>,
    overdue: Option<String>,
}

async fn list(state: AppState, headers: HeaderMap, done: bool, q: ListFilter) -> Response {
    let path = if done { "/done" } else { "/inbox" };
    let workflow = q.workflow.clone().filter(|w| !w.is_empty());
    let only_overdue = !done && q.overdue.is_some();
    let mut here = path.to_string();
    if let Some(w) = &workflow {
        here.push_str(&format!("?workflow={}", encode(w)));
    }
    let s = match session(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Overdue: the deadline was missed (its instant, the end of the last
    // day, has passed).
    let due_before = only_overdue.then(|| state.clock.now());
    let params = InboxParams {
        assignee: None,
        status: Some(if done { "done" } else { "pending" }.into()),
        org: None,
        workflow: workflow.clone(),
        due_before,
        limit: Some(200),
        offset: None,
    };
    let page =
        match crate::routes::tasks::inbox(State(state.clone()), s.caller.clone(), Params(params))
            .await
        {
            Ok(p) => p.0,
            Err(e) => return e.into_response(),
        };
    let today = today(&state);
    let tasks: Vec<Value> = page
        .tasks
        .iter()
        .map(|t| {
            let (when, overdue) = t
                .due
                .map(|d| format::due_in_words(d, today))
                .unwrap_or_default();
            let outcome = t
                .outcome
                .as_deref()
                .map(|o| {
                    t.outcomes
                        .iter()
                        .find(|x| x.id == o)
                        .map_or(o.to_string(), |x| x.label.clone())
                })
                .unwrap_or_default();
            json!({
                "id": t.id, "step_name": t.step_name, "workflow_name": t.workflow_name,
                "stage": t.stage, "due": t.due.map(format::date_zh), "due_iso": t.due,
                "when": when, "overdue": overdue && !done, "outcome": outcome,
            })
        })
        .collect();
    let filtered = workflow.is_some() || only_overdue;
    let (heading, caption, empty) = match (done, filtered) {
        (true, false) => ("已办", "我已办理的事项", "还没有已办事项。"),
        (true, true) => (
            "已办",
            "我已办理的事项（已筛选）",
            "没有符合条件的已办事项。",
        ),
        (false, false) => ("待办", "按期限排列，逾期的标红", "没有待办事项。"),
        (false, true) => ("待办", "按期限排列（已筛选）", "没有符合条件的待办事项。"),
    };
    // The workflows to filter by: every published one, by name.
    let mut seen = std::collections::HashSet::new();
    let workflows: Vec<Value> = state
        .store
        .list_definitions()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|d| seen.insert(d.id.clone()))
        .map(
            |d| json!({ "id": d.id, "name": d.name, "selected": Some(&d.id) == workflow.as_ref() }),
        )
        .collect();
    let mut f = frame(&s, if done { "done" } else { "inbox" });
    // Back from an action: say what was done.
    if let Some(t) = q.ok.and_then(|ok| page.tasks.iter().find(|t| t.id == ok)) {
        f["notice"] = json!(format!("「{}」已办理，已移入已办。", t.step_name));
    }
    render(
        StatusCode::OK,
        "list",
        heading,
        json!({ "heading": heading, "caption": caption, "empty": empty, "tasks": tasks,
                "done": done, "filters": { "path": path, "workflows": workflows,
                "overdue": only_overdue, "active": filtered } }),
        f,
    )
}

async fn inbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListFilter>,
) -> Response {
    list(state, headers, false, q).await
}

async fn done(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListFilter>,
) -> Response {
    list(state, headers, true, q).await
}

// ----- the task page ------------------------------------------------------

#[derive(Deserialize)]
struct TaskParams {
    started: Option<String>,
}

async fn task_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<TaskParams>,
) -> Response {
    let s = match session(&state, &headers, &format!("/tasks/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let messages = match q.started {
        Some(_) => json!({ "notice": "流程已发起，以下是它的第一项待办。" }),
        None => json!({}),
    };
    show_task(&state, &s, id, StatusCode::OK, messages).await
}

/// Renders the task page; `messages` carries `notice` / `error`.
async fn show_task(
    state: &AppState,
    s: &Session,
    id: Uuid,
    status: StatusCode,
    messages: Value,
) -> Response {
    let task = match crate::routes::tasks::get_one(State(state.clone()), s.caller.clone(), Path(id))
        .await
    {
        Ok(t) => t.0,
        Err(e) => return error_page(s, &e),
    };
    let (instance, def) = match crate::instance_with_definition(state, task.instance).await {
        Ok(Some(found)) => found,
        Ok(None) => return error_page(s, &ApiError::not_found("流程实例不存在")),
        Err(e) => return error_page(s, &e),
    };
    let events = state.store.events(task.instance).await.unwrap_or_default();
    let verified = stageflow_engine::state::verify_chain(&events).is_ok();
    // The stage map: done before the current stage, the current, to come.
    let current = instance.stage.clone();
    let current_index = current
        .as_deref()
        .and_then(|c| def.stages.iter().position(|st| st.id == c));
    let ended = !matches!(instance.status, stageflow_engine::state::Status::Running);
    let stages: Vec<Value> = def
        .stages
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let (state_class, label) = match current_index {
                _ if ended => ("done", "已结束"),
                Some(c) if i < c => ("done", "已完成"),
                Some(c) if i == c => ("current", "进行中"),
                _ => ("todo", "未开始"),
            };
            json!({ "name": st.name, "state": state_class, "label": label, "current": state_class == "current" })
        })
        .collect();
    let tz = chrono_tz::Asia::Shanghai;
    // People by name in the history.
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut steps: std::collections::HashMap<Uuid, String> = std::collections::HashMap::new();
    for e in &events {
        use stageflow_engine::Event as E;
        if let E::TaskCreated { task, record } = &e.event {
            steps.insert(*task, record.step.clone());
        }
        let who: Vec<&String> = match &e.event {
            E::InstanceStarted { initiator, .. } => vec![initiator],
            E::TaskCreated { record, .. } => vec![&record.assignee],
            E::TaskCompleted { actor, .. }
            | E::Urged { actor, .. }
            | E::Commented { actor, .. } => vec![actor],
            E::CopiedTo { actor, to, .. } => std::iter::once(actor).chain(to).collect(),
            E::TaskTransferred { from, to, .. } | E::TaskDelegated { from, to, .. } => {
                vec![from, to]
            }
            E::SignerAdded { by, signer, .. } => vec![by, signer],
            E::Withdrawn { by, .. } => vec![by],
            E::BallotCast { voter, .. } => vec![voter],
            E::RatingSubmitted { rater, .. } => vec![rater],
            E::RatingClosed { results, .. } => results.keys().collect(),
            _ => continue,
        };
        for who in who {
            if !names.contains_key(who) {
                let name = match state.store.person(who).await {
                    Ok(Some(p)) => p.name,
                    _ => who.clone(),
                };
                names.insert(who.clone(), name);
            }
        }
    }
    let history: Vec<Value> = events
        .iter()
        .filter_map(|e| {
            let text = describe(&e.event, &names, &steps, &def)?;
            let local = e.at.with_timezone(&tz);
            Some(json!({
                "at": local.format("%Y年%-m月%-d日 %H:%M").to_string(),
                "at_iso": e.at.to_rfc3339(),
                "text": text,
            }))
        })
        .collect();
    let open = task.status == "pending" && task.assignees.contains(&s.caller.person);
    // People to choose from (person fields, 转办, 委派, 加签, 抄送): the
    // organization the task is done for, and the one above it.
    let mut people: Vec<Value> = Vec::new();
    if open {
        let mut orgs = vec![task.org.clone()];
        if let Ok(Some(o)) = state.store.org(&task.org).await
            && let Some(parent) = o.parent
        {
            orgs.push(parent);
        }
        for org in orgs {
            for p in state
                .store
                .people_under(Some(&org))
                .await
                .unwrap_or_default()
            {
                if p.id != s.caller.person && !people.iter().any(|x| x["id"] == p.id.as_str()) {
                    people.push(json!({ "id": p.id, "name": p.name }));
                }
            }
        }
    }
    // Steps of this stage that ran before this one: where 退回 may go.
    let returnable: Vec<Value> = if open && task.outcomes.iter().any(|o| o.id == "return") {
        let stage = def.step(&task.step).map(|(st, _)| st);
        stage
            .map(|st| {
                st.steps
                    .iter()
                    .take_while(|x| x.id != task.step)
                    .filter(|x| {
                        instance
                            .steps
                            .get(&x.id)
                            .is_some_and(|r| r.status == stageflow_engine::state::StepStatus::Done)
                    })
                    .map(|x| json!({ "id": x.id, "name": x.name }))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let fields: Vec<Value> = task
        .form
        .iter()
        .map(|f| {
            let input = match f.kind.as_str() {
                "date" => "date",
                "integer" | "number" => "number",
                _ => "text",
            };
            let value = f.default.as_ref().map(|d| match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            json!({
                "id": f.id, "label": f.label, "type": f.kind, "required": f.required,
                "options": f.options, "input": input, "value": value, "people": people,
                "step": if f.kind == "number" { Some("any") } else { None },
            })
        })
        .collect();
    let mut buttons: Vec<Value> = Vec::new();
    if task.kind == "ballot" {
        for c in &task.choices {
            let label = match c.as_str() {
                "yes" => "赞成".to_string(),
                "no" => "反对".to_string(),
                "abstain" => "弃权".to_string(),
                other => task
                    .outcomes
                    .iter()
                    .find(|o| o.id == other)
                    .map_or(other.to_string(), |o| o.label.clone()),
            };
            buttons.push(json!({ "value": format!("vote:{c}"), "label": label }));
        }
    } else {
        for (i, o) in task.outcomes.iter().enumerate() {
            let value = match o.id.as_str() {
                "approve" => "approve".to_string(),
                "reject" => "reject".to_string(),
                "return" => "return".to_string(),
                other => format!("complete:{other}"),
            };
            buttons.push(json!({ "value": value, "label": o.label, "secondary": i > 0 }));
        }
        if buttons.is_empty() {
            buttons.push(json!({ "value": "complete", "label": "办结" }));
        }
    }
    let today = today(state);
    let (when, overdue) = task
        .due
        .map(|d| format::due_in_words(d, today))
        .unwrap_or_default();
    let step = def.step(&task.step).map(|(_, st)| st);
    let status_text = match task.status.as_str() {
        "pending" if open => "待我办理",
        "pending" => "待他人办理",
        "done" => "已办理",
        _ => "已取消",
    };
    let subject = instance
        .subject
        .person
        .clone()
        .unwrap_or_else(|| instance.subject.org.clone());
    let subject = match state.store.person(&subject).await {
        Ok(Some(p)) => p.name,
        _ => match state.store.org(&subject).await {
            Ok(Some(o)) => o.name,
            _ => subject,
        },
    };
    // 催办 (the initiator, the organizers), 撤回 of my own decision while
    // nobody has acted since, and 撤回 of the whole instance (its initiator).
    let me = s.caller.person.as_str();
    let running = !ended;
    let manages = s
        .caller
        .manages(state, &instance.subject.org)
        .await
        .unwrap_or(false);
    let can_urge = task.status == "pending" && !open && (instance.initiator == me || manages);
    let can_retract = running
        && instance.tasks.get(&id).is_some_and(|t| {
            t.assignee == me
                && t.kind == stageflow_engine::state::TaskKind::Work
                && matches!(t.status, stageflow_engine::state::TaskStatus::Done(_))
                && t.decided_seq == Some(instance.last_decision_seq)
        });
    let can_withdraw = running && instance.initiator == me;
    // The chair (the step's assignee, usually the 书记) may close a vote or
    // a rating early; offered to the organizers and the initiator, the
    // engine checks who the chair is.
    let can_close = running
        && (task.kind == "ballot" || task.kind == "rate")
        && instance
            .steps
            .get(&task.step)
            .is_some_and(|st| st.status == stageflow_engine::state::StepStatus::Active)
        && (manages || instance.initiator == me);
    let assignees: Vec<String> = {
        let mut out = Vec::new();
        for a in &task.assignees {
            out.push(match state.store.person(a).await {
                Ok(Some(p)) => p.name,
                _ => a.clone(),
            });
        }
        out
    };
    // The rating form: each ratee by name, a grade or the rubric's scores.
    let rating = match (&task.rating, open) {
        (Some(r), true) => {
            let mut ratees = Vec::new();
            for (i, p) in r.ratees.iter().enumerate() {
                let name = match state.store.person(p).await {
                    Ok(Some(x)) => x.name,
                    _ => p.clone(),
                };
                let items: Vec<Value> = r
                    .items
                    .iter()
                    .map(|it| json!({ "id": it.id, "name": it.name, "min": it.min, "max": it.max, "ratee": p, "n": i }))
                    .collect();
                ratees.push(
                    json!({ "id": p, "name": name, "n": i, "grades": r.grades, "items": items }),
                );
            }
            Some(json!({ "ratees": ratees, "scale": !r.grades.is_empty() }))
        }
        _ => None,
    };
    if rating.is_some() {
        buttons = vec![json!({ "value": "rate", "label": "提交评议" })];
    }
    let page = json!({
        "can_urge": can_urge, "can_retract": can_retract, "can_withdraw": can_withdraw,
        "can_close": can_close, "close_what": if task.kind == "ballot" { "表决" } else { "评议" },
        "assignees": assignees.join("、"), "rating": rating,
        "task": task, "stages": stages, "history": history, "verified": verified,
        "open": open, "fields": fields, "buttons": buttons, "csrf": s.csrf,
        "people": people, "returnable": returnable, "work": task.kind == "work",
        "seen": events.len(), "due": task.due.map(format::date_zh), "due_iso": task.due,
        "when": when, "overdue": overdue && open, "earliest": task.earliest.map(format::date_zh),
        "status": status_text, "subject": subject,
        "comment_required": step.is_some_and(|st| st.comment_required),
    });
    let mut f = frame(s, "task");
    if let Some(m) = messages.as_object() {
        for (k, v) in m {
            f[k] = v.clone();
        }
    }
    render(status, "task", &task.step_name, page, f)
}

fn error_page(s: &Session, e: &ApiError) -> Response {
    let text = match e.status {
        StatusCode::NOT_FOUND => "找不到该事项（可能已被删除）。".to_string(),
        StatusCode::FORBIDDEN => "您无权查看该事项。".to_string(),
        _ => e.detail.clone(),
    };
    render(
        e.status,
        "list",
        "无法打开",
        json!({ "heading": "无法打开", "tasks": [], "empty": text }),
        frame(s, "task"),
    )
}

/// One line of the history, in words; `None` for bookkeeping events.
fn describe(
    event: &stageflow_engine::Event,
    names: &std::collections::HashMap<String, String>,
    steps: &std::collections::HashMap<Uuid, String>,
    def: &stageflow_engine::Definition,
) -> Option<String> {
    use stageflow_engine::Event as E;
    let step_name = |id: &str| def.step(id).map_or(id.to_string(), |(_, s)| s.name.clone());
    let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    let note = |what: &str, c: &Option<String>| {
        c.as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| format!("，{what}：{c}"))
            .unwrap_or_default()
    };
    Some(match event {
        E::InstanceStarted { initiator, .. } => format!("{} 发起流程", name(initiator)),
        E::StageEntered { stage } => {
            let name = def
                .stages
                .iter()
                .find(|s| &s.id == stage)
                .map_or(stage.clone(), |s| s.name.clone());
            format!("进入阶段「{name}」")
        }
        E::TaskCreated { record, .. } => {
            format!(
                "「{}」交由 {} 办理",
                step_name(&record.step),
                name(&record.assignee)
            )
        }
        // A ballot or a rating completes its task; its own line says so.
        E::TaskCompleted {
            outcome,
            automatic: None,
            ..
        } if outcome == "voted" || outcome == "rated" => return None,
        E::Commented { actor, text, .. } => format!("{} 意见：{text}", name(actor)),
        E::TaskCompleted {
            task,
            actor,
            outcome,
            comment,
            automatic,
            ..
        } => {
            let mut line = match automatic {
                Some(reason) => format!("系统：{reason}"),
                None => format!(
                    "{} 办理：{}",
                    name(actor),
                    outcome_label(def, steps.get(task).map(String::as_str), outcome)
                ),
            };
            if let Some(c) = comment.as_deref().filter(|c| !c.trim().is_empty()) {
                line.push_str(&format!("，意见：{c}"));
            }
            line
        }
        E::StepCompleted { step, outcome, .. } => {
            format!(
                "环节「{}」完成（{}）",
                step_name(step),
                outcome_label(def, Some(step), outcome)
            )
        }
        E::Escalated { reason, .. } => format!("督办：{reason}"),
        E::Urged { actor, .. } => format!("{} 催办", name(actor)),
        E::CopiedTo {
            actor, to, comment, ..
        } => {
            let to: Vec<String> = to.iter().map(name).collect();
            format!(
                "{} 抄送给 {}{}",
                name(actor),
                to.join("、"),
                note("附言", comment)
            )
        }
        E::TaskTransferred {
            from, to, comment, ..
        } => {
            format!(
                "{} 转办给 {}{}",
                name(from),
                name(to),
                note("说明", comment)
            )
        }
        E::TaskDelegated {
            from, to, comment, ..
        } => {
            format!(
                "{} 委派 {} 提出意见{}",
                name(from),
                name(to),
                note("说明", comment)
            )
        }
        E::SignerAdded {
            by,
            signer,
            position,
            ..
        } => format!(
            "{} {}加签 {}",
            name(by),
            if position == "before" { "前" } else { "后" },
            name(signer)
        ),
        E::Withdrawn { by, .. } => format!("{} 撤回了自己的办理", name(by)),
        E::BallotCast { voter, .. } => format!("{} 已投票", name(voter)),
        E::VoteClosed {
            step,
            tally,
            quorum,
            ..
        } => {
            let choice = |c: &str| match c {
                "yes" => "赞成".to_string(),
                "no" => "反对".to_string(),
                "abstain" => "弃权".to_string(),
                other => outcome_label(def, Some(step), other),
            };
            let counts: Vec<String> = tally
                .counts
                .iter()
                .map(|(c, n)| format!("{} {n}", choice(c)))
                .collect();
            format!(
                "「{}」计票：应到 {} 人，实到 {} 人，投票 {} 人（{}）{}",
                step_name(step),
                tally.eligible,
                tally.present,
                tally.cast,
                counts.join("，"),
                if *quorum { "" } else { "，到会人数不足" }
            )
        }
        E::RatingSubmitted { rater, .. } => format!("{} 提交评议", name(rater)),
        E::RatingClosed { step, results } => {
            let grade = |g: &str| {
                def.step(step)
                    .and_then(|(_, st)| match &st.kind {
                        stageflow_engine::model::StepKind::Rating(r) => match &r.scheme {
                            stageflow_engine::model::RatingScheme::Scale { grades } => {
                                grades.iter().find(|x| x.id == g).map(|x| x.name.clone())
                            }
                            stageflow_engine::model::RatingScheme::Rubric { grades, .. } => {
                                grades.iter().find(|x| x.id == g).map(|x| x.name.clone())
                            }
                        },
                        _ => None,
                    })
                    .unwrap_or_else(|| {
                        if g == "no_grade" {
                            "不评等次".into()
                        } else {
                            g.to_string()
                        }
                    })
            };
            let list: Vec<String> = results
                .iter()
                .map(|(p, g)| format!("{} {}", name(p), grade(g)))
                .collect();
            format!("「{}」评议结果：{}", step_name(step), list.join("，"))
        }
        E::InstanceEnded { end_state } => {
            let name = def
                .end_states
                .iter()
                .find(|e| &e.id == end_state)
                .map_or(end_state.clone(), |e| e.name.clone());
            format!("流程结束：{name}")
        }
        E::InstanceCancelled { .. } => "流程已撤销".to_string(),
        _ => return None,
    })
}

/// An outcome as the step's button said it.
fn outcome_label(def: &stageflow_engine::Definition, step: Option<&str>, outcome: &str) -> String {
    step.and_then(|id| def.step(id))
        .and_then(|(_, st)| st.outcomes.get(outcome).map(|o| o.label.clone()))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| crate::views::default_label(outcome))
}

async fn task_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    mut multipart: Multipart,
) -> Response {
    let s = match session(&state, &headers, &format!("/tasks/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut text: Vec<(String, String)> = Vec::new();
    let mut files: Vec<(String, String, String, axum::body::Bytes)> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
        };
        let name = field.name().unwrap_or_default().to_string();
        if let Some(form_id) = name.strip_prefix("file.") {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            match field.bytes().await {
                Ok(b) if !b.is_empty() && !file_name.is_empty() => {
                    files.push((form_id.to_string(), file_name, content_type, b));
                }
                Ok(_) => {}
                Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
            }
        } else {
            match field.text().await {
                Ok(v) => text.push((name, v)),
                Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
            }
        }
    }
    let get = |k: &str| text.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("csrf").as_deref() != Some(s.csrf.as_str()) {
        return forbidden_form();
    }
    // The form as the step declares it: typed values; files uploaded first.
    let task = match crate::routes::tasks::get_one(State(state.clone()), s.caller.clone(), Path(id))
        .await
    {
        Ok(t) => t.0,
        Err(e) => return error_page(&s, &e),
    };
    let action = get("do").unwrap_or_else(|| "complete".into());
    if matches!(
        action.as_str(),
        "urge" | "retract" | "withdraw_instance" | "close"
    ) {
        let target = (task.instance, task.step.clone());
        return side_action(&state, &s, id, target, &action, get("comment")).await;
    }
    if task.status != "pending" {
        return stale(&state, &s, id).await;
    }
    let mut form = serde_json::Map::new();
    for f in &task.form {
        let raw = get(&format!("f.{}", f.id)).unwrap_or_default();
        match typed(&f.kind, &f.label, &raw) {
            Ok(Some(value)) => {
                form.insert(f.id.clone(), value);
            }
            Ok(None) => {}
            Err(error) => {
                return task_error(&state, &s, id, StatusCode::UNPROCESSABLE_ENTITY, error).await;
            }
        }
    }
    for (form_id, name, content_type, bytes) in files {
        if !task
            .form
            .iter()
            .any(|f| f.id == form_id && f.kind == "file")
        {
            continue;
        }
        match crate::routes::files::store_upload(&state, &s.caller, id, name, content_type, bytes)
            .await
        {
            Ok(meta) => {
                form.insert(form_id, json!(meta.id.to_string()));
            }
            Err(e) => {
                return task_error(
                    &state,
                    &s,
                    id,
                    e.status,
                    format!("附件上传失败：{}", e.detail),
                )
                .await;
            }
        }
    }
    let comment = get("comment").filter(|c| !c.trim().is_empty());
    let mut request = json!({ "comment": comment, "form": form });
    // 转办 / 委派 / 加签 / 抄送 / 退回 / 评论: no form values, a person or a step.
    if matches!(
        action.as_str(),
        "transfer" | "delegate" | "add_signer" | "cc" | "return_to" | "comment"
    ) {
        let people: Vec<String> = text
            .iter()
            .filter(|(n, v)| n == "people" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        let mut r = json!({ "comment": comment });
        match action.as_str() {
            "return_to" => {
                r["action"] = json!("return");
                r["to"] = json!(get("to"));
            }
            "cc" => {
                r["action"] = json!("cc");
                r["people"] = json!(people);
            }
            "add_signer" => {
                r["action"] = json!("add_signer");
                r["to"] = json!(get("to"));
                r["position"] = json!(get("position").unwrap_or_else(|| "after".into()));
            }
            other => {
                r["action"] = json!(other);
                r["to"] = json!(get("to").filter(|t| !t.is_empty()));
            }
        }
        let done_words = match action.as_str() {
            "transfer" => "已转办",
            "delegate" => "已委派，对方提出意见后事项回到您这里",
            "add_signer" => "已加签",
            "cc" => "已抄送",
            "comment" => "意见已记录",
            _ => "已退回",
        };
        let request: ActionRequest = match serde_json::from_value(r) {
            Ok(r) => r,
            Err(_) => return ApiError::bad_request("unknown action").into_response(),
        };
        return match crate::routes::tasks::act_inner(&state, &s.caller, id, request).await {
            Ok(_) if matches!(action.as_str(), "cc" | "comment" | "add_signer") => {
                show_task(
                    &state,
                    &s,
                    id,
                    StatusCode::OK,
                    json!({ "notice": done_words }),
                )
                .await
            }
            Ok(_) => {
                let f = frame(&s, "task");
                let mut f = f;
                f["notice"] = json!(format!("「{}」{done_words}。", task.step_name));
                render(
                    StatusCode::OK,
                    "list",
                    "已处理",
                    json!({ "heading": "已处理", "tasks": [], "empty": "返回待办继续办理其他事项。" }),
                    f,
                )
            }
            Err(e) if e.status == StatusCode::CONFLICT => stale(&state, &s, id).await,
            Err(e) => refused(&state, &s, id, &e).await,
        };
    }
    match action.split_once(':') {
        Some(("vote", choice)) => {
            request["action"] = json!("vote");
            request["choice"] = json!(choice);
        }
        Some(("complete", outcome)) => {
            request["action"] = json!("complete");
            request["outcome"] = json!(outcome);
        }
        _ => request["action"] = json!(action),
    }
    if request["action"] == "vote" {
        request.as_object_mut().map(|m| m.remove("form"));
    }
    if request["action"] == "rate" {
        match ratings_from(&task, &text) {
            Ok(r) => request["ratings"] = r,
            Err(error) => {
                return task_error(&state, &s, id, StatusCode::UNPROCESSABLE_ENTITY, error).await;
            }
        }
    }
    let request: ActionRequest = match serde_json::from_value(request) {
        Ok(r) => r,
        Err(_) => return ApiError::bad_request("unknown action").into_response(),
    };
    // A ballot or a rating carries no comment of its own: the comment is
    // recorded on the task first.
    if matches!(request.action, Action::Vote | Action::Rate)
        && let Some(text) = request.comment.clone()
    {
        let note = ActionRequest {
            action: Action::Comment,
            comment: Some(text),
            ..empty_request()
        };
        if let Err(e) = crate::routes::tasks::act_inner(&state, &s.caller, id, note).await {
            return refused(&state, &s, id, &e).await;
        }
    }
    match crate::routes::tasks::act_inner(&state, &s.caller, id, request).await {
        Ok(_) => Redirect::to(&format!("/done?ok={id}")).into_response(),
        Err(e) if e.status == StatusCode::CONFLICT => stale(&state, &s, id).await,
        Err(e) => refused(&state, &s, id, &e).await,
    }
}

/// The task page again with an error said on it.
async fn task_error(
    state: &AppState,
    s: &Session,
    id: Uuid,
    status: StatusCode,
    error: impl Into<String>,
) -> Response {
    show_task(state, s, id, status, json!({ "error": error.into() })).await
}

/// The task page again, saying why the API refused an action.
async fn refused(state: &AppState, s: &Session, id: Uuid, e: &ApiError) -> Response {
    task_error(state, s, id, e.status, format!("未能办理：{}", e.detail)).await
}

fn empty_request() -> ActionRequest {
    ActionRequest {
        action: Action::Comment,
        comment: None,
        form: Default::default(),
        outcome: None,
        to: None,
        people: Vec::new(),
        choice: None,
        written: false,
        position: None,
        ratings: None,
    }
}

/// The ratings of the rating form: `r.N` is the grade of the N-th ratee,
/// `r.N.ITEM` a rubric item's score. Every ratee must be rated.
fn ratings_from(task: &crate::views::TaskView, text: &[(String, String)]) -> Result<Value, String> {
    let Some(r) = &task.rating else {
        return Err("该事项不是评议".into());
    };
    let get = |k: &str| {
        text.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut out = serde_json::Map::new();
    for (i, ratee) in r.ratees.iter().enumerate() {
        if r.items.is_empty() {
            let grade = get(&format!("r.{i}")).ok_or("请为每一位评议对象选择等次")?;
            out.insert(ratee.clone(), json!(grade));
        } else {
            let mut scores = serde_json::Map::new();
            for item in &r.items {
                let raw = get(&format!("r.{i}.{}", item.id))
                    .ok_or_else(|| format!("请为每一位评议对象填写「{}」的得分", item.name))?;
                let score: f64 = raw
                    .parse()
                    .map_err(|_| format!("「{}」的得分须为数字", item.name))?;
                scores.insert(item.id.clone(), json!(score));
            }
            out.insert(ratee.clone(), Value::Object(scores));
        }
    }
    Ok(Value::Object(out))
}

/// 催办, 撤回 (my decision), 撤回 (the whole instance, its initiator) and
/// closing a vote or rating early (its chair): actions on a task that is
/// not, or no longer, mine to decide.
async fn side_action(
    state: &AppState,
    s: &Session,
    id: Uuid,
    (instance, step): (Uuid, String),
    action: &str,
    comment: Option<String>,
) -> Response {
    let result = match action {
        "withdraw_instance" => crate::routes::instances::withdraw(
            State(state.clone()),
            s.caller.clone(),
            Path(instance),
        )
        .await
        .map(|_| "流程已撤回。"),
        "close" => crate::routes::tasks::close_step(
            State(state.clone()),
            s.caller.clone(),
            Path((instance, step)),
            crate::extract::Body(crate::routes::tasks::CloseStep {}),
        )
        .await
        .map(|_| "已结束，按已投（已评）的结果计算。"),
        other => {
            let request = json!({
                "action": if other == "urge" { "urge" } else { "withdraw" },
                "comment": comment.filter(|c| !c.trim().is_empty()),
            });
            let request: ActionRequest = match serde_json::from_value(request) {
                Ok(r) => r,
                Err(_) => return ApiError::bad_request("unknown action").into_response(),
            };
            crate::routes::tasks::act_inner(state, &s.caller, id, request)
                .await
                .map(|_| {
                    if other == "urge" {
                        "已催办：办理人将收到提醒邮件。"
                    } else {
                        "已撤回您的办理，事项回到您的待办。"
                    }
                })
        }
    };
    match result {
        Ok(notice) => show_task(state, s, id, StatusCode::OK, json!({ "notice": notice })).await,
        Err(e) => refused(state, s, id, &e).await,
    }
}

/// A form field's value as the step declares it (`None`: not given, or a
/// file, which is uploaded separately); an error in words otherwise.
fn typed(kind: &str, label: &str, raw: &str) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    Ok(Some(match kind {
        "file" => return Ok(None),
        "boolean" => Value::Bool(raw == "true"),
        _ if raw.is_empty() => return Ok(None),
        "integer" => json!(
            raw.parse::<i64>()
                .map_err(|_| format!("「{label}」须填写整数"))?
        ),
        "number" => json!(
            raw.parse::<f64>()
                .map_err(|_| format!("「{label}」须填写数字"))?
        ),
        _ => Value::String(raw.to_string()),
    }))
}

/// Someone else acted first (or the step moved on): the fresh page, saying so.
async fn stale(state: &AppState, s: &Session, id: Uuid) -> Response {
    task_error(
        state,
        s,
        id,
        StatusCode::CONFLICT,
        "该事项已由他人办理或流程已推进，以下是最新情况。",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::typed;
    use serde_json::json;

    #[test]
    fn form_values_take_the_type_the_step_declares() {
        assert_eq!(typed("integer", "天数", " 3 "), Ok(Some(json!(3))));
        assert_eq!(typed("number", "学时", "24.5"), Ok(Some(json!(24.5))));
        assert_eq!(typed("boolean", "是否", "true"), Ok(Some(json!(true))));
        assert_eq!(typed("boolean", "是否", ""), Ok(Some(json!(false))));
        assert_eq!(
            typed("date", "日期", "2026-03-02"),
            Ok(Some(json!("2026-03-02")))
        );
        assert_eq!(typed("text", "意见", "  "), Ok(None));
        assert_eq!(typed("file", "扫描件", "x"), Ok(None));
        assert_eq!(
            typed("integer", "天数", "三"),
            Err("「天数」须填写整数".to_string())
        );
    }
}
