//! Organizer views: the 督办台账 (overdue list, JSON / CSV / XLSX), the
//! admission pipeline per branch, campaign progress per organization, and
//! `.ics` calendar feeds.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::state::{Event, Status, TaskStatus};
use stageflow_engine::time::Clock;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{Caller, FeedCaller};
use crate::error::{ApiError, ApiResult};
use crate::extract::Params;
use crate::routes::instances::{load, require_visible};

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/overdue", get(overdue))
        .route("/api/v1/reports/pipeline", get(pipeline))
        .route("/api/v1/reports/progress/{id}", get(progress))
        .route("/api/v1/calendar/people/{id}", get(person_calendar))
        .route("/api/v1/calendar/orgs/{id}", get(org_calendar))
}

/// Which subtree, which format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OverdueQuery {
    /// The subtree (an organization you manage).
    pub org: String,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// One overdue task.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverdueRow {
    /// Task.
    pub task: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Workflow name.
    pub workflow: String,
    /// Step name.
    pub step: String,
    /// Organization (name).
    pub organization: String,
    /// Assignee (name).
    pub assignee: String,
    /// Assignee id.
    pub assignee_id: String,
    /// The deadline (last day).
    pub due: String,
    /// Whole days past it.
    pub days_overdue: i64,
    /// Escalations (督办) so far for the step.
    pub escalations: u32,
}

async fn overdue_rows(state: &AppState, org: &str) -> ApiResult<Vec<OverdueRow>> {
    let now = state.clock.now();
    let rows = state
        .store
        .open_tasks_under(Some(org), Some(now), 10_000)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    // The rows' instances and their escalations, read a chunk at a time
    // (memory holds one chunk's instances).
    for chunk in rows.chunks(500) {
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.instance).collect();
        let instances = crate::instances_with_definitions(state, &ids).await?;
        let mut escalated: std::collections::HashMap<Uuid, Vec<Event>> =
            std::collections::HashMap::new();
        for (id, e) in state.store.events_of_type(&ids, "escalated").await? {
            escalated.entry(id).or_default().push(e.event);
        }
        for row in chunk {
            let Some((instance, def)) = instances.get(&row.instance) else {
                continue;
            };
            let clock = Clock { tz: def.timezone };
            let step_name = def
                .step(&row.step)
                .map(|(_, s)| s.name.clone())
                .unwrap_or_else(|| row.step.clone());
            let org_id = instance
                .tasks
                .get(&row.id)
                .and_then(|t| t.org.clone())
                .unwrap_or_else(|| instance.subject.org.clone());
            let mut name_of = async |id: &str, person: bool| -> ApiResult<String> {
                if let Some(n) = names.get(id) {
                    return Ok(n.clone());
                }
                let n = if person {
                    state.store.person(id).await?.map(|p| p.name)
                } else {
                    state.store.org(id).await?.map(|o| o.name)
                }
                .unwrap_or_else(|| id.to_string());
                names.insert(id.to_string(), n.clone());
                Ok(n)
            };
            let organization = name_of(&org_id, false).await?;
            let assignee = name_of(&row.assignee, true).await?;
            let escalations = escalated
                .get(&row.instance)
                .into_iter()
                .flatten()
                .filter(|e| match e {
                    // Escalations name the late tasks; older events only the step.
                    Event::Escalated { step, tasks, .. } if tasks.is_empty() => *step == row.step,
                    Event::Escalated { tasks, .. } => tasks.contains(&row.id),
                    _ => false,
                })
                .count() as u32;
            let due_date = instance
                .tasks
                .get(&row.id)
                .and_then(|t| t.due)
                .map(|d| clock.date_of(d));
            let days_overdue = row
                .due_at
                .map(|d| (now - d).num_days() + 1)
                .unwrap_or(0)
                .max(0);
            out.push(OverdueRow {
                task: row.id,
                instance: row.instance,
                workflow: def.name.clone(),
                step: step_name,
                organization,
                assignee,
                assignee_id: row.assignee.clone(),
                due: due_date.map(|d| d.to_string()).unwrap_or_default(),
                days_overdue,
                escalations,
            });
        }
    }
    out.sort_by(|a, b| {
        b.days_overdue
            .cmp(&a.days_overdue)
            .then(a.organization.cmp(&b.organization))
    });
    Ok(out)
}

const OVERDUE_HEADER: [&str; 8] = [
    "事项",
    "环节",
    "组织",
    "承办人",
    "期限",
    "逾期天数",
    "督办次数",
    "任务编号",
];

fn overdue_cells(r: &OverdueRow) -> [String; 8] {
    [
        r.workflow.clone(),
        r.step.clone(),
        r.organization.clone(),
        r.assignee.clone(),
        r.due.clone(),
        r.days_overdue.to_string(),
        r.escalations.to_string(),
        r.task.to_string(),
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// 督办台账: overdue tasks in a subtree, most overdue first, as JSON, CSV
/// (UTF-8 with BOM, so spreadsheet programs read the Chinese) or XLSX.
#[utoipa::path(get, path = "/api/v1/reports/overdue", tag = "reports", params(OverdueQuery),
    responses((status = 200, body = [OverdueRow], description = "JSON, or text/csv, or an .xlsx workbook"), (status = 403, body = crate::error::Problem)))]
pub async fn overdue(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<OverdueQuery>,
) -> ApiResult<Response> {
    caller.require_manages(&state, &q.org).await?;
    let rows = overdue_rows(&state, &q.org).await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(rows).into_response()),
        "csv" => {
            let mut text = String::from("\u{feff}");
            text.push_str(&OVERDUE_HEADER.join(","));
            text.push_str("\r\n");
            for r in &rows {
                text.push_str(
                    &overdue_cells(r)
                        .iter()
                        .map(|c| csv_field(c))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                text.push_str("\r\n");
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"overdue.csv\"".to_string(),
                    ),
                ],
                text,
            )
                .into_response())
        }
        "xlsx" => {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            let xerr = |e: rust_xlsxwriter::XlsxError| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    e.to_string(),
                )
            };
            sheet.set_name("督办台账").map_err(xerr)?;
            for (c, h) in OVERDUE_HEADER.iter().enumerate() {
                sheet.write_string(0, c as u16, *h).map_err(xerr)?;
            }
            for (i, r) in rows.iter().enumerate() {
                let row = i as u32 + 1;
                for (c, v) in overdue_cells(r).iter().enumerate() {
                    if c == 5 || c == 6 {
                        sheet
                            .write_number(row, c as u16, v.parse::<f64>().unwrap_or(0.0))
                            .map_err(xerr)?;
                    } else {
                        sheet.write_string(row, c as u16, v).map_err(xerr)?;
                    }
                }
            }
            let bytes = book.save_to_buffer().map_err(xerr)?;
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                            .to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"overdue.xlsx\"".to_string(),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "format '{other}' is not json, csv or xlsx"
        ))),
    }
}

/// Which subtree.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PipelineQuery {
    /// The subtree (an organization you manage).
    pub org: String,
}

/// The admission pipeline of one branch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PipelineRow {
    /// Organization id.
    pub org: String,
    /// Organization name.
    pub name: String,
    /// People by status (申请人, 积极分子, 发展对象, 预备党员, 正式党员, ...).
    pub people: BTreeMap<String, u32>,
    /// Running 发展党员 instances by current stage name.
    pub admissions: BTreeMap<String, u32>,
    /// Running admissions whose next step has a not-before date: who, which step, from when.
    pub eligible: Vec<EligibleView>,
}

/// When someone may take the next step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EligibleView {
    /// Subject person.
    pub person: String,
    /// Step name.
    pub step: String,
    /// Not before (date).
    pub from: String,
}

/// Admission pipeline per branch in a subtree.
#[utoipa::path(get, path = "/api/v1/reports/pipeline", tag = "reports", params(PipelineQuery),
    responses((status = 200, body = [PipelineRow]), (status = 403, body = crate::error::Problem)))]
pub async fn pipeline(
    State(state): State<AppState>,
    caller: Caller,
    Params(q): Params<PipelineQuery>,
) -> ApiResult<Json<Vec<PipelineRow>>> {
    caller.require_manages(&state, &q.org).await?;
    let mut out = Vec::new();
    for org in state.store.orgs_under(Some(&q.org), Some("党支部")).await? {
        let mut people: BTreeMap<String, u32> = BTreeMap::new();
        for p in state.store.people_under(Some(&org.id)).await? {
            *people.entry(p.status).or_default() += 1;
        }
        let mut admissions: BTreeMap<String, u32> = BTreeMap::new();
        let mut eligible = Vec::new();
        for row in state
            .store
            .open_tasks_under(Some(&org.id), None, 10_000)
            .await?
        {
            if row.workflow != "member-admission" {
                continue;
            }
            let Some((instance, def)) =
                crate::instance_with_definition(&state, row.instance).await?
            else {
                continue;
            };
            if instance.status != Status::Running || instance.subject.org != org.id {
                continue;
            }
            let clock = Clock { tz: def.timezone };
            if let Some(t) = instance.tasks.get(&row.id)
                && let Some(e) = t.earliest
            {
                eligible.push(EligibleView {
                    person: instance.subject.person.clone().unwrap_or_default(),
                    step: def
                        .step(&t.step)
                        .map(|(_, s)| s.name.clone())
                        .unwrap_or_default(),
                    from: clock.date_of(e).to_string(),
                });
            }
        }
        // One count per instance, by its current stage.
        let mut seen = std::collections::BTreeSet::new();
        for row in state
            .store
            .open_tasks_under(Some(&org.id), None, 10_000)
            .await?
        {
            if row.workflow != "member-admission" || !seen.insert(row.instance) {
                continue;
            }
            if let Some((instance, def)) =
                crate::instance_with_definition(&state, row.instance).await?
            {
                let stage = instance
                    .stage
                    .as_deref()
                    .and_then(|s| def.stage(s))
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                *admissions.entry(stage).or_default() += 1;
            }
        }
        out.push(PipelineRow {
            org: org.id.clone(),
            name: org.name.clone(),
            people,
            admissions,
            eligible,
        });
    }
    Ok(Json(out))
}

/// Progress of one organization in a campaign.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgressRow {
    /// Organization id.
    pub org: String,
    /// Organization name.
    pub name: String,
    /// Deliverables and reports done.
    pub done: u32,
    /// Still open, not yet due.
    pub pending: u32,
    /// Open and past their deadline.
    pub overdue: u32,
}

/// Campaign progress per participating organization, overdue first.
#[utoipa::path(get, path = "/api/v1/reports/progress/{id}", tag = "reports", params(("id" = Uuid, Path)),
    responses((status = 200, body = [ProgressRow]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn progress(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<ProgressRow>>> {
    let instance = load(&state, id).await?;
    require_visible(&state, &caller, &instance).await?;
    let now = state.clock.now();
    let mut by_org: BTreeMap<String, ProgressRow> = BTreeMap::new();
    for t in instance.tasks.values() {
        let Some(org) = &t.org else { continue };
        let row = by_org.entry(org.clone()).or_insert_with(|| ProgressRow {
            org: org.clone(),
            name: String::new(),
            done: 0,
            pending: 0,
            overdue: 0,
        });
        match &t.status {
            TaskStatus::Done(_) => row.done += 1,
            TaskStatus::Open if t.due_at.is_some_and(|d| d < now) => row.overdue += 1,
            TaskStatus::Open => row.pending += 1,
            TaskStatus::Cancelled => {}
        }
    }
    let mut rows: Vec<ProgressRow> = Vec::new();
    for (org, mut row) in by_org {
        row.name = state.store.org(&org).await?.map(|o| o.name).unwrap_or(org);
        rows.push(row);
    }
    rows.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(a.org.cmp(&b.org)));
    Ok(Json(rows))
}

fn ics(
    name: &str,
    events: &[(Uuid, String, chrono::NaiveDate, String)],
    now: DateTime<Utc>,
) -> Response {
    let mut text = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//stageflow//CN\r\nCALSCALE:GREGORIAN\r\n",
    );
    text.push_str(&format!(
        "X-WR-CALNAME:{}\r\nX-WR-TIMEZONE:Asia/Shanghai\r\n",
        escape(name)
    ));
    for (uid, summary, date, description) in events {
        text.push_str("BEGIN:VEVENT\r\n");
        text.push_str(&format!("UID:{uid}@stageflow\r\n"));
        text.push_str(&format!("DTSTAMP:{}\r\n", now.format("%Y%m%dT%H%M%SZ")));
        text.push_str(&format!("DTSTART;VALUE=DATE:{}\r\n", date.format("%Y%m%d")));
        text.push_str(&format!("SUMMARY:{}\r\n", escape(summary)));
        text.push_str(&format!("DESCRIPTION:{}\r\n", escape(description)));
        text.push_str("END:VEVENT\r\n");
    }
    text.push_str("END:VCALENDAR\r\n");
    (
        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
        text,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

async fn calendar_events(
    state: &AppState,
    rows: Vec<stageflow_store::TaskRow>,
) -> ApiResult<Vec<(Uuid, String, chrono::NaiveDate, String)>> {
    let mut events = Vec::new();
    for row in rows {
        let Some((instance, def)) = crate::instance_with_definition(state, row.instance).await?
        else {
            continue;
        };
        let clock = Clock { tz: def.timezone };
        let Some(due) = instance.tasks.get(&row.id).and_then(|t| t.due) else {
            continue;
        };
        let step = def
            .step(&row.step)
            .map(|(_, s)| s.name.clone())
            .unwrap_or_else(|| row.step.clone());
        events.push((
            row.id,
            format!("【期限】{step}"),
            clock.date_of(due),
            format!("{}：{step}", def.name),
        ));
    }
    Ok(events)
}

/// A person's deadlines as an `.ics` feed (their own, or for organizers).
#[utoipa::path(get, path = "/api/v1/calendar/people/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, description = "text/calendar", body = String), (status = 403, body = crate::error::Problem)))]
pub async fn person_calendar(
    State(state): State<AppState>,
    FeedCaller(caller): FeedCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = id.trim_end_matches(".ics").to_string();
    if id != caller.person && !caller.admin {
        return Err(ApiError::forbidden("a calendar feed is its owner's"));
    }
    let rows = state
        .store
        .inbox(&stageflow_store::InboxQuery {
            assignee: id.clone(),
            status: "open".into(),
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let events = calendar_events(&state, rows).await?;
    Ok(ics(&format!("stageflow {id}"), &events, state.clock.now()))
}

/// An organization's deadlines (its subtree) as an `.ics` feed.
#[utoipa::path(get, path = "/api/v1/calendar/orgs/{id}", tag = "reports", params(("id" = String, Path)),
    responses((status = 200, description = "text/calendar", body = String), (status = 403, body = crate::error::Problem)))]
pub async fn org_calendar(
    State(state): State<AppState>,
    FeedCaller(caller): FeedCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = id.trim_end_matches(".ics").to_string();
    caller.require_manages(&state, &id).await?;
    let rows = state.store.open_tasks_under(Some(&id), None, 5000).await?;
    let events = calendar_events(&state, rows).await?;
    let name = state.store.org(&id).await?.map(|o| o.name).unwrap_or(id);
    Ok(ics(&name, &events, state.clock.now()))
}
