//! `/api/v1/tasks`: the inbox, one task, and actions on it.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::machine::{Command, Rejection};
use stageflow_engine::state::{RatingValue, Values};
use stageflow_store::{InboxQuery, SavedResponse};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Params};
use crate::routes::instances::{load, require_visible};
use crate::views::{InstanceView, TaskView, instance_view, task_view};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tasks", get(inbox))
        .route("/api/v1/tasks/{id}", get(get_one))
        .route("/api/v1/tasks/{id}/actions", post(act))
        .route(
            "/api/v1/instances/{id}/steps/{step}/close",
            post(close_step),
        )
}

/// Inbox filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboxParams {
    /// `me` (default) or a person id (admin only).
    pub assignee: Option<String>,
    /// `pending` (default), `done` or `cancelled`.
    pub status: Option<String>,
    /// Only instances of organizations in this subtree.
    pub org: Option<String>,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only tasks due before this instant (RFC 3339).
    pub due_before: Option<DateTime<Utc>>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// A page of tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskPage {
    /// Tasks by deadline.
    pub tasks: Vec<TaskView>,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u32,
}

/// The inbox: `GET /api/v1/tasks?assignee=me&status=pending` (待办),
/// `status=done` (已办).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(InboxParams),
    responses((status = 200, body = TaskPage), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<InboxParams>,
) -> ApiResult<Json<TaskPage>> {
    let assignee = match q.assignee.as_deref() {
        None | Some("me") => caller.person.clone(),
        Some(other) if caller.admin || other == caller.person => other.to_string(),
        Some(other) => {
            return Err(ApiError::forbidden(format!(
                "you may list only your own tasks, not {other}'s"
            )));
        }
    };
    let status = match q.status.as_deref().unwrap_or("pending") {
        "pending" | "open" => "open",
        "done" => "done",
        "cancelled" => "cancelled",
        other => {
            return Err(ApiError::bad_request(format!(
                "status '{other}' is not one of pending, done, cancelled"
            )));
        }
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let offset = q.offset.unwrap_or(0);
    let rows = state
        .store
        .inbox(&InboxQuery {
            assignee,
            status: status.into(),
            org: q.org,
            workflow: q.workflow,
            due_before: q.due_before,
            limit,
            offset,
        })
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.instance).collect();
    let instances = crate::instances_with_definitions(&state, &ids).await?;
    let mut tasks = Vec::with_capacity(rows.len());
    for row in rows {
        let Some((instance, def)) = instances.get(&row.instance) else {
            continue;
        };
        if let Some(t) = instance.tasks.get(&row.id) {
            tasks.push(task_view(def, instance, row.id, t));
        }
    }
    Ok(Json(TaskPage {
        tasks,
        limit,
        offset,
    }))
}

async fn task_and_instance(
    state: &AppState,
    id: Uuid,
) -> ApiResult<(
    stageflow_engine::state::InstanceState,
    stageflow_store::TaskRow,
)> {
    let row = state
        .store
        .task(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id} not found")))?;
    let instance = load(state, row.instance).await?;
    Ok((instance, row))
}

/// One task: its assignee, the instance's initiator and organizers see it.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)),
    responses((status = 200, body = TaskView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TaskView>> {
    let (instance, _) = task_and_instance(&state, id).await?;
    require_visible(&state, &caller, &instance).await?;
    let def = state
        .runtime
        .definition(&instance.definition, Some(instance.version))
        .await?;
    let t = instance
        .tasks
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("task {id} not found")))?;
    Ok(Json(task_view(&def, &instance, id, t)))
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 通过.
    Approve,
    /// 驳回.
    Reject,
    /// 退回 (to the step named in `to`, or the definition's route).
    Return,
    /// Complete a task with `outcome` (default: the step's first).
    Complete,
    /// 转办 to the person in `to`.
    Transfer,
    /// Add a comment.
    Comment,
    /// 催办: remind the assignee now.
    Urge,
    /// 抄送 to `people`.
    Cc,
    /// Cast a ballot (`choice`; `written` for an absent voter's written opinion).
    Vote,
    /// Submit ratings (`ratings`: ratee → grade id, or item → score).
    Rate,
    /// 委派 to the person in `to`: they give an opinion, the task comes back.
    Delegate,
    /// 加签: add the person in `to`, `position` `before` (approves first) or `after` (also approves).
    AddSigner,
    /// 减签: remove the signer in `to` you added, who has not decided.
    RemoveSigner,
    /// 撤回 your decision on this task, before anyone acted after it.
    Withdraw,
}

/// An action on a task.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// What to do.
    pub action: Action,
    /// 审批意见 / comment text.
    pub comment: Option<String>,
    /// Form values.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub form: Values,
    /// For `complete`: the outcome.
    pub outcome: Option<String>,
    /// For `return`: the step; for `transfer`: the person.
    pub to: Option<String>,
    /// For `cc`: the recipients.
    #[serde(default)]
    pub people: Vec<String>,
    /// For `vote`: `yes`, `no`, `abstain` or a declared choice.
    pub choice: Option<String>,
    /// For `vote`: a written opinion by an absent voter (counts as cast, not present).
    #[serde(default)]
    pub written: bool,
    /// For `add_signer`: `before` or `after` (default `after`).
    pub position: Option<String>,
    /// For `rate`: ratee → grade id or `{item: score}`.
    #[schema(value_type = Object)]
    pub ratings: Option<BTreeMap<String, serde_json::Value>>,
}

/// The result of an action.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActionResult {
    /// The task after the action.
    pub task: TaskView,
    /// The instance after the action.
    pub instance: InstanceView,
}

fn need<'a>(v: &'a Option<String>, what: &str, action: &str) -> ApiResult<&'a str> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            ApiError::unprocessable("invalid-body", format!("`{action}` needs `{what}`"))
        })
}

fn rating_value(ratee: &str, v: &serde_json::Value) -> ApiResult<RatingValue> {
    match v {
        serde_json::Value::String(g) => Ok(RatingValue::Grade(g.clone())),
        serde_json::Value::Object(o) => {
            let mut scores = BTreeMap::new();
            for (k, s) in o {
                let n = s.as_f64().ok_or_else(|| {
                    ApiError::unprocessable(
                        "invalid-body",
                        format!("score '{k}' for {ratee} must be a number"),
                    )
                })?;
                scores.insert(k.clone(), n);
            }
            Ok(RatingValue::Scores(scores))
        }
        _ => Err(ApiError::unprocessable(
            "invalid-body",
            format!("rating of {ratee} must be a grade id or an object of scores"),
        )),
    }
}

/// Acts on a task. With an `Idempotency-Key` header a retried action
/// returns the first result instead of acting twice. Losing a race to
/// another approver gives 409 with the task's current state.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/actions", tag = "tasks", params(("id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "makes a retried action return the first result")),
    request_body = ActionRequest,
    responses((status = 200, body = ActionResult), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Body(req): Body<ActionRequest>,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| format!("{}:{id}:{k}", caller.person));
    if let Some(key) = &key {
        match state.store.saved_response(key).await {
            Ok(Some(saved)) => {
                let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
                return (
                    status,
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    saved.body,
                )
                    .into_response();
            }
            Ok(None) => {}
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    match act_inner(&state, &caller, id, req).await {
        Ok(result) => {
            let body = serde_json::to_string(&result).unwrap_or_default();
            if let Some(key) = &key
                && let Err(e) = state
                    .store
                    .save_response(
                        key,
                        &SavedResponse {
                            status: 200,
                            body: body.clone(),
                        },
                        state.clock.now(),
                    )
                    .await
            {
                return ApiError::from(e).into_response();
            }
            (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn act_inner(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    req: ActionRequest,
) -> ApiResult<ActionResult> {
    let (instance, row) = task_and_instance(state, id).await?;
    check_file_fields(state, &instance, &row.step, id, &req.form).await?;
    let me = caller.person.clone();
    let complete = |outcome: &str, return_to: Option<String>| Command::Complete {
        task: id,
        actor: me.clone(),
        outcome: Some(outcome.to_string()),
        form: req.form.clone(),
        comment: req.comment.clone(),
        return_to,
    };
    let command = match req.action {
        Action::Approve => complete("approve", None),
        Action::Reject => complete("reject", None),
        Action::Return => complete("return", req.to.clone()),
        Action::Complete => Command::Complete {
            task: id,
            actor: me.clone(),
            outcome: req.outcome.clone(),
            form: req.form.clone(),
            comment: req.comment.clone(),
            return_to: None,
        },
        Action::Transfer => Command::Transfer {
            task: id,
            actor: me.clone(),
            to: need(&req.to, "to", "transfer")?.to_string(),
            comment: req.comment.clone(),
        },
        Action::Comment => Command::Comment {
            task: id,
            actor: me.clone(),
            text: need(&req.comment, "comment", "comment")?.to_string(),
        },
        Action::Urge => {
            if !(caller.admin
                || instance.initiator == me
                || caller.manages(state, &instance.subject.org).await?)
            {
                return Err(ApiError::forbidden(
                    "催办 is for the initiator and the organizers of the instance's organization",
                ));
            }
            Command::Urge {
                task: id,
                actor: me.clone(),
            }
        }
        Action::Cc => Command::Cc {
            task: id,
            actor: me.clone(),
            to: req.people.clone(),
            comment: req.comment.clone(),
        },
        Action::Vote => Command::CastBallot {
            step: row.step.clone(),
            voter: me.clone(),
            choice: need(&req.choice, "choice", "vote")?.to_string(),
            written: req.written,
        },
        Action::Delegate => Command::Delegate {
            task: id,
            actor: me.clone(),
            to: need(&req.to, "to", "delegate")?.to_string(),
            comment: req.comment.clone(),
        },
        Action::AddSigner => {
            let before = match req.position.as_deref().unwrap_or("after") {
                "before" => true,
                "after" => false,
                other => {
                    return Err(ApiError::unprocessable(
                        "invalid-body",
                        format!("position '{other}' is not `before` or `after`"),
                    ));
                }
            };
            Command::AddSigner {
                task: id,
                actor: me.clone(),
                signer: need(&req.to, "to", "add_signer")?.to_string(),
                before,
            }
        }
        Action::RemoveSigner => Command::RemoveSigner {
            task: id,
            actor: me.clone(),
            signer: need(&req.to, "to", "remove_signer")?.to_string(),
        },
        Action::Withdraw => Command::Withdraw {
            task: id,
            actor: me.clone(),
        },
        Action::Rate => {
            let ratings = req
                .ratings
                .as_ref()
                .ok_or_else(|| ApiError::unprocessable("invalid-body", "`rate` needs `ratings`"))?;
            let mut values = BTreeMap::new();
            for (ratee, v) in ratings {
                values.insert(ratee.clone(), rating_value(ratee, v)?);
            }
            Command::SubmitRating {
                step: row.step.clone(),
                rater: me.clone(),
                ratings: values,
            }
        }
    };
    // The instance just loaded is the first attempt's state.
    match state
        .runtime
        .execute_on(instance, &command, state.clock.now())
        .await
    {
        Ok(t) => {
            let def = state
                .runtime
                .definition(&t.state.definition, Some(t.state.version))
                .await?;
            let task = t
                .state
                .tasks
                .get(&id)
                .ok_or_else(|| ApiError::not_found(format!("task {id} not found")))?;
            Ok(ActionResult {
                task: task_view(&def, &t.state, id, task),
                instance: instance_view(&def, &t.state),
            })
        }
        Err(stageflow_runtime::ExecError::Rejected(
            r
            @ (Rejection::AlreadyDecided | Rejection::StepNotActive(_) | Rejection::NotRunning(_)),
        )) => {
            // Someone acted first: say so, with the task as it is now.
            let fresh = load(state, row.instance).await?;
            let def = state
                .runtime
                .definition(&fresh.definition, Some(fresh.version))
                .await?;
            let task = fresh.tasks.get(&id);
            let current = task
                .map(|t| serde_json::to_value(task_view(&def, &fresh, id, t)).unwrap_or_default());
            // Whatever else changed, a task someone already decided is the
            // reason the caller cares about.
            let r = match task.map(|t| &t.status) {
                Some(stageflow_engine::state::TaskStatus::Done(_)) => Rejection::AlreadyDecided,
                _ => r,
            };
            Err(ApiError::from(r).with(serde_json::json!({ "current": current })))
        }
        Err(e) => Err(e.into()),
    }
}

/// Closing a vote or rating now (the step's chair).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {}

/// Closes a vote or a rating now, counting what was cast (the step's
/// assignee, the chair). The tally explains itself in the history.
#[utoipa::path(post, path = "/api/v1/instances/{id}/steps/{step}/close", tag = "tasks", params(("id" = Uuid, Path), ("step" = String, Path)),
    request_body = CloseStep,
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn close_step(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, step)): Path<(Uuid, String)>,
    Body(_): Body<CloseStep>,
) -> ApiResult<Json<InstanceView>> {
    let instance = load(&state, id).await?;
    let def = state
        .runtime
        .definition(&instance.definition, Some(instance.version))
        .await?;
    let (_, s) = def.step(&step).ok_or_else(|| {
        ApiError::not_found(format!("workflow '{}' has no step '{step}'", def.id))
    })?;
    let command = match &s.kind {
        stageflow_engine::model::StepKind::Vote(_) => Command::CloseVote {
            step: step.clone(),
            actor: caller.person.clone(),
        },
        stageflow_engine::model::StepKind::Rating(_) => Command::CloseRating {
            step: step.clone(),
            actor: caller.person.clone(),
        },
        _ => {
            return Err(ApiError::unprocessable(
                "wrong-kind",
                format!("step '{step}' is neither a vote nor a rating"),
            ));
        }
    };
    let t = state
        .runtime
        .execute(id, &command, state.clock.now())
        .await?;
    Ok(Json(instance_view(&def, &t.state)))
}

/// A `file` field must name a file uploaded for this instance.
async fn check_file_fields(
    state: &AppState,
    instance: &stageflow_engine::state::InstanceState,
    step: &str,
    task: Uuid,
    form: &Values,
) -> ApiResult<()> {
    let def = state
        .runtime
        .definition(&instance.definition, Some(instance.version))
        .await?;
    let Some((_, step)) = def.step(step) else {
        return Ok(());
    };
    for field in step
        .form
        .iter()
        .filter(|f| f.kind == stageflow_engine::model::FieldKind::File)
    {
        let Some(value) = form.get(&field.id) else {
            continue;
        };
        let file = value.as_str().and_then(|v| Uuid::parse_str(v).ok());
        let known = match file {
            Some(f) => state
                .store
                .file_meta(f)
                .await?
                .is_some_and(|m| m.instance == instance.id),
            None => false,
        };
        if !known {
            return Err(ApiError::unprocessable(
                "bad-form",
                format!(
                    "field '{}' ({}) must be the id of a file uploaded for this instance: upload it first with POST /api/v1/tasks/{task}/files",
                    field.id, field.label
                ),
            ));
        }
    }
    Ok(())
}
