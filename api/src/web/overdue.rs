//! 督办台账 for organizers: overdue tasks in a subtree they manage, the
//! most overdue first, with the escalations so far; Excel and CSV export.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::organizer;
use super::{Session, format, frame, render};
use crate::AppState;
use crate::auth::ORGANIZER_ROLES;
use crate::extract::Params;
use crate::routes::reports::OverdueQuery;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/overdue", get(page))
        .route("/console/overdue/export", get(export))
}

#[derive(Deserialize)]
struct OrgParam {
    org: Option<String>,
    format: Option<String>,
}

/// The organizations the person manages (by an organizer role), by name.
pub(super) async fn managed(state: &AppState, s: &Session) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in &s.caller.memberships {
        if ORGANIZER_ROLES.contains(&m.role.as_str())
            && !out.iter().any(|(id, _)| id == &m.org)
            && let Ok(Some(o)) = state.store.org(&m.org).await
        {
            out.push((o.id, o.name));
        }
    }
    out
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&state, &headers, "/console/overdue").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some((org, org_name, orgs)) = super::console::org_choice(&state, &s, q.org.clone()).await
    else {
        return render(
            StatusCode::OK,
            "overdue",
            "督办台账",
            json!({ "orgs": [], "rows": [], "org_name": "" }),
            frame(&s, "overdue"),
        );
    };
    let query = OverdueQuery {
        org: org.clone(),
        format: Some("json".into()),
    };
    let response = match crate::routes::reports::overdue(
        State(state.clone()),
        s.caller.clone(),
        Params(query),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return super::error_page(&s, &e),
    };
    let body = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let rows: Vec<Value> = serde_json::from_slice::<Vec<Value>>(&body)
        .unwrap_or_default()
        .into_iter()
        .map(|mut r| {
            if let Some(d) = r["due"].as_str().and_then(|d| d.parse().ok()) {
                r["due"] = json!(format::date_zh(d));
            }
            r
        })
        .collect();
    render(
        StatusCode::OK,
        "overdue",
        "督办台账",
        json!({ "orgs": orgs, "org": org, "org_name": org_name, "count": rows.len(), "rows": rows }),
        frame(&s, "overdue"),
    )
}

/// The same list as a file (the API's export, with the page's session).
async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<OrgParam>,
) -> Response {
    let s = match organizer(&state, &headers, "/console/overdue").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(org) = q.org else {
        return super::error_page(&s, &crate::error::ApiError::bad_request("请选择组织"));
    };
    let format = match q.format.as_deref() {
        Some("csv") => "csv",
        _ => "xlsx",
    };
    let query = OverdueQuery {
        org,
        format: Some(format.into()),
    };
    match crate::routes::reports::overdue(State(state.clone()), s.caller.clone(), Params(query))
        .await
    {
        Ok(r) => r,
        Err(e) => super::error_page(&s, &e).into_response(),
    }
}
