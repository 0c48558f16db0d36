//! Campaigns for organizers: the phases on a timeline with today marked,
//! and each participating organization's progress, overdue first.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use stageflow_app::policy::Op;
use uuid::Uuid;

use super::{error_page, format, frame, organizer, render, today};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/console/campaigns",
            Access::Op(Op::OpenConsole),
            get(list),
        ),
        page(
            Method::GET,
            "/console/campaigns/{id}",
            Access::Op(Op::ReadInstance),
            get(one),
        ),
    ]
}

async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let s = match organizer(&app, &headers, "/console/campaigns").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let campaigns: Vec<Value> = match app.campaigns(&s.caller).await {
        Ok(c) => c
            .into_iter()
            .map(|c| {
                json!({
                    "id": c.id, "name": c.name, "org": c.org, "stage": c.stage,
                    "status": if c.running { "进行中" } else { "已结束" },
                })
            })
            .collect(),
        Err(e) => return error_page(&s, &e),
    };
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

async fn one(State(app): State<AppState>, headers: HeaderMap, Path(id): Path<Uuid>) -> Response {
    let s = match organizer(&app, &headers, &format!("/console/campaigns/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let campaign = match app.campaign(&s.caller, id).await {
        Ok(c) => c,
        Err(e) => {
            return render(
                crate::error::status_of(e.kind).0,
                "campaigns",
                "无法打开",
                json!({ "heading": "无法打开" }),
                frame(&s, "campaigns"),
            );
        }
    };
    let (instance, def) = (&campaign.instance, &campaign.definition);
    let today = today(&app);
    let current_index = instance
        .stage
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
    let heading = format!("{}（{}）", def.name, campaign.org);
    render(
        StatusCode::OK,
        "campaigns",
        &def.name,
        json!({
            "heading": heading, "phases": phases, "rows": campaign.rows,
            "today": format::date_zh(today), "today_iso": today,
        }),
        frame(&s, "campaigns"),
    )
}
