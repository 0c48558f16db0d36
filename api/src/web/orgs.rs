//! 组织和人员 for organizers: the organization tree they manage, each unit
//! with its people, their status and their roles.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::console::OrgParam;
use super::console::{org_choice, organizer};
use super::{frame, render};
use crate::AppState;
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/console/orgs", get(page))
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&state, &headers, "/console/orgs").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some((org, _, orgs)) = org_choice(&state, &s, q.org.clone()).await else {
        return render(
            StatusCode::OK,
            "orgs",
            "组织和人员",
            json!({}),
            frame(&s, "orgs"),
        );
    };
    match s.caller.manages(&state, &org).await {
        Ok(true) => {}
        Ok(false) => {
            return super::error_page(&s, &ApiError::forbidden("您不管理该组织"));
        }
        Err(e) => return e.into_response(),
    }
    let units = match state.store.orgs_under(Some(&org), None).await {
        Ok(u) => u,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let people = match state.store.people_under(Some(&org)).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let depth0 = units.first().map_or(0, |u| u.path.matches('/').count());
    let units: Vec<Value> = units
        .iter()
        .map(|u| {
            let members: Vec<Value> = people
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
            let depth = u.path.matches('/').count().saturating_sub(depth0);
            json!({
                "id": u.id, "name": u.name, "kind": u.kind, "count": members.len(),
                "people": members, "indent": depth * 2, "open": depth == 0,
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
