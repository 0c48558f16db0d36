//! 发展党员进度 for organizers: per 党支部, how many 申请人 / 积极分子 /
//! 发展对象 / 预备党员 there are, the running admissions by stage, and who may
//! take the next step when.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::console::OrgParam;
use super::console::organizer;
use super::{format, frame, render};
use crate::AppState;
use crate::extract::Params;
use crate::routes::reports::PipelineQuery;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/pipeline", get(page))
}

/// The statuses in the order of the procedure.
const STATUSES: [&str; 5] = ["申请人", "积极分子", "发展对象", "预备党员", "正式党员"];

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&state, &headers, "/console/pipeline").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some((org, _, orgs)) = super::console::org_choice(&state, &s, q.org.clone()).await else {
        return render(
            StatusCode::OK,
            "pipeline",
            "发展党员进度",
            json!({}),
            frame(&s, "pipeline"),
        );
    };
    let query = PipelineQuery { org: org.clone() };
    let rows = match crate::routes::reports::pipeline(
        State(state.clone()),
        s.caller.clone(),
        Params(query),
    )
    .await
    {
        Ok(r) => r.0,
        Err(e) => return super::error_page(&s, &e),
    };
    let mut names = std::collections::HashMap::new();
    let mut out: Vec<Value> = Vec::new();
    for r in rows {
        let statuses: Vec<Value> = STATUSES
            .iter()
            .map(|st| json!({ "label": st, "count": r.people.get(*st).copied().unwrap_or(0) }))
            .collect();
        let admissions: Vec<Value> = r
            .admissions
            .iter()
            .map(|(stage, n)| json!({ "stage": stage, "count": n }))
            .collect();
        let mut eligible = Vec::new();
        for e in &r.eligible {
            if !names.contains_key(&e.person) {
                let name = match state.store.person(&e.person).await {
                    Ok(Some(p)) => p.name,
                    _ => e.person.clone(),
                };
                names.insert(e.person.clone(), name);
            }
            let from = e
                .from
                .parse()
                .map(format::date_zh)
                .unwrap_or_else(|_| e.from.clone());
            eligible.push(json!({ "person": names[&e.person], "step": e.step, "from": from }));
        }
        out.push(json!({
            "org": r.org, "name": r.name, "statuses": statuses,
            "admissions": admissions, "eligible": eligible,
        }));
    }
    render(
        StatusCode::OK,
        "pipeline",
        "发展党员进度",
        json!({ "orgs": orgs, "rows": out }),
        frame(&s, "pipeline"),
    )
}
