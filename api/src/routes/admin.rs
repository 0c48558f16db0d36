//! `/api/v1/admin/clock`: move a manual clock (only with `serve --clock manual`).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::time::{Moment, Span};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/clock", post(move_clock).get(read_clock))
        .route("/api/v1/admin/mail/failed", axum::routing::get(failed_mail))
}

/// Where to move the clock: `advance` by a duration or `set` to an instant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// A duration: ISO 8601 (`P30D`, `PT2H`) or `3 days`, `1 month`.
    pub advance: Option<String>,
    /// An instant (RFC 3339).
    pub set: Option<DateTime<Utc>>,
}

/// The clock after the move.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockView {
    /// Now.
    pub now: DateTime<Utc>,
    /// Timers fired by the move.
    pub fired: usize,
}

/// Moves the manual clock forward (admin) and fires the timers that came due.
#[utoipa::path(post, path = "/api/v1/admin/clock", tag = "admin", request_body = ClockRequest,
    responses((status = 200, body = ClockView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn move_clock(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<ClockRequest>,
) -> ApiResult<Json<ClockView>> {
    if !state.config.manual_clock {
        return Err(ApiError::not_found(
            "the clock can be moved only when the server runs with `--clock manual`",
        ));
    }
    if !caller.admin {
        return Err(ApiError::forbidden(
            "moving the clock needs the admin token",
        ));
    }
    let now = state.clock.now();
    let to = match (&req.advance, req.set) {
        (Some(a), None) => {
            let span = match Span::parse_iso(a) {
                Some(span) => span,
                None => Span::parse(a).map_err(|e| {
                    ApiError::unprocessable(
                        "invalid-body",
                        format!("{} (ISO 8601 such as P30D or PT2H works too)", e.0),
                    )
                })?,
            };
            let clock = stageflow_engine::time::Clock {
                tz: chrono_tz::Asia::Shanghai,
            };
            let base = if span.unit.is_day_based() {
                Moment::Date(clock.date_of(Moment::Instant(now)))
            } else {
                Moment::Instant(now)
            };
            let shifted = clock
                .shift(
                    stageflow_engine::calendar::Calendar::china(),
                    base,
                    span,
                    true,
                )
                .moment;
            match shifted {
                // Keep the time of day when moving by days.
                Moment::Date(d) => {
                    now + (clock.start_of(d) - clock.start_of(clock.date_of(Moment::Instant(now))))
                }
                Moment::Instant(t) => t,
            }
        }
        (None, Some(t)) => t,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid-body",
                "give exactly one of `advance` (e.g. \"3 days\") and `set` (RFC 3339)",
            ));
        }
    };
    if to < now {
        return Err(ApiError::unprocessable(
            "invalid-body",
            format!("time never goes back: now is {now}"),
        ));
    }
    let now = state.clock.set(to).unwrap_or(now);
    let mut fired = state.runtime.fire_due_timers(now).await?;
    // Schedules due in the skipped interval fire too (their instances'
    // first timers with them).
    if !stageflow_runtime::scheduler::fire_due_schedules(&state.runtime, now)
        .await?
        .is_empty()
    {
        fired += state.runtime.fire_due_timers(now).await?;
    }
    Ok(Json(ClockView { now, fired }))
}

/// The current time of the server.
#[utoipa::path(get, path = "/api/v1/admin/clock", tag = "admin", responses((status = 200, body = ClockView)))]
pub async fn read_clock(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<ClockView>> {
    Ok(Json(ClockView {
        now: state.clock.now(),
        fired: 0,
    }))
}

/// A mail given up after its retries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FailedMailView {
    /// Idempotency key (instance, task, kind, occurrence).
    pub key: String,
    /// Recipient person id.
    pub to: String,
    /// Kind (`reminder`, `overdue`, `escalation`, ...).
    pub kind: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
}

/// Mails that could not be delivered (admin): nothing is dropped silently.
#[utoipa::path(get, path = "/api/v1/admin/mail/failed", tag = "admin", responses((status = 200, body = [FailedMailView]), (status = 403, body = crate::error::Problem)))]
pub async fn failed_mail(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<FailedMailView>>> {
    if !caller.admin {
        return Err(ApiError::forbidden("the mail log needs the admin token"));
    }
    let failed = state.store.failed_mail(500).await?;
    Ok(Json(
        failed
            .into_iter()
            .map(|f| FailedMailView {
                key: f.key,
                to: f.to,
                kind: f.kind,
                attempts: f.attempts,
                error: f.error,
                failed_at: f.failed_at,
            })
            .collect(),
    ))
}
