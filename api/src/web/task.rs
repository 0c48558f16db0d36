//! The task page: the case file (the stage map, the hash-checked history,
//! the step's form and buttons) and the actions taken from it.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stageflow_app::casefile::{StageMark, TaskCase};
use stageflow_app::policy::Op;
use stageflow_app::tasks::{Action, SignerPosition};
use stageflow_app::views::TaskView;
use stageflow_app::{AppError, ErrorKind};
use uuid::Uuid;

use super::history::describe;
use super::task_form::{Submitted, ratings_from, read_form, typed};
use super::{
    Session, error_page, forbidden_form, format, frame, render, session, today, with_messages,
};
use crate::AppState;
use crate::routes::{Access, Route, page};

pub(super) fn routes() -> Vec<Route> {
    vec![
        page(
            Method::GET,
            "/tasks/{id}",
            Access::Op(Op::ReadInstance),
            get(task_page),
        ),
        page(
            Method::POST,
            "/tasks/{id}",
            Access::Op(Op::ActOnTask),
            axum::routing::post(task_action),
        ),
    ]
}

#[derive(Deserialize)]
struct TaskParams {
    started: Option<String>,
}

async fn task_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<TaskParams>,
) -> Response {
    let s = match session(&app, &headers, &format!("/tasks/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let messages = match q.started {
        Some(_) => json!({ "notice": "流程已发起，以下是它的第一项待办。" }),
        None => json!({}),
    };
    show_task(&app, &s, id, StatusCode::OK, messages).await
}

/// Renders the task page; `messages` carries `notice` / `error`.
async fn show_task(
    app: &AppState,
    s: &Session,
    id: Uuid,
    status: StatusCode,
    messages: Value,
) -> Response {
    let case = match app.task_case(&s.caller, id).await {
        Ok(c) => c,
        Err(e) => return error_page(s, &e),
    };
    let page = task_page_data(app, s, &case);
    let f = with_messages(frame(s, "task"), &messages);
    render(status, "task", &case.task.step_name, page, f)
}

/// What the task template shows.
fn task_page_data(app: &AppState, s: &Session, case: &TaskCase) -> Value {
    let task = &case.task;
    let people: Vec<Value> = case
        .people
        .iter()
        .map(|p| {
            let label = if p.detail.is_empty() {
                p.name.clone()
            } else {
                format!("{}（{}）", p.name, p.detail)
            };
            json!({ "id": p.id, "name": p.name, "label": label, "status": p.status })
        })
        .collect();
    let returnable: Vec<Value> = case
        .returnable
        .iter()
        .map(|(id, name)| json!({ "id": id, "name": name }))
        .collect();
    let rating = rating_form(case);
    let buttons = if rating.is_some() {
        vec![json!({ "value": "rate", "label": "提交评议" })]
    } else {
        buttons(task)
    };
    let (when, overdue) = task
        .due
        .map(|d| format::due_in_words(d, today(app)))
        .unwrap_or_default();
    let status_text = match task.status.as_str() {
        "pending" if case.open => "待我办理",
        "pending" => "待他人办理",
        "done" => "已办理",
        _ => "已取消",
    };
    let assignees: Vec<String> = task.assignees.iter().map(|p| name_of(case, p)).collect();
    json!({
        "can_urge": case.offers.urge, "can_retract": case.offers.retract,
        "ops": { "transfer": case.offers.transfer, "delegate": case.offers.delegate,
                 "hand_on": case.offers.transfer || case.offers.delegate,
                 "add_signer": case.offers.add_signer, "cc": case.offers.cc },
        "can_withdraw": case.offers.withdraw, "can_close": case.offers.close,
        "close_what": if task.kind == "ballot" { "表决" } else { "评议" },
        "close_vote": task.kind == "ballot", "today": today(app).to_string(),
        "assignees": assignees.join("、"), "rating": rating,
        "task": task, "stages": stages(case), "history": history(case), "verified": case.verified,
        "open": case.open, "fields": fields(task, &people, case.person.as_ref().map(|p| p.id.as_str()), today(app)), "buttons": buttons, "csrf": s.csrf,
        "people": people, "returnable": returnable, "work": task.kind == "work",
        "seen": case.events.len(), "due": task.due.map(format::date_zh), "due_iso": task.due,
        "when": when, "overdue": overdue && case.open, "earliest": task.earliest.map(format::date_zh),
        "status": status_text, "subject": case.subject,
        "comment_required": case.comment_required, "provisional_title": format::PROVISIONAL_TITLE,
        "case": super::casefile::case_json(case.person.as_ref(), &case.record),
    })
}

fn name_of(case: &TaskCase, id: &String) -> String {
    case.names.get(id).cloned().unwrap_or_else(|| id.clone())
}

/// The stages of the instance, each marked done, current or to come.
fn stages(case: &TaskCase) -> Vec<Value> {
    case.stages
        .iter()
        .map(|(name, mark)| {
            let (class, label) = match mark {
                StageMark::Ended => ("done", "已结束"),
                StageMark::Done => ("done", "已完成"),
                StageMark::Current => ("current", "进行中"),
                StageMark::Todo => ("todo", "未开始"),
            };
            json!({ "name": name, "state": class, "label": label, "current": class == "current" })
        })
        .collect()
}

/// The history in words, in Beijing time.
fn history(case: &TaskCase) -> Vec<Value> {
    // Each task's step, from the events that created them.
    let mut steps: HashMap<Uuid, String> = HashMap::new();
    for e in &case.events {
        if let stageflow_engine::Event::TaskCreated { task, record } = &e.event {
            steps.insert(*task, record.step.clone());
        }
    }
    case.events
        .iter()
        .filter_map(|e| {
            let text = describe(&e.event, &case.names, &steps, &case.definition)?;
            Some(json!({
                "at": format::datetime_zh(e.at),
                "at_iso": e.at.to_rfc3339(),
                "text": text,
            }))
        })
        .collect()
}

/// The step's form fields as inputs (a person field offers `people`).
/// The form's fields for the template. A person field offers only whom it
/// may name: not the case's own person, and of a 身份 its `eligible:` lists.
fn fields(
    task: &TaskView,
    people: &[Value],
    subject: Option<&str>,
    today: chrono::NaiveDate,
) -> Vec<Value> {
    task.form
        .iter()
        .map(|f| {
            let people: Vec<&Value> = people
                .iter()
                .filter(|p| f.kind != "person" || p["id"].as_str() != subject)
                .filter(|p| {
                    f.eligible.is_empty()
                        || f.eligible.iter().any(|s| p["status"].as_str() == Some(s))
                })
                .collect();
            let input = match f.kind.as_str() {
                "date" => "date",
                "integer" | "number" => "number",
                _ => "text",
            };
            let value = f.default.as_ref().map(|d| match d {
                // `default: today`: the day the form is filled in.
                Value::String(s) if f.kind == "date" && s == "today" => today.to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            json!({
                "id": f.id, "label": f.label, "type": f.kind, "required": f.required,
                "options": f.options, "input": input, "value": value, "people": people,
                "step": if f.kind == "number" { Some("any") } else { None },
            })
        })
        .collect()
}

/// The decision buttons: a ballot's choices, or the step's outcomes.
fn buttons(task: &TaskView) -> Vec<Value> {
    if task.kind == "ballot" {
        return task
            .choices
            .iter()
            .map(|c| {
                let label = match c.as_str() {
                    "yes" => "赞成".to_string(),
                    "no" => "反对".to_string(),
                    "abstain" => "弃权".to_string(),
                    other => task
                        .outcomes
                        .iter()
                        .find(|o| o.id == other)
                        .map_or(other.to_string(), |o| o.label.clone()),
                };
                json!({ "value": format!("vote:{c}"), "label": label })
            })
            .collect();
    }
    let mut buttons: Vec<Value> = task
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let value = match o.id.as_str() {
                "approve" | "reject" | "return" => o.id.clone(),
                other => format!("complete:{other}"),
            };
            json!({ "value": value, "label": o.label, "secondary": i > 0 })
        })
        .collect();
    if buttons.is_empty() {
        buttons.push(json!({ "value": "complete", "label": "办结" }));
    }
    buttons
}

/// The rating form: each ratee by name, a grade or the rubric's scores.
fn rating_form(case: &TaskCase) -> Option<Value> {
    let r = case.task.rating.as_ref().filter(|_| case.open)?;
    let ratees: Vec<Value> = r
        .ratees
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let items: Vec<Value> = r
                .items
                .iter()
                .map(|it| json!({ "id": it.id, "name": it.name, "min": it.min, "max": it.max, "ratee": p, "n": i }))
                .collect();
            json!({ "id": p, "name": name_of(case, p), "n": i, "grades": r.grades, "items": items })
        })
        .collect();
    Some(json!({ "ratees": ratees, "scale": !r.grades.is_empty() }))
}

async fn task_action(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    multipart: Multipart,
) -> Response {
    let s = match session(&app, &headers, &format!("/tasks/{id}")).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = match read_form(multipart).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if form.get("csrf").as_deref() != Some(s.csrf.as_str()) {
        return forbidden_form();
    }
    let task = match app.task(&s.caller, id).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, &e),
    };
    let code = form.get("do").unwrap_or_else(|| "complete".into());
    if let Some(result) = side_action(&app, &s, &task, &code, &form).await {
        return match result {
            Ok(notice) => {
                show_task(&app, &s, id, StatusCode::OK, json!({ "notice": notice })).await
            }
            Err(e) => refused(&app, &s, id, &e).await,
        };
    }
    if task.status != "pending" {
        return stale(&app, &s, id).await;
    }
    let comment = form.get("comment").filter(|c| !c.trim().is_empty());
    if let Some((action, done_words)) = handing(&code, &form, comment.clone()) {
        return hand(&app, &s, &task, action, done_words).await;
    }
    let action = match decision(&app, &s, &task, &code, &form, comment.clone()).await {
        Ok(action) => action,
        Err((status, error)) => return task_error(&app, &s, id, status, error).await,
    };
    // A ballot or a rating carries no comment of its own: the comment is
    // recorded on the task first.
    if matches!(action, Action::Vote { .. } | Action::Rate { .. })
        && let Some(text) = comment
        && let Err(e) = app
            .act(&s.caller, id, Action::Comment { comment: text }, None)
            .await
    {
        return refused(&app, &s, id, &e).await;
    }
    match app.act(&s.caller, id, action, None).await {
        Ok(_) => Redirect::to(&format!("/done?ok={id}")).into_response(),
        Err(e) if e.kind == ErrorKind::Conflict => stale(&app, &s, id).await,
        Err(e) => refused(&app, &s, id, &e).await,
    }
}

/// Actions on a task that is not, or no longer, mine to decide (催办, 撤回
/// my decision, 撤回 the instance, close a vote): `None` for any other.
async fn side_action(
    app: &AppState,
    s: &Session,
    task: &TaskView,
    code: &str,
    form: &Submitted,
) -> Option<Result<&'static str, AppError>> {
    let id = task.id;
    let held_on = form
        .get("held_on")
        .and_then(|d| chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
    Some(match code {
        "urge" => app
            .act(&s.caller, id, Action::Urge, None)
            .await
            .map(|_| "已催办：办理人将收到提醒邮件。"),
        "retract" => app
            .act(&s.caller, id, Action::Withdraw, None)
            .await
            .map(|_| "已撤回您的办理，事项回到您的待办。"),
        "withdraw_instance" => app
            .withdraw_instance(&s.caller, task.instance)
            .await
            .map(|_| "流程已撤回。"),
        "close" => app
            .close_step(&s.caller, task.instance, &task.step, held_on)
            .await
            .map(|_| "已结束，按已投（已评）的结果计算。"),
        _ => return None,
    })
}

/// 转办 / 委派 / 加签 / 抄送 / 退回 / 意见: a person or a step, no form;
/// with the words that say it was done.
fn handing(
    code: &str,
    form: &Submitted,
    comment: Option<String>,
) -> Option<(Action, &'static str)> {
    let to = || form.get("to").unwrap_or_default();
    Some(match code {
        "transfer" => (Action::Transfer { to: to(), comment }, "已转办"),
        "delegate" => (
            Action::Delegate { to: to(), comment },
            "已委派，对方提出意见后事项回到您这里",
        ),
        "add_signer" => (
            Action::AddSigner {
                to: to(),
                position: if form.get("position").as_deref() == Some("before") {
                    SignerPosition::Before
                } else {
                    SignerPosition::After
                },
            },
            "已加签",
        ),
        "cc" => (
            Action::Cc {
                people: form.all("people"),
                comment,
            },
            "已抄送",
        ),
        "return_to" => (
            Action::Return {
                to: form.get("to").filter(|t| !t.is_empty()),
                form: Default::default(),
                comment,
            },
            "已退回",
        ),
        "comment" => (
            Action::Comment {
                comment: comment.unwrap_or_default(),
            },
            "意见已记录",
        ),
        _ => return None,
    })
}

/// Hands the task on (or comments, copies, adds a signer — after which it
/// stays mine and the page shows again).
async fn hand(
    app: &AppState,
    s: &Session,
    task: &TaskView,
    action: Action,
    done_words: &str,
) -> Response {
    let id = task.id;
    let stays = matches!(
        action,
        Action::Cc { .. } | Action::Comment { .. } | Action::AddSigner { .. }
    );
    match app.act(&s.caller, id, action, None).await {
        Ok(_) if stays => {
            show_task(app, s, id, StatusCode::OK, json!({ "notice": done_words })).await
        }
        Ok(_) => {
            let mut f = frame(s, "task");
            f["notice"] = json!(format!("「{}」{done_words}。", task.step_name));
            render(
                StatusCode::OK,
                "list",
                "已处理",
                json!({ "heading": "已处理", "tasks": [], "empty": "返回待办继续办理其他事项。" }),
                f,
            )
        }
        Err(e) if e.kind == ErrorKind::Conflict => stale(app, s, id).await,
        Err(e) => refused(app, s, id, &e).await,
    }
}

/// A decision: the form as the step declares it (its files uploaded
/// first), under the outcome, vote or rating the button names.
async fn decision(
    app: &AppState,
    s: &Session,
    task: &TaskView,
    code: &str,
    form: &Submitted,
    comment: Option<String>,
) -> Result<Action, (StatusCode, String)> {
    let values = form_values(app, s, task, form).await?;
    Ok(match code.split_once(':') {
        Some(("vote", choice)) => Action::Vote {
            choice: choice.to_string(),
            written: false,
        },
        Some(("complete", outcome)) => Action::Complete {
            outcome: Some(outcome.to_string()),
            form: values,
            comment,
        },
        _ => match code {
            "approve" => Action::Approve {
                form: values,
                comment,
            },
            "reject" => Action::Reject {
                form: values,
                comment,
            },
            "return" => Action::Return {
                to: None,
                form: values,
                comment,
            },
            "rate" => Action::Rate {
                ratings: ratings_from(task, form)
                    .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e))?,
            },
            "complete" => Action::Complete {
                outcome: None,
                form: values,
                comment,
            },
            _ => return Err((StatusCode::BAD_REQUEST, "未知操作".into())),
        },
    })
}

/// The step's form fields, typed, with each uploaded file stored and
/// named by its id.
async fn form_values(
    app: &AppState,
    s: &Session,
    task: &TaskView,
    form: &Submitted,
) -> Result<serde_json::Map<String, Value>, (StatusCode, String)> {
    let mut values = serde_json::Map::new();
    for f in &task.form {
        let raw = form.get(&format!("f.{}", f.id)).unwrap_or_default();
        if let Some(value) =
            typed(&f.kind, &f.label, &raw).map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e))?
        {
            values.insert(f.id.clone(), value);
        }
    }
    for (form_id, upload) in form.files.iter().cloned() {
        if !task
            .form
            .iter()
            .any(|f| f.id == form_id && f.kind == "file")
        {
            continue;
        }
        let meta = app.upload(&s.caller, task.id, upload).await.map_err(|e| {
            (
                crate::error::status_of(e.kind).0,
                format!("附件上传失败：{}", e.detail),
            )
        })?;
        values.insert(form_id, json!(meta.id.to_string()));
    }
    Ok(values)
}

/// The task page again with an error said on it.
async fn task_error(
    app: &AppState,
    s: &Session,
    id: Uuid,
    status: StatusCode,
    error: impl Into<String>,
) -> Response {
    show_task(app, s, id, status, json!({ "error": error.into() })).await
}

/// The task page again, saying why the action was refused.
async fn refused(app: &AppState, s: &Session, id: Uuid, e: &AppError) -> Response {
    let status = crate::error::status_of(e.kind).0;
    task_error(app, s, id, status, format!("未能办理：{}", e.detail)).await
}

/// Someone else acted first (or the step moved on): the fresh page, saying so.
async fn stale(app: &AppState, s: &Session, id: Uuid) -> Response {
    task_error(
        app,
        s,
        id,
        StatusCode::CONFLICT,
        "该事项已由他人办理或流程已推进，以下是最新情况。",
    )
    .await
}
