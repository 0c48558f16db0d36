//! 发展党员进度 for organizers: per 党支部, how many 申请人 / 积极分子 /
//! 发展对象 / 预备党员 there are, the running admissions by stage, and who may
//! take the next step when.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use stageflow_app::policy::Op;

use super::{OrgParam, error_page, format, frame, org_choice, organizer, render};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![page(
        Method::GET,
        "/console/pipeline",
        Access::Op(Op::ReadReports),
        get(show),
    )]
}

/// The statuses in the order of the procedure.
const STATUSES: [&str; 5] = ["申请人", "积极分子", "发展对象", "预备党员", "正式党员"];

async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&app, &headers, "/console/pipeline").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (org, _, orgs) = match org_choice(&app, &s, q.org.clone()).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return render(
                StatusCode::OK,
                "pipeline",
                "发展党员进度",
                json!({}),
                frame(&s, "pipeline"),
            );
        }
        Err(e) => return error_page(&s, &e),
    };
    let rows = match app.pipeline(&s.caller, &org).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, &e),
    };
    let out: Vec<Value> = rows
        .iter()
        .map(|r| {
            let statuses: Vec<Value> = STATUSES
                .iter()
                .map(|st| json!({ "label": st, "count": r.people.get(*st).copied().unwrap_or(0) }))
                .collect();
            let admissions: Vec<Value> = r
                .admissions
                .iter()
                .map(|(stage, n)| json!({ "stage": stage, "count": n }))
                .collect();
            let eligible: Vec<Value> = r
                .eligible
                .iter()
                .map(|e| {
                    let from = e
                        .from
                        .parse()
                        .map(format::date_zh)
                        .unwrap_or_else(|_| e.from.clone());
                    json!({ "person": e.name, "step": e.step, "from": from })
                })
                .collect();
            json!({
                "org": r.org, "name": r.name, "statuses": statuses,
                "admissions": admissions, "eligible": eligible,
            })
        })
        .collect();
    render(
        StatusCode::OK,
        "pipeline",
        "发展党员进度",
        json!({ "orgs": orgs, "rows": out }),
        frame(&s, "pipeline"),
    )
}
