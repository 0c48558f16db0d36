//! 组织和人员 for organizers: the organization tree they manage, each unit
//! with its people, their status and their roles.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use stageflow_app::policy::Op;

use super::{OrgParam, error_page, frame, org_choice, organizer, render};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![page(
        Method::GET,
        "/console/orgs",
        Access::Op(Op::ReadReports),
        get(show),
    )]
}

async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&app, &headers, "/console/orgs").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (org, _, orgs) = match org_choice(&app, &s, q.org.clone()).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return render(
                StatusCode::OK,
                "orgs",
                "组织和人员",
                json!({}),
                frame(&s, "orgs"),
            );
        }
        Err(e) => return error_page(&s, &e),
    };
    let directory = match app.org_directory(&s.caller, &org).await {
        Ok(d) => d,
        Err(e) => return error_page(&s, &e),
    };
    let units: Vec<Value> = directory
        .units
        .iter()
        .map(|(u, depth)| {
            let members: Vec<Value> = directory
                .people
                .iter()
                .filter(|p| p.memberships.iter().any(|m| m.org == u.id))
                .map(|p| {
                    let roles: Vec<&str> = p
                        .memberships
                        .iter()
                        .filter(|m| m.org == u.id)
                        .map(|m| stageflow_workflows::vocab::role_name(&m.role).unwrap_or(&m.role))
                        .collect();
                    json!({ "id": p.id, "name": p.name, "status": p.status, "roles": roles.join("、") })
                })
                .collect();
            json!({
                "id": u.id, "name": u.name, "kind": u.kind, "count": members.len(),
                "people": members, "depth": (*depth).min(8), "open": *depth == 0,
            })
        })
        .collect();
    render(
        StatusCode::OK,
        "orgs",
        "组织和人员",
        json!({ "orgs": orgs, "units": units }),
        frame(&s, "orgs"),
    )
}
