//! The organizer's console: the definitions they may see with their YAML,
//! publishing one (the validator's problems shown at their lines),
//! starting an instance from a form generated from the definition's
//! inputs, and previewing the timeline `simulate` computes for a start
//! date.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stageflow_app::definitions::Publish;
use stageflow_app::instances::StartInstance;
use stageflow_app::policy::Op;
use stageflow_app::simulate::{self as sim, SimOptions};
use stageflow_engine::Definition;

use super::task_form::typed;
use super::{Session, error_page, forbidden_form, frame, organizer, render, with_messages};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/console/definitions",
            Access::Op(Op::OpenConsole),
            get(definitions),
        ),
        page(
            Method::POST,
            "/console/definitions",
            Access::Op(Op::PublishDefinition),
            post(upload),
        ),
        page(
            Method::GET,
            "/console/definitions/{id}",
            Access::Op(Op::ReadDefinition),
            get(definition),
        ),
        page(
            Method::POST,
            "/console/definitions/{id}/start",
            Access::Op(Op::StartInstance),
            post(start),
        ),
    ]
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
async fn page_of(
    app: &AppState,
    s: &Session,
    status: StatusCode,
    extra: Value,
    messages: Value,
) -> Response {
    let list = match app.definitions(&s.caller).await {
        Ok(l) => l,
        Err(e) => return error_page(s, &e),
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
    let f = with_messages(frame(s, "definitions"), &messages);
    render(status, "definitions", "流程定义", data, f)
}

async fn definitions(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match organizer(&app, &headers, "/console/definitions").await {
        Ok(s) => page_of(&app, &s, StatusCode::OK, json!({}), json!({})).await,
        Err(r) => r,
    }
}

/// The form fields of a definition's inputs (named `in.ID`), with the
/// values given so far.
fn input_fields(def: &Definition, given: &[(String, String)]) -> Vec<Value> {
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
    def: &Definition,
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
        if let Some(v) = typed(kind, &f.label, raw)? {
            out.insert(f.id.clone(), v);
        }
    }
    Ok(out)
}

async fn definition(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let s = match organizer(&app, &headers, &format!("/console/definitions/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    show_definition(&app, &s, &id, &query, StatusCode::OK, json!({})).await
}

/// The definition page: its YAML, the start form and, when a start date is
/// given, the simulated timeline.
async fn show_definition(
    app: &AppState,
    s: &Session,
    id: &str,
    query: &[(String, String)],
    status: StatusCode,
    messages: Value,
) -> Response {
    let (def, source) = match app.console_definition(&s.caller, id).await {
        Ok(found) => found,
        Err(e) if e.kind == stageflow_app::ErrorKind::NotFound => {
            return page_of(app, s, StatusCode::NOT_FOUND, json!({}), json!({})).await;
        }
        Err(e) => return error_page(s, &e),
    };
    let title = format!("{}（{} 第 {} 版）", def.name, def.id, def.version);
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (orgs, people) = match app.start_choices(&s.caller).await {
        Ok(c) => c,
        Err(e) => return error_page(s, &e),
    };
    let orgs: Vec<Value> = orgs
        .iter()
        .map(|o| json!({ "id": o.id, "name": o.name, "kind": o.kind }))
        .collect();
    let person_subject = def.subject == stageflow_engine::model::SubjectKind::Person;
    let people: Vec<Value> = if person_subject {
        people
            .iter()
            .map(|p| {
                let org = p
                    .memberships
                    .first()
                    .map(|m| m.org.clone())
                    .unwrap_or_default();
                json!({ "id": p.id, "name": p.name, "status": p.status, "org": org })
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut extra = json!({
        "source": numbered(&source, &[]), "source_title": title,
        "def": { "id": def.id, "name": def.name },
        "inputs": input_fields(&def, query), "orgs": orgs,
        "people": people,
        "person_subject": person_subject, "key": uuid::Uuid::new_v4().to_string(),
        "sim_start": get("start").unwrap_or_else(|| super::today(app).to_string()),
        "late": get("policy").as_deref() == Some("late"),
    });
    let mut messages = messages;
    if let Some(start) = get("start") {
        match simulate(app, s, &def, &start, get("policy").as_deref(), query).await {
            Ok((lines, end)) => {
                extra["timeline"] = json!(lines);
                extra["sim_end"] = json!(end);
            }
            Err(error) => messages["error"] = json!(error),
        }
    }
    page_of(app, s, status, extra, messages).await
}

/// The timeline `simulate` computes for a start date, in words.
async fn simulate(
    app: &AppState,
    s: &Session,
    def: &Definition,
    start: &str,
    policy: Option<&str>,
    query: &[(String, String)],
) -> Result<(Vec<Value>, String), String> {
    let start = chrono::NaiveDate::parse_from_str(start.trim(), "%Y-%m-%d")
        .map_err(|_| "推演的开始日期须为 年-月-日".to_string())?;
    let opts = SimOptions {
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
        calendar: None,
    };
    let report = app
        .preview(&s.caller, &def.id, &opts)
        .await
        .map_err(|e| e.detail)?;
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

fn end_name(def: &Definition, id: &str) -> String {
    def.end_states
        .iter()
        .find(|e| e.id == id)
        .map_or(id.to_string(), |e| e.name.clone())
}

/// Starts an instance from the form: the organization, the subject person
/// (person workflows) and the inputs.
async fn start(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    let s = match organizer(&app, &headers, &format!("/console/definitions/{id}")).await {
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
    let fail = |error: String, status: StatusCode| {
        let form = form.clone();
        let app = app.clone();
        let id = id.clone();
        let s = &s;
        async move { show_definition(&app, s, &id, &form, status, json!({ "error": error })).await }
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let (def, _) = match app.console_definition(&s.caller, &id).await {
        Ok(found) => found,
        Err(e) => return error_page(&s, &e),
    };
    let inputs = match typed_inputs(&def, &form) {
        Ok(i) => i,
        Err(e) => return fail(e, unprocessable).await,
    };
    let Some(org) = get("org") else {
        return fail("请选择组织".into(), unprocessable).await;
    };
    let subject = get("subject");
    if def.subject == stageflow_engine::model::SubjectKind::Person && subject.is_none() {
        return fail("请选择流程对象（人员）".into(), unprocessable).await;
    }
    let body = StartInstance {
        definition: id.clone(),
        version: None,
        subject,
        org,
        inputs,
    };
    // The form's own key makes a double submission start one instance.
    let key = get("key");
    match app.start(&s.caller, body, key.as_deref()).await {
        Ok(started) => {
            // On to the first open task, when there is one; else back here.
            match app.first_open_task(&s.caller, started.instance.id).await {
                Ok(Some(t)) => Redirect::to(&format!("/tasks/{t}?started=1")).into_response(),
                _ => {
                    show_definition(
                        &app,
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
        Err(e) => {
            let status = crate::error::status_of(e.kind).0;
            fail(format!("未能发起：{}", e.detail), status).await
        }
    }
}

async fn upload(
    State(app): State<AppState>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let s = match organizer(&app, &headers, "/console/definitions").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (mut csrf, mut text, mut file) = (String::new(), String::new(), None::<(String, String)>);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return ApiError::bad_request(format!("表单无法读取：{}", e.body_text()))
                    .into_response();
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let value = match field.text().await {
            Ok(v) => v,
            Err(e) => {
                return ApiError::bad_request(format!("表单无法读取：{}", e.body_text()))
                    .into_response();
            }
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
            return page_of(
                &app,
                &s,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({}),
                json!({ "error": "请选择一个 YAML 文件或粘贴 YAML 内容。" }),
            )
            .await;
        }
    };
    let publish = Publish {
        filename: filename.clone(),
        source: source.clone(),
        owner: None,
    };
    match app.publish(&s.caller, publish).await {
        Ok(d) => Redirect::to(&format!("/console/definitions/{}", d.id)).into_response(),
        Err(e) => {
            let status = crate::error::status_of(e.kind).0;
            let problems: Vec<Value> = e
                .extra
                .as_ref()
                .and_then(|x| x.get("problems"))
                .and_then(|p| p.as_array())
                .cloned()
                .unwrap_or_default();
            if problems.is_empty() {
                let error = format!("未能发布：{}", e.detail);
                return page_of(&app, &s, status, json!({}), json!({ "error": error })).await;
            }
            page_of(
                &app,
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
