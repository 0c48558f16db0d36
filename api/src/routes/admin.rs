//! `/api/v1/admin`: the manual clock (only with `serve --clock manual`)
//! and the log of failed mail.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use stageflow_app::loops::{ClockMove, ClockView, FailedMailView};
use stageflow_app::policy::Op;

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::POST,
            "/api/v1/admin/clock",
            Access::Op(Op::MoveClock),
            post(move_clock),
        ),
        api(
            Method::GET,
            "/api/v1/admin/clock",
            Access::SignedIn,
            get(read_clock),
        ),
        api(
            Method::GET,
            "/api/v1/admin/mail/failed",
            Access::Op(Op::ReadMailLog),
            get(failed_mail),
        ),
    ]
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

/// Moves the manual clock forward (admin) and fires the timers that came due.
#[utoipa::path(post, path = "/api/v1/admin/clock", tag = "admin", request_body = ClockRequest,
    responses((status = 200, body = ClockView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn move_clock(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Body(req): Body<ClockRequest>,
) -> ApiResult<Json<ClockView>> {
    let to = match (req.advance, req.set) {
        (Some(a), None) => ClockMove::Advance(a),
        (None, Some(t)) => ClockMove::Set(t),
        _ => {
            return Err(ApiError::unprocessable(
                "invalid-body",
                "`advance`（时长，如 `3 days` 或 `P3D`）和 `set`（RFC 3339 时间）须给出且只给出其一",
            ));
        }
    };
    Ok(Json(app.move_clock(&caller, to).await?))
}

/// The current time of the server.
#[utoipa::path(get, path = "/api/v1/admin/clock", tag = "admin", responses((status = 200, body = ClockView)))]
pub async fn read_clock(
    State(app): State<AppState>,
    ApiCaller(_caller): ApiCaller,
) -> ApiResult<Json<ClockView>> {
    Ok(Json(ClockView {
        now: app.now(),
        fired: 0,
    }))
}

/// Mails that could not be delivered (admin): nothing is dropped silently.
#[utoipa::path(get, path = "/api/v1/admin/mail/failed", tag = "admin", responses((status = 200, body = [FailedMailView]), (status = 403, body = crate::error::Problem)))]
pub async fn failed_mail(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
) -> ApiResult<Json<Vec<FailedMailView>>> {
    Ok(Json(app.failed_mail(&caller).await?))
}
