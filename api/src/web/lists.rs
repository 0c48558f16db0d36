//! 待办 and 已办: the signed-in person's tasks by deadline, each row naming
//! whom the case is about; filtered by workflow, by the subject's name and
//! (待办) by being overdue.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stageflow_app::policy::Op;
use stageflow_app::tasks::{InboxFilter, TaskStatusFilter};
use uuid::Uuid;

use super::{encode, error_page, format, frame, render, session, today};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/inbox",
            Access::Op(Op::ListTasksOf),
            get(inbox),
        ),
        page(Method::GET, "/done", Access::Op(Op::ListTasksOf), get(done)),
    ]
}

/// Filters of 待办 / 已办: one workflow; a subject's name; only overdue
/// (待办).
#[derive(Deserialize, Default)]
struct ListFilter {
    ok: Option<Uuid>,
    workflow: Option<String>,
    q: Option<String>,
    overdue: Option<String>,
}

async fn inbox(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListFilter>,
) -> Response {
    list(app, headers, false, q).await
}

async fn done(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListFilter>,
) -> Response {
    list(app, headers, true, q).await
}

async fn list(app: AppState, headers: HeaderMap, done: bool, q: ListFilter) -> Response {
    let path = if done { "/done" } else { "/inbox" };
    let workflow = q.workflow.clone().filter(|w| !w.is_empty());
    let search =
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.chars().take(50).collect::<String>());
    let only_overdue = !done && q.overdue.is_some();
    let mut here = path.to_string();
    if let Some(w) = &workflow {
        here.push_str(&format!("?workflow={}", encode(w)));
    }
    let s = match session(&app, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Overdue: the deadline was missed (its instant, the end of the last
    // day, has passed).
    let filter = InboxFilter {
        assignee: None,
        status: if done {
            TaskStatusFilter::Done
        } else {
            TaskStatusFilter::Pending
        },
        org: None,
        workflow: workflow.clone(),
        due_before: only_overdue.then(|| app.now()),
        subject: search.clone(),
        limit: 200,
        offset: 0,
    };
    let page = match app.inbox(&s.caller, filter).await {
        Ok(p) => p,
        Err(e) => return error_page(&s, &e),
    };
    let today = today(&app);
    let tasks: Vec<Value> = page
        .tasks
        .iter()
        .map(|t| {
            let (when, overdue) = t
                .due
                .map(|d| format::due_in_words(d, today))
                .unwrap_or_default();
            let outcome = t
                .outcome
                .as_deref()
                .map(|o| {
                    t.outcomes
                        .iter()
                        .find(|x| x.id == o)
                        .map_or(o.to_string(), |x| x.label.clone())
                })
                .unwrap_or_default();
            let (subject, subject_org) = t
                .subject
                .as_ref()
                .map(|s| (s.name.clone(), s.org_name.clone()))
                .unwrap_or_default();
            json!({
                "id": t.id, "step_name": t.step_name, "workflow_name": t.workflow_name,
                "subject": subject,
                "subject_org": if subject == subject_org { String::new() } else { subject_org },
                "stage": t.stage, "due": t.due.map(format::date_zh), "due_iso": t.due,
                "when": when, "overdue": overdue && !done, "outcome": outcome,
                "provisional": t.due_provisional,
            })
        })
        .collect();
    let filtered = workflow.is_some() || only_overdue || search.is_some();
    let (heading, caption, empty) = match (done, filtered) {
        (true, false) => ("已办", "我已办理的事项", "还没有已办事项。"),
        (true, true) => (
            "已办",
            "我已办理的事项（已筛选）",
            "没有符合条件的已办事项。",
        ),
        (false, false) => ("待办", "按期限排列，逾期的标红", "没有待办事项。"),
        (false, true) => ("待办", "按期限排列（已筛选）", "没有符合条件的待办事项。"),
    };
    // The workflows to filter by: every one the person may see, by name.
    let mut seen = std::collections::HashSet::new();
    let workflows: Vec<Value> = app
        .definitions(&s.caller)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|d| seen.insert(d.id.clone()))
        .map(
            |d| json!({ "id": d.id, "name": d.name, "selected": Some(&d.id) == workflow.as_ref() }),
        )
        .collect();
    let mut f = frame(&s, if done { "done" } else { "inbox" });
    // Back from an action: say what was done.
    if let Some(t) = q.ok.and_then(|ok| page.tasks.iter().find(|t| t.id == ok)) {
        f["notice"] = json!(format!("「{}」已办理，已移入已办。", t.step_name));
    }
    render(
        StatusCode::OK,
        "list",
        heading,
        json!({ "heading": heading, "caption": caption, "empty": empty, "tasks": tasks,
                "done": done, "provisional_title": format::PROVISIONAL_TITLE, "filters": { "path": path, "workflows": workflows,
                "q": search,
                "overdue": only_overdue, "active": filtered } }),
        f,
    )
}
