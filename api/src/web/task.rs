//! The task page: the case file (the stage map, the hash-checked history,
//! the step's form and buttons) and the actions taken from it.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stageflow_app::casefile::{StageMark, TaskCase};
use stageflow_app::files::Upload;
use stageflow_app::policy::Op;
use stageflow_app::tasks::{Action, Rating, SignerPosition};
use stageflow_app::{AppError, ErrorKind};
use uuid::Uuid;

use super::history::describe;
use super::{
    Session, error_page, forbidden_form, format, frame, render, session, today, with_messages,
};
use crate::AppState;
use crate::error::ApiError;
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
    let def = &case.definition;
    let tz = chrono_tz::Asia::Shanghai;
    let stages: Vec<Value> = case
        .stages
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
        .collect();
    // Each task's step, from the events that created them.
    let mut steps: HashMap<Uuid, String> = HashMap::new();
    for e in &case.events {
        if let stageflow_engine::Event::TaskCreated { task, record } = &e.event {
            steps.insert(*task, record.step.clone());
        }
    }
    let history: Vec<Value> = case
        .events
        .iter()
        .filter_map(|e| {
            let text = describe(&e.event, &case.names, &steps, def)?;
            let local = e.at.with_timezone(&tz);
            Some(json!({
                "at": local.format("%Y年%-m月%-d日 %H:%M").to_string(),
                "at_iso": e.at.to_rfc3339(),
                "text": text,
            }))
        })
        .collect();
    let people: Vec<Value> = case
        .people
        .iter()
        .map(|p| json!({ "id": p.id, "name": p.name }))
        .collect();
    let returnable: Vec<Value> = case
        .returnable
        .iter()
        .map(|(id, name)| json!({ "id": id, "name": name }))
        .collect();
    let fields: Vec<Value> = task
        .form
        .iter()
        .map(|f| {
            let input = match f.kind.as_str() {
                "date" => "date",
                "integer" | "number" => "number",
                _ => "text",
            };
            let value = f.default.as_ref().map(|d| match d {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            json!({
                "id": f.id, "label": f.label, "type": f.kind, "required": f.required,
                "options": f.options, "input": input, "value": value, "people": people,
                "step": if f.kind == "number" { Some("any") } else { None },
            })
        })
        .collect();
    let mut buttons: Vec<Value> = Vec::new();
    if task.kind == "ballot" {
        for c in &task.choices {
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
            buttons.push(json!({ "value": format!("vote:{c}"), "label": label }));
        }
    } else {
        for (i, o) in task.outcomes.iter().enumerate() {
            let value = match o.id.as_str() {
                "approve" => "approve".to_string(),
                "reject" => "reject".to_string(),
                "return" => "return".to_string(),
                other => format!("complete:{other}"),
            };
            buttons.push(json!({ "value": value, "label": o.label, "secondary": i > 0 }));
        }
        if buttons.is_empty() {
            buttons.push(json!({ "value": "complete", "label": "办结" }));
        }
    }
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
    let name = |id: &String| case.names.get(id).cloned().unwrap_or_else(|| id.clone());
    let assignees: Vec<String> = task.assignees.iter().map(name).collect();
    // The rating form: each ratee by name, a grade or the rubric's scores.
    let rating = match (&task.rating, case.open) {
        (Some(r), true) => {
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
                    json!({ "id": p, "name": name(p), "n": i, "grades": r.grades, "items": items })
                })
                .collect();
            Some(json!({ "ratees": ratees, "scale": !r.grades.is_empty() }))
        }
        _ => None,
    };
    if rating.is_some() {
        buttons = vec![json!({ "value": "rate", "label": "提交评议" })];
    }
    json!({
        "can_urge": case.offers.urge, "can_retract": case.offers.retract,
        "can_withdraw": case.offers.withdraw, "can_close": case.offers.close,
        "close_what": if task.kind == "ballot" { "表决" } else { "评议" },
        "assignees": assignees.join("、"), "rating": rating,
        "task": task, "stages": stages, "history": history, "verified": case.verified,
        "open": case.open, "fields": fields, "buttons": buttons, "csrf": s.csrf,
        "people": people, "returnable": returnable, "work": task.kind == "work",
        "seen": case.events.len(), "due": task.due.map(format::date_zh), "due_iso": task.due,
        "when": when, "overdue": overdue && case.open, "earliest": task.earliest.map(format::date_zh),
        "status": status_text, "subject": case.subject,
        "comment_required": case.comment_required,
    })
}

/// The fields of a submitted task form: text values, and files by the
/// form field they are for.
struct Submitted {
    text: Vec<(String, String)>,
    files: Vec<(String, Upload)>,
}

impl Submitted {
    fn get(&self, k: &str) -> Option<String> {
        self.text
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }

    fn all(&self, k: &str) -> Vec<String> {
        self.text
            .iter()
            .filter(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

async fn read_form(mut multipart: Multipart) -> Result<Submitted, Response> {
    let mut form = Submitted {
        text: Vec::new(),
        files: Vec::new(),
    };
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(e.body_text()).into_response()
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if let Some(form_id) = name.strip_prefix("file.") {
            let form_id = form_id.to_string();
            let file_name = field.file_name().unwrap_or_default().to_string();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            if !bytes.is_empty() && !file_name.is_empty() {
                form.files.push((
                    form_id,
                    Upload {
                        name: file_name,
                        content_type,
                        bytes: bytes.to_vec(),
                    },
                ));
            }
        } else {
            let value = field.text().await.map_err(bad)?;
            form.text.push((name, value));
        }
    }
    Ok(form)
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
    let comment = form.get("comment").filter(|c| !c.trim().is_empty());
    // Actions on a task that is not, or no longer, mine to decide.
    let side = match code.as_str() {
        "urge" => Some(
            app.act(&s.caller, id, Action::Urge, None)
                .await
                .map(|_| "已催办：办理人将收到提醒邮件。"),
        ),
        "retract" => Some(
            app.act(&s.caller, id, Action::Withdraw, None)
                .await
                .map(|_| "已撤回您的办理，事项回到您的待办。"),
        ),
        "withdraw_instance" => Some(
            app.withdraw_instance(&s.caller, task.instance)
                .await
                .map(|_| "流程已撤回。"),
        ),
        "close" => Some(
            app.close_step(&s.caller, task.instance, &task.step)
                .await
                .map(|_| "已结束，按已投（已评）的结果计算。"),
        ),
        _ => None,
    };
    if let Some(result) = side {
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
    // 转办 / 委派 / 加签 / 抄送 / 退回 / 意见: a person or a step, no form.
    let handed = match code.as_str() {
        "transfer" => Some((
            Action::Transfer {
                to: form.get("to").unwrap_or_default(),
                comment: comment.clone(),
            },
            "已转办",
        )),
        "delegate" => Some((
            Action::Delegate {
                to: form.get("to").unwrap_or_default(),
                comment: comment.clone(),
            },
            "已委派，对方提出意见后事项回到您这里",
        )),
        "add_signer" => Some((
            Action::AddSigner {
                to: form.get("to").unwrap_or_default(),
                position: if form.get("position").as_deref() == Some("before") {
                    SignerPosition::Before
                } else {
                    SignerPosition::After
                },
            },
            "已加签",
        )),
        "cc" => Some((
            Action::Cc {
                people: form.all("people"),
                comment: comment.clone(),
            },
            "已抄送",
        )),
        "return_to" => Some((
            Action::Return {
                to: form.get("to").filter(|t| !t.is_empty()),
                form: Default::default(),
                comment: comment.clone(),
            },
            "已退回",
        )),
        "comment" => Some((
            Action::Comment {
                comment: comment.clone().unwrap_or_default(),
            },
            "意见已记录",
        )),
        _ => None,
    };
    if let Some((action, done_words)) = handed {
        let stays = matches!(
            action,
            Action::Cc { .. } | Action::Comment { .. } | Action::AddSigner { .. }
        );
        return match app.act(&s.caller, id, action, None).await {
            Ok(_) if stays => {
                show_task(
                    &app,
                    &s,
                    id,
                    StatusCode::OK,
                    json!({ "notice": done_words }),
                )
                .await
            }
            Ok(_) => {
                let mut f = frame(&s, "task");
                f["notice"] = json!(format!("「{}」{done_words}。", task.step_name));
                render(
                    StatusCode::OK,
                    "list",
                    "已处理",
                    json!({ "heading": "已处理", "tasks": [], "empty": "返回待办继续办理其他事项。" }),
                    f,
                )
            }
            Err(e) if e.kind == ErrorKind::Conflict => stale(&app, &s, id).await,
            Err(e) => refused(&app, &s, id, &e).await,
        };
    }
    // A decision: the form as the step declares it, files uploaded first.
    let mut values = serde_json::Map::new();
    for f in &task.form {
        let raw = form.get(&format!("f.{}", f.id)).unwrap_or_default();
        match typed(&f.kind, &f.label, &raw) {
            Ok(Some(value)) => {
                values.insert(f.id.clone(), value);
            }
            Ok(None) => {}
            Err(error) => {
                return task_error(&app, &s, id, StatusCode::UNPROCESSABLE_ENTITY, error).await;
            }
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
        match app.upload(&s.caller, id, upload).await {
            Ok(meta) => {
                values.insert(form_id, json!(meta.id.to_string()));
            }
            Err(e) => {
                let status = crate::error::status_of(e.kind).0;
                return task_error(&app, &s, id, status, format!("附件上传失败：{}", e.detail))
                    .await;
            }
        }
    }
    let action = match code.split_once(':') {
        Some(("vote", choice)) => Action::Vote {
            choice: choice.to_string(),
            written: false,
        },
        Some(("complete", outcome)) => Action::Complete {
            outcome: Some(outcome.to_string()),
            form: values,
            comment: comment.clone(),
        },
        _ => match code.as_str() {
            "approve" => Action::Approve {
                form: values,
                comment: comment.clone(),
            },
            "reject" => Action::Reject {
                form: values,
                comment: comment.clone(),
            },
            "return" => Action::Return {
                to: None,
                form: values,
                comment: comment.clone(),
            },
            "rate" => match ratings_from(&task, &form) {
                Ok(ratings) => Action::Rate { ratings },
                Err(error) => {
                    return task_error(&app, &s, id, StatusCode::UNPROCESSABLE_ENTITY, error).await;
                }
            },
            "complete" => Action::Complete {
                outcome: None,
                form: values,
                comment: comment.clone(),
            },
            _ => return task_error(&app, &s, id, StatusCode::BAD_REQUEST, "未知操作").await,
        },
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

/// The ratings of the rating form: `r.N` is the grade of the N-th ratee,
/// `r.N.ITEM` a rubric item's score. Every ratee must be rated.
fn ratings_from(
    task: &stageflow_app::views::TaskView,
    form: &Submitted,
) -> Result<BTreeMap<String, Rating>, String> {
    let Some(r) = &task.rating else {
        return Err("该事项不是评议".into());
    };
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut out = BTreeMap::new();
    for (i, ratee) in r.ratees.iter().enumerate() {
        if r.items.is_empty() {
            let grade = get(&format!("r.{i}")).ok_or("请为每一位评议对象选择等次")?;
            out.insert(ratee.clone(), Rating::Grade(grade));
        } else {
            let mut scores = BTreeMap::new();
            for item in &r.items {
                let raw = get(&format!("r.{i}.{}", item.id))
                    .ok_or_else(|| format!("请为每一位评议对象填写「{}」的得分", item.name))?;
                let score: f64 = raw
                    .parse()
                    .map_err(|_| format!("「{}」的得分须为数字", item.name))?;
                scores.insert(item.id.clone(), score);
            }
            out.insert(ratee.clone(), Rating::Scores(scores));
        }
    }
    Ok(out)
}

/// A form field's value as the step declares it (`None`: not given, or a
/// file, which is uploaded separately); an error in words otherwise.
pub(super) fn typed(kind: &str, label: &str, raw: &str) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    Ok(Some(match kind {
        "file" => return Ok(None),
        "boolean" => Value::Bool(raw == "true"),
        _ if raw.is_empty() => return Ok(None),
        "integer" => json!(
            raw.parse::<i64>()
                .map_err(|_| format!("「{label}」须填写整数"))?
        ),
        "number" => json!(
            raw.parse::<f64>()
                .map_err(|_| format!("「{label}」须填写数字"))?
        ),
        _ => Value::String(raw.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::typed;
    use serde_json::json;

    #[test]
    fn form_values_take_the_type_the_step_declares() {
        assert_eq!(typed("integer", "天数", " 3 "), Ok(Some(json!(3))));
        assert_eq!(typed("number", "学时", "24.5"), Ok(Some(json!(24.5))));
        assert_eq!(typed("boolean", "是否", "true"), Ok(Some(json!(true))));
        assert_eq!(typed("boolean", "是否", ""), Ok(Some(json!(false))));
        assert_eq!(
            typed("date", "日期", "2026-03-02"),
            Ok(Some(json!("2026-03-02")))
        );
        assert_eq!(typed("text", "意见", "  "), Ok(None));
        assert_eq!(typed("file", "扫描件", "x"), Ok(None));
        assert_eq!(
            typed("integer", "天数", "三"),
            Err("「天数」须填写整数".to_string())
        );
    }
}
