//! `/api/v1/orgs`: the organization tree.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use stageflow_store::{NewOrg, OrgPatch};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Params};
use crate::views::OrgView;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs", get(list).post(create))
        .route(
            "/api/v1/orgs/{id}",
            get(get_one).patch(update).delete(remove),
        )
}

/// A new organization.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// Id; generated when absent.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Kind (党委, 党总支, 党支部, 党小组, 工会, 团委, 妇委会, ...).
    pub kind: String,
    /// Parent; a root organization when absent (admin only).
    pub parent: Option<String>,
    /// Start of the current term (YYYY-MM-DD).
    pub term_start: Option<String>,
    /// Term length in years.
    pub term_years: Option<u32>,
}

/// Creates an organization under one the caller manages.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = CreateOrg,
    responses((status = 201, body = OrgView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateOrg>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    if body.name.trim().is_empty() || body.kind.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "`name` and `kind` must not be empty",
        ));
    }
    match &body.parent {
        Some(p) => caller.require_manages(&state, p).await?,
        None if caller.admin => {}
        None => {
            return Err(ApiError::forbidden(
                "only the admin creates root organizations; give a `parent` you manage",
            ));
        }
    }
    if let Some(d) = &body.term_start
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("term_start '{d}' is not a date YYYY-MM-DD"),
        ));
    }
    let org = state
        .store
        .create_org(
            &NewOrg {
                id: body.id,
                name: body.name,
                kind: body.kind,
                parent: body.parent,
                term_start: body.term_start,
                term_years: body.term_years,
            },
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// Filters of the organization list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Only this subtree.
    pub under: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
}

/// Organizations the caller may see: the subtrees they manage and the
/// organizations they belong to (everything for the admin).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgQuery), responses((status = 200, body = [OrgView])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<Vec<OrgView>>> {
    let all = state
        .store
        .orgs_under(q.under.as_deref(), q.kind.as_deref())
        .await?;
    let member_of: Vec<&str> = caller.memberships.iter().map(|m| m.org.as_str()).collect();
    Ok(Json(
        all.into_iter()
            .filter(|o| caller.manages_path(&o.path) || member_of.contains(&o.id.as_str()))
            .map(Into::into)
            .collect(),
    ))
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)),
    responses((status = 200, body = OrgView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OrgView>> {
    let org = state
        .store
        .org(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organization '{id}' not found")))?;
    if !caller.manages_path(&org.path) && !caller.memberships.iter().any(|m| m.org == id) {
        return Err(ApiError::forbidden(format!(
            "organization '{id}' is outside your organizations"
        )));
    }
    Ok(Json(org.into()))
}

/// Changes to an organization.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrg {
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New parent (moves the subtree; you must manage both places).
    pub parent: Option<String>,
    /// New term start (YYYY-MM-DD).
    pub term_start: Option<String>,
    /// New term length in years.
    pub term_years: Option<u32>,
}

/// Changes an organization the caller manages.
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)), request_body = UpdateOrg,
    responses((status = 200, body = OrgView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<UpdateOrg>,
) -> ApiResult<Json<OrgView>> {
    state
        .store
        .org(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organization '{id}' not found")))?;
    caller.require_manages(&state, &id).await?;
    if let Some(p) = &body.parent {
        caller.require_manages(&state, p).await?;
    }
    if let Some(d) = &body.term_start
        && chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("term_start '{d}' is not a date YYYY-MM-DD"),
        ));
    }
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty())
        || body.kind.as_deref().is_some_and(|k| k.trim().is_empty())
    {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "`name` and `kind` must not be empty",
        ));
    }
    let org = state
        .store
        .update_org(
            &id,
            &OrgPatch {
                name: body.name,
                kind: body.kind,
                parent: body.parent,
                term_start: body.term_start,
                term_years: body.term_years,
            },
        )
        .await?;
    Ok(Json(org.into()))
}

/// Deletes an empty organization (no sub-organizations, members or instances).
#[utoipa::path(delete, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = state
        .store
        .org(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("organization '{id}' not found")))?;
    match &org.parent {
        Some(p) => caller.require_manages(&state, p).await?,
        None if caller.admin => {}
        None => {
            return Err(ApiError::forbidden(
                "only the admin deletes root organizations",
            ));
        }
    }
    state.store.delete_org(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
