//! 定时任务 for organizers: the schedules they steer (under an organization
//! they manage; whole-tree ones for a top-level organization's organizers)
//! with their next fire times and latest runs; pause with a note, resume,
//! fire now. The page acts through the API's handlers.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::organizer;
use super::{forbidden_form, frame, render};
use crate::AppState;
use crate::extract::Body;
use crate::routes::schedules as api;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/schedules", get(page).post(act))
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string()
}

async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    show(&state, &headers, StatusCode::OK, json!({})).await
}

async fn show(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    messages: Value,
) -> Response {
    let s = match organizer(state, headers, "/console/schedules").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let list = match api::list(State(state.clone()), s.caller.clone()).await {
        Ok(l) => l.0,
        Err(e) => return e.into_response(),
    };
    let mut rows = Vec::new();
    for sc in list {
        let name = match state.runtime.definition(&sc.workflow, None).await {
            Ok(d) => d.name.clone(),
            Err(_) => sc.workflow.clone(),
        };
        let next: Vec<String> = if sc.paused {
            Vec::new()
        } else {
            stageflow_runtime::scheduler::next_fires(&sc.cron, &sc.timezone, state.clock.now(), 3)
                .unwrap_or_default()
                .into_iter()
                .map(|t| when(t.with_timezone(&chrono::Utc)))
                .collect()
        };
        let under = match &sc.org_under {
            Some(o) => match state.store.org(o).await {
                Ok(Some(org)) => org.name,
                _ => o.clone(),
            },
            None => "全部组织".to_string(),
        };
        let runs: Vec<Value> = sc
            .runs
            .iter()
            .map(
                |r| json!({ "at": when(r.occurrence), "started": r.started, "skipped": r.skipped }),
            )
            .collect();
        rows.push(json!({
            "id": sc.id, "name": name, "cron": sc.cron, "org_kind": sc.org_kind, "under": under,
            "paused": sc.paused, "note": sc.pause_note, "next": next,
            "last": sc.last_fired_at.map(when), "runs": runs,
        }));
    }
    let mut f = frame(&s, "schedules");
    if let Some(m) = messages.as_object() {
        for (k, v) in m {
            f[k] = v.clone();
        }
    }
    render(
        status,
        "schedules",
        "定时任务",
        json!({ "schedules": rows, "csrf": s.csrf }),
        f,
    )
}

#[derive(Deserialize)]
struct ActForm {
    csrf: String,
    id: String,
    #[serde(rename = "do")]
    action: String,
    note: Option<String>,
}

async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActForm>,
) -> Response {
    let s = match organizer(&state, &headers, "/console/schedules").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.csrf != s.csrf {
        return forbidden_form();
    }
    let st = State(state.clone());
    let id = Path(form.id.clone());
    let done = match form.action.as_str() {
        "pause" => {
            let note = form.note.unwrap_or_default();
            if note.trim().is_empty() {
                Err("暂停时请写明原因，原因会显示在定时任务旁。".to_string())
            } else {
                api::pause(st, s.caller.clone(), id, Body(api::PauseRequest { note }))
                    .await
                    .map(|_| "已暂停，恢复前不会启动流程。".to_string())
                    .map_err(|e| e.detail)
            }
        }
        "resume" => api::resume(st, s.caller.clone(), id)
            .await
            .map(|_| "已恢复，暂停期间错过的时间不补发。".to_string())
            .map_err(|e| e.detail),
        "trigger" => api::trigger(st, s.caller.clone(), id)
            .await
            .map(|r| {
                format!(
                    "已立即执行：启动 {} 个流程，跳过 {} 个（上一轮尚未结束）。",
                    r.0.started, r.0.skipped
                )
            })
            .map_err(|e| e.detail),
        _ => Err("未知操作".to_string()),
    };
    match done {
        Ok(notice) => {
            show(
                &state,
                &headers,
                StatusCode::OK,
                json!({ "notice": notice }),
            )
            .await
        }
        Err(error) => {
            show(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": format!("未能办理：{error}") }),
            )
            .await
        }
    }
}
