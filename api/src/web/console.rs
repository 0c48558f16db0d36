//! The organizer's console: published definitions with their YAML, and
//! uploading one, with the validator's problems shown at their lines.

use axum::Router;
use axum::extract::{Multipart, Path, State};
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

async fn definition(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = match organizer(&state, &headers, &format!("/console/definitions/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let stored = match state.store.definition(&id, None).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return page(&state, &s, StatusCode::NOT_FOUND, json!({}), json!({})).await;
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let title = format!(
        "{}（{} 第 {} 版）",
        stored.definition.name, stored.definition.id, stored.definition.version
    );
    page(
        &state,
        &s,
        StatusCode::OK,
        json!({ "source": numbered(&stored.source, &[]), "source_title": title }),
        json!({}),
    )
    .await
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
