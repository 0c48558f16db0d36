//! 定时任务 for organizers: the schedules they steer (those that start
//! instances in a subtree they manage) with their next fire times and
//! latest runs; pause with a note, resume, fire now.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stageflow_app::AppError;
use stageflow_app::policy::Op;

use super::{error_page, forbidden_form, frame, organizer, render, with_messages};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/console/schedules",
            Access::Op(Op::ReadSchedule),
            get(list),
        ),
        page(
            Method::POST,
            "/console/schedules",
            Access::Op(Op::SteerSchedule),
            axum::routing::post(act),
        ),
    ]
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y年%-m月%-d日 %H:%M")
        .to_string()
}

async fn list(State(app): State<AppState>, headers: HeaderMap) -> Response {
    show(&app, &headers, StatusCode::OK, json!({})).await
}

async fn show(
    app: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    messages: Value,
) -> Response {
    let s = match organizer(app, headers, "/console/schedules").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let list = match app.schedules(&s.caller).await {
        Ok(l) => l,
        Err(e) => return error_page(&s, &e),
    };
    let mut rows = Vec::new();
    for sc in list {
        let name = app.workflow_name(&sc.workflow).await;
        let next: Vec<String> = if sc.paused {
            Vec::new()
        } else {
            match app.schedule_preview(&s.caller, &sc.id, 3).await {
                Ok(p) => p
                    .next
                    .into_iter()
                    .map(|t| when(t.with_timezone(&chrono::Utc)))
                    .collect(),
                Err(_) => Vec::new(),
            }
        };
        let under = match &sc.org_under {
            Some(o) => app.org_name(&s.caller, o).await,
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
    let f = with_messages(frame(&s, "schedules"), &messages);
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
    State(app): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ActForm>,
) -> Response {
    let s = match organizer(&app, &headers, "/console/schedules").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if form.csrf != s.csrf {
        return forbidden_form();
    }
    let done = match form.action.as_str() {
        "pause" => {
            let note = form.note.unwrap_or_default();
            if note.trim().is_empty() {
                Err(AppError::invalid(
                    "invalid-body",
                    "暂停时请写明原因，原因会显示在定时任务旁。",
                ))
            } else {
                app.pause_schedule(&s.caller, &form.id, &note)
                    .await
                    .map(|_| "已暂停，恢复前不会启动流程。".to_string())
            }
        }
        "resume" => app
            .resume_schedule(&s.caller, &form.id)
            .await
            .map(|_| "已恢复，暂停期间错过的时间不补发。".to_string()),
        "trigger" => app.trigger_schedule(&s.caller, &form.id).await.map(|r| {
            format!(
                "已立即执行：启动 {} 个流程，跳过 {} 个（上一轮尚未结束）。",
                r.started, r.skipped
            )
        }),
        _ => Err(AppError::bad_request("未知操作")),
    };
    match done {
        Ok(notice) => show(&app, &headers, StatusCode::OK, json!({ "notice": notice })).await,
        Err(e) => {
            show(
                &app,
                &headers,
                crate::error::status_of(e.kind).0,
                json!({ "error": format!("未能办理：{}", e.detail) }),
            )
            .await
        }
    }
}
