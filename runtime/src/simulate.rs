//! `simulate`: run a definition through the real engine and a real (in
//! memory) SQLite store with a virtual clock, completing every task by a
//! policy, and report the timeline.
//!
//! Policy `earliest` (the default): every task is approved / passed /
//! completed as early as its rules allow (at once, or at its `earliest`
//! time); a vote passes with every eligible voter present voting yes (or
//! for the first choice); raters give every ratee the best grade (caps then
//! apply). Policy `late`: nobody acts until a deadline's automatic outcome
//! (or, without one, one day after the deadline), so reminders,
//! escalations and timeouts show. Timers fire when the clock reaches them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use stageflow_engine::calendar::Calendar;
use stageflow_engine::machine::Command;
use stageflow_engine::model::{Definition, FieldKind, RatingScheme, StepKind, SubjectKind};
use stageflow_engine::state::{
    Event, InstanceState, RatingValue, RecordedEvent, Status, Subject, TaskKind, TaskStatus,
    TimerPurpose, Values,
};
use stageflow_engine::time::{Clock, Moment};
use stageflow_store::{SqliteOptions, SqliteStore, Store};
use uuid::Uuid;

use crate::synthetic::SyntheticDirectory;
use crate::{ExecError, Runtime};

/// Most commands one simulation may run.
const MAX_STEPS: usize = 20_000;
/// Most events one simulated instance may record: a timeline longer than
/// anyone reads (a recurring step every second for a century) stops here.
const MAX_EVENTS: u64 = 3_000;
/// The simulation gives up past this many years of virtual time.
const MAX_YEARS: i64 = 30;
/// A stage entered this many times means the policy keeps the instance
/// going round (under `late`, an approval that lapses sends it back to the
/// vote, forever): the simulation stops there rather than replay the
/// round for decades.
const MAX_STAGE_ENTRIES: u32 = 3;

/// How simulated people act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// As early as the rules allow.
    #[default]
    Earliest,
    /// Only when deadlines force it.
    Late,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Start date (the instance starts at 09:00 local time).
    pub start: NaiveDate,
    /// Inputs.
    pub inputs: Values,
    /// Subject attributes (`subject.NAME`).
    pub subject: Values,
    /// The subject's organization in the synthetic tree; chosen from the
    /// definition when absent.
    pub org: Option<String>,
    /// Policy.
    pub policy: Policy,
    /// Stop at this date even if the instance has not ended.
    pub until: Option<NaiveDate>,
    /// The working-day calendar (default: the built-in one).
    pub calendar: Option<Arc<Calendar>>,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimEvent {
    /// When (RFC 3339, in the definition's time zone).
    pub at: DateTime<FixedOffset>,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// The stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The step's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Deadline date (tasks, activations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// Not-before date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest: Option<NaiveDate>,
    /// The statutory limit's last day (`on_timeout: { limit }`), when the
    /// step has one: shown beside the deadline, which may have moved off a
    /// holiday while the limit does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<NaiveDate>,
    /// Assignee's role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The role's name (`书记` for `secretary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// Assignee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// When a planned reminder / escalation / timeout would fire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fires_at: Option<DateTime<FixedOffset>>,
    /// More detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A working-day count used an unpublished holiday year.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    /// The timeline.
    pub events: Vec<SimEvent>,
    /// The end state (`cancelled`, or `stuck` when nothing could move).
    pub end_state: String,
    /// Why the simulation stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stuck: Option<String>,
    /// Whether the hash chain of the stored events verified.
    pub chain_verified: bool,
    /// The years without a published holiday notice that provisional
    /// deadlines of the timeline fall in (their fixed holidays are
    /// computed; the 调休 make-up days are unknown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub provisional_years: Vec<i32>,
}

/// The note under a timeline with provisional deadlines, or `None`.
pub fn provisional_note(years: &[i32]) -> Option<String> {
    if years.is_empty() {
        return None;
    }
    let years: Vec<String> = years.iter().map(i32::to_string).collect();
    Some(format!(
        "注：{} 年的放假调休通知尚未发布，标“暂算”的期限按《全国年节及纪念日放假办法》规定的节日计算，调休上班日未计入，通知发布后可能变动。",
        years.join("、")
    ))
}

/// The timeline in words, one line per event worth reading (tasks created
/// at once for one step and role, as ballots and ratings are, make one line
/// with `×N`): `(when, line)`, indented under the stage lines. Shared by
/// `stageflow simulate` and the definition page's preview.
pub fn timeline_lines(events: &[SimEvent]) -> Vec<(DateTime<FixedOffset>, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < events.len() {
        let e = &events[i];
        i += 1;
        let mut same = 1;
        if e.kind == "task_created" {
            while let Some(n) = events.get(i) {
                if n.kind == "task_created" && n.step == e.step && n.role == e.role && n.at == e.at
                {
                    same += 1;
                    i += 1;
                } else {
                    break;
                }
            }
        }
        let times = if same > 1 {
            format!(" ×{same}")
        } else {
            String::new()
        };
        let name = e.name.clone().unwrap_or_default();
        let step = e
            .step
            .as_deref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default();
        let due = match (e.due, e.limit) {
            (Some(d), Some(l)) if d != l => format!("  提醒期限 {d}  法定期限 {l}"),
            (Some(d), _) => format!("  期限 {d}"),
            (None, Some(l)) => format!("  法定期限 {l}"),
            (None, None) => String::new(),
        };
        let earliest = e
            .earliest
            .map(|d| format!("  不早于 {d}"))
            .unwrap_or_default();
        let prov = if e.provisional { "  (暂算)" } else { "" };
        let detail = e.detail.clone().unwrap_or_default();
        let who = e.assignee.clone().unwrap_or_default();
        let line = match e.kind.as_str() {
            "stage_entered" => format!("▶ 进入阶段：{name}"),
            "task_created" => format!(
                "  待办 {name}{step} → {}{times}{due}{earliest}{prov}",
                e.role_name.clone().unwrap_or_else(|| who.clone())
            ),
            "task_completed" | "step_activated" => continue,
            "step_completed" => format!(
                "  ✓ {name}{step}：{}{}",
                e.outcome.clone().unwrap_or_default(),
                e.detail
                    .as_deref()
                    .map(|d| format!("（{d}）"))
                    .unwrap_or_default()
            ),
            "wait_ended" => format!("  ⏱ {name}{step} 期满"),
            "step_skipped" => format!("  - 跳过 {name}{step}"),
            "vote_closed" => format!("  ☑ 表决 {name}{step}：{detail}"),
            "rating_closed" => format!("  ☑ 评议 {name}{step}：{detail}"),
            "reminder_planned" | "escalation_planned" | "timeout_planned" => {
                let what = match e.kind.as_str() {
                    "reminder_planned" => "提醒",
                    "escalation_planned" => "督办",
                    _ if e.limit.is_some() => "法定期限届满，自动处理",
                    _ => "超时自动处理",
                };
                let at = e
                    .fires_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                format!("    （如未办理：{at} {what}）{step}")
            }
            "reminder" => format!("  ✉ 提醒 {name} → {who}"),
            "escalation" => format!("  ⚠ 督办 {name}{step} → {who}：{detail}"),
            "occurrence" => format!("  ↻ {name}{step} {detail}"),
            "var_set" => format!("  = {name} = {detail}"),
            "instance_ended" => format!(
                "■ 结束：{}（{}）",
                e.outcome.clone().unwrap_or_default(),
                name
            ),
            other => format!("  {other}{step}"),
        };
        out.push((e.at, line));
    }
    out
}

/// Errors of a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The engine or store refused something.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] stageflow_store::StoreError),
}

/// Runs a simulation.
pub async fn simulate(
    def: &Definition,
    source: &str,
    opts: &SimOptions,
) -> Result<SimReport, SimError> {
    let store = Arc::new(SqliteStore::open(&SqliteOptions::new("sqlite::memory:")).await?);
    let mut runtime = Runtime::new(store.clone(), Arc::new(SyntheticDirectory::default()));
    if let Some(calendar) = &opts.calendar {
        runtime = runtime.with_calendar(calendar.clone());
    }
    let clock = Clock { tz: def.timezone };
    let mut now = clock.at_local(
        opts.start,
        NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
    );
    let limit = match opts.until {
        Some(d) => clock.start_of(d),
        None => now + Duration::days(365 * MAX_YEARS),
    };
    runtime
        .publish(def.clone(), source.to_string(), None, now)
        .await?;
    let id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("simulate:{}:{}", def.id, opts.start).as_bytes(),
    );
    let org = opts.org.clone().unwrap_or_else(|| default_org(def));
    let mut attrs = opts.subject.clone();
    if def.subject == SubjectKind::Person && !attrs.contains_key("birth_date") {
        // An adult applicant unless told otherwise.
        let birth = opts
            .start
            .checked_sub_signed(Duration::days(365 * 25))
            .unwrap_or(opts.start);
        attrs.insert("birth_date".into(), birth.to_string().into());
    }
    let subject = Subject {
        person: (def.subject == SubjectKind::Person).then(|| format!("{org}.applicant")),
        org: org.clone(),
        attrs,
    };
    let initiator = format!("{org}.organization_member");
    let mut tl = Timeline {
        def,
        clock,
        stage: None,
        events: Vec::new(),
        tasks: Default::default(),
        entered: Default::default(),
        limits: Default::default(),
        provisional: Default::default(),
    };
    let request = crate::StartRequest {
        workflow: def.id.clone(),
        version: Some(def.version),
        id,
        subject,
        initiator,
        inputs: opts.inputs.clone(),
    };
    let t = runtime.start(request, now).await?;
    tl.record(&t.events);
    let mut stuck = None;
    let mut steps = 0;
    loop {
        steps += 1;
        if steps > MAX_STEPS {
            stuck = Some(format!("已推演 {MAX_STEPS} 步，停止"));
            break;
        }
        let state = store
            .instance(id)
            .await?
            .ok_or(ExecError::InstanceNotFound(id))?;
        if state.status != Status::Running {
            break;
        }
        if state.seq > MAX_EVENTS {
            stuck = Some(format!("已产生 {MAX_EVENTS} 条记录，时间线过长，停止推演"));
            break;
        }
        if let Some(stage) = tl.going_round() {
            let name = def.stage(stage).map_or(stage, |s| s.name.as_str());
            stuck = Some(format!(
                "阶段「{name}」已第 {MAX_STAGE_ENTRIES} 次进入：按此办理方式流程将无限循环"
            ));
            break;
        }
        // 1. Act on a task that may be acted on now.
        if let Some(command) = next_action(def, &clock, &state, now, opts.policy) {
            match runtime.execute(id, &command, now).await {
                Ok(t) => tl.record(&t.events),
                Err(ExecError::Rejected(r)) => {
                    stuck = Some(format!("模拟的办理被拒绝：{r}"));
                    break;
                }
                Err(e) => return Err(e.into()),
            }
            continue;
        }
        // 2. Move the clock to the next thing that can happen.
        let next_timer = store.next_timer_at().await?;
        let next_task = next_task_time(def, &clock, &state, opts.policy);
        let next = match (next_timer, next_task) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => {
                    stuck = Some("没有待办，也没有计时，流程无法继续".into());
                    break;
                }
            },
        };
        if next > limit {
            stuck = Some(match opts.until {
                Some(d) => format!("推演至 {d} 停止"),
                None => format!("{MAX_YEARS} 年内再无进展"),
            });
            break;
        }
        now = now.max(next);
        runtime.fire_due_timers(now).await?;
        tl.record(&store.events_after(id, state.seq).await?);
    }
    let state = store
        .instance(id)
        .await?
        .ok_or(ExecError::InstanceNotFound(id))?;
    let all = store.events(id).await?;
    let chain_verified = stageflow_engine::state::verify_chain(&all).is_ok()
        && InstanceState::replay(id, &all) == state;
    let end_state = match &state.status {
        Status::Ended(s) => s.clone(),
        Status::Cancelled => "cancelled".into(),
        _ => "stuck".into(),
    };
    let calendar = runtime.calendar();
    let provisional_years = tl
        .events
        .iter()
        .filter(|e| e.provisional)
        .flat_map(|e| [Some(e.at.date_naive()), e.due, e.limit])
        .flatten()
        .map(|d| chrono::Datelike::year(&d))
        .filter(|y| !calendar.is_published(*y))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(SimReport {
        events: tl.events,
        end_state,
        stuck,
        chain_verified,
        provisional_years,
    })
}

fn default_org(def: &Definition) -> String {
    let selects_own = def
        .stages
        .iter()
        .flat_map(|s| &s.steps)
        .any(|s| match &s.kind {
            StepKind::Fanout { orgs, .. } => orgs.under == stageflow_engine::model::OrgRef::Own,
            StepKind::Recurring(r) => r
                .orgs
                .as_ref()
                .is_some_and(|(o, _)| o.under == stageflow_engine::model::OrgRef::Own),
            _ => false,
        });
    if selects_own {
        "committee".into()
    } else {
        "branch-1".into()
    }
}

fn start_of(clock: &Clock, m: Option<Moment>) -> Option<DateTime<Utc>> {
    m.map(|m| clock.start_instant(m))
}

/// When a task may be acted on under the policy.
fn act_time(
    clock: &Clock,
    task: &stageflow_engine::state::TaskState,
    policy: Policy,
    has_timeout: bool,
) -> DateTime<Utc> {
    let earliest = start_of(clock, task.earliest)
        .unwrap_or(task.created_at)
        .max(task.created_at);
    match (policy, task.due_at) {
        (Policy::Late, Some(due)) if !has_timeout => earliest.max(due + Duration::days(1)),
        (Policy::Late, Some(_)) => DateTime::<Utc>::MAX_UTC,
        _ => earliest,
    }
}

fn next_task_time(
    def: &Definition,
    clock: &Clock,
    state: &InstanceState,
    policy: Policy,
) -> Option<DateTime<Utc>> {
    state
        .tasks
        .values()
        .filter(|t| t.status == TaskStatus::Open)
        .map(|t| act_time(clock, t, policy, has_timeout(def, &t.step)))
        .filter(|t| *t < DateTime::<Utc>::MAX_UTC)
        .min()
}

fn has_timeout(def: &Definition, step: &str) -> bool {
    def.step(step).is_some_and(|(_, s)| s.on_timeout.is_some())
}

fn next_action(
    def: &Definition,
    clock: &Clock,
    state: &InstanceState,
    now: DateTime<Utc>,
    policy: Policy,
) -> Option<Command> {
    for (sid, s) in &state.steps {
        if s.status == stageflow_engine::state::StepStatus::Active
            && def
                .step(sid)
                .is_some_and(|(_, st)| matches!(st.kind, StepKind::Subflow { .. }))
        {
            // Children are not run inside a simulation: they end at once.
            return Some(Command::ChildEnded {
                step: sid.clone(),
                end_state: "done".into(),
            });
        }
    }
    let (id, task) = state
        .tasks
        .iter()
        .filter(|(_, t)| t.status == TaskStatus::Open)
        .filter(|(_, t)| act_time(clock, t, policy, has_timeout(def, &t.step)) <= now)
        .min_by_key(|(id, t)| (t.created_at, **id))?;
    let (_, step) = def.step(&task.step)?;
    Some(match task.kind {
        TaskKind::Ballot => {
            let choice = match &step.kind {
                StepKind::Vote(v) => v.choices.first().cloned().unwrap_or_else(|| "yes".into()),
                _ => "yes".into(),
            };
            Command::CastBallot {
                step: step.id.clone(),
                voter: task.assignee.clone(),
                choice,
                written: false,
            }
        }
        TaskKind::Rate => {
            let s = state.steps.get(&step.id)?;
            let value = match &step.kind {
                StepKind::Rating(r) => match &r.scheme {
                    RatingScheme::Scale { grades } => {
                        RatingValue::Grade(grades.first()?.id.clone())
                    }
                    RatingScheme::Rubric { items, .. } => RatingValue::Scores(
                        items
                            .iter()
                            .map(|i| (i.id.clone(), i.max))
                            .collect::<BTreeMap<_, _>>(),
                    ),
                },
                _ => return None,
            };
            let ratings = s
                .ratees
                .iter()
                .map(|(p, _)| (p.clone(), value.clone()))
                .collect();
            Command::SubmitRating {
                step: step.id.clone(),
                rater: task.assignee.clone(),
                ratings,
            }
        }
        TaskKind::Work => {
            let outcome = match &step.kind {
                StepKind::Approval { .. } => "approve".to_string(),
                _ => step
                    .outcomes
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "done".into()),
            };
            let today = clock.local_date(now);
            let mut form = Values::new();
            for f in &step.form {
                let v = match (&f.default, &f.kind) {
                    (Some(d), _) => d.clone(),
                    (None, FieldKind::Date) => today.to_string().into(),
                    (None, FieldKind::Integer) => {
                        serde_json::Value::from(f.min.map(|m| m as i64).unwrap_or(1))
                    }
                    (None, FieldKind::Number) => f
                        .min
                        .map(serde_json::Value::from)
                        .unwrap_or_else(|| 1.into()),
                    (None, FieldKind::Boolean) => false.into(),
                    (None, FieldKind::Choice(o)) => o.first().cloned().unwrap_or_default().into(),
                    (None, FieldKind::Person) => task.assignee.clone().into(),
                    (None, FieldKind::Org) => state.subject.org.clone().into(),
                    (None, _) => "（模拟）".into(),
                };
                form.insert(f.id.clone(), v);
            }
            Command::Complete {
                task: *id,
                actor: task.assignee.clone(),
                outcome: Some(outcome),
                form,
                comment: Some("（模拟）同意".into()),
                return_to: None,
            }
        }
    })
}

struct Timeline<'a> {
    def: &'a Definition,
    clock: Clock,
    stage: Option<String>,
    events: Vec<SimEvent>,
    tasks: std::collections::HashMap<Uuid, String>,
    /// How many times each stage was entered.
    entered: std::collections::HashMap<String, u32>,
    /// The statutory limit of each step that has one, as last armed.
    limits: std::collections::HashMap<String, NaiveDate>,
    /// Whether each step's current deadline is provisional (from its
    /// activation), for its tasks' lines.
    provisional: std::collections::HashMap<String, bool>,
}

impl Timeline<'_> {
    /// A stage entered [`MAX_STAGE_ENTRIES`] times, if one was.
    fn going_round(&self) -> Option<&str> {
        self.entered
            .iter()
            .find(|(_, n)| **n >= MAX_STAGE_ENTRIES)
            .map(|(stage, _)| stage.as_str())
    }
}

impl Timeline<'_> {
    fn base(&self, at: DateTime<Utc>, kind: &str, step: Option<&str>) -> SimEvent {
        SimEvent {
            at: at.with_timezone(&self.clock.tz).fixed_offset(),
            kind: kind.to_string(),
            stage: self.stage.clone(),
            step: step.map(str::to_string),
            name: step
                .and_then(|s| self.def.step(s))
                .map(|(_, s)| s.name.clone()),
            due: None,
            earliest: None,
            limit: None,
            role: None,
            role_name: None,
            assignee: None,
            outcome: None,
            fires_at: None,
            detail: None,
            provisional: false,
        }
    }

    fn date(&self, m: Option<Moment>) -> Option<NaiveDate> {
        m.map(|m| self.clock.date_of(m))
    }

    fn record(&mut self, events: &[RecordedEvent]) {
        for e in events {
            let at = e.at;
            let ev = match &e.event {
                Event::StageEntered { stage } => {
                    self.stage = Some(stage.clone());
                    *self.entered.entry(stage.clone()).or_default() += 1;
                    let mut ev = self.base(at, "stage_entered", None);
                    ev.name = self.def.stage(stage).map(|s| s.name.clone());
                    ev
                }
                Event::StepActivated {
                    step,
                    due,
                    earliest,
                    provisional,
                    ..
                } => {
                    let mut ev = self.base(at, "step_activated", Some(step));
                    ev.due = self.date(*due);
                    ev.earliest = self.date(*earliest);
                    ev.provisional = *provisional;
                    self.provisional.insert(step.clone(), *provisional);
                    ev
                }
                Event::StepSkipped { step } => self.base(at, "step_skipped", Some(step)),
                Event::TaskCreated { task, record } => {
                    self.tasks.insert(*task, record.step.clone());
                    let mut ev = self.base(at, "task_created", Some(&record.step));
                    ev.due = self.date(record.due);
                    ev.earliest = self.date(record.earliest);
                    ev.limit = self.limits.get(&record.step).copied();
                    ev.provisional = record.due.is_some()
                        && self.provisional.get(&record.step).copied().unwrap_or(false);
                    ev.role = record.role.clone();
                    ev.role_name = record
                        .role
                        .as_deref()
                        .map(|r| self.def.role_name(r).to_string());
                    ev.assignee = Some(record.assignee.clone());
                    ev
                }
                Event::TaskCompleted {
                    task,
                    actor,
                    outcome,
                    automatic,
                    ..
                } => {
                    let step = self.tasks.get(task).cloned().unwrap_or_default();
                    let mut ev = self.base(at, "task_completed", Some(&step));
                    ev.assignee = Some(actor.clone());
                    ev.outcome = Some(outcome.clone());
                    ev.detail = automatic.clone();
                    ev
                }
                Event::VoteClosed {
                    step,
                    tally,
                    quorum,
                    ..
                } => {
                    let mut ev = self.base(at, "vote_closed", Some(step));
                    let counts: Vec<String> = tally
                        .counts
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect();
                    ev.detail = Some(format!(
                        "应到 {} 实到 {} 投票 {}：{}{}",
                        tally.eligible,
                        tally.present,
                        tally.cast,
                        counts.join("，"),
                        if *quorum {
                            ""
                        } else {
                            "（不足法定人数）"
                        }
                    ));
                    ev
                }
                Event::RatingClosed { step, results } => {
                    let mut ev = self.base(at, "rating_closed", Some(step));
                    let grades: Vec<(String, String)> =
                        match self.def.step(step).map(|(_, s)| &s.kind) {
                            Some(StepKind::Rating(r)) => match &r.scheme {
                                RatingScheme::Scale { grades }
                                | RatingScheme::Rubric { grades, .. } => grades
                                    .iter()
                                    .map(|g| (g.id.clone(), g.name.clone()))
                                    .collect(),
                            },
                            _ => Vec::new(),
                        };
                    let mut count: Vec<(String, u32)> =
                        grades.iter().map(|(_, n)| (n.clone(), 0)).collect();
                    count.push(("不评定等次".to_string(), 0));
                    for g in results.values() {
                        let i = grades
                            .iter()
                            .position(|(id, _)| id == g)
                            .unwrap_or(grades.len());
                        count[i].1 += 1;
                    }
                    ev.detail = Some(
                        count
                            .iter()
                            .filter(|(_, n)| *n > 0)
                            .map(|(g, n)| format!("{g} {n}"))
                            .collect::<Vec<_>>()
                            .join("，"),
                    );
                    ev
                }
                Event::StepCompleted {
                    step,
                    outcome,
                    automatic,
                } => {
                    let is_wait = self
                        .def
                        .step(step)
                        .is_some_and(|(_, s)| matches!(s.kind, StepKind::Wait { .. }));
                    let mut ev = self.base(
                        at,
                        if is_wait {
                            "wait_ended"
                        } else {
                            "step_completed"
                        },
                        Some(step),
                    );
                    ev.outcome = Some(outcome.clone());
                    ev.detail = automatic.clone();
                    ev
                }
                Event::OccurrenceOpened { step, n } => {
                    let mut ev = self.base(at, "occurrence", Some(step));
                    ev.detail = Some(format!("第 {n} 次"));
                    ev
                }
                Event::TimerArmed { record, .. } => {
                    let kind = match record.purpose {
                        TimerPurpose::RemindBefore | TimerPurpose::RemindAfter { .. } => {
                            "reminder_planned"
                        }
                        TimerPurpose::Due
                            if self
                                .def
                                .step(&record.target)
                                .is_some_and(|(_, s)| s.remind.at_due) =>
                        {
                            "reminder_planned"
                        }
                        TimerPurpose::Escalate { .. } => "escalation_planned",
                        TimerPurpose::Timeout => "timeout_planned",
                        _ => continue,
                    };
                    let mut ev = self.base(at, kind, Some(&record.target));
                    ev.fires_at = Some(record.at.with_timezone(&self.clock.tz).fixed_offset());
                    let statutory = self
                        .def
                        .step(&record.target)
                        .and_then(|(_, s)| s.on_timeout.as_ref())
                        .is_some_and(|t| t.limit.is_some());
                    if record.purpose == TimerPurpose::Timeout && statutory {
                        // The outcome applies once the limit's last day has
                        // passed: that day is the one before.
                        let last = (record.at - Duration::seconds(1)).with_timezone(&self.clock.tz);
                        ev.limit = Some(last.date_naive());
                        self.limits.insert(record.target.clone(), last.date_naive());
                    }
                    ev
                }
                Event::MailQueued { mail }
                    if matches!(mail.kind.as_str(), "reminder" | "overdue") =>
                {
                    let step = mail
                        .vars
                        .get("step")
                        .and_then(|v| v.as_str())
                        .map(str::to_string);
                    let mut ev = self.base(at, "reminder", None);
                    ev.name = step;
                    ev.assignee = Some(mail.to.clone());
                    ev.detail = Some(mail.kind.clone());
                    ev
                }
                Event::Escalated {
                    step, to, reason, ..
                } => {
                    let mut ev = self.base(at, "escalation", Some(step));
                    ev.assignee = Some(to.join(", "));
                    ev.detail = Some(reason.clone());
                    ev
                }
                Event::VarSet { name, value } => {
                    let mut ev = self.base(at, "var_set", None);
                    ev.name = Some(name.clone());
                    ev.detail = Some(
                        value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| value.to_string()),
                    );
                    ev
                }
                Event::ChildRequested { step, workflow, .. } => {
                    let mut ev = self.base(at, "child_requested", Some(step));
                    ev.detail = Some(workflow.clone());
                    ev
                }
                Event::InstanceEnded { end_state } => {
                    let mut ev = self.base(at, "instance_ended", None);
                    ev.outcome = Some(end_state.clone());
                    ev.name = self
                        .def
                        .end_states
                        .iter()
                        .find(|s| &s.id == end_state)
                        .map(|s| s.name.clone());
                    ev
                }
                Event::InstanceCancelled { reason, .. } => {
                    let mut ev = self.base(at, "instance_cancelled", None);
                    ev.detail = Some(reason.clone());
                    ev
                }
                _ => continue,
            };
            self.events.push(ev);
        }
    }
}
