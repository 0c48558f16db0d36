//! `/api/v1/orgs`: the organization tree.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, patch, post};
use serde::Deserialize;
use stageflow_app::directory::{NewOrgInput, OrgChange};
use stageflow_app::policy::Op;
use stageflow_app::views::OrgView;

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::extract::{Body, Params};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::GET,
            "/api/v1/orgs",
            Access::Op(Op::ReadOrg),
            get(list),
        ),
        api(
            Method::POST,
            "/api/v1/orgs",
            Access::Op(Op::CreateOrg),
            post(create),
        ),
        api(
            Method::GET,
            "/api/v1/orgs/{id}",
            Access::Op(Op::ReadOrg),
            get(get_one),
        ),
        api(
            Method::PATCH,
            "/api/v1/orgs/{id}",
            Access::Op(Op::ChangeOrg),
            patch(update),
        ),
        api(
            Method::DELETE,
            "/api/v1/orgs/{id}",
            Access::Op(Op::RestructureOrg),
            delete(remove),
        ),
    ]
}

/// Creates an organization under one the caller manages (a top-level
/// one: the admin). Ids use letters, digits, `-` and `_`.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrgInput,
    responses((status = 201, body = OrgView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Body(body): Body<NewOrgInput>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    Ok((
        StatusCode::CREATED,
        Json(app.create_org(&caller, body).await?),
    ))
}

/// Filters of the organization list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<OrgQuery>,
) -> ApiResult<Json<Vec<OrgView>>> {
    Ok(Json(
        app.orgs(&caller, q.under.as_deref(), q.kind.as_deref())
            .await?,
    ))
}

/// One organization.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)),
    responses((status = 200, body = OrgView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(app.org(&caller, &id).await?))
}

/// Changes an organization: its managers rename it and set its term; its
/// kind and parent are changed by the managers of its parent (who must
/// manage a new parent too).
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)), request_body = OrgChange,
    responses((status = 200, body = OrgView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Body(body): Body<OrgChange>,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(app.update_org(&caller, &id, body).await?))
}

/// Deletes an empty organization (no sub-organizations, members or
/// instances): the managers of its parent.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn remove(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.delete_org(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
