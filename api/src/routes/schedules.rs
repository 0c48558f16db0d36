//! `/api/v1/schedules`: list, preview, pause, resume, trigger now.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::{get, post};
use serde::Deserialize;
use stageflow_app::policy::Op;
use stageflow_app::schedules::{PreviewView, RunView, ScheduleView};

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::extract::{Body, Params};

pub(crate) fn routes() -> Vec<Route> {
    let steer = Access::Op(Op::SteerSchedule);
    let read = Access::Op(Op::ReadSchedule);
    vec![
        api(Method::GET, "/api/v1/schedules", read, get(list)),
        api(Method::GET, "/api/v1/schedules/{id}", read, get(get_one)),
        api(
            Method::GET,
            "/api/v1/schedules/{id}/preview",
            read,
            get(preview),
        ),
        api(
            Method::POST,
            "/api/v1/schedules/{id}/pause",
            steer,
            post(pause),
        ),
        api(
            Method::POST,
            "/api/v1/schedules/{id}/resume",
            steer,
            post(resume),
        ),
        api(
            Method::POST,
            "/api/v1/schedules/{id}/trigger",
            steer,
            post(trigger),
        ),
    ]
}

/// Schedules the caller may see: those that start instances in a subtree
/// they manage.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", responses((status = 200, body = [ScheduleView])))]
pub async fn list(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    Ok(Json(app.schedules(&caller).await?))
}

/// One schedule with its latest runs.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(app.schedule(&caller, &id).await?))
}

/// How many fire times to preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// How many (default 5, at most 100).
    pub n: Option<usize>,
}

/// Previews the next N fire times.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/preview", tag = "schedules", params(("id" = String, Path), PreviewQuery),
    responses((status = 200, body = PreviewView), (status = 404, body = crate::error::Problem)))]
pub async fn preview(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Params(q): Params<PreviewQuery>,
) -> ApiResult<Json<PreviewView>> {
    Ok(Json(
        app.schedule_preview(&caller, &id, q.n.unwrap_or(5)).await?,
    ))
}

/// Why a schedule is paused.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// The note, shown with the schedule.
    pub note: String,
}

/// Pauses a schedule with a note; it does not fire until resumed.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/pause", tag = "schedules", params(("id" = String, Path)), request_body = PauseRequest,
    responses((status = 200, body = ScheduleView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn pause(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
    Body(body): Body<PauseRequest>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(app.pause_schedule(&caller, &id, &body.note).await?))
}

/// Resumes a paused schedule. Occurrences missed while paused do not fire.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/resume", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn resume(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    Ok(Json(app.resume_schedule(&caller, &id).await?))
}

/// Fires a schedule now (one occurrence, as if its time had come).
#[utoipa::path(post, path = "/api/v1/schedules/{id}/trigger", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn trigger(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    Ok(Json(app.trigger_schedule(&caller, &id).await?))
}
