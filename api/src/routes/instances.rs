//! `/api/v1/instances`: start, read, history, cancel, withdraw.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use stageflow_app::instances::StartInstance;
use stageflow_app::policy::Op;
use stageflow_app::views::{HistoryView, InstanceView};
use uuid::Uuid;

use super::tasks::idempotency_key;
use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::ApiResult;
use crate::extract::Body;

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::POST,
            "/api/v1/instances",
            Access::Op(Op::StartInstance),
            post(start),
        ),
        api(
            Method::GET,
            "/api/v1/instances/{id}",
            Access::Op(Op::ReadInstance),
            get(get_one),
        ),
        api(
            Method::GET,
            "/api/v1/instances/{id}/history",
            Access::Op(Op::ReadInstance),
            get(history),
        ),
        api(
            Method::POST,
            "/api/v1/instances/{id}/cancel",
            Access::Op(Op::CancelInstance),
            post(cancel),
        ),
        api(
            Method::POST,
            "/api/v1/instances/{id}/withdraw",
            Access::Op(Op::WithdrawInstance),
            post(withdraw),
        ),
    ]
}

/// Starts an instance for an organization the caller manages; a person
/// workflow's subject is a person of that organization or its subtree.
/// With an `Idempotency-Key` header a retried start returns the same
/// instance.
#[utoipa::path(post, path = "/api/v1/instances", tag = "instances", request_body = StartInstance,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retried start return the first result")),
    responses((status = 201, body = InstanceView), (status = 200, description = "already started with this Idempotency-Key", body = InstanceView),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn start(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    headers: HeaderMap,
    Body(body): Body<StartInstance>,
) -> ApiResult<(StatusCode, Json<InstanceView>)> {
    let key = idempotency_key(&headers)?;
    let started = app.start(&caller, body, key.as_deref()).await?;
    let status = if started.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(started.instance)))
}

/// An instance with its current stage, steps, open tasks and variables:
/// its organization's managers, its initiator and subject, and people
/// with a task in it.
#[utoipa::path(get, path = "/api/v1/instances/{id}", tag = "instances", params(("id" = Uuid, Path)),
    responses((status = 200, body = InstanceView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(app.instance(&caller, id).await?))
}

/// The hash-chained events of an instance (全程纪实).
#[utoipa::path(get, path = "/api/v1/instances/{id}/history", tag = "instances", params(("id" = Uuid, Path)),
    responses((status = 200, body = HistoryView), (status = 404, body = crate::error::Problem)))]
pub async fn history(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<HistoryView>> {
    Ok(Json(app.history(&caller, id).await?))
}

/// Why an instance is cancelled.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// The reason, kept in the history.
    pub reason: String,
}

/// Cancels an instance (its initiator or a manager of its organization).
#[utoipa::path(post, path = "/api/v1/instances/{id}/cancel", tag = "instances", params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn cancel(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
    Body(body): Body<CancelRequest>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(app.cancel(&caller, id, &body.reason).await?))
}

/// 撤回 by the initiator: ends the instance, as long as nobody else has
/// acted on it yet.
#[utoipa::path(post, path = "/api/v1/instances/{id}/withdraw", tag = "instances", params(("id" = Uuid, Path)),
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn withdraw(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(app.withdraw_instance(&caller, id).await?))
}
