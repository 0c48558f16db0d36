//! Cron schedules: read and steered (pause, resume, fire now) by the
//! managers of what they start instances in; checked again before every
//! fire, since the tree can move after a definition is published.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use stageflow_runtime::scheduler::{self, FireGuard, Refusal};
use stageflow_store::ScheduleRow;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::policy::{Op, ScheduleScope, Target};
use crate::{App, Caller};

/// One occurrence that fired.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    /// The occurrence (its cron time).
    pub occurrence: DateTime<Utc>,
    /// Instances started.
    pub started: u32,
    /// Organizations skipped (their previous instance still runs).
    pub skipped: u32,
}

/// A schedule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScheduleView {
    /// `WORKFLOW:SCHEDULE`.
    pub id: String,
    /// Workflow id.
    pub workflow: String,
    /// Cron expression (seconds first).
    pub cron: String,
    /// Time zone.
    pub timezone: String,
    /// Kind of organization it starts an instance for.
    pub org_kind: String,
    /// Under which organization (the whole tree when absent).
    pub org_under: Option<String>,
    /// The organization that owns its definition (the whole tree when absent).
    pub owner: Option<String>,
    /// `skip` or `allow`.
    pub overlap: String,
    /// `last`, `all` or `none`.
    pub catch_up: String,
    /// Paused.
    pub paused: bool,
    /// Why it is paused.
    pub pause_note: Option<String>,
    /// Next occurrence.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Last occurrence fired.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Latest runs, newest first.
    pub runs: Vec<RunView>,
}

/// The next fire times, in the schedule's time zone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PreviewView {
    /// Schedule id.
    pub id: String,
    /// Next fire times (RFC 3339 with the zone's offset).
    #[schema(value_type = Vec<String>)]
    pub next: Vec<DateTime<FixedOffset>>,
}

fn schedule_missing(id: &str) -> AppError {
    AppError::not_found(format!("找不到定时任务「{id}」"))
}

impl App {
    /// The schedules the caller may see.
    pub async fn schedules(&self, caller: &Caller) -> AppResult<Vec<ScheduleView>> {
        let mut out = Vec::new();
        for row in self.store.schedules().await? {
            let scope = self.schedule_scope(&row).await?;
            if crate::policy::check(caller, Op::ReadSchedule, Target::Schedule(&scope)).is_ok() {
                out.push(self.schedule_view(row).await?);
            }
        }
        Ok(out)
    }

    /// One schedule with its latest runs.
    pub async fn schedule(&self, caller: &Caller, id: &str) -> AppResult<ScheduleView> {
        let row = self.scheduled(caller, id, Op::ReadSchedule).await?;
        self.schedule_view(row).await
    }

    /// The next `n` fire times.
    pub async fn schedule_preview(
        &self,
        caller: &Caller,
        id: &str,
        n: usize,
    ) -> AppResult<PreviewView> {
        let row = self.scheduled(caller, id, Op::ReadSchedule).await?;
        let next = scheduler::next_fires(&row.cron, &row.timezone, self.now(), n.clamp(1, 100))
            .map_err(|e| AppError::invalid("invalid-schedule", e))?;
        Ok(PreviewView {
            id: id.to_string(),
            next: next.into_iter().map(|t| t.fixed_offset()).collect(),
        })
    }

    /// Pauses a schedule with a note; it does not fire until resumed.
    pub async fn pause_schedule(
        &self,
        caller: &Caller,
        id: &str,
        note: &str,
    ) -> AppResult<ScheduleView> {
        self.scheduled(caller, id, Op::SteerSchedule).await?;
        if note.trim().is_empty() {
            return Err(AppError::invalid(
                "invalid-body",
                "请在 `note` 中写明暂停的原因",
            ));
        }
        crate::validate::no_controls("note", note)?;
        self.store.set_schedule_paused(id, true, Some(note)).await?;
        self.schedule(caller, id).await
    }

    /// Resumes a paused schedule in one write; the occurrences missed while
    /// it was paused do not fire.
    pub async fn resume_schedule(&self, caller: &Caller, id: &str) -> AppResult<ScheduleView> {
        let row = self.scheduled(caller, id, Op::SteerSchedule).await?;
        self.may_fire(&row).await.map_err(refusal)?;
        let next = scheduler::next_fires(&row.cron, &row.timezone, self.now(), 1)
            .map_err(|e| AppError::invalid("invalid-schedule", e))?;
        self.store
            .resume_schedule(id, next.first().map(|t| t.with_timezone(&Utc)))
            .await?;
        self.schedule(caller, id).await
    }

    /// Fires a schedule now (one occurrence, as if its time had come).
    pub async fn trigger_schedule(&self, caller: &Caller, id: &str) -> AppResult<RunView> {
        let row = self.scheduled(caller, id, Op::SteerSchedule).await?;
        self.may_fire(&row).await.map_err(refusal)?;
        let run = scheduler::trigger(&self.runtime, id, self.now()).await?;
        Ok(RunView {
            occurrence: run.occurrence,
            started: run.started,
            skipped: run.skipped,
        })
    }

    /// How many organizations firing a schedule now would start in (those
    /// of its kind under its target), for the confirmation before
    /// 立即执行.
    pub async fn schedule_reach(&self, caller: &Caller, id: &str) -> AppResult<usize> {
        let row = self.scheduled(caller, id, Op::ReadSchedule).await?;
        Ok(self
            .store
            .orgs_under(row.org_under.as_deref(), Some(&row.org_kind))
            .await?
            .len())
    }

    /// A schedule the policy lets the caller do `op` on.
    async fn scheduled(&self, caller: &Caller, id: &str, op: Op) -> AppResult<ScheduleRow> {
        let row = self
            .store
            .schedule(id)
            .await?
            .ok_or_else(|| schedule_missing(id))?;
        let scope = self.schedule_scope(&row).await?;
        self.allow(caller, op, Target::Schedule(&scope), || {
            schedule_missing(id)
        })?;
        Ok(row)
    }

    async fn schedule_scope(&self, row: &ScheduleRow) -> AppResult<ScheduleScope> {
        Ok(ScheduleScope {
            target_path: self.path_or_gone(row.org_under.as_deref()).await?,
            owner_path: self.path_or_gone(row.owner.as_deref()).await?,
            tree: self.tree().await?,
        })
    }

    async fn schedule_view(&self, row: ScheduleRow) -> AppResult<ScheduleView> {
        let runs = self.store.schedule_runs(&row.id, 10).await?;
        Ok(ScheduleView {
            id: row.id,
            workflow: row.workflow,
            cron: row.cron,
            timezone: row.timezone,
            org_kind: row.org_kind,
            org_under: row.org_under,
            owner: row.owner,
            overlap: row.overlap,
            catch_up: row.catch_up,
            paused: row.paused,
            pause_note: row.pause_note,
            next_fire_at: row.next_fire_at,
            last_fired_at: row.last_fired_at,
            runs: runs
                .into_iter()
                .map(|r| RunView {
                    occurrence: r.occurrence,
                    started: r.started,
                    skipped: r.skipped,
                })
                .collect(),
        })
    }
}

#[async_trait::async_trait]
impl FireGuard for App {
    /// What a schedule starts must still lie inside its owner's subtree
    /// (organizations move after publishing): the policy's `FireSchedule`.
    /// An owner that is gone owns nothing. A database that cannot be read
    /// now refuses nothing: the fire waits for the next round.
    async fn may_fire(&self, row: &ScheduleRow) -> Result<(), Refusal> {
        let scope = self
            .schedule_scope(row)
            .await
            .map_err(|e| Refusal::Unavailable(e.detail))?;
        crate::policy::check(
            &Caller::operator(),
            Op::FireSchedule,
            Target::Schedule(&scope),
        )
        .map_err(|_| {
            Refusal::Outside(format!(
                "定时任务所面向的组织（{}）已不在流程定义所属组织（{}）之下，已自动暂停",
                row.org_under.as_deref().unwrap_or("全部组织"),
                row.owner.as_deref().unwrap_or("全部组织")
            ))
        })
    }
}

/// A schedule's refusal to fire, as the caller hears it.
fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::Outside(why) => AppError::forbidden(why),
        Refusal::Unavailable(why) => {
            AppError::new(crate::ErrorKind::Unavailable, "database-unavailable", why)
        }
    }
}
