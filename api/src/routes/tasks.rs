//! `/api/v1/tasks`: the inbox, one task, and actions on it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use stageflow_app::policy::Op;
use stageflow_app::tasks::{Action, ActionResult, InboxFilter, TaskPage, TaskStatusFilter};
use stageflow_app::views::{InstanceView, TaskView};
use uuid::Uuid;

use super::{Access, Route, api};
use crate::AppState;
use crate::auth::ApiCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Params};

pub(crate) fn routes() -> Vec<Route> {
    vec![
        api(
            Method::GET,
            "/api/v1/tasks",
            Access::Op(Op::ListTasksOf),
            get(inbox),
        ),
        api(
            Method::GET,
            "/api/v1/tasks/{id}",
            Access::Op(Op::ReadInstance),
            get(get_one),
        ),
        api(
            Method::GET,
            "/api/v1/tasks/{id}/case",
            Access::Op(Op::ReadInstance),
            get(case_file),
        ),
        api(
            Method::POST,
            "/api/v1/tasks/{id}/actions",
            Access::Op(Op::ActOnTask),
            post(act),
        ),
        api(
            Method::POST,
            "/api/v1/instances/{id}/steps/{step}/close",
            Access::Op(Op::CloseStep),
            post(close_step),
        ),
    ]
}

/// Inbox filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// `me` (default) or a person id (the admin only).
    pub assignee: Option<String>,
    /// `pending` (default), `done` or `cancelled`.
    pub status: Option<String>,
    /// Only instances of organizations in this subtree.
    pub org: Option<String>,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only tasks due before this instant (RFC 3339).
    pub due_before: Option<DateTime<Utc>>,
    /// Only cases whose subject's name (the person's or the organization's)
    /// contains this text.
    pub subject: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// The inbox: `GET /api/v1/tasks?assignee=me&status=pending` (待办),
/// `status=done` (已办).
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(InboxParams),
    responses((status = 200, body = TaskPage), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn inbox(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Params(q): Params<InboxParams>,
) -> ApiResult<Json<TaskPage>> {
    let status = match q.status.as_deref().unwrap_or("pending") {
        "pending" | "open" => TaskStatusFilter::Pending,
        "done" => TaskStatusFilter::Done,
        "cancelled" => TaskStatusFilter::Cancelled,
        other => {
            return Err(ApiError::bad_request(format!(
                "状态「{other}」无效，应为 `pending`（待办）、`done`（已办）或 `cancelled`（已取消）"
            )));
        }
    };
    let filter = InboxFilter {
        assignee: q.assignee.filter(|a| a != "me"),
        status,
        org: q.org,
        workflow: q.workflow,
        due_before: q.due_before,
        subject: q.subject,
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
    };
    Ok(Json(app.inbox(&caller, filter).await?))
}

/// The case file (案卷) a task is decided on: the subject, and everything
/// the earlier steps recorded, stage by stage — forms with their labels,
/// people by name and organization, files, opinions, votes. The fields
/// the step's `hide:` lists are absent for its assignees.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/case", tag = "tasks", params(("id" = Uuid, Path)),
    responses((status = 200, body = stageflow_app::casefile::CaseFileView), (status = 404, body = crate::error::Problem)))]
pub async fn case_file(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<stageflow_app::casefile::CaseFileView>> {
    Ok(Json(app.case_file(&caller, id).await?))
}

/// One task: whoever may read its instance.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)),
    responses((status = 200, body = TaskView), (status = 404, body = crate::error::Problem)))]
pub async fn get_one(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<TaskView>> {
    Ok(Json(app.task(&caller, id).await?))
}

/// Acts on a task: one action, carrying only its own fields. With an
/// `Idempotency-Key` header a retried action gets the first answer back
/// (saved with the action, in its transaction) instead of acting twice.
/// Losing a race to another approver gives 409 with the task's current
/// state.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/actions", tag = "tasks", params(("id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "makes a retried action return the first result")),
    request_body = Action,
    responses((status = 200, body = ActionResult), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn act(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Body(body): Body<serde_json::Value>,
) -> ApiResult<Json<ActionResult>> {
    let action = parse_action(body)?;
    let key = idempotency_key(&headers)?;
    let acted = app.act(&caller, id, action, key.as_deref()).await?;
    Ok(Json(acted.result))
}

/// An action from its JSON: 422 naming what is wrong — an unknown action,
/// a field the action does not take, the field whose value is wrong.
pub(crate) fn parse_action(body: serde_json::Value) -> ApiResult<Action> {
    match serde_json::from_value::<Action>(body.clone()) {
        Ok(action) => Ok(action),
        Err(e) => {
            // The tagged action loses the path to a bad value: probe each
            // field alone with the tag to name the one that is wrong.
            if let serde_json::Value::Object(fields) = &body
                && let Some(tag) = fields.get("action")
            {
                for (name, value) in fields.iter().filter(|(k, _)| *k != "action") {
                    let probe = serde_json::json!({ "action": tag, name: value });
                    if let Err(e) = serde_json::from_value::<Action>(probe)
                        && !e.to_string().starts_with("missing field")
                    {
                        return Err(ApiError::unprocessable(
                            "invalid-body",
                            format!("字段 `{name}` 有误：{e}"),
                        ));
                    }
                }
            }
            Err(ApiError::unprocessable(
                "invalid-body",
                format!("操作内容无效：{e}"),
            ))
        }
    }
}

/// The `Idempotency-Key` header: printable ASCII, at most 200 characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        _ => Err(ApiError::bad_request(
            "Idempotency-Key 应为 1–200 个可打印的 ASCII 字符",
        )),
    }
}

/// Closing a vote or rating now (the step's chair).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseStep {
    /// A vote: the day the meeting was held (`YYYY-MM-DD`; default today),
    /// from which the rules count (党章 第七条: the 预备期).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub held_on: Option<chrono::NaiveDate>,
}

/// Closes a vote or a rating now, counting what was cast (the step's
/// assignee, the chair). The tally explains itself in the history.
#[utoipa::path(post, path = "/api/v1/instances/{id}/steps/{step}/close", tag = "tasks", params(("id" = Uuid, Path), ("step" = String, Path)),
    request_body = CloseStep,
    responses((status = 200, body = InstanceView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn close_step(
    State(app): State<AppState>,
    ApiCaller(caller): ApiCaller,
    Path((id, step)): Path<(Uuid, String)>,
    Body(body): Body<CloseStep>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(
        app.close_step(&caller, id, &step, body.held_on).await?,
    ))
}
