//! `/api/v1/definitions`: list, get, upload (YAML).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::views::{DefinitionSummaryView, DefinitionView, definition_view};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/definitions", get(list).post(upload))
        .route("/api/v1/definitions/{id}", get(get_one))
}

/// Published definitions (newest version of each first).
#[utoipa::path(get, path = "/api/v1/definitions", tag = "definitions",
    responses((status = 200, body = [DefinitionSummaryView]), (status = 401, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<DefinitionSummaryView>>> {
    let defs = state.store.list_definitions().await?;
    Ok(Json(
        defs.into_iter()
            .map(|d| DefinitionSummaryView {
                id: d.id,
                version: d.version,
                name: d.name,
            })
            .collect(),
    ))
}

/// Which version.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// Version; the newest when absent.
    pub version: Option<u32>,
}

/// One definition with its source.
#[utoipa::path(get, path = "/api/v1/definitions/{id}", tag = "definitions", params(("id" = String, Path), VersionQuery),
    responses((status = 200, body = DefinitionView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<VersionQuery>,
) -> ApiResult<Json<DefinitionView>> {
    let stored = state
        .store
        .definition(&id, q.version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("workflow '{id}' is not published")))?;
    Ok(Json(definition_view(&stored.definition, stored.source)))
}

/// The file name used in diagnostics.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// Shown in `path:line:column` diagnostics (default `definition.yaml`).
    pub filename: Option<String>,
}

/// Publishes a definition (YAML body). 201, or 422 with the same
/// `path:line:column` diagnostics as `stageflow validate`.
#[utoipa::path(post, path = "/api/v1/definitions", tag = "definitions", params(UploadQuery),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 201, body = DefinitionSummaryView), (status = 422, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<UploadQuery>,
    body: String,
) -> ApiResult<(StatusCode, Json<DefinitionSummaryView>)> {
    if !caller.is_organizer() {
        return Err(ApiError::forbidden(
            "publishing definitions needs an organizer role (书记, 副书记, 组织委员, 组织员 or 组织部门) or the admin token",
        ));
    }
    let name = q.filename.unwrap_or_else(|| "definition.yaml".into());
    let loaded = stageflow_workflows::load_str(&name, &body).map_err(|diags| {
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        ApiError::unprocessable(
            "invalid-definition",
            format!("{} problem(s) in {name}", diags.len()),
        )
        .with(serde_json::json!({ "diagnostics": lines }))
    })?;
    let d = loaded.definition;
    let summary = DefinitionSummaryView {
        id: d.id.clone(),
        version: d.version,
        name: d.name.clone(),
    };
    state.runtime.publish(d, body, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}
