//! `/api/v1/people`: people and their roles, and `/api/v1/audit`, the
//! trail of every change to the directory.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde::Deserialize;
use stageflow_app::directory::{AuditView, NewPersonInput, PersonChange};
use stageflow_app::policy::Op;
use stageflow_app::views::PersonView;

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::extract::{Body, Params};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::GET,
            "/api/v1/people",
            Access::Op(Op::ReadPerson),
            get(list),
        ),
        api(
            Method::POST,
            "/api/v1/people",
            Access::Op(Op::CreatePerson),
            post(create),
        ),
        api(
            Method::GET,
            "/api/v1/people/{id}",
            Access::Op(Op::ReadPerson),
            get(get_one),
        ),
        api(
            Method::PATCH,
            "/api/v1/people/{id}",
            Access::Op(Op::ChangePerson),
            patch(update),
        ),
        api(
            Method::DELETE,
            "/api/v1/people/{id}",
            Access::Op(Op::DeletePerson),
            delete(remove),
        ),
        api(
            Method::GET,
            "/api/v1/audit",
            Access::Op(Op::ReadAudit),
            get(audit),
        ),
    ]
}

/// Creates a person; every membership must be in an organization the
/// caller manages.
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = NewPersonInput,
    responses((status = 201, body = PersonView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Body(body): Body<NewPersonInput>,
) -> ApiResult<(StatusCode, Json<PersonView>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_person(&caller, body).await?),
    ))
}

/// Filters of the people list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Only people with a role in this subtree (one you manage).
    pub org: Option<String>,
}

/// People with roles in the subtrees the caller manages.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PeopleQuery),
    responses((status = 200, body = [PersonView]), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<PeopleQuery>,
) -> ApiResult<Json<Vec<PersonView>>> {
    Ok(Json(app.people(&caller, q.org.as_deref()).await?))
}

/// One person: themselves, or someone in a subtree the caller manages.
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path)),
    responses((status = 200, body = PersonView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonView>> {
    Ok(Json(app.person(&caller, &id).await?))
}

/// Changes a person: needs authority over every organization they belong
/// to, before and after. A person changes their own phone, and their own
/// e-mail address after confirming from the old one (202: the link is on
/// its way).
#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path)), request_body = PersonChange,
    responses((status = 200, body = PersonView), (status = 202, description = "one's own new e-mail address waits for the confirmation sent to the old one", body = PersonView),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Body(body): Body<PersonChange>,
) -> ApiResult<Response> {
    let changed = app.update_person(&caller, &id, body).await?;
    let status = if changed.pending_email.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(changed.person)).into_response())
}

/// Deletes a person with no pending tasks (memberships and tokens go too;
/// the history keeps their id): authority over every organization they
/// belong to, never oneself.
#[utoipa::path(delete, path = "/api/v1/people/{id}", tag = "people", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn remove(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_person(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which subtree's trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The subtree (an organization you manage).
    pub org: String,
    /// How many entries (default 200, at most 1000).
    pub limit: Option<u32>,
}

/// The audit trail of a subtree: every change to its organizations,
/// people and memberships — who, when, before → after — newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "people", params(AuditQuery),
    responses((status = 200, body = [AuditView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn audit(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<AuditQuery>,
) -> ApiResult<Json<Vec<AuditView>>> {
    Ok(Json(
        app.audit_trail(&caller, &q.org, q.limit.unwrap_or(200))
            .await?,
    ))
}
