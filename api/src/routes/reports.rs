//! Organizer views: the 督办台账 (overdue list, JSON / CSV / XLSX), the
//! admission pipeline per branch, campaign progress per organization, and
//! `.ics` calendar feeds.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use stageflow_app::policy::Op;
use stageflow_app::reports::{OverdueRow, PipelineRow, ProgressRow};
use uuid::Uuid;

use super::formats;
use super::{Access, Route, api};
use crate::AppState;
use crate::auth::{ApiCaller, FeedCaller};
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::GET,
            "/api/v1/reports/overdue",
            Access::Op(Op::ReadReports),
            get(overdue),
        ),
        api(
            Method::GET,
            "/api/v1/reports/pipeline",
            Access::Op(Op::ReadReports),
            get(pipeline),
        ),
        api(
            Method::GET,
            "/api/v1/reports/progress/{id}",
            Access::Op(Op::ReadInstance),
            get(progress),
        ),
        api(
            Method::GET,
            "/api/v1/calendar/people/{id}",
            Access::Op(Op::ReadOwnFeed),
            get(person_calendar),
        ),
        api(
            Method::GET,
            "/api/v1/calendar/orgs/{id}",
            Access::Op(Op::ReadOrgFeed),
            get(org_calendar),
        ),
    ]
}

/// Which subtree, which format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OverdueQuery {
    /// The subtree (an organization you manage).
    pub org: String,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// `true` (or `1`): every pending task of the subtree, not only the
    /// overdue ones.
    pub all: Option<String>,
}

/// 督办台账: overdue tasks in a subtree, most overdue first, as JSON, CSV
/// (UTF-8 with BOM, so spreadsheet programs read the Chinese) or XLSX.
#[utoipa::path(get, path = "/api/v1/reports/overdue", tag = "reports", params(OverdueQuery),
    responses((status = 200, body = [OverdueRow], description = "JSON, or text/csv, or an .xlsx workbook"), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn overdue(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<OverdueQuery>,
) -> ApiResult<Response> {
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(ApiError::bad_request(format!(
            "格式「{format}」无效，应为 `json`、`csv` 或 `xlsx`"
        )));
    }
    let all = match q.all.as_deref() {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`all` 应为 true 或 false，收到的是「{}」",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let rows = app.pending_under(&caller, &q.org, !all).await?;
    match format {
        "csv" => Ok(formats::overdue_csv(&rows)),
        "xlsx" => formats::overdue_xlsx(&rows, if all { "全部待办" } else { "督办台账" }),
        _ => Ok(Json(rows).into_response()),
    }
}

/// Which subtree.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PipelineQuery {
    /// The subtree (an organization you manage).
    pub org: String,
}

/// Admission pipeline per branch in a subtree.
#[utoipa::path(get, path = "/api/v1/reports/pipeline", tag = "reports", params(PipelineQuery),
    responses((status = 200, body = [PipelineRow]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn pipeline(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<PipelineQuery>,
) -> ApiResult<Json<Vec<PipelineRow>>> {
    Ok(Json(app.pipeline(&caller, &q.org).await?))
}

/// Campaign progress per participating organization, overdue first.
#[utoipa::path(get, path = "/api/v1/reports/progress/{id}", tag = "reports", params(("id" = Uuid, Path)),
    responses((status = 200, body = [ProgressRow]), (status = 404, body = crate::error::Problem)))]
pub async fn progress(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<ProgressRow>>> {
    Ok(Json(app.progress(&caller, id).await?))
}

/// A person's deadlines as an `.ics` feed (their own).
#[utoipa::path(get, path = "/api/v1/calendar/people/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, description = "text/calendar", body = String), (status = 404, body = crate::error::Problem)))]
pub async fn person_calendar(
    State(app): State<AppState>,
    FeedCaller(caller): FeedCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = id.trim_end_matches(".ics");
    let feed = app.person_feed(&caller, id).await?;
    Ok(formats::ics(&feed, app.now()))
}

/// An organization's deadlines (its subtree) as an `.ics` feed.
#[utoipa::path(get, path = "/api/v1/calendar/orgs/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, description = "text/calendar", body = String), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn org_calendar(
    State(app): State<AppState>,
    FeedCaller(caller): FeedCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = id.trim_end_matches(".ics");
    let feed = app.org_feed(&caller, id).await?;
    Ok(formats::ics(&feed, app.now()))
}
