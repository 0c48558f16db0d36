//! `/api/v1/instances`: start, read, history, cancel.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use stageflow_engine::machine::Command;
use stageflow_engine::state::{InstanceState, Subject, Values};
use stageflow_runtime::{ExecError, StartRequest};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::views::{HistoryView, InstanceView, history_view, instance_view};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances", post(start))
        .route("/api/v1/instances/{id}", get(get_one))
        .route("/api/v1/instances/{id}/history", get(history))
        .route("/api/v1/instances/{id}/cancel", post(cancel))
        .route("/api/v1/instances/{id}/withdraw", post(withdraw))
}

/// Starting an instance.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartInstance {
    /// Workflow id.
    pub definition: String,
    /// Version; the newest when absent.
    pub version: Option<u32>,
    /// The subject person (for person workflows such as 发展党员).
    pub subject: Option<String>,
    /// The subject organization.
    pub org: String,
    /// Inputs.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub inputs: Values,
}

/// Starts an instance for an organization the caller manages. With an
/// `Idempotency-Key` header a retried start returns the same instance.
#[utoipa::path(post, path = "/api/v1/instances", tag = "instances", request_body = StartInstance,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes a retried start return the first result")),
    responses((status = 201, body = InstanceView), (status = 200, description = "already started with this Idempotency-Key", body = InstanceView),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<StartInstance>,
) -> ApiResult<(StatusCode, Json<InstanceView>)> {
    let org = state.store.org(&body.org).await?.ok_or_else(|| {
        ApiError::unprocessable(
            "not-found",
            format!("organization '{}' does not exist", body.org),
        )
    })?;
    caller.require_manages(&state, &org.id).await?;
    let mut attrs = Values::new();
    if let Some(p) = &body.subject {
        let person = state.store.person(p).await?.ok_or_else(|| {
            ApiError::unprocessable("not-found", format!("person '{p}' does not exist"))
        })?;
        attrs.insert("name".into(), person.name.into());
        attrs.insert("status".into(), person.status.into());
        if let Some(b) = person.birth_date {
            attrs.insert("birth_date".into(), b.into());
        }
        for (k, v) in person.key_dates {
            attrs.insert(k, v);
        }
    }
    let keyed = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let id = match keyed {
        Some(key) => Uuid::new_v5(
            &Uuid::NAMESPACE_OID,
            format!("start:{}:{key}", caller.person).as_bytes(),
        ),
        None => Uuid::new_v4(),
    };
    let request = StartRequest {
        workflow: body.definition.clone(),
        version: body.version,
        id,
        subject: Subject {
            person: body.subject.clone(),
            org: org.id.clone(),
            attrs,
        },
        initiator: caller.person.clone(),
        inputs: body.inputs,
    };
    let status = match state.runtime.start(request, state.clock.now()).await {
        Ok(_) => StatusCode::CREATED,
        Err(ExecError::Rejected(stageflow_engine::Rejection::AlreadyStarted))
            if keyed.is_some() =>
        {
            StatusCode::OK
        }
        Err(e) => return Err(e.into()),
    };
    let instance = load(&state, id).await?;
    let def = state
        .runtime
        .definition(&instance.definition, Some(instance.version))
        .await?;
    Ok((status, Json(instance_view(&def, &instance))))
}

/// Loads an instance or 404.
pub async fn load(state: &AppState, id: Uuid) -> ApiResult<InstanceState> {
    state
        .store
        .instance(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("instance {id} not found")))
}

/// Whether the caller may see an instance: organizers of its organization,
/// its initiator and subject, and people with a task in it.
pub async fn require_visible(
    state: &AppState,
    caller: &Caller,
    instance: &InstanceState,
) -> ApiResult<()> {
    if caller.admin
        || instance.initiator == caller.person
        || instance.subject.person.as_deref() == Some(caller.person.as_str())
        || instance.tasks.values().any(|t| t.assignee == caller.person)
        || caller.manages(state, &instance.subject.org).await?
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "instance {} is outside your organizations and tasks",
            instance.id
        )))
    }
}

/// An instance with its current stage, steps, open tasks and variables.
#[utoipa::path(get, path = "/api/v1/instances/{id}", tag = "instances", params(("id" = Uuid, Path)),
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InstanceView>> {
    let instance = load(&state, id).await?;
    require_visible(&state, &caller, &instance).await?;
    let def = state
        .runtime
        .definition(&instance.definition, Some(instance.version))
        .await?;
    Ok(Json(instance_view(&def, &instance)))
}

/// The hash-chained events of an instance (全程纪实).
#[utoipa::path(get, path = "/api/v1/instances/{id}/history", tag = "instances", params(("id" = Uuid, Path)),
    responses((status = 200, body = HistoryView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<HistoryView>> {
    let instance = load(&state, id).await?;
    require_visible(&state, &caller, &instance).await?;
    let events = state.store.events(id).await?;
    Ok(Json(history_view(id, &events)))
}

/// Why an instance is cancelled.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// The reason, kept in the history.
    pub reason: String,
}

/// Cancels an instance (its initiator or an organizer of its organization).
#[utoipa::path(post, path = "/api/v1/instances/{id}/cancel", tag = "instances", params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Body(body): Body<CancelRequest>,
) -> ApiResult<Json<InstanceView>> {
    let instance = load(&state, id).await?;
    if !(caller.admin
        || instance.initiator == caller.person
        || caller.manages(&state, &instance.subject.org).await?)
    {
        return Err(ApiError::forbidden(
            "only the initiator or an organizer of the instance's organization may cancel it",
        ));
    }
    if body.reason.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "invalid-body",
            "`reason` must not be empty",
        ));
    }
    let t = state
        .runtime
        .execute(
            id,
            &Command::Cancel {
                actor: caller.person.clone(),
                reason: body.reason,
            },
            state.clock.now(),
        )
        .await?;
    let def = state
        .runtime
        .definition(&t.state.definition, Some(t.state.version))
        .await?;
    Ok(Json(instance_view(&def, &t.state)))
}

/// 撤回 by the initiator: ends the instance, as long as nobody else has
/// acted on it yet.
#[utoipa::path(post, path = "/api/v1/instances/{id}/withdraw", tag = "instances", params(("id" = Uuid, Path)),
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<InstanceView>> {
    let instance = load(&state, id).await?;
    require_visible(&state, &caller, &instance).await?;
    let t = state
        .runtime
        .execute(
            id,
            &Command::WithdrawInstance {
                actor: caller.person.clone(),
            },
            state.clock.now(),
        )
        .await?;
    let def = state
        .runtime
        .definition(&t.state.definition, Some(t.state.version))
        .await?;
    Ok(Json(instance_view(&def, &t.state)))
}
