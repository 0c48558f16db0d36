//! Reports for the managers of a subtree: the 督办台账 (overdue tasks), the
//! admission pipeline per branch, a campaign's progress per organization,
//! and the deadlines behind the calendar feeds. The rows are data; the
//! adapters write them as JSON, CSV, XLSX or iCalendar.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use stageflow_engine::state::{Event, Status, TaskStatus};
use stageflow_engine::time::Clock;
use stageflow_store::{InboxQuery, TaskRow};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::policy::{Op, PersonScope, Target};
use crate::{App, Caller};

/// One pending task of a subtree (in the 督办台账: an overdue one).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueRow {
    /// Task.
    pub task: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Workflow name.
    pub workflow: String,
    /// Step name.
    pub step: String,
    /// Whom the case is about: the person's name, or the organization's.
    pub subject: String,
    /// Organization (name).
    pub organization: String,
    /// Assignee (name).
    pub assignee: String,
    /// Assignee id.
    pub assignee_id: String,
    /// The deadline (last day, YYYY-MM-DD).
    pub due: String,
    /// Whole days past it.
    pub days_overdue: i64,
    /// Escalations (督办) so far for the step.
    pub escalations: u32,
}

/// The admission pipeline of one branch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PipelineRow {
    /// Organization id.
    pub org: String,
    /// Organization name.
    pub name: String,
    /// People by status (申请人, 积极分子, 发展对象, 预备党员, 正式党员, ...).
    pub people: BTreeMap<String, u32>,
    /// Running 发展党员 instances by current stage name.
    pub admissions: BTreeMap<String, u32>,
    /// Running admissions whose next step has a not-before date.
    pub eligible: Vec<EligibleView>,
}

/// When someone may take the next step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EligibleView {
    /// Subject person (id).
    pub person: String,
    /// Subject person (name).
    pub name: String,
    /// Step name.
    pub step: String,
    /// Not before (YYYY-MM-DD).
    pub from: String,
}

/// Progress of one organization in a campaign.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// A deadline in a calendar feed.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// The task (the event's stable id).
    pub task: Uuid,
    /// The summary line.
    pub summary: String,
    /// The last day.
    pub date: NaiveDate,
    /// The description.
    pub description: String,
}

/// A calendar feed: its name and deadlines.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The feed's name.
    pub name: String,
    /// Its deadlines.
    pub deadlines: Vec<Deadline>,
}

impl App {
    /// The organization a report is asked for, if the caller manages it.
    async fn managed_org(&self, caller: &Caller, org: &str) -> AppResult<stageflow_store::Org> {
        self.org_for(caller, org, Op::ReadReports).await
    }

    /// 督办台账: overdue tasks in a subtree, most overdue first.
    pub async fn overdue(&self, caller: &Caller, org: &str) -> AppResult<Vec<OverdueRow>> {
        self.pending_under(caller, org, true).await
    }

    /// Pending tasks in a subtree (all of them, or only the overdue ones),
    /// the most overdue first, then by deadline; those without one last.
    pub async fn pending_under(
        &self,
        caller: &Caller,
        org: &str,
        only_overdue: bool,
    ) -> AppResult<Vec<OverdueRow>> {
        self.managed_org(caller, org).await?;
        let now = self.now();
        let rows = self
            .store
            .open_tasks_under(Some(org), only_overdue.then_some(now), 10_000)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut names: HashMap<(bool, String), String> = HashMap::new();
        // The rows' instances and their escalations, read a chunk at a time
        // (memory holds one chunk's instances).
        for chunk in rows.chunks(500) {
            let ids: Vec<Uuid> = chunk.iter().map(|r| r.instance).collect();
            let instances = self.instances_with_definitions(&ids).await?;
            let mut escalated: HashMap<Uuid, Vec<Event>> = HashMap::new();
            for (id, e) in self.store.events_of_type(&ids, "escalated").await? {
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
                let organization = self.name_of(&mut names, false, &org_id).await?;
                let assignee = self.name_of(&mut names, true, &row.assignee).await?;
                let escalations = escalated
                    .get(&row.instance)
                    .into_iter()
                    .flatten()
                    .filter(|e| match e {
                        // Escalations name the late tasks; older events only the step.
                        Event::Escalated { step, tasks, .. } if tasks.is_empty() => {
                            *step == row.step
                        }
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
                let subject = crate::views::SubjectView::of_row(row).name;
                out.push(OverdueRow {
                    task: row.id,
                    instance: row.instance,
                    workflow: def.name.clone(),
                    step: step_name,
                    subject,
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
                .then((a.due.is_empty(), &a.due).cmp(&(b.due.is_empty(), &b.due)))
                .then(a.organization.cmp(&b.organization))
        });
        Ok(out)
    }

    /// A person's (`person`) or an organization's name, cached.
    async fn name_of(
        &self,
        names: &mut HashMap<(bool, String), String>,
        person: bool,
        id: &str,
    ) -> AppResult<String> {
        let key = (person, id.to_string());
        if let Some(n) = names.get(&key) {
            return Ok(n.clone());
        }
        let n = if person {
            self.store.person(id).await?.map(|p| p.name)
        } else {
            self.store.org(id).await?.map(|o| o.name)
        }
        .unwrap_or_else(|| id.to_string());
        names.insert(key, n.clone());
        Ok(n)
    }

    /// The admission pipeline per 党支部 of a subtree.
    pub async fn pipeline(&self, caller: &Caller, org: &str) -> AppResult<Vec<PipelineRow>> {
        self.managed_org(caller, org).await?;
        let mut names = HashMap::new();
        let mut out = Vec::new();
        for branch in self.store.orgs_under(Some(org), Some("党支部")).await? {
            let mut people: BTreeMap<String, u32> = BTreeMap::new();
            for p in self.store.people_under(Some(&branch.id)).await? {
                *people.entry(p.status).or_default() += 1;
            }
            let rows: Vec<TaskRow> = self
                .store
                .open_tasks_under(Some(&branch.id), None, 10_000)
                .await?
                .into_iter()
                .filter(|r| r.workflow == "member-admission")
                .collect();
            let ids: Vec<Uuid> = rows.iter().map(|r| r.instance).collect();
            let instances = self.instances_with_definitions(&ids).await?;
            let mut admissions: BTreeMap<String, u32> = BTreeMap::new();
            let mut eligible = Vec::new();
            let mut counted = BTreeSet::new();
            for row in &rows {
                let Some((instance, def)) = instances.get(&row.instance) else {
                    continue;
                };
                if instance.status != Status::Running || instance.subject.org != branch.id {
                    continue;
                }
                let clock = Clock { tz: def.timezone };
                if let Some(t) = instance.tasks.get(&row.id)
                    && let Some(e) = t.earliest
                {
                    let person = instance.subject.person.clone().unwrap_or_default();
                    eligible.push(EligibleView {
                        name: self.name_of(&mut names, true, &person).await?,
                        person,
                        step: def
                            .step(&t.step)
                            .map(|(_, s)| s.name.clone())
                            .unwrap_or_default(),
                        from: clock.date_of(e).to_string(),
                    });
                }
                // One count per instance, by its current stage.
                if counted.insert(row.instance) {
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
                org: branch.id.clone(),
                name: branch.name.clone(),
                people,
                admissions,
                eligible,
            });
        }
        Ok(out)
    }

    /// A campaign's progress per participating organization, overdue
    /// first (whoever may read the campaign's instance).
    pub async fn progress(&self, caller: &Caller, id: Uuid) -> AppResult<Vec<ProgressRow>> {
        let (instance, _) = self.readable_instance(caller, id, Op::ReadInstance).await?;
        let now = self.now();
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
        let mut names = HashMap::new();
        let mut rows: Vec<ProgressRow> = Vec::new();
        for (org, mut row) in by_org {
            row.name = self.name_of(&mut names, false, &org).await?;
            rows.push(row);
        }
        rows.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(a.org.cmp(&b.org)));
        Ok(rows)
    }

    /// A person's own deadlines (their feed).
    pub async fn person_feed(&self, caller: &Caller, person: &str) -> AppResult<Feed> {
        let whose = PersonScope {
            id: person.to_string(),
            ..PersonScope::default()
        };
        self.allow(caller, Op::ReadOwnFeed, Target::Person(&whose), || {
            AppError::not_found(format!("找不到「{person}」的日历订阅"))
        })?;
        let rows = self
            .store
            .inbox(&InboxQuery {
                assignee: person.to_string(),
                status: "open".into(),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        Ok(Feed {
            name: format!("stageflow {person}"),
            deadlines: self.deadlines(rows).await?,
        })
    }

    /// An organization's deadlines, its subtree's included (its feed).
    pub async fn org_feed(&self, caller: &Caller, org: &str) -> AppResult<Feed> {
        let o = self.org_for(caller, org, Op::ReadOrgFeed).await?;
        let rows = self.store.open_tasks_under(Some(org), None, 5000).await?;
        Ok(Feed {
            name: o.name,
            deadlines: self.deadlines(rows).await?,
        })
    }

    async fn deadlines(&self, rows: Vec<TaskRow>) -> AppResult<Vec<Deadline>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.instance).collect();
        let instances = self.instances_with_definitions(&ids).await?;
        let mut out = Vec::new();
        for row in rows {
            let Some((instance, def)) = instances.get(&row.instance) else {
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
            let provisional = instance.steps.get(&row.step).is_some_and(|s| s.provisional);
            out.push(Deadline {
                task: row.id,
                summary: format!(
                    "【期限】{step}{}",
                    if provisional { "（暂算）" } else { "" }
                ),
                date: clock.date_of(due),
                description: if provisional {
                    format!(
                        "{}：{step}。期限为暂算：所跨年份的放假调休通知尚未发布，发布后可能变动。",
                        def.name
                    )
                } else {
                    format!("{}：{step}", def.name)
                },
            });
        }
        Ok(out)
    }
}
