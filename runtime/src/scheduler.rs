//! Cron schedules: start a workflow for every matching organization.
//!
//! A schedule is a row (from a published definition's `schedules:`) with
//! its next occurrence. The scheduler claims due rows with a lease, works
//! out which occurrences to fire (one, or after downtime the last / all /
//! none of the missed ones), and starts one instance per organization in a
//! single batched transaction. Instance ids are derived from (schedule,
//! occurrence, organization), so firing an occurrence twice — a retry
//! after a crash, two nodes — starts nothing twice.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use stageflow_engine::Definition;
use stageflow_engine::state::{InstanceState, Subject, Values};
use stageflow_engine::{Command, apply};
use stageflow_store::{ScheduleRow, ScheduleRun, StoreError};
use uuid::Uuid;

use crate::{ExecError, Runtime};

/// Most missed occurrences a catch-up considers.
const MAX_CATCH_UP: usize = 1000;

/// The next `n` fire times of a cron expression after `after`.
pub fn next_fires(
    expression: &str,
    timezone: &str,
    after: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Tz>>, String> {
    let schedule = cron::Schedule::from_str(expression)
        .map_err(|e| format!("cron 表达式「{expression}」无效：{e}"))?;
    let tz: Tz = timezone
        .parse()
        .map_err(|_| format!("未知的时区「{timezone}」"))?;
    Ok(schedule.after(&after.with_timezone(&tz)).take(n).collect())
}

/// Registers (or updates) the schedules of a published definition owned
/// by `owner` (`None`: the whole tree). A schedule without `orgs.under`
/// starts instances in its owner's subtree.
pub async fn register(
    runtime: &Runtime,
    def: &Definition,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ExecError> {
    for s in &def.schedules {
        let tz = s.timezone.name().to_string();
        let next = next_fires(&s.cron, &tz, now, 1)
            .map_err(|e| ExecError::Rejected(stageflow_engine::Rejection::Definition(e)))?;
        let row = ScheduleRow {
            id: format!("{}:{}", def.id, s.id),
            workflow: def.id.clone(),
            version: def.version,
            cron: s.cron.clone(),
            timezone: tz,
            org_kind: s.orgs.kind.clone(),
            org_under: s.orgs.under.clone().or_else(|| owner.map(str::to_string)),
            inputs: s.inputs.clone().into_iter().collect(),
            overlap: serde_json::to_value(s.overlap)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "skip".into()),
            catch_up: serde_json::to_value(s.catch_up)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "last".into()),
            paused: false,
            pause_note: None,
            next_fire_at: next.first().map(|t| t.with_timezone(&Utc)),
            last_fired_at: None,
            owner: owner.map(str::to_string),
        };
        runtime.store().upsert_schedule(&row).await?;
    }
    Ok(())
}

/// What firing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// Schedule id.
    pub schedule: String,
    /// Occurrences fired.
    pub runs: Vec<ScheduleRun>,
}

/// Whether a schedule may still fire, asked before every fire: the
/// application's policy (what a schedule starts must lie inside its
/// owner's subtree, and the tree may have moved since it was published).
#[async_trait::async_trait]
pub trait FireGuard: Send + Sync {
    /// `Err(Outside)`: the schedule is paused with the reason as its note;
    /// `Err(Unavailable)`: it is left for the next round.
    async fn may_fire(&self, row: &ScheduleRow) -> Result<(), Refusal>;
}

/// Why a schedule does not fire now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It may not: the reason, in words.
    Outside(String),
    /// It cannot be told now (the database): try again later.
    Unavailable(String),
}

/// Fires every due schedule the guard lets fire. Returns what fired.
pub async fn fire_due_schedules(
    runtime: &Runtime,
    guard: &dyn FireGuard,
    now: DateTime<Utc>,
) -> Result<Vec<Fired>, ExecError> {
    let due = runtime
        .store()
        .claim_due_schedules(now, now + chrono::Duration::minutes(5))
        .await?;
    let mut out = Vec::new();
    for row in due {
        let Some(first) = row.next_fire_at else {
            continue;
        };
        match guard.may_fire(&row).await {
            Ok(()) => {}
            Err(Refusal::Outside(why)) => {
                tracing::warn!(schedule = %row.id, reason = %why, "schedule refused at fire: paused");
                runtime
                    .store()
                    .set_schedule_paused(&row.id, true, Some(&why))
                    .await?;
                runtime
                    .store()
                    .finish_schedule(&row.id, row.next_fire_at, &[], now)
                    .await?;
                continue;
            }
            Err(Refusal::Unavailable(why)) => {
                // The lease runs out and the next round asks again.
                tracing::warn!(schedule = %row.id, reason = %why, "schedule not checked: left for later");
                continue;
            }
        }
        // Every occurrence from the one due up to now.
        let mut missed = vec![first];
        let later = next_fires(&row.cron, &row.timezone, first, MAX_CATCH_UP).map_err(rejected)?;
        missed.extend(
            later
                .into_iter()
                .map(|t| t.with_timezone(&Utc))
                .take_while(|t| *t <= now),
        );
        let to_fire: Vec<DateTime<Utc>> = if missed.len() == 1 {
            missed
        } else {
            match row.catch_up.as_str() {
                "all" => missed,
                "none" => Vec::new(),
                _ => missed.last().copied().into_iter().collect(),
            }
        };
        let mut runs = Vec::new();
        for occurrence in to_fire {
            runs.push(fire_occurrence(runtime, &row, occurrence, now).await?);
        }
        let next = next_fires(&row.cron, &row.timezone, now, 1)
            .map_err(rejected)?
            .first()
            .map(|t| t.with_timezone(&Utc));
        runtime
            .store()
            .finish_schedule(&row.id, next, &runs, now)
            .await?;
        out.push(Fired {
            schedule: row.id.clone(),
            runs,
        });
    }
    Ok(out)
}

/// Fires a schedule now, whatever its next time (the API's "trigger now").
pub async fn trigger(
    runtime: &Runtime,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ScheduleRun, ExecError> {
    let row = runtime
        .store()
        .schedule(id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("找不到定时任务「{id}」")))?;
    let run = fire_occurrence(runtime, &row, now, now).await?;
    runtime
        .store()
        .finish_schedule(&row.id, row.next_fire_at, std::slice::from_ref(&run), now)
        .await?;
    Ok(run)
}

fn rejected(e: String) -> ExecError {
    ExecError::Rejected(stageflow_engine::Rejection::Definition(e))
}

/// Transitions written per transaction by a fan-out start: memory stays
/// bounded by one chunk, however many organizations a schedule matches.
const START_CHUNK: usize = 1_000;

/// Starts the workflow for every matching organization, in chunks of
/// [`START_CHUNK`] (one transaction each). Instance ids derive from the
/// occurrence, so a fire that stopped part-way and is taken over starts
/// only the organizations it had not reached.
async fn fire_occurrence(
    runtime: &Runtime,
    row: &ScheduleRow,
    occurrence: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ScheduleRun, ExecError> {
    let store = runtime.store();
    let def = runtime.definition(&row.workflow, Some(row.version)).await?;
    let orgs = store
        .orgs_under(row.org_under.as_deref(), Some(&row.org_kind))
        .await?;
    let running: HashSet<String> = if row.overlap == "allow" {
        HashSet::new()
    } else {
        store
            .running_orgs(&row.workflow)
            .await?
            .into_iter()
            .collect()
    };
    let mut skipped = 0u32;
    let orgs: Vec<_> = orgs
        .into_iter()
        .filter(|org| {
            let run = running.contains(&org.id);
            skipped += u32::from(run);
            !run
        })
        .collect();
    let mut started = 0usize;
    for chunk in orgs.chunks(START_CHUNK) {
        let directories = runtime.directories_for(&def, chunk).await?;
        let mut transitions = Vec::with_capacity(chunk.len());
        for (org, directory) in chunk.iter().zip(&directories) {
            let id = Uuid::new_v5(
                &Uuid::NAMESPACE_OID,
                format!(
                    "schedule:{}:{}:{}",
                    row.id,
                    occurrence.timestamp_micros(),
                    org.id
                )
                .as_bytes(),
            );
            let command = Command::Start {
                subject: Subject {
                    person: None,
                    org: org.id.clone(),
                    attrs: Values::new(),
                },
                initiator: "scheduler".into(),
                inputs: row.inputs.clone(),
            };
            match apply(
                &def,
                &InstanceState::new(id),
                &command,
                &runtime.context_for(now, directory),
            ) {
                Ok(t) => transitions.push(t),
                Err(r) => {
                    // One organization that cannot start (a role nobody
                    // holds) must not stop the others; the log says why.
                    tracing::warn!(schedule = %row.id, org = %org.id, reason = %r, "scheduled start refused");
                    skipped += 1;
                }
            }
        }
        if !transitions.is_empty() {
            started += store.commit_new_batch(&transitions).await?;
            runtime.note_batch(&transitions);
        }
    }
    Ok(ScheduleRun {
        occurrence,
        started: u32::try_from(started).unwrap_or(u32::MAX),
        skipped,
    })
}
