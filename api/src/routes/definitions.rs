//! `/api/v1/definitions`: list, get, publish (YAML).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::get;
use serde::Deserialize;
use stageflow_app::definitions::Publish;
use stageflow_app::policy::Op;
use stageflow_app::views::{DefinitionSummaryView, DefinitionView};

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::extract::Params;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::GET,
            "/api/v1/definitions",
            Access::Op(Op::ReadDefinition),
            get(list),
        ),
        api(
            Method::POST,
            "/api/v1/definitions",
            Access::Op(Op::PublishDefinition),
            axum::routing::post(upload),
        ),
        api(
            Method::GET,
            "/api/v1/definitions/{id}",
            Access::Op(Op::ReadDefinition),
            get(get_one),
        ),
    ]
}

/// The definitions the caller may see (newest version of each first): the
/// shipped library, and those owned by their organizations and above.
#[utoipa::path(get, path = "/api/v1/definitions", tag = "definitions",
    responses((status = 200, body = [DefinitionSummaryView]), (status = 401, body = crate::error::Problem)))]
pub async fn list(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<DefinitionSummaryView>>> {
    Ok(Json(app.definitions(&caller).await?))
}

/// Which version.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// Version; the newest when absent.
    pub version: Option<u32>,
}

/// One definition with its source.
#[utoipa::path(get, path = "/api/v1/definitions/{id}", tag = "definitions", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = DefinitionView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<DefinitionView>> {
    Ok(Json(app.definition(&caller, &id, q.version).await?))
}

/// The file name used in diagnostics, and the owner.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Shown in `path:line:column` diagnostics (default `definition.yaml`).
    pub filename: Option<String>,
    /// The owning organization: one you manage. By default the owner of
    /// the earlier versions, or the highest organization you manage.
    pub owner: Option<String>,
}

/// Publishes a definition (YAML body), owned by an organization the
/// publisher manages; a new version needs the owner's organizers, and a
/// schedule may start instances only inside the owner's subtree. 201, or
/// 422 with the same `path:line:column` diagnostics as `stageflow
/// validate`.
#[utoipa::path(post, path = "/api/v1/definitions", tag = "definitions", params(UploadQuery),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 201, body = DefinitionSummaryView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<UploadQuery>,
    body: String,
) -> ApiResult<(StatusCode, Json<DefinitionSummaryView>)> {
    let publish = Publish {
        filename: q.filename.unwrap_or_else(|| "definition.yaml".into()),
        source: body,
        owner: q.owner,
    };
    Ok((
        StatusCode::CREATED,
        Json(app.publish(&caller, publish).await?),
    ))
}
