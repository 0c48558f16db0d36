//! Campaigns for organizers: the phases on a timeline with today marked,
//! and each participating organization's progress, overdue first.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use uuid::Uuid;

use super::console::organizer;
use super::{format, frame, render, today};
use crate::AppState;
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/campaigns", get(list))
        .route("/console/campaigns/{id}", get(one))
}

/// Workflows run in dated phases (stages with windows): the campaigns.
fn is_campaign(def: &stageflow_engine::Definition) -> bool {
    def.stages.iter().any(|s| s.window.is_some())
}

async fn list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let s = match organizer(&state, &headers, "/console/campaigns").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let defs = match state.store.list_definitions().await {
        Ok(d) => d,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut campaigns: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in defs {
        if !seen.insert(d.id.clone()) {
            continue;
        }
        let Ok(def) = state.runtime.definition(&d.id, None).await else {
            continue;
        };
        if !is_campaign(&def) {
            continue;
        }
        for (id, org, status) in state
            .store
            .instances_of(&d.id, 200)
            .await
            .unwrap_or_default()
        {
            if !s.caller.manages(&state, &org).await.unwrap_or(false) {
                continue;
            }
            let Ok(Some(instance)) = state.store.instance(id).await else {
                continue;
            };
            let stage = instance
                .stage
                .as_deref()
                .and_then(|st| def.stage(st))
                .map_or(String::new(), |st| st.name.clone());
            let org_name = match state.store.org(&org).await {
                Ok(Some(o)) => o.name,
                _ => org,
            };
            campaigns.push(json!({
                "id": id, "name": def.name, "org": org_name, "stage": stage,
                "status": if status == "running" { "进行中" } else { "已结束" },
            }));
        }
    }
    render(
        StatusCode::OK,
        "campaigns",
        "活动",
        json!({ "heading": "活动", "campaigns": campaigns }),
        frame(&s, "campaigns"),
    )
}

/// A window bound that is an input date (how campaigns set their phases).
fn window_date(
    e: &stageflow_engine::time::TimeExpr,
    inputs: &stageflow_engine::state::Values,
) -> Option<chrono::NaiveDate> {
    match (&e.anchor, e.offset) {
        (stageflow_engine::time::Anchor::Input(id), None) => inputs
            .get(id)
            .and_then(|v| v.as_str())
            .and_then(|d| d.parse().ok()),
        (stageflow_engine::time::Anchor::Date(d), None) => Some(*d),
        _ => None,
    }
}

async fn one(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<Uuid>) -> Response {
    let s = match organizer(&state, &headers, &format!("/console/campaigns/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let rows =
        match crate::routes::reports::progress(State(state.clone()), s.caller.clone(), Path(id))
            .await
        {
            Ok(r) => r.0,
            Err(e) => {
                return render(
                    e.status,
                    "campaigns",
                    "无法打开",
                    json!({ "heading": "无法打开" }),
                    frame(&s, "campaigns"),
                );
            }
        };
    let (instance, def) = match crate::instance_with_definition(&state, id).await {
        Ok(Some(found)) => found,
        Ok(None) => return ApiError::not_found("活动不存在").into_response(),
        Err(e) => return e.into_response(),
    };
    let today = today(&state);
    let current = instance.stage.clone();
    let current_index = current
        .as_deref()
        .and_then(|c| def.stages.iter().position(|st| st.id == c));
    let ended = !matches!(instance.status, stageflow_engine::state::Status::Running);
    let phases: Vec<Value> = def
        .stages
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let opens = st
                .window
                .as_ref()
                .and_then(|w| window_date(&w.opens, &instance.inputs));
            let closes = st
                .window
                .as_ref()
                .and_then(|w| window_date(&w.closes, &instance.inputs));
            let (class, label) = match current_index {
                _ if ended => ("done", "已结束"),
                Some(c) if i < c => ("done", "已完成"),
                Some(c) if i == c => ("current", "进行中"),
                _ => ("todo", "未开始"),
            };
            let is_today =
                matches!((opens, closes), (Some(o), Some(c)) if o <= today && today <= c);
            json!({
                "name": st.name, "state": class, "label": label, "current": class == "current",
                "opens": opens.map(format::date_zh).unwrap_or_else(|| "—".into()),
                "closes": closes.map(format::date_zh).unwrap_or_else(|| "—".into()),
                "today": is_today,
            })
        })
        .collect();
    let org = match state.store.org(&instance.subject.org).await {
        Ok(Some(o)) => o.name,
        _ => instance.subject.org.clone(),
    };
    let heading = format!("{}（{org}）", def.name);
    render(
        StatusCode::OK,
        "campaigns",
        &def.name,
        json!({
            "heading": heading, "phases": phases, "rows": rows,
            "today": format::date_zh(today), "today_iso": today,
        }),
        frame(&s, "campaigns"),
    )
}
