//! `/api/v1/schedules`: list, preview, pause, resume, trigger now.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use stageflow_store::ScheduleRow;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Params};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedules", get(list))
        .route("/api/v1/schedules/{id}", get(get_one))
        .route("/api/v1/schedules/{id}/preview", get(preview))
        .route("/api/v1/schedules/{id}/pause", post(pause))
        .route("/api/v1/schedules/{id}/resume", post(resume))
        .route("/api/v1/schedules/{id}/trigger", post(trigger))
}

/// One occurrence that fired.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunView {
    /// The occurrence (its cron time).
    pub occurrence: DateTime<Utc>,
    /// Instances started.
    pub started: u32,
    /// Organizations skipped (their previous instance still runs).
    pub skipped: u32,
}

/// A schedule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    /// `WORKFLOW:SCHEDULE`.
    pub id: String,
    /// Workflow id.
    pub workflow: String,
    /// Cron expression (seconds first).
    pub cron: String,
    /// Time zone.
    pub timezone: String,
    /// Kind of organization it starts an instance for.
    pub org_kind: String,
    /// Under which organization (all when absent).
    pub org_under: Option<String>,
    /// `skip` or `allow`.
    pub overlap: String,
    /// `last`, `all` or `none`.
    pub catch_up: String,
    /// Paused.
    pub paused: bool,
    /// Why it is paused.
    pub pause_note: Option<String>,
    /// Next occurrence.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Last occurrence fired.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Latest runs, newest first.
    pub runs: Vec<RunView>,
}

async fn view(state: &AppState, row: ScheduleRow) -> ApiResult<ScheduleView> {
    let runs = state.store.schedule_runs(&row.id, 10).await?;
    Ok(ScheduleView {
        id: row.id,
        workflow: row.workflow,
        cron: row.cron,
        timezone: row.timezone,
        org_kind: row.org_kind,
        org_under: row.org_under,
        overlap: row.overlap,
        catch_up: row.catch_up,
        paused: row.paused,
        pause_note: row.pause_note,
        next_fire_at: row.next_fire_at,
        last_fired_at: row.last_fired_at,
        runs: runs
            .into_iter()
            .map(|r| RunView {
                occurrence: r.occurrence,
                started: r.started,
                skipped: r.skipped,
            })
            .collect(),
    })
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ScheduleRow> {
    let row = state
        .store
        .schedule(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("schedule '{id}' not found")))?;
    let allowed = match &row.org_under {
        Some(org) => caller.manages(state, org).await?,
        None => caller.manages_a_root(),
    };
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "schedule '{id}' starts instances {}; only those who manage it may see or steer it",
            row.org_under
                .as_deref()
                .map(|o| format!("under '{o}'"))
                .unwrap_or_else(|| {
                    "in the whole tree (the organizers of a top-level organization)".into()
                })
        )));
    }
    Ok(row)
}

/// Schedules the caller may steer.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", responses((status = 200, body = [ScheduleView])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    let mut out = Vec::new();
    for row in state.store.schedules().await? {
        let visible = match &row.org_under {
            Some(org) => caller.manages(&state, org).await?,
            None => caller.manages_a_root(),
        };
        if visible {
            out.push(view(&state, row).await?);
        }
    }
    Ok(Json(out))
}

/// One schedule with its latest runs.
#[utoipa::path(get, path = "/api/v1/schedules/{id}", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    let row = load(&state, &caller, &id).await?;
    Ok(Json(view(&state, row).await?))
}

/// How many fire times to preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// How many (default 5, at most 100).
    pub n: Option<usize>,
}

/// The next fire times, in the schedule's time zone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewView {
    /// Schedule id.
    pub id: String,
    /// Next fire times (RFC 3339 with the zone's offset).
    #[schema(value_type = Vec<String>)]
    pub next: Vec<DateTime<FixedOffset>>,
}

/// Previews the next N fire times.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/preview", tag = "schedules", params(("id" = String, Path), PreviewQuery),
    responses((status = 200, body = PreviewView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<PreviewQuery>,
) -> ApiResult<Json<PreviewView>> {
    let row = load(&state, &caller, &id).await?;
    let n = q.n.unwrap_or(5).clamp(1, 100);
    let next =
        stageflow_runtime::scheduler::next_fires(&row.cron, &row.timezone, state.clock.now(), n)
            .map_err(|e| ApiError::unprocessable("invalid-schedule", e))?;
    Ok(Json(PreviewView {
        id,
        next: next.into_iter().map(|t| t.fixed_offset()).collect(),
    }))
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
    responses((status = 200, body = ScheduleView), (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<PauseRequest>,
) -> ApiResult<Json<ScheduleView>> {
    load(&state, &caller, &id).await?;
    if body.note.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "say why the schedule is paused in `note`",
        ));
    }
    state
        .store
        .set_schedule_paused(&id, true, Some(&body.note))
        .await?;
    let row = load(&state, &caller, &id).await?;
    Ok(Json(view(&state, row).await?))
}

/// Resumes a paused schedule. Occurrences missed while paused do not fire.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/resume", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 403, body = crate::error::Problem)))]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleView>> {
    let row = load(&state, &caller, &id).await?;
    state.store.set_schedule_paused(&id, false, None).await?;
    // Skip what was missed while paused: the next occurrence is the next one from now.
    let next =
        stageflow_runtime::scheduler::next_fires(&row.cron, &row.timezone, state.clock.now(), 1)
            .map_err(|e| ApiError::unprocessable("invalid-schedule", e))?;
    state
        .store
        .finish_schedule(
            &id,
            next.first().map(|t| t.with_timezone(&Utc)),
            &[],
            state.clock.now(),
        )
        .await?;
    let row = load(&state, &caller, &id).await?;
    Ok(Json(view(&state, row).await?))
}

/// Fires a schedule now (one occurrence, as if its time had come).
#[utoipa::path(post, path = "/api/v1/schedules/{id}/trigger", tag = "schedules", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 403, body = crate::error::Problem)))]
pub async fn trigger(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    load(&state, &caller, &id).await?;
    let run = stageflow_runtime::scheduler::trigger(&state.runtime, &id, state.clock.now()).await?;
    Ok(Json(RunView {
        occurrence: run.occurrence,
        started: run.started,
        skipped: run.skipped,
    }))
}
