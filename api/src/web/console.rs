//! The organizer's console: published definitions with their YAML,
//! uploading one (the validator's problems shown at their lines), starting
//! an instance from a form generated from the definition's inputs, and
//! previewing the timeline `simulate` computes for a start date.

use axum::Router;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{Session, forbidden_form, frame, render, session};
use crate::AppState;
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/definitions", get(definitions).post(upload))
        .route("/console/definitions/{id}", get(definition))
        .route(
            "/console/definitions/{id}/start",
            axum::routing::post(start),
        )
}

/// The organization a report page is asked for (`?org=`).
#[derive(serde::Deserialize)]
pub(super) struct OrgParam {
    pub(super) org: Option<String>,
}

/// The signed-in organizer, or the page that says they are not one.
pub(super) async fn organizer(
    state: &AppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Session, Response> {
    let s = session(state, headers, here).await?;
    if !s.caller.is_organizer() {
        let f = frame(&s, "definitions");
        return Err(render(
            StatusCode::FORBIDDEN,
            "list",
            "无权访问",
            json!({ "heading": "无权访问", "tasks": [],
                    "empty": "流程定义由书记、副书记、组织委员、组织员或组织部门管理。" }),
            f,
        ));
    }
    Ok(s)
}

/// The organization a report page shows: the one asked for, or the first
/// the person manages; with the choices for the page's selector and its
/// name. `None` when they manage none by an organizer role.
pub(super) async fn org_choice(
    state: &AppState,
    s: &Session,
    wanted: Option<String>,
) -> Option<(String, String, Vec<Value>)> {
    let orgs = super::overdue::managed(state, s).await;
    let org = wanted.or_else(|| orgs.first().map(|(id, _)| id.clone()))?;
    let name = orgs
        .iter()
        .find(|(id, _)| *id == org)
        .map_or(org.clone(), |(_, n)| n.clone());
    let options = orgs
        .iter()
        .map(|(id, n)| json!({ "id": id, "name": n, "selected": *id == org }))
        .collect();
    Some((org, name, options))
}

/// Lines of a source, numbered, with the problems found on each.
fn numbered(source: &str, problems: &[Value]) -> Vec<Value> {
    source
        .lines()
        .enumerate()
        .map(|(i, text)| {
            let n = i + 1;
            let notes: Vec<&Value> = problems
                .iter()
                .filter(|p| p["line"].as_u64() == Some(n as u64))
                .collect();
            json!({ "n": n, "text": text, "bad": !notes.is_empty(), "notes": notes })
        })
        .collect()
}

/// The definitions page; `messages` carries `notice` / `error`.
async fn page(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    extra: Value,
    messages: Value,
) -> Response {
    let list = match state.store.list_definitions().await {
        Ok(l) => l,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // Newest version of each.
    let mut seen = std::collections::HashSet::new();
    let definitions: Vec<Value> = list
        .into_iter()
        .filter(|d| seen.insert(d.id.clone()))
        .map(|d| json!({ "id": d.id, "name": d.name, "version": d.version }))
        .collect();
    let mut data = json!({ "definitions": definitions, "csrf": s.csrf });
    if let Some(m) = extra.as_object() {
        for (k, v) in m {
            data[k] = v.clone();
        }
    }
    let mut f = frame(s, "definitions");
    if let Some(m) = messages.as_object() {
        for (k, v) in m {
            f[k] = v.clone();
        }
    }
    render(status, "definitions", "流程定义", data, f)
}

async fn definitions(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match organizer(&state, &headers, "/console/definitions").await {
        Ok(s) => page(&state, &s, StatusCode::OK, json!({}), json!({})).await,
        Err(r) => r,
    }
}

/// The form fields of a definition's inputs (named `in.ID`), with the
/// values given so far.
fn input_fields(def: &stageflow_engine::Definition, given: &[(String, String)]) -> Vec<Value> {
    use stageflow_engine::model::FieldKind as K;
    def.inputs
        .iter()
        .map(|i| {
            let f = &i.field;
            let (kind, input, options) = match &f.kind {
                K::Text | K::Person | K::Org | K::File => ("text", "text", Vec::new()),
                K::Textarea => ("textarea", "text", Vec::new()),
                K::Integer => ("integer", "number", Vec::new()),
                K::Number => ("number", "number", Vec::new()),
                K::Boolean => ("boolean", "checkbox", Vec::new()),
                K::Date => ("date", "date", Vec::new()),
                K::Choice(o) => ("choice", "select", o.clone()),
            };
            let name = format!("in.{}", f.id);
            let value = given
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| {
                    f.default.as_ref().map(|d| match d {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                });
            json!({
                "id": f.id, "name": name, "label": f.label, "required": f.required,
                "type": kind, "input": input, "options": options,
                "checked": value.as_deref() == Some("true"), "value": value,
                "min": f.min, "max": f.max,
            })
        })
        .collect()
}

/// The typed inputs of a submitted form; a problem in words otherwise.
fn typed_inputs(
    def: &stageflow_engine::Definition,
    given: &[(String, String)],
) -> Result<stageflow_engine::state::Values, String> {
    use stageflow_engine::model::FieldKind as K;
    let mut out = stageflow_engine::state::Values::new();
    for i in &def.inputs {
        let f = &i.field;
        let raw = given
            .iter()
            .find(|(k, _)| *k == format!("in.{}", f.id))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let kind = match &f.kind {
            K::Integer => "integer",
            K::Number => "number",
            K::Boolean => "boolean",
            _ => "text",
        };
        if let Some(v) = super::typed(kind, &f.label, raw)? {
            out.insert(f.id.clone(), v);
        }
    }
    Ok(out)
}

/// Organizations of the signed-in organizer's subtrees (for the start
/// form), and the people in them (subjects of person workflows).
async fn choices(state: &AppState, s: &Session) -> (Vec<Value>, Vec<Value>) {
    const MOST: usize = 500;
    let (mut orgs, mut people) = (Vec::new(), Vec::new());
    for (root, _) in super::overdue::managed(state, s).await {
        for o in state
            .store
            .orgs_under(Some(&root), None)
            .await
            .unwrap_or_default()
        {
            if orgs.len() < MOST && !orgs.iter().any(|x: &Value| x["id"] == o.id.as_str()) {
                orgs.push(json!({ "id": o.id, "name": o.name, "kind": o.kind }));
            }
        }
        for p in state
            .store
            .people_under(Some(&root))
            .await
            .unwrap_or_default()
        {
            if people.len() < MOST && !people.iter().any(|x: &Value| x["id"] == p.id.as_str()) {
                let org = p
                    .memberships
                    .first()
                    .map(|m| m.org.clone())
                    .unwrap_or_default();
                people.push(json!({ "id": p.id, "name": p.name, "status": p.status, "org": org }));
            }
        }
    }
    (orgs, people)
}

async fn definition(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let s = match organizer(&state, &headers, &format!("/console/definitions/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    show_definition(&state, &s, &id, &query, StatusCode::OK, json!({})).await
}

/// The definition page: its YAML, the start form and, when a start date is
/// given, the simulated timeline.
async fn show_definition(
    state: &AppState,
    s: &Session,
    id: &str,
    query: &[(String, String)],
    status: StatusCode,
    messages: Value,
) -> Response {
    let stored = match state.store.definition(id, None).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return page(state, s, StatusCode::NOT_FOUND, json!({}), json!({})).await;
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let def = &stored.definition;
    let title = format!("{}（{} 第 {} 版）", def.name, def.id, def.version);
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (orgs, people) = choices(state, s).await;
    let person_subject = def.subject == stageflow_engine::model::SubjectKind::Person;
    let mut extra = json!({
        "source": numbered(&stored.source, &[]), "source_title": title,
        "def": { "id": def.id, "name": def.name },
        "inputs": input_fields(def, query), "orgs": orgs,
        "people": if person_subject { people } else { Vec::new() },
        "person_subject": person_subject, "key": uuid::Uuid::new_v4().to_string(),
        "sim_start": get("start").unwrap_or_else(|| super::today(state).to_string()),
        "late": get("policy").as_deref() == Some("late"),
    });
    let mut messages = messages;
    if let Some(start) = get("start") {
        match simulate(def, &stored.source, &start, get("policy").as_deref(), query).await {
            Ok((lines, end)) => {
                extra["timeline"] = json!(lines);
                extra["sim_end"] = json!(end);
            }
            Err(error) => messages["error"] = json!(error),
        }
    }
    page(state, s, status, extra, messages).await
}

/// The timeline `simulate` computes for a start date, in words.
async fn simulate(
    def: &stageflow_engine::Definition,
    source: &str,
    start: &str,
    policy: Option<&str>,
    query: &[(String, String)],
) -> Result<(Vec<Value>, String), String> {
    use stageflow_runtime::simulate as sim;
    let start = chrono::NaiveDate::parse_from_str(start.trim(), "%Y-%m-%d")
        .map_err(|_| "推演的开始日期须为 年-月-日".to_string())?;
    let opts = sim::SimOptions {
        start,
        inputs: typed_inputs(def, query)?,
        subject: Default::default(),
        org: None,
        policy: if policy == Some("late") {
            sim::Policy::Late
        } else {
            sim::Policy::Earliest
        },
        until: None,
    };
    let report = sim::simulate(def, source, &opts)
        .await
        .map_err(|e| format!("推演未能完成：{e}"))?;
    let lines = sim::timeline_lines(&report.events)
        .into_iter()
        .map(|(at, line)| {
            let indent = line.len() - line.trim_start().len();
            json!({
                "date": super::format::date_zh(at.date_naive()),
                "iso": at.to_rfc3339(),
                "text": line.trim_start(),
                "level": indent / 2,
                "stage": line.starts_with('▶') || line.starts_with('■'),
            })
        })
        .collect();
    let end = match &report.stuck {
        Some(why) => format!("推演停止：{why}"),
        None => format!("推演结束：{}", end_name(def, &report.end_state)),
    };
    Ok((lines, end))
}

fn end_name(def: &stageflow_engine::Definition, id: &str) -> String {
    def.end_states
        .iter()
        .find(|e| e.id == id)
        .map_or(id.to_string(), |e| e.name.clone())
}

/// Starts an instance from the form: the organization, the subject person
/// (person workflows) and the inputs, through the API's own handler.
async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let s = match organizer(&state, &headers, &format!("/console/definitions/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if get("csrf").as_deref() != Some(s.csrf.as_str()) {
        return forbidden_form();
    }
    let def = match state.runtime.definition(&id, None).await {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let fail = |error: String| {
        let form = form.clone();
        let state = state.clone();
        let id = id.clone();
        let s = &s;
        async move {
            show_definition(
                &state,
                s,
                &id,
                &form,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": error }),
            )
            .await
        }
    };
    let inputs = match typed_inputs(&def, &form) {
        Ok(i) => i,
        Err(e) => return fail(e).await,
    };
    let Some(org) = get("org") else {
        return fail("请选择组织".into()).await;
    };
    let subject = get("subject");
    if def.subject == stageflow_engine::model::SubjectKind::Person && subject.is_none() {
        return fail("请选择流程对象（人员）".into()).await;
    }
    let body = crate::routes::instances::StartInstance {
        definition: id.clone(),
        version: None,
        subject,
        org,
        inputs,
    };
    // The form's own key makes a double submission start one instance.
    let mut h = HeaderMap::new();
    if let Some(key) = get("key")
        && let Ok(v) = axum::http::HeaderValue::from_str(&key)
    {
        h.insert("idempotency-key", v);
    }
    match crate::routes::instances::start(
        State(state.clone()),
        s.caller.clone(),
        h,
        crate::extract::Body(body),
    )
    .await
    {
        Ok((_, view)) => {
            let instance = view.0.id;
            // On to the first open task, when there is one; else back here.
            let first = state
                .store
                .instance_tasks(instance)
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|t| t.status == "open" || t.status == "pending");
            match first {
                Some(t) => Redirect::to(&format!("/tasks/{}?started=1", t.id)).into_response(),
                None => {
                    show_definition(
                        &state,
                        &s,
                        &id,
                        &[],
                        StatusCode::OK,
                        json!({ "notice": format!("已发起「{}」。", def.name) }),
                    )
                    .await
                }
            }
        }
        Err(e) => fail(format!("未能发起：{}", e.detail)).await,
    }
}

async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let s = match organizer(&state, &headers, "/console/definitions").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (mut csrf, mut text, mut file) = (String::new(), String::new(), None::<(String, String)>);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let value = match field.text().await {
            Ok(v) => v,
            Err(e) => return ApiError::bad_request(e.body_text()).into_response(),
        };
        match name.as_str() {
            "csrf" => csrf = value,
            "text" => text = value,
            "file" if !value.is_empty() => {
                file = Some((file_name.unwrap_or_else(|| "definition.yaml".into()), value));
            }
            _ => {}
        }
    }
    if csrf != s.csrf {
        return forbidden_form();
    }
    let (filename, source) = match file {
        Some(f) => f,
        None if !text.trim().is_empty() => ("definition.yaml".to_string(), text),
        None => {
            return page(
                &state,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({}),
                json!({ "error": "请选择一个 YAML 文件或粘贴 YAML 内容。" }),
            )
            .await;
        }
    };
    match stageflow_workflows::load_str(&filename, &source) {
        Ok(loaded) => {
            let d = loaded.definition;
            let id = d.id.clone();
            match state.runtime.publish(d, source, state.clock.now()).await {
                Ok(_) => Redirect::to(&format!("/console/definitions/{id}")).into_response(),
                Err(e) => {
                    let e = ApiError::from(e);
                    let error = format!("未能发布：{}", e.detail);
                    page(&state, &s, e.status, json!({}), json!({ "error": error })).await
                }
            }
        }
        Err(diags) => {
            let problems: Vec<Value> = diags
                .iter()
                .map(|d| {
                    json!({ "line": d.pos.line, "column": d.pos.column,
                            "message": d.message, "help": d.help })
                })
                .collect();
            page(
                &state,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({
                    "problems": problems, "count": problems.len(), "filename": filename,
                    "source": numbered(&source, &problems),
                    "source_title": format!("{filename}（未发布）"), "text": source,
                }),
                json!({}),
            )
            .await
        }
    }
}
