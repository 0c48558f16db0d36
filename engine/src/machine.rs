//! The state machine: one pure function from (definition, state, command,
//! now) to a new state, the events that made it, and effects as data.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::calendar::Calendar;
use crate::directory::Directory;
use crate::expr::Scope;
use crate::model::{
    ApprovalMode, Assignee, Definition, EmptyAssignee, FieldKind, HolidayDeadline, OrgRef,
    RatingScheme, Route, SetValue, Step, StepKind, SubjectKind, WaitUntil,
};
use crate::state::{
    Ballot, Event, InstanceState, Mail, RatingValue, RecordedEvent, Status, StepStatus, Subject,
    Tally, TaskKind, TaskState, TaskStatus, TimerPurpose, TimerState, Values,
};
use crate::time::{Anchor, Clock, Moment, Resolved, TimeExpr, resolve};

/// The default of a date field that means the day it is entered.
pub const TODAY: &str = "today";

/// Person id used for automatic actions.
pub const SYSTEM: &str = "system";

/// Most events one command may produce: a definition whose routes loop
/// without waiting for anything is stopped here, not by a hang.
const MAX_EVENTS_PER_COMMAND: usize = 20_000;

/// Routes one command may follow beyond one per step and stage of the
/// definition. Routes nest (a route enters a stage whose step finishes and
/// routes again), so a definition that loops without waiting would exhaust
/// the stack long before [`MAX_EVENTS_PER_COMMAND`]; without a loop a
/// command finishes each step at most once.
const SPARE_ROUTES_PER_COMMAND: usize = 16;

/// Hour of the local day at which day-based reminders are sent.
const REMINDER_HOUR: u32 = 9;

/// What someone (or a timer) asks of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Start the instance.
    Start {
        /// Who or what it is about.
        subject: Subject,
        /// Who starts it.
        initiator: String,
        /// Input values.
        #[serde(default)]
        inputs: Values,
    },
    /// Decide a task: complete it with an outcome and form values.
    Complete {
        /// The task.
        task: Uuid,
        /// Who acts.
        actor: String,
        /// The outcome (`done`, `approve`, `reject`, `return`, ...); the
        /// step's first outcome when absent.
        outcome: Option<String>,
        /// Form values.
        #[serde(default)]
        form: Values,
        /// Comment (审批意见).
        comment: Option<String>,
        /// For `return`: the earlier step of this stage to send the work
        /// back to (the definition's route when absent).
        #[serde(default)]
        return_to: Option<String>,
    },
    /// Cast a ballot in a vote.
    CastBallot {
        /// The vote step.
        step: String,
        /// The voter.
        voter: String,
        /// `yes`, `no`, `abstain` or a declared choice.
        choice: String,
        /// A written opinion by an absent voter.
        #[serde(default)]
        written: bool,
    },
    /// Count a vote now (the chair closes the ballot).
    CloseVote {
        /// The vote step.
        step: String,
        /// Who closes it (the step's assignee).
        actor: String,
        /// The day the meeting was held, when ballots are entered later
        /// (default: today).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held_on: Option<chrono::NaiveDate>,
    },
    /// Submit one rater's ratings.
    SubmitRating {
        /// The rating step.
        step: String,
        /// The rater.
        rater: String,
        /// Ratings by ratee.
        ratings: BTreeMap<String, RatingValue>,
    },
    /// Aggregate ratings now, even if some raters have not rated.
    CloseRating {
        /// The rating step.
        step: String,
        /// Who closes it (the step's assignee).
        actor: String,
    },
    /// A timer came due.
    FireTimer {
        /// Timer id.
        timer: String,
    },
    /// A child instance ended.
    ChildEnded {
        /// The subflow step.
        step: String,
        /// The child's end state.
        end_state: String,
    },
    /// 转办: hand a task to another person, who decides in the actor's place.
    Transfer {
        /// The task.
        task: Uuid,
        /// Who hands it over (its assignee).
        actor: String,
        /// The new assignee.
        to: String,
        /// Why.
        comment: Option<String>,
    },
    /// 委派: ask someone for an opinion; the task comes back to the actor.
    Delegate {
        /// The task.
        task: Uuid,
        /// Who delegates (its assignee).
        actor: String,
        /// The delegate.
        to: String,
        /// Why.
        comment: Option<String>,
    },
    /// 加签: add a signer before (must approve first) or after (must also
    /// approve) the actor, on an approval step.
    AddSigner {
        /// The task.
        task: Uuid,
        /// Who adds (its assignee).
        actor: String,
        /// The added signer.
        signer: String,
        /// Before the actor (`true`) or after.
        before: bool,
    },
    /// 减签: remove a signer the actor added who has not decided yet.
    RemoveSigner {
        /// The task the signer was added to.
        task: Uuid,
        /// Who removes (who added them).
        actor: String,
        /// The signer.
        signer: String,
    },
    /// 撤回: take back one's decision before anyone acted after it.
    Withdraw {
        /// The decided task.
        task: Uuid,
        /// Who decided it.
        actor: String,
    },
    /// A file was uploaded for a task (its hash goes into the history).
    AttachFile {
        /// The task.
        task: Uuid,
        /// Who uploaded (the task's assignee).
        actor: String,
        /// File id.
        file: Uuid,
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
        /// SHA-256, hex.
        sha256: String,
    },
    /// 撤回 by the initiator: end the instance before anyone else acted.
    WithdrawInstance {
        /// The initiator.
        actor: String,
    },
    /// A comment on a task, without deciding it.
    Comment {
        /// The task.
        task: Uuid,
        /// Who comments (an assignee of the step, or the initiator).
        actor: String,
        /// The text.
        text: String,
    },
    /// 催办: remind a task's assignee now (at most once an hour per task).
    Urge {
        /// The task.
        task: Uuid,
        /// Who urges.
        actor: String,
    },
    /// 抄送: send a copy of a task to people for their information.
    Cc {
        /// The task.
        task: Uuid,
        /// Who sends it (an assignee of the task).
        actor: String,
        /// Recipients.
        to: Vec<String>,
        /// A note.
        comment: Option<String>,
    },
    /// Cancel the instance.
    Cancel {
        /// Who cancels.
        actor: String,
        /// Why.
        reason: String,
    },
}

/// Why a command was refused. The state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Rejection {
    /// The instance was started already.
    #[error("该流程已经发起，不能再次发起")]
    AlreadyStarted,
    /// The instance is not running: how it stands (`已撤销`, `尚未发起`,
    /// `已结束（「已转正」）`).
    #[error("该流程{0}，不能再办理")]
    NotRunning(String),
    /// No such task (its id).
    #[error("找不到事项「{0}」")]
    UnknownTask(String),
    /// The task was decided or withdrawn already.
    #[error("该事项已经办理过，不能重复办理")]
    AlreadyDecided,
    /// The actor may not act on this: who may, in words.
    #[error("{0}")]
    NotAnAssignee(String),
    /// The step is not open for work: the step as people read it
    /// (`步骤「谈话」(talk)`).
    #[error("{0}当前不在办理中")]
    StepNotActive(String),
    /// Too early by the rules: the first day (or instant) it may be done.
    #[error("还不能办理：{0} 起才能办理")]
    TooEarly(String),
    /// The outcome is not allowed here.
    #[error("{0}")]
    BadOutcome(String),
    /// Too late: someone acted after it.
    #[error("{0}")]
    TooLate(String),
    /// Done too recently to do again.
    #[error("{0}")]
    TooSoon(String),
    /// The task waits for a signer added before its assignee.
    #[error("{0}")]
    Waiting(String),
    /// A form value is missing or wrong.
    #[error("{0}")]
    BadForm(String),
    /// A rule of the definition does not hold.
    #[error("{0}")]
    CheckFailed(String),
    /// A role is held by nobody (or the person a step names is missing).
    #[error("{detail}")]
    EmptyAssignee {
        /// Role id (`subject`, or the field the assignee is read from).
        role: String,
        /// Organization id.
        org: String,
        /// What people read: the role and the organization by name.
        #[serde(default)]
        detail: String,
    },
    /// The command does not fit this kind of step.
    #[error("{0}")]
    WrongKind(String),
    /// The definition is broken in a way validation did not catch.
    #[error("流程定义有误：{0}")]
    Definition(String),
}

/// What the shell must do besides storing the events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "effect")]
pub enum Effect {
    /// Insert a task row (the inbox).
    CreateTask {
        /// Task id.
        task: Uuid,
        /// Record.
        record: TaskState,
    },
    /// Close a task row.
    CloseTask {
        /// Task id.
        task: Uuid,
        /// Final status.
        status: TaskStatus,
    },
    /// Change a task row's assignee.
    ReassignTask {
        /// Task id.
        task: Uuid,
        /// New assignee.
        assignee: String,
    },
    /// Arm a timer.
    ArmTimer {
        /// Timer id (unique per instance).
        timer: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Disarm a timer.
    DisarmTimer {
        /// Timer id.
        timer: String,
    },
    /// Put a mail in the outbox.
    EnqueueMail(Mail),
    /// Start a child instance.
    StartChild {
        /// Step waiting for it.
        step: String,
        /// Workflow id.
        workflow: String,
        /// Inputs.
        inputs: Values,
    },
}

/// The result of an accepted command.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The new state.
    pub state: InstanceState,
    /// New events, in order, chained to the previous state's last hash.
    pub events: Vec<RecordedEvent>,
    /// Effects for the shell.
    pub effects: Vec<Effect>,
}

/// What the machine needs besides the definition, state and command.
pub struct Context<'a> {
    /// The current time. The engine never reads a clock.
    pub now: DateTime<Utc>,
    /// The organization tree.
    pub directory: &'a dyn Directory,
    /// The working-day calendar.
    pub calendar: &'a Calendar,
}

/// Applies a command. On rejection nothing changes.
pub fn apply(
    def: &Definition,
    state: &InstanceState,
    command: &Command,
    ctx: &Context<'_>,
) -> Result<Transition, Rejection> {
    let mut tx = Tx {
        routes_left: def.stages.iter().map(|s| s.steps.len() + 1).sum::<usize>()
            + SPARE_ROUTES_PER_COMMAND,
        route_override: None,
        def,
        ctx,
        clock: Clock { tz: def.timezone },
        state: state.clone(),
        events: Vec::new(),
        effects: Vec::new(),
    };
    tx.run(command)?;
    Ok(Transition {
        state: tx.state,
        events: tx.events,
        effects: tx.effects,
    })
}

/// What a new task needs besides its step.
struct NewTask {
    assignee: String,
    kind: TaskKind,
    org: Option<String>,
    due: Option<Moment>,
    earliest: Option<Moment>,
    /// Who added this signer (加签).
    added_by: Option<String>,
    /// Signers still to follow (后加签).
    then: Vec<String>,
    /// The occurrence of a recurring step it is opened for.
    occurrence: Option<u32>,
}

/// Which deadline timers a deadline gets.
#[derive(Clone, Copy)]
enum Watch {
    /// The step's own: reminders, 督办 and the automatic outcome.
    Step,
    /// Only the automatic outcome (a recurring step whose occurrences are
    /// watched one by one).
    TimeoutOnly,
    /// One occurrence of a recurring step: reminders and 督办 for its tasks.
    Occurrence(u32),
}

impl NewTask {
    /// A task that stands in for or follows `other` (加签, a withdrawn
    /// decision) belongs to the same occurrence and keeps its deadline.
    fn same_occurrence_as(&mut self, other: &TaskState) {
        if other.occurrence.is_some() {
            self.occurrence = other.occurrence;
            self.due = other.due;
        }
    }
}

struct Tx<'a> {
    /// How many more routes this command may follow (see
    /// [`SPARE_ROUTES_PER_COMMAND`]).
    routes_left: usize,
    /// A route chosen by the actor (退回 to a named step) for the step
    /// being decided, instead of the definition's.
    route_override: Option<Route>,
    def: &'a Definition,
    ctx: &'a Context<'a>,
    clock: Clock,
    state: InstanceState,
    events: Vec<RecordedEvent>,
    effects: Vec<Effect>,
}

type R<T = ()> = Result<T, Rejection>;

impl Tx<'_> {
    /// The command's time, to the microsecond: what every store keeps, so a
    /// history read back hashes the same as when it was written.
    fn now(&self) -> DateTime<Utc> {
        use chrono::SubsecRound;
        self.ctx.now.trunc_subsecs(6)
    }

    fn emit(&mut self, event: Event) -> R {
        if self.events.len() >= MAX_EVENTS_PER_COMMAND {
            return Err(Rejection::Definition(
                "流程陷入循环，没有等待任何人办理（一次操作产生的记录过多）".into(),
            ));
        }
        let seq = self.state.seq + 1;
        let at = self.now();
        let prev_hash = self.state.last_hash.clone();
        let hash = RecordedEvent::compute_hash(seq, at, &prev_hash, &event);
        let rec = RecordedEvent {
            seq,
            at,
            prev_hash,
            hash,
            event,
        };
        self.state.evolve(&rec);
        match &rec.event {
            Event::TaskCreated { task, record } => self.effects.push(Effect::CreateTask {
                task: *task,
                record: record.clone(),
            }),
            Event::TaskCompleted { task, outcome, .. } => self.effects.push(Effect::CloseTask {
                task: *task,
                status: TaskStatus::Done(outcome.clone()),
            }),
            Event::TaskCancelled { task } => self.effects.push(Effect::CloseTask {
                task: *task,
                status: TaskStatus::Cancelled,
            }),
            Event::TimerArmed { timer, record } => self.effects.push(Effect::ArmTimer {
                timer: timer.clone(),
                at: record.at,
            }),
            Event::TimerDisarmed { timer } => self.effects.push(Effect::DisarmTimer {
                timer: timer.clone(),
            }),
            Event::TaskTransferred { task, to, .. } => self.effects.push(Effect::ReassignTask {
                task: *task,
                assignee: to.clone(),
            }),
            Event::MailQueued { mail } => self.effects.push(Effect::EnqueueMail(mail.clone())),
            Event::ChildRequested {
                step,
                workflow,
                inputs,
            } => self.effects.push(Effect::StartChild {
                step: step.clone(),
                workflow: workflow.clone(),
                inputs: inputs.clone(),
            }),
            _ => {}
        }
        self.events.push(rec);
        Ok(())
    }

    fn run(&mut self, command: &Command) -> R {
        if let Command::Start {
            subject,
            initiator,
            inputs,
        } = command
        {
            return self.start(subject, initiator, inputs);
        }
        match &self.state.status {
            Status::Running => {}
            Status::New => return Err(Rejection::NotRunning("尚未发起".into())),
            Status::Ended(s) => {
                let name = self
                    .def
                    .end_states
                    .iter()
                    .find(|e| &e.id == s)
                    .map_or(s.as_str(), |e| e.name.as_str());
                return Err(Rejection::NotRunning(format!(
                    "已结束（{}）",
                    named(name, s)
                )));
            }
            Status::Cancelled => return Err(Rejection::NotRunning("已撤销".into())),
        }
        match command {
            Command::Start { .. } => Err(Rejection::AlreadyStarted),
            Command::Complete {
                task,
                actor,
                outcome,
                form,
                comment,
                return_to,
            } => {
                if let Some(target) = return_to {
                    self.plan_return(*task, outcome.as_deref(), target)?;
                }
                self.complete(*task, actor, outcome.as_deref(), form, comment.as_deref())
            }
            Command::CastBallot {
                step,
                voter,
                choice,
                written,
            } => self.cast_ballot(step, voter, choice, *written),
            Command::CloseVote {
                step,
                actor,
                held_on,
            } => {
                self.check_chair(step, actor)?;
                self.check_earliest(step)?;
                self.close_vote(step, *held_on)
            }
            Command::SubmitRating {
                step,
                rater,
                ratings,
            } => self.submit_rating(step, rater, ratings),
            Command::CloseRating { step, actor } => {
                self.check_chair(step, actor)?;
                self.check_earliest(step)?;
                self.close_rating(step)
            }
            Command::FireTimer { timer } => self.fire_timer(timer),
            Command::ChildEnded { step, end_state } => {
                let (_, s) = self.step_def(step)?;
                if !matches!(s.kind, StepKind::Subflow { .. }) {
                    return Err(Rejection::WrongKind(format!(
                        "{}不是子流程步骤",
                        self.step_ref(step)
                    )));
                }
                self.require_active(step)?;
                let outcome = if s.outcomes.contains_key(end_state) {
                    end_state.clone()
                } else {
                    "done".into()
                };
                self.finish_step(step, &outcome, None)
            }
            Command::Transfer {
                task,
                actor,
                to,
                comment,
            } => self.transfer(*task, actor, to, comment.as_deref()),
            Command::Comment { task, actor, text } => {
                let t = self.open_task(*task)?;
                if actor != &t.assignee && actor != &self.state.initiator {
                    return Err(Rejection::NotAnAssignee(format!(
                        "只有该事项的办理人{}或流程发起人{}可以发表意见",
                        person(&t.assignee),
                        person(&self.state.initiator)
                    )));
                }
                if text.trim().is_empty() {
                    return Err(Rejection::BadForm("意见内容不能为空".into()));
                }
                self.emit(Event::Commented {
                    task: *task,
                    actor: actor.clone(),
                    text: text.clone(),
                })
            }
            Command::Urge { task, actor } => self.urge(*task, actor),
            Command::Delegate {
                task,
                actor,
                to,
                comment,
            } => self.delegate(*task, actor, to, comment.as_deref()),
            Command::AddSigner {
                task,
                actor,
                signer,
                before,
            } => self.add_signer(*task, actor, signer, *before),
            Command::RemoveSigner {
                task,
                actor,
                signer,
            } => self.remove_signer(*task, actor, signer),
            Command::Withdraw { task, actor } => self.withdraw(*task, actor),
            Command::AttachFile {
                task,
                actor,
                file,
                name,
                size,
                sha256,
            } => {
                let t = self.open_task(*task)?;
                if &t.assignee != actor {
                    return Err(Rejection::NotAnAssignee(format!(
                        "只有该事项的办理人{}可以上传附件",
                        person(&t.assignee)
                    )));
                }
                self.emit(Event::FileAttached {
                    task: *task,
                    by: actor.clone(),
                    file: *file,
                    name: name.clone(),
                    size: *size,
                    sha256: sha256.clone(),
                })
            }
            Command::WithdrawInstance { actor } => {
                if actor != &self.state.initiator {
                    return Err(Rejection::NotAnAssignee(format!(
                        "只有流程发起人{}可以撤回流程",
                        person(&self.state.initiator)
                    )));
                }
                if self.state.acted_by_others {
                    return Err(Rejection::TooLate(
                        "已有其他人办理过该流程，不能撤回；如需终止，请联系本组织的书记或组织委员撤销"
                            .into(),
                    ));
                }
                self.close_everything()?;
                self.emit(Event::InstanceCancelled {
                    actor: actor.clone(),
                    reason: "发起人撤回".into(),
                })
            }
            Command::Cc {
                task,
                actor,
                to,
                comment,
            } => {
                let t = self.open_task(*task)?;
                if actor != &t.assignee {
                    return Err(Rejection::NotAnAssignee(format!(
                        "只有该事项的办理人{}可以抄送",
                        person(&t.assignee)
                    )));
                }
                if to.is_empty() {
                    return Err(Rejection::BadForm("抄送至少需要一位接收人".into()));
                }
                self.emit(Event::CopiedTo {
                    task: *task,
                    actor: actor.clone(),
                    to: to.clone(),
                    comment: comment.clone(),
                })?;
                for p in to {
                    let key = format!("{}:{}:cc:{}:{}", self.state.id, task, p, self.state.seq);
                    let mut vars = self.mail_vars(&t.step, Some(*task));
                    vars.insert("reason".into(), comment.clone().unwrap_or_default().into());
                    self.emit(Event::MailQueued {
                        mail: Mail {
                            key,
                            to: p.clone(),
                            kind: "notice".into(),
                            vars,
                        },
                    })?;
                }
                Ok(())
            }
            Command::Cancel { actor, reason } => {
                self.close_everything()?;
                self.emit(Event::InstanceCancelled {
                    actor: actor.clone(),
                    reason: reason.clone(),
                })
            }
        }
    }

    // ----- start -------------------------------------------------------

    fn start(&mut self, subject: &Subject, initiator: &str, given: &Values) -> R {
        if self.state.status != Status::New {
            return Err(Rejection::AlreadyStarted);
        }
        let mut inputs = Values::new();
        let today = serde_json::json!(self.clock.local_date(self.now()).to_string());
        for input in &self.def.inputs {
            let f = &input.field;
            let value = given.get(&f.id).or(f.default.as_ref());
            let value = match value {
                Some(v) if v.as_str() == Some(TODAY) && f.kind == FieldKind::Date => Some(&today),
                v => v,
            };
            match value {
                Some(v) if !v.is_null() => {
                    check_value(&f.id, &f.label, &f.kind, f.min, f.max, v)?;
                    self.check_date(f, v, None)?;
                    inputs.insert(f.id.clone(), v.clone());
                }
                _ if f.required => {
                    return Err(Rejection::BadForm(format!(
                        "输入项{}为必填项",
                        named(&f.label, &f.id)
                    )));
                }
                _ => {}
            }
        }
        if let Some(unknown) = given
            .keys()
            .find(|k| !self.def.inputs.iter().any(|i| &i.field.id == *k))
        {
            let known: Vec<String> = self
                .def
                .inputs
                .iter()
                .map(|i| format!("`{}`", i.field.id))
                .collect();
            return Err(Rejection::BadForm(format!(
                "未知的输入项「{unknown}」（可用的输入项：{}）",
                if known.is_empty() {
                    "无".to_string()
                } else {
                    known.join("、")
                }
            )));
        }
        if subject.org.is_empty() {
            return Err(Rejection::BadForm("必须指明流程对象所属的组织".into()));
        }
        self.emit(Event::InstanceStarted {
            definition: self.def.id.clone(),
            version: self.def.version,
            subject: subject.clone(),
            initiator: initiator.to_string(),
            inputs,
        })?;
        for check in &self.def.checks {
            let scope = self.scope(None);
            let ok = check
                .expr
                .eval_bool(&scope)
                .map_err(Rejection::CheckFailed)?;
            if !ok {
                return Err(Rejection::CheckFailed(check.message.clone()));
            }
        }
        let first = self
            .def
            .stages
            .first()
            .ok_or_else(|| Rejection::Definition("流程没有阶段".into()))?
            .id
            .clone();
        self.enter_stage(&first, None)
    }

    // ----- stages and steps ---------------------------------------------

    fn step_def(&self, id: &str) -> R<(&crate::model::Stage, &Step)> {
        self.def
            .step(id)
            .ok_or_else(|| Rejection::Definition(format!("未知的步骤「{id}」")))
    }

    fn require_active(&self, step: &str) -> R {
        let active = self
            .state
            .steps
            .get(step)
            .is_some_and(|s| s.status == StepStatus::Active);
        let (stage, _) = self.step_def(step)?;
        if !active || self.state.stage.as_deref() != Some(stage.id.as_str()) {
            return Err(Rejection::StepNotActive(self.step_ref(step)));
        }
        Ok(())
    }

    fn enter_stage(&mut self, stage_id: &str, from_step: Option<&str>) -> R {
        let stage = self
            .def
            .stage(stage_id)
            .ok_or_else(|| Rejection::Definition(format!("未知的阶段「{stage_id}」")))?;
        self.emit(Event::StageEntered {
            stage: stage_id.to_string(),
        })?;
        let reset: Vec<String> = match from_step {
            Some(step) => dependents(stage, step),
            None => stage.steps.iter().map(|s| s.id.clone()).collect(),
        };
        for step in reset {
            self.emit(Event::StepReset { step })?;
        }
        if let Some(window) = &stage.window {
            let opens = self.resolve_time(&window.opens, None)?;
            let at = self.clock.start_instant(opens.moment);
            if at > self.now() {
                return self.arm(stage_id, 0, TimerPurpose::WindowOpens, at, "window");
            }
        }
        self.advance()
    }

    /// Activates every waiting step whose `after` steps have ended, until
    /// nothing changes; then finishes the stage when it is complete.
    fn advance(&mut self) -> R {
        loop {
            if self.state.status != Status::Running {
                return Ok(());
            }
            let Some(stage_id) = self.state.stage.clone() else {
                return Ok(());
            };
            let stage = self
                .def
                .stage(&stage_id)
                .ok_or_else(|| Rejection::Definition(format!("未知的阶段「{stage_id}」")))?;
            if self
                .state
                .timers
                .contains_key(&timer_id(&stage_id, 0, "window"))
            {
                return Ok(());
            }
            let ready = stage.steps.iter().find(|s| {
                self.status_of(&s.id) == StepStatus::Waiting
                    && s.after.iter().all(|a| {
                        matches!(self.status_of(a), StepStatus::Done | StepStatus::Skipped)
                    })
            });
            if let Some(step) = ready {
                let id = step.id.clone();
                self.activate(&id)?;
                continue;
            }
            let complete = stage.steps.iter().all(|s| {
                !s.required
                    || matches!(
                        self.status_of(&s.id),
                        StepStatus::Done | StepStatus::Skipped
                    )
            });
            if complete {
                let then = match &stage.then {
                    // A finished stage's `next` is the following stage.
                    Route::Next => {
                        let index = self.def.stage_index(&stage_id).unwrap_or(usize::MAX);
                        match self.def.stages.get(index.saturating_add(1)) {
                            Some(next) => Route::Stage {
                                stage: next.id.clone(),
                                step: None,
                            },
                            None => {
                                return Err(Rejection::Definition(format!(
                                    "阶段{}是最后一个阶段，却没有说明流程如何结束",
                                    named(&stage.name, &stage_id)
                                )));
                            }
                        }
                    }
                    other => other.clone(),
                };
                return self.follow(&then, &stage_id);
            }
            return Ok(());
        }
    }

    fn status_of(&self, step: &str) -> StepStatus {
        self.state
            .steps
            .get(step)
            .map(|s| s.status.clone())
            .unwrap_or_default()
    }

    fn activate(&mut self, step_id: &str) -> R {
        let (stage, step) = self.step_def(step_id)?;
        let (stage, step) = (stage.clone(), step.clone());
        if let Some(guard) = &step.when {
            let scope = self.scope(Some(step_id));
            if !guard.eval_bool(&scope).map_err(Rejection::CheckFailed)? {
                return self.emit(Event::StepSkipped {
                    step: step_id.to_string(),
                });
            }
        }
        let mut provisional = false;
        let mut due = match &step.due {
            Some(e) => {
                let r = self.resolve_time(e, Some(step_id))?;
                let (due, shifted_provisionally) = self.shift_off_holiday(e, r.moment);
                provisional |= r.provisional || shifted_provisionally;
                Some(due)
            }
            None => None,
        };
        if due.is_none()
            && let Some(w) = &stage.window
        {
            let r = self.resolve_time(&w.closes, Some(step_id))?;
            due = Some(r.moment);
        }
        if let Some(d) = due {
            let (fresh, fresh_provisional) = self.fresh_due(step_id, d);
            due = Some(fresh);
            provisional |= fresh_provisional;
        }
        let earliest = match &step.earliest {
            Some(e) => {
                let r = self.resolve_time(e, Some(step_id))?;
                provisional |= r.provisional;
                Some(r.moment)
            }
            None => None,
        };
        match &step.kind {
            StepKind::Wait {
                until: WaitUntil::For(span),
            } => {
                let base = day_or_instant(
                    &self.clock,
                    Moment::Instant(self.now()),
                    span.unit.is_day_based(),
                );
                provisional |= self
                    .clock
                    .period_end(self.ctx.calendar, base, *span)
                    .provisional;
            }
            StepKind::Wait {
                until: WaitUntil::At(e),
            } => {
                provisional |= self.resolve_time(e, Some(step_id))?.provisional;
            }
            _ => {}
        }
        let resolved = match &step.kind {
            StepKind::Approval { .. } | StepKind::Task => {
                let a = step.assignee.clone().unwrap_or(Assignee::Initiator);
                self.resolve_people(&a).map(|p| (p, Vec::new()))
            }
            StepKind::Vote(v) => self.resolve_people(&v.voters).map(|p| (p, Vec::new())),
            StepKind::Rating(r) => self.resolve_people(&r.raters).map(|raters| {
                let mut ratees: Vec<(String, String)> = Vec::new();
                for a in &r.ratees {
                    let role = match a {
                        Assignee::Role { role, .. } => role.clone(),
                        _ => String::new(),
                    };
                    // A role nobody holds among the ratees simply adds no one.
                    for p in self.resolve_people(a).unwrap_or_default() {
                        if !ratees.iter().any(|(q, _)| q == &p) {
                            ratees.push((p, role.clone()));
                        }
                    }
                }
                (raters, ratees)
            }),
            _ => Ok((Vec::new(), Vec::new())),
        };
        let (participants, ratees) = match resolved {
            Ok(r) => r,
            Err(Rejection::EmptyAssignee { .. })
                if self.def.empty_assignee == EmptyAssignee::Skip =>
            {
                return self.emit(Event::StepSkipped {
                    step: step_id.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        // Past the wall-clock-free guard: "activated" anchors read this.
        self.emit(Event::StepActivated {
            step: step_id.to_string(),
            due,
            earliest,
            provisional,
            participants: participants.clone(),
            ratees,
        })?;
        let entry = self.state.steps.get(step_id).map(|s| s.entry).unwrap_or(1);
        if let Some(d) = due {
            // A recurring step with `within` reminds and escalates per
            // occurrence; its own deadline only carries `on_timeout`.
            let per_occurrence = matches!(&step.kind, StepKind::Recurring(r) if r.within.is_some());
            let watch = if per_occurrence {
                Watch::TimeoutOnly
            } else {
                Watch::Step
            };
            self.arm_deadline_timers(&step, entry, d, watch)?;
        }
        match &step.kind {
            StepKind::Task => {
                for p in participants {
                    self.create_task(
                        &step,
                        entry,
                        self.new_task(&step.id, p, TaskKind::Work, None),
                    )?;
                }
            }
            StepKind::Approval { mode } => {
                let first_only = *mode == ApprovalMode::Sequential;
                for p in participants {
                    self.create_task(
                        &step,
                        entry,
                        self.new_task(&step.id, p, TaskKind::Work, None),
                    )?;
                    if first_only {
                        break;
                    }
                }
            }
            StepKind::Vote(_) => {
                for p in participants {
                    self.create_task(
                        &step,
                        entry,
                        self.new_task(&step.id, p, TaskKind::Ballot, None),
                    )?;
                }
            }
            StepKind::Rating(_) => {
                for p in participants {
                    self.create_task(
                        &step,
                        entry,
                        self.new_task(&step.id, p, TaskKind::Rate, None),
                    )?;
                }
            }
            StepKind::Wait { until } => {
                let at = match until {
                    WaitUntil::For(span) => {
                        let now = Moment::Instant(self.now());
                        let r = self.clock.period_end(
                            self.ctx.calendar,
                            day_or_instant(&self.clock, now, span.unit.is_day_based()),
                            *span,
                        );
                        self.clock.start_instant(r.moment)
                    }
                    WaitUntil::At(e) => {
                        let r = self.resolve_time(e, Some(step_id))?;
                        self.clock.start_instant(r.moment)
                    }
                };
                if at <= self.now() {
                    return self.finish_step(step_id, "done", None);
                }
                self.arm(step_id, entry, TimerPurpose::WaitEnd, at, "wait")?;
            }
            StepKind::Recurring(rec) => {
                let next = self.occurrence_at(step_id, rec.every, 1)?;
                self.arm(
                    step_id,
                    entry,
                    TimerPurpose::Occurrence,
                    next,
                    "occurrence-1",
                )?;
                if let Some(until) = &rec.until {
                    let r = self.resolve_time(until, Some(step_id))?;
                    let at = self.clock.start_instant(r.moment);
                    self.arm(
                        step_id,
                        entry,
                        TimerPurpose::Until,
                        at.max(self.now()),
                        "until",
                    )?;
                }
            }
            StepKind::Fanout { orgs, role } => {
                let matched = self.select_orgs(orgs)?;
                let mut any = false;
                for org in matched {
                    for p in self.ctx.directory.holders(&org, role) {
                        any = true;
                        self.create_task(
                            &step,
                            entry,
                            self.new_task(&step.id, p, TaskKind::Work, Some(org.clone())),
                        )?;
                    }
                }
                if !any {
                    return self.finish_step(step_id, "done", Some("没有符合条件的组织".into()));
                }
            }
            StepKind::Notify { template } => {
                let to = match &step.assignee {
                    Some(a) => self.resolve_people(a)?,
                    None => Vec::new(),
                };
                for p in to {
                    let key = format!("{}:{}#{}:notice:{}", self.state.id, step_id, entry, p);
                    let vars = self.mail_vars(step_id, None);
                    self.emit(Event::MailQueued {
                        mail: Mail {
                            key,
                            to: p,
                            kind: template.clone(),
                            vars,
                        },
                    })?;
                }
                return self.finish_step(step_id, "sent", None);
            }
            StepKind::Subflow { workflow, inputs } => {
                let scope = self.scope(Some(step_id));
                let mut values = Values::new();
                for (k, e) in inputs {
                    values.insert(k.clone(), e.eval(&scope).map_err(Rejection::CheckFailed)?);
                }
                self.emit(Event::ChildRequested {
                    step: step_id.to_string(),
                    workflow: workflow.clone(),
                    inputs: values,
                })?;
            }
        }
        Ok(())
    }

    /// A step entered again (after a lapse, a 退回, a failed vote) whose
    /// deadline has already passed starts fresh: it gets as long from this
    /// entry as its last entry had from its own. Nothing re-opens overdue;
    /// statutory limits (`limit:`) keep counting from their own anchors.
    /// With whether a working-day shift touched a year without a notice.
    fn fresh_due(&self, step_id: &str, due: Moment) -> (Moment, bool) {
        let now = self.now();
        if self.clock.deadline_instant(due) > now {
            return (due, false);
        }
        let Some((Some(before), Some(before_due))) = self
            .state
            .steps
            .get(step_id)
            .filter(|s| s.entry > 0)
            .map(|s| (s.activated_at, s.due))
        else {
            return (due, false);
        };
        match before_due {
            Moment::Date(d) => {
                let days = (d - self.clock.local_date(before)).num_days().max(0);
                let fresh = self.clock.local_date(now) + chrono::Duration::days(days);
                match self.def.deadline_on_holiday {
                    HolidayDeadline::NextWorkday => {
                        let r = self.ctx.calendar.next_workday_on_or_after(fresh);
                        (Moment::Date(r.date), r.provisional)
                    }
                    _ => (Moment::Date(fresh), false),
                }
            }
            Moment::Instant(t) => (
                Moment::Instant(now + (t - before).max(chrono::Duration::zero())),
                false,
            ),
        }
    }

    /// 民法典 第203条: a period in days, weeks, months or years whose last
    /// day is a rest day or holiday ends on the next working day (unless
    /// the definition keeps such deadlines). With whether that day was
    /// judged in a year without a notice (provisional).
    fn shift_off_holiday(&self, expr: &TimeExpr, due: Moment) -> (Moment, bool) {
        let counted_in_days = expr.offset.is_some_and(|(span, after)| {
            after
                && matches!(
                    span.unit,
                    crate::time::Unit::Day
                        | crate::time::Unit::Week
                        | crate::time::Unit::Month
                        | crate::time::Unit::Year
                )
        });
        match due {
            Moment::Date(d)
                if counted_in_days
                    && self.def.deadline_on_holiday == HolidayDeadline::NextWorkday =>
            {
                let r = self.ctx.calendar.next_workday_on_or_after(d);
                (Moment::Date(r.date), r.provisional)
            }
            other => (other, false),
        }
    }

    fn occurrence_at(&self, step_id: &str, every: crate::time::Span, n: u32) -> R<DateTime<Utc>> {
        let activated = self
            .state
            .steps
            .get(step_id)
            .and_then(|s| s.activated_at)
            .unwrap_or(self.now());
        let span = crate::time::Span {
            n: every.n.saturating_mul(n),
            ..every
        };
        let base = day_or_instant(
            &self.clock,
            Moment::Instant(activated),
            every.unit.is_day_based(),
        );
        let r = self.clock.shift(self.ctx.calendar, base, span, true);
        Ok(self.clock.start_instant(r.moment))
    }

    fn arm_deadline_timers(&mut self, step: &Step, entry: u32, due: Moment, watch: Watch) -> R {
        let due_at = self.clock.deadline_instant(due);
        let now = self.now();
        let (occurrence, reminders) = match watch {
            Watch::Occurrence(n) => (Some(n), true),
            Watch::Step => (None, true),
            Watch::TimeoutOnly => (None, false),
        };
        if reminders {
            self.arm_reminders(step, entry, due, occurrence)?;
        }
        // An occurrence has no automatic outcome of its own.
        if let (Some(t), None) = (&step.on_timeout, occurrence) {
            let at = match (&t.limit, t.after) {
                // The statute's own limit: the outcome applies once its
                // last day has passed, wherever the deadline moved.
                (Some(limit), _) => {
                    let r = self.resolve_time(limit, Some(&step.id))?;
                    self.clock.deadline_instant(r.moment)
                }
                (None, Some(span)) => self.after_due(due, span),
                (None, None) => due_at,
            };
            self.arm(
                &step.id,
                entry,
                TimerPurpose::Timeout,
                at.max(now),
                "timeout",
            )?;
        }
        Ok(())
    }

    /// The reminders and 督办 of a deadline (of the step, or of one
    /// occurrence of a recurring step).
    fn arm_reminders(
        &mut self,
        step: &Step,
        entry: u32,
        due: Moment,
        occurrence: Option<u32>,
    ) -> R {
        let due_at = self.clock.deadline_instant(due);
        let now = self.now();
        for (i, before) in step.remind.before.iter().enumerate() {
            let r = self.clock.shift(self.ctx.calendar, due, *before, false);
            let at = match r.moment {
                Moment::Date(d) => self.clock.at_local(
                    d,
                    NaiveTime::from_hms_opt(REMINDER_HOUR, 0, 0).unwrap_or(NaiveTime::MIN),
                ),
                Moment::Instant(t) => t,
            };
            if at > now {
                self.arm_for(
                    &step.id,
                    entry,
                    occurrence,
                    TimerPurpose::RemindBefore,
                    at,
                    &format!("remind-before-{i}"),
                )?;
            }
        }
        self.arm_for(
            &step.id,
            entry,
            occurrence,
            TimerPurpose::Due,
            due_at.max(now),
            "due",
        )?;
        if let Some(every) = step.remind.every {
            for n in 1..=step.remind.max {
                let span = crate::time::Span {
                    n: every.n.saturating_mul(n),
                    ..every
                };
                let at = self.after_due(due, span);
                self.arm_for(
                    &step.id,
                    entry,
                    occurrence,
                    TimerPurpose::RemindAfter { n },
                    at,
                    &format!("remind-after-{n}"),
                )?;
            }
        }
        for (index, esc) in step.escalate.iter().enumerate() {
            let at = match &esc.limit {
                // On the limit's last day, at the reminder hour.
                Some(limit) => match self.resolve_time(limit, Some(&step.id))?.moment {
                    Moment::Date(d) => self.clock.at_local(
                        d,
                        NaiveTime::from_hms_opt(REMINDER_HOUR, 0, 0).unwrap_or(NaiveTime::MIN),
                    ),
                    Moment::Instant(t) => t,
                },
                None => self.after_due(due, esc.after),
            };
            self.arm_for(
                &step.id,
                entry,
                occurrence,
                TimerPurpose::Escalate { index },
                at,
                &format!("escalate-{index}"),
            )?;
        }
        Ok(())
    }

    /// A time `span` after a deadline: for day-based deadlines the start of
    /// the day `span` after the due date, at the reminder hour.
    fn after_due(&self, due: Moment, span: crate::time::Span) -> DateTime<Utc> {
        match due {
            // "0 days after" the deadline is the deadline itself.
            _ if span.n == 0 => self.clock.deadline_instant(due),
            Moment::Date(d) if span.unit.is_day_based() => {
                let r = self
                    .clock
                    .shift(self.ctx.calendar, Moment::Date(d), span, true);
                let day = self.clock.date_of(r.moment);
                self.clock.at_local(
                    day,
                    NaiveTime::from_hms_opt(REMINDER_HOUR, 0, 0).unwrap_or(NaiveTime::MIN),
                )
            }
            other => {
                let base = Moment::Instant(self.clock.deadline_instant(other));
                self.clock
                    .start_instant(self.clock.shift(self.ctx.calendar, base, span, true).moment)
            }
        }
    }

    fn arm(
        &mut self,
        target: &str,
        entry: u32,
        purpose: TimerPurpose,
        at: DateTime<Utc>,
        name: &str,
    ) -> R {
        self.arm_for(target, entry, None, purpose, at, name)
    }

    /// Arms a timer; one that watches an occurrence of a recurring step
    /// is named after it (`occ-3-due`) and records it.
    fn arm_for(
        &mut self,
        target: &str,
        entry: u32,
        occurrence: Option<u32>,
        purpose: TimerPurpose,
        at: DateTime<Utc>,
        name: &str,
    ) -> R {
        let timer = match occurrence {
            Some(n) => timer_id(target, entry, &format!("occ-{n}-{name}")),
            None => timer_id(target, entry, name),
        };
        self.emit(Event::TimerArmed {
            timer,
            record: TimerState {
                at,
                target: target.to_string(),
                entry,
                purpose,
                occurrence,
            },
        })
    }

    /// A task for a step with the step's current deadline and not-before.
    fn new_task(
        &self,
        step_id: &str,
        assignee: String,
        kind: TaskKind,
        org: Option<String>,
    ) -> NewTask {
        let s = self.state.steps.get(step_id);
        NewTask {
            assignee,
            kind,
            org,
            due: s.and_then(|s| s.due),
            earliest: s.and_then(|s| s.earliest),
            added_by: None,
            then: Vec::new(),
            occurrence: None,
        }
    }

    fn create_task(&mut self, step: &Step, entry: u32, new: NewTask) -> R {
        let role_of = |a: &Assignee| match a {
            Assignee::Role { role, .. } => Some(role.clone()),
            Assignee::Subject => Some("subject".to_string()),
            Assignee::Initiator => Some("initiator".to_string()),
            Assignee::Field(_) => None,
        };
        let NewTask {
            assignee,
            kind,
            org,
            due,
            earliest,
            added_by,
            then,
            occurrence,
        } = new;
        let role = match (&step.kind, kind) {
            (StepKind::Fanout { role, .. }, _) => Some(role.clone()),
            (StepKind::Recurring(r), _) if r.orgs.is_some() => {
                r.orgs.as_ref().map(|(_, role)| role.clone())
            }
            (StepKind::Vote(v), TaskKind::Ballot) => role_of(&v.voters),
            (StepKind::Rating(r), TaskKind::Rate) => role_of(&r.raters),
            _ => role_of(step.assignee.as_ref().unwrap_or(&Assignee::Initiator)),
        };
        let task = self.state.next_task_id();
        let record = TaskState {
            step: step.id.clone(),
            entry,
            assignee: assignee.clone(),
            role,
            org,
            kind,
            status: TaskStatus::Open,
            created_at: self.now(),
            due,
            due_at: due.map(|d| self.clock.deadline_instant(d)),
            earliest,
            urged_at: None,
            delegated_by: None,
            added_by,
            blocked_by: None,
            then,
            decided_seq: None,
            occurrence,
        };
        self.emit(Event::TaskCreated { task, record })?;
        let key = format!("{}:{}:assigned", self.state.id, task);
        let vars = self.mail_vars(&step.id, Some(task));
        self.emit(Event::MailQueued {
            mail: Mail {
                key,
                to: assignee,
                kind: "task_assigned".into(),
                vars,
            },
        })
    }

    // ----- acting on tasks -----------------------------------------------

    fn complete(
        &mut self,
        task_id: Uuid,
        actor: &str,
        outcome: Option<&str>,
        form: &Values,
        comment: Option<&str>,
    ) -> R {
        let task = self
            .state
            .tasks
            .get(&task_id)
            .cloned()
            .ok_or_else(|| Rejection::UnknownTask(task_id.to_string()))?;
        if task.status != TaskStatus::Open {
            return Err(Rejection::AlreadyDecided);
        }
        if task.assignee != actor {
            return Err(Rejection::NotAnAssignee(format!(
                "该事项由{}办理",
                person(&task.assignee)
            )));
        }
        match task.kind {
            TaskKind::Ballot => {
                return Err(Rejection::WrongKind("这是表决，请投票，而不是审批".into()));
            }
            TaskKind::Rate => {
                return Err(Rejection::WrongKind(
                    "这是评议，请提交评议，而不是审批".into(),
                ));
            }
            TaskKind::Work => {}
        }
        self.require_active(&task.step)?;
        if let Some(signer) = task.blocked_by.and_then(|b| self.state.tasks.get(&b)) {
            return Err(Rejection::Waiting(format!(
                "须等前加签的{}先审批",
                person(&signer.assignee)
            )));
        }
        let (_, step) = self.step_def(&task.step)?;
        let step = step.clone();
        // No silent choices: without `outcome`, only a step with a single
        // outcome completes; otherwise the answer lists the choices.
        let outcome = match outcome {
            Some(o) => o.to_string(),
            None => only_outcome(&step)?,
        };
        let forward = self.check_outcome(&step, &outcome)?;
        // `today` in a date field (given, or its default): the day it is
        // entered, recorded as that date.
        let today = serde_json::json!(self.clock.local_date(self.now()).to_string());
        let mut form = form.clone();
        for f in step.form.iter().filter(|f| f.kind == FieldKind::Date) {
            let given = form.get(&f.id).or(f.default.as_ref());
            if given.and_then(|v| v.as_str()) == Some(TODAY) {
                form.insert(f.id.clone(), today.clone());
            }
        }
        let form = &form;
        if step.comment_required && comment.is_none_or(|c| c.trim().is_empty()) {
            return Err(Rejection::BadForm(format!(
                "{}每次办理都须填写审批意见",
                step_named(&step)
            )));
        }
        if forward {
            if let Some(e) = task.earliest
                && self.now() < self.clock.start_instant(e)
            {
                return Err(Rejection::TooEarly(self.clock.date_of(e).to_string()));
            }
            self.check_form(&step, form)?;
        } else {
            for k in form.keys() {
                if !step.form.iter().any(|f| &f.id == k) {
                    return Err(Rejection::BadForm(format!(
                        "{}没有表单字段「{k}」",
                        step_named(&step)
                    )));
                }
            }
        }
        let mut form = form.clone();
        for f in &step.form {
            if !form.contains_key(&f.id)
                && let Some(d) = &f.default
            {
                form.insert(f.id.clone(), d.clone());
            }
        }
        if forward && !step.checks.is_empty() {
            let mut scope = self.scope(Some(&step.id));
            for (k, v) in &form {
                scope.set(format!("step.{}.form.{k}", step.id), v.clone());
                scope.set(format!("form.{k}"), v.clone());
            }
            for check in &step.checks {
                if !check
                    .expr
                    .eval_bool(&scope)
                    .map_err(Rejection::CheckFailed)?
                {
                    return Err(Rejection::CheckFailed(check.message.clone()));
                }
            }
        }
        // A delegate's decision is an opinion: the task goes back to its
        // owner, who decides (委派).
        if task.delegated_by.is_some() {
            self.emit(Event::DelegationResolved {
                task: task_id,
                by: actor.to_string(),
                opinion: outcome.clone(),
                form,
                comment: comment.map(str::to_string),
            })?;
            let owner = self
                .state
                .tasks
                .get(&task_id)
                .map(|t| t.assignee.clone())
                .unwrap_or_default();
            let key = format!("{}:{}:resolved:{}", self.state.id, task_id, self.state.seq);
            let vars = self.mail_vars(&step.id, Some(task_id));
            return self.emit(Event::MailQueued {
                mail: Mail {
                    key,
                    to: owner,
                    kind: "task_assigned".into(),
                    vars,
                },
            });
        }
        let unblocks = self
            .state
            .tasks
            .values()
            .any(|t| t.blocked_by == Some(task_id));
        self.emit(Event::TaskCompleted {
            task: task_id,
            actor: actor.to_string(),
            outcome: outcome.clone(),
            form,
            comment: comment.map(str::to_string),
            automatic: None,
        })?;
        if let Some(n) = task.occurrence {
            self.occurrence_settled(&step.id, n)?;
        }
        if outcome == "approve" {
            // A signer added before someone (前加签): they may now decide.
            if unblocks {
                return Ok(());
            }
            // Signers added after this one (后加签) approve next, in order.
            if let Some((next, rest)) = task.then.split_first() {
                let mut new =
                    self.new_task(&step.id, next.clone(), TaskKind::Work, task.org.clone());
                new.added_by = Some(task.added_by.clone().unwrap_or_else(|| actor.to_string()));
                new.then = rest.to_vec();
                new.same_occurrence_as(&task);
                return self.create_task(&step, task.entry, new);
            }
        }
        self.after_task(&step, &outcome)
    }

    /// Validates an outcome; returns whether it moves the work forward
    /// (forms and checks apply) rather than rejecting or returning it.
    fn check_outcome(&self, step: &Step, outcome: &str) -> R<bool> {
        let allowed = allowed_outcomes(step);
        if !allowed.iter().any(|a| a == outcome) {
            return Err(Rejection::BadOutcome(format!(
                "{}没有办理结果「{outcome}」（可选：{}）",
                step_named(step),
                outcome_list(step, &allowed)
            )));
        }
        let def = step.outcome(outcome).ok_or_else(|| {
            Rejection::BadOutcome(format!(
                "{}的办理结果{}没有去向",
                step_named(step),
                outcome_named(step, outcome)
            ))
        })?;
        if let Some(max) = def.max_times {
            let used = self
                .state
                .outcome_counts
                .get(&format!("{}:{outcome}", step.id))
                .copied()
                .unwrap_or(0);
            if used >= max {
                return Err(Rejection::BadOutcome(format!(
                    "{}的办理结果{}已用过 {used} 次，达到上限",
                    step_named(step),
                    outcome_named(step, outcome)
                )));
            }
        }
        Ok(!matches!(outcome, "reject" | "return"))
    }

    fn check_form(&self, step: &Step, form: &Values) -> R {
        for k in form.keys() {
            if !step.form.iter().any(|f| &f.id == k) {
                return Err(Rejection::BadForm(format!(
                    "{}没有表单字段「{k}」",
                    step_named(step)
                )));
            }
        }
        for f in &step.form {
            match form.get(&f.id) {
                Some(v) if !v.is_null() => {
                    check_value(&f.id, &f.label, &f.kind, f.min, f.max, v)?;
                    self.check_date(f, v, Some(&step.id))?;
                }
                _ if f.required && f.default.is_none() => {
                    return Err(Rejection::BadForm(format!(
                        "{}为必填项",
                        named(&f.label, &f.id)
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A date someone enters for what already happened may not lie after
    /// the instance's today, nor before the date it depends on
    /// (`not_before`). 《中国共产党发展党员工作细则》第五条 (年满十八岁 at the
    /// application) cannot be passed with a later 申请日期, and a talk
    /// cannot precede the application it answers (第七条).
    fn check_date(&self, f: &crate::model::Field, v: &serde_json::Value, step: Option<&str>) -> R {
        if f.kind != FieldKind::Date {
            return Ok(());
        }
        let Some(date) = v
            .as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        else {
            return Ok(());
        };
        let today = self.clock.local_date(self.now());
        if !f.future && date > today {
            return Err(Rejection::BadForm(format!(
                "「{}」记录的是已经发生的事，不能晚于今天（{today}），填写的是 {date}",
                f.label
            )));
        }
        if let Some(expr) = &f.not_before
            && let Ok(bound) = self.resolve_time(expr, step)
        {
            let earliest = match bound.moment {
                Moment::Date(d) => d,
                Moment::Instant(t) => self.clock.local_date(t),
            };
            if date < earliest {
                return Err(Rejection::BadForm(format!(
                    "「{}」不能早于 {earliest}（{expr}），填写的是 {date}",
                    f.label
                )));
            }
        }
        Ok(())
    }

    /// After a work task is decided: aggregate per approval mode.
    fn after_task(&mut self, step: &Step, outcome: &str) -> R {
        let id = step.id.as_str();
        let s = self.state.steps.get(id).cloned().unwrap_or_default();
        let open = self.state.open_tasks(id).len();
        let total = s.participants.len().max(1) as f64;
        match &step.kind {
            StepKind::Approval { mode } if matches!(outcome, "approve") => match mode {
                ApprovalMode::Any => self.finish_step(id, "approve", None),
                ApprovalMode::All => {
                    if open == 0 {
                        self.finish_step(id, "approve", None)
                    } else {
                        Ok(())
                    }
                }
                ApprovalMode::Sequential => {
                    if let Some(next) = s.queue.first().cloned() {
                        self.create_task(
                            step,
                            s.entry,
                            self.new_task(&step.id, next, TaskKind::Work, None),
                        )
                    } else {
                        self.finish_step(id, "approve", None)
                    }
                }
                ApprovalMode::Ratio(r) => {
                    if f64::from(s.approvals) / total >= *r - 1e-9 {
                        self.finish_step(id, "approve", None)
                    } else if open == 0 {
                        self.finish_step(
                            id,
                            "reject",
                            Some(format!("同意的比例未达到 {}", ratio_words(*r))),
                        )
                    } else {
                        Ok(())
                    }
                }
            },
            StepKind::Approval {
                mode: ApprovalMode::Ratio(r),
            } if outcome == "reject" => {
                let best = f64::from(s.approvals) + open as f64;
                if best / total < *r - 1e-9 {
                    self.finish_step(id, "reject", None)
                } else {
                    Ok(())
                }
            }
            StepKind::Fanout { .. } => {
                if open == 0 {
                    self.finish_step(id, "done", None)
                } else {
                    Ok(())
                }
            }
            StepKind::Recurring(_) => {
                if open == 0 && s.stopped {
                    self.finish_step(id, "done", None)
                } else {
                    Ok(())
                }
            }
            StepKind::Task if open > 0 && outcome == "done" => Ok(()),
            _ => self.finish_step(id, outcome, None),
        }
    }

    /// Checks a `return` to a named step and makes it the route the step
    /// takes: the target must be an earlier step of the same stage (one the
    /// returning step depends on) that has run.
    fn plan_return(&mut self, task: Uuid, outcome: Option<&str>, target: &str) -> R {
        if outcome != Some("return") {
            return Err(Rejection::BadOutcome(
                "指定退回的步骤（`return_to`）时，办理结果须为 `return`".into(),
            ));
        }
        let t = self.open_task(task)?;
        let (stage, _) = self.step_def(&t.step)?;
        let earlier = {
            let mut deps: BTreeSet<String> = BTreeSet::new();
            let mut todo = vec![t.step.clone()];
            while let Some(id) = todo.pop() {
                if let Some(s) = stage.steps.iter().find(|s| s.id == id) {
                    for a in &s.after {
                        if deps.insert(a.clone()) {
                            todo.push(a.clone());
                        }
                    }
                }
            }
            deps
        };
        if !earlier.contains(target) {
            let names: Vec<String> = stage
                .steps
                .iter()
                .filter(|s| earlier.contains(&s.id))
                .map(|s| named(&s.name, &s.id))
                .collect();
            return Err(Rejection::BadOutcome(format!(
                "不能退回到{}：它不是本阶段中此前的步骤（可退回到：{}）",
                self.step_ref(target),
                if names.is_empty() {
                    "无".to_string()
                } else {
                    names.join("、")
                }
            )));
        }
        let ran = self
            .state
            .steps
            .get(target)
            .is_some_and(|s| s.status == StepStatus::Done && s.completed_at.is_some());
        if !ran {
            return Err(Rejection::BadOutcome(format!(
                "不能退回到{}：该步骤还没有办理过",
                self.step_ref(target)
            )));
        }
        self.route_override = Some(Route::Step(target.to_string()));
        Ok(())
    }

    /// An open task of an active step.
    fn open_task(&self, task: Uuid) -> R<TaskState> {
        let t = self
            .state
            .tasks
            .get(&task)
            .cloned()
            .ok_or_else(|| Rejection::UnknownTask(task.to_string()))?;
        if t.status != TaskStatus::Open {
            return Err(Rejection::AlreadyDecided);
        }
        self.require_active(&t.step)?;
        Ok(t)
    }

    fn transfer(&mut self, task: Uuid, actor: &str, to: &str, comment: Option<&str>) -> R {
        let t = self.open_task(task)?;
        if t.assignee != actor {
            return Err(Rejection::NotAnAssignee(format!(
                "该事项由{}办理",
                person(&t.assignee)
            )));
        }
        if to.is_empty() || to == actor {
            return Err(Rejection::BadForm("转办须指定另一位办理人".into()));
        }
        if t.kind != TaskKind::Work {
            return Err(Rejection::WrongKind(
                "表决和评议须由本人进行，不能转办".into(),
            ));
        }
        if t.delegated_by.is_some() {
            return Err(Rejection::WrongKind(
                "委派给您的事项不能转办，请提出您的意见".into(),
            ));
        }
        if self
            .state
            .open_tasks(&t.step)
            .iter()
            .any(|(_, o)| o.assignee == to)
        {
            return Err(Rejection::BadForm(format!(
                "{}在{}中已有待办事项",
                person(to),
                self.step_ref(&t.step)
            )));
        }
        self.emit(Event::TaskTransferred {
            task,
            from: actor.to_string(),
            to: to.to_string(),
            comment: comment.map(str::to_string),
        })?;
        let key = format!("{}:{}:assigned:{}", self.state.id, task, to);
        let vars = self.mail_vars(&t.step, Some(task));
        self.emit(Event::MailQueued {
            mail: Mail {
                key,
                to: to.to_string(),
                kind: "task_assigned".into(),
                vars,
            },
        })
    }

    fn delegate(&mut self, task: Uuid, actor: &str, to: &str, comment: Option<&str>) -> R {
        let t = self.open_task(task)?;
        if t.assignee != actor {
            return Err(Rejection::NotAnAssignee(format!(
                "该事项由{}办理",
                person(&t.assignee)
            )));
        }
        if t.kind != TaskKind::Work {
            return Err(Rejection::WrongKind(
                "表决和评议须由本人进行，不能委派".into(),
            ));
        }
        if t.delegated_by.is_some() {
            return Err(Rejection::WrongKind(
                "委派给您的事项不能再委派，请提出您的意见".into(),
            ));
        }
        if to.is_empty() || to == actor {
            return Err(Rejection::BadForm("委派须指定另一位人员".into()));
        }
        self.emit(Event::TaskDelegated {
            task,
            from: actor.to_string(),
            to: to.to_string(),
            comment: comment.map(str::to_string),
        })?;
        let key = format!(
            "{}:{}:delegated:{}:{}",
            self.state.id, task, to, self.state.seq
        );
        let vars = self.mail_vars(&t.step, Some(task));
        self.emit(Event::MailQueued {
            mail: Mail {
                key,
                to: to.to_string(),
                kind: "task_assigned".into(),
                vars,
            },
        })
    }

    fn add_signer(&mut self, task: Uuid, actor: &str, signer: &str, before: bool) -> R {
        let t = self.open_task(task)?;
        if t.assignee != actor {
            return Err(Rejection::NotAnAssignee(format!(
                "该事项由{}办理",
                person(&t.assignee)
            )));
        }
        let (_, step) = self.step_def(&t.step)?;
        let step = step.clone();
        if !matches!(step.kind, StepKind::Approval { .. }) || t.kind != TaskKind::Work {
            return Err(Rejection::WrongKind("只有审批步骤可以加签".into()));
        }
        if signer.is_empty() {
            return Err(Rejection::BadForm("加签须指定一位人员".into()));
        }
        if signer == actor || t.then.iter().any(|p| p == signer) {
            return Err(Rejection::BadForm(format!(
                "不能加签{}：不能加签自己，也不能重复加签",
                person(signer)
            )));
        }
        if self
            .state
            .open_tasks(&t.step)
            .iter()
            .any(|(_, o)| o.assignee == signer)
        {
            return Err(Rejection::BadForm(format!(
                "{}在{}中已有待办事项",
                person(signer),
                self.step_ref(&t.step)
            )));
        }
        if t.blocked_by.is_some() {
            return Err(Rejection::Waiting(
                "前加签的人员尚未审批，暂不能再加签".into(),
            ));
        }
        let signer_task = if before {
            let mut new = self.new_task(&t.step, signer.to_string(), TaskKind::Work, t.org.clone());
            new.added_by = Some(actor.to_string());
            new.same_occurrence_as(&t);
            let id = self.state.next_task_id();
            self.create_task(&step, t.entry, new)?;
            Some(id)
        } else {
            None
        };
        self.emit(Event::SignerAdded {
            task,
            by: actor.to_string(),
            signer: signer.to_string(),
            position: if before {
                "before".into()
            } else {
                "after".into()
            },
            signer_task,
        })
    }

    fn remove_signer(&mut self, task: Uuid, actor: &str, signer: &str) -> R {
        let t = self
            .state
            .tasks
            .get(&task)
            .cloned()
            .ok_or_else(|| Rejection::UnknownTask(task.to_string()))?;
        if t.assignee != actor {
            return Err(Rejection::NotAnAssignee(format!(
                "该事项由{}办理",
                person(&t.assignee)
            )));
        }
        if t.then.iter().any(|p| p == signer) {
            return self.emit(Event::SignerRemoved {
                task,
                by: actor.to_string(),
                signer: signer.to_string(),
            });
        }
        let added = self
            .state
            .open_tasks(&t.step)
            .into_iter()
            .find(|(_, o)| o.assignee == signer && o.added_by.as_deref() == Some(actor))
            .map(|(id, _)| id);
        match added {
            Some(id) => {
                self.emit(Event::TaskCancelled { task: id })?;
                self.emit(Event::SignerRemoved {
                    task,
                    by: actor.to_string(),
                    signer: signer.to_string(),
                })
            }
            None => Err(Rejection::BadForm(format!(
                "{}不是您加签且尚未审批的人员",
                person(signer)
            ))),
        }
    }

    fn withdraw(&mut self, task: Uuid, actor: &str) -> R {
        let t = self
            .state
            .tasks
            .get(&task)
            .cloned()
            .ok_or_else(|| Rejection::UnknownTask(task.to_string()))?;
        if t.assignee != actor {
            return Err(Rejection::NotAnAssignee(format!(
                "该决定由{}作出，只有本人可以撤回",
                person(&t.assignee)
            )));
        }
        if !matches!(t.status, TaskStatus::Done(_)) || t.kind != TaskKind::Work {
            return Err(Rejection::WrongKind("只能撤回已作出的审批决定".into()));
        }
        if t.decided_seq != Some(self.state.last_decision_seq) {
            return Err(Rejection::TooLate(
                "您作出决定后已有人办理，不能再撤回".into(),
            ));
        }
        let (stage, _) = self.step_def(&t.step)?;
        let stage_id = stage.id.clone();
        let step = self.state.steps.get(&t.step).cloned().unwrap_or_default();
        self.emit(Event::Withdrawn {
            task,
            by: actor.to_string(),
        })?;
        if step.status == StepStatus::Active && step.entry == t.entry {
            // The step still waits for others: the decision is open again.
            let (_, def_step) = self.step_def(&t.step)?;
            let def_step = def_step.clone();
            let mut new = self.new_task(&t.step, actor.to_string(), TaskKind::Work, t.org.clone());
            new.same_occurrence_as(&t);
            return self.create_task(&def_step, t.entry, new);
        }
        let current = self.state.stage.clone().unwrap_or_default();
        if current == stage_id {
            self.follow(&Route::Step(t.step.clone()), &current)
        } else {
            self.follow(
                &Route::Stage {
                    stage: stage_id,
                    step: Some(t.step.clone()),
                },
                &current,
            )
        }
    }

    fn urge(&mut self, task: Uuid, actor: &str) -> R {
        let t = self.open_task(task)?;
        if let Some(last) = t.urged_at
            && self.now() < last + chrono::Duration::hours(1)
        {
            return Err(Rejection::TooSoon(format!(
                "该事项已于 {} 催办过，{} 之后才能再次催办",
                last.with_timezone(&self.clock.tz).format("%H:%M"),
                (last + chrono::Duration::hours(1))
                    .with_timezone(&self.clock.tz)
                    .format("%H:%M")
            )));
        }
        self.emit(Event::Urged {
            task,
            actor: actor.to_string(),
        })?;
        let key = format!("{}:{}:urge:{}", self.state.id, task, self.state.seq);
        let mut vars = self.mail_vars(&t.step, Some(task));
        vars.insert("reason".into(), format!("{actor} 催办").into());
        vars.insert("actor".into(), actor.into());
        self.emit(Event::MailQueued {
            mail: Mail {
                key,
                to: t.assignee.clone(),
                kind: "urge".into(),
                vars,
            },
        })
    }

    /// Refuses acting on a step before its `earliest` time.
    fn check_earliest(&self, step: &str) -> R {
        if let Some(e) = self.state.steps.get(step).and_then(|s| s.earliest)
            && self.now() < self.clock.start_instant(e)
        {
            return Err(Rejection::TooEarly(self.clock.date_of(e).to_string()));
        }
        Ok(())
    }

    /// Whether an outcome of a step has reached its `max_times`.
    fn exhausted(&self, step: &Step, outcome: &str) -> bool {
        let used = self
            .state
            .outcome_counts
            .get(&format!("{}:{outcome}", step.id))
            .copied()
            .unwrap_or(0);
        step.outcomes
            .get(outcome)
            .and_then(|o| o.max_times)
            .is_some_and(|max| used >= max)
    }

    fn check_chair(&self, step: &str, actor: &str) -> R {
        let (_, s) = self.step_def(step)?;
        if actor == SYSTEM {
            return Ok(());
        }
        let chairs = match &s.assignee {
            Some(a) => self.resolve_people(a)?,
            None => vec![self.state.initiator.clone()],
        };
        if chairs.iter().any(|c| c == actor) {
            Ok(())
        } else {
            let chairs: Vec<String> = chairs.iter().map(|c| person(c)).collect();
            Err(Rejection::NotAnAssignee(format!(
                "只有{}可以结束{}",
                chairs.join("、"),
                self.step_ref(step)
            )))
        }
    }

    fn cast_ballot(&mut self, step_id: &str, voter: &str, choice: &str, written: bool) -> R {
        let (_, step) = self.step_def(step_id)?;
        let StepKind::Vote(rule) = &step.kind else {
            return Err(Rejection::WrongKind(format!(
                "{}不是表决步骤",
                self.step_ref(step_id)
            )));
        };
        let choices: Vec<String> = if rule.choices.is_empty() {
            vec!["yes".into(), "no".into(), "abstain".into()]
        } else {
            let mut c = rule.choices.clone();
            c.push("abstain".into());
            c
        };
        let step = step.clone();
        self.require_active(step_id)?;
        self.check_earliest(step_id)?;
        if self.exhausted(&step, choice) {
            return Err(Rejection::BadOutcome(format!(
                "选项{}已达到 {} 次的上限，不能再选",
                outcome_named(&step, choice),
                step.outcomes
                    .get(choice)
                    .and_then(|o| o.max_times)
                    .unwrap_or(0)
            )));
        }
        let s = self.state.steps.get(step_id).cloned().unwrap_or_default();
        if !s.participants.iter().any(|p| p == voter) {
            return Err(Rejection::NotAnAssignee(format!(
                "{}在{}中没有表决权",
                person(voter),
                self.step_ref(step_id)
            )));
        }
        if s.ballots.contains_key(voter) {
            return Err(Rejection::AlreadyDecided);
        }
        if !choices.iter().any(|c| c == choice) {
            return Err(Rejection::BadOutcome(format!(
                "选票上没有选项「{choice}」（可选：{}）",
                outcome_list(&step, &choices)
            )));
        }
        self.emit(Event::BallotCast {
            step: step_id.to_string(),
            voter: voter.to_string(),
            ballot: Ballot {
                choice: choice.to_string(),
                written,
            },
        })?;
        self.complete_own_task(step_id, voter, "voted")?;
        if self
            .state
            .steps
            .get(step_id)
            .is_some_and(|s| s.ballots.len() == s.participants.len())
        {
            self.close_vote(step_id, None)?;
        }
        Ok(())
    }

    /// Marks a participant's ballot or rating task as done.
    fn complete_own_task(&mut self, step_id: &str, person: &str, outcome: &str) -> R {
        let task = self
            .state
            .open_tasks(step_id)
            .into_iter()
            .find(|(_, t)| t.assignee == person)
            .map(|(id, _)| id);
        match task {
            Some(task) => self.emit(Event::TaskCompleted {
                task,
                actor: person.to_string(),
                outcome: outcome.to_string(),
                form: Values::new(),
                comment: None,
                automatic: None,
            }),
            None => Ok(()),
        }
    }

    /// Counts a vote. The meeting's date is recorded with the count
    /// (`step.ID.form.held_on`): 党章 第七条 counts the 预备期 from the day
    /// the 支部大会 adopted the resolution, which may be before the ballots
    /// were entered; it can be neither after today nor before the step
    /// opened.
    fn close_vote(&mut self, step_id: &str, held_on: Option<chrono::NaiveDate>) -> R {
        self.require_active(step_id)?;
        let today = self.clock.local_date(self.now());
        let held_on = held_on.unwrap_or(today);
        let opened = self
            .state
            .steps
            .get(step_id)
            .and_then(|s| s.activated_at)
            .map(|t| self.clock.local_date(t));
        if held_on > today {
            return Err(Rejection::BadForm(format!(
                "「会议召开日期」不能晚于今天（{today}），填写的是 {held_on}"
            )));
        }
        if let Some(opened) = opened
            && held_on < opened
        {
            return Err(Rejection::BadForm(format!(
                "「会议召开日期」不能早于表决开始的日期（{opened}），填写的是 {held_on}"
            )));
        }
        let (_, step) = self.step_def(step_id)?;
        let StepKind::Vote(rule) = &step.kind else {
            return Err(Rejection::WrongKind(format!(
                "{}不是表决步骤",
                self.step_ref(step_id)
            )));
        };
        let rule = rule.clone();
        let s = self.state.steps.get(step_id).cloned().unwrap_or_default();
        let mut tally = Tally {
            eligible: s.participants.len() as u32,
            present: s.ballots.values().filter(|b| !b.written).count() as u32,
            cast: s.ballots.len() as u32,
            counts: BTreeMap::new(),
        };
        for b in s.ballots.values() {
            *tally.counts.entry(b.choice.clone()).or_default() += 1;
        }
        let scope_for = |yes: u32, no: u32| {
            let mut sc = Scope::default();
            sc.set("eligible", tally.eligible.into());
            sc.set("present", tally.present.into());
            sc.set("cast", tally.cast.into());
            sc.set("yes", yes.into());
            sc.set("no", no.into());
            sc.set(
                "abstain",
                tally.counts.get("abstain").copied().unwrap_or(0).into(),
            );
            sc
        };
        let count = |c: &str| tally.counts.get(c).copied().unwrap_or(0);
        let quorum = rule
            .quorum
            .eval_bool(&scope_for(count("yes"), count("no")))
            .map_err(Rejection::CheckFailed)?;
        let outcome = if !quorum {
            "no_quorum".to_string()
        } else if rule.choices.is_empty() {
            let pass = rule
                .pass
                .eval_bool(&scope_for(count("yes"), count("no")))
                .map_err(Rejection::CheckFailed)?;
            if pass { "pass".into() } else { "fail".into() }
        } else {
            let mut winner = None;
            for c in &rule.choices {
                if self.exhausted(step, c) {
                    continue;
                }
                let others = tally.cast - count(c) - count("abstain");
                if rule
                    .pass
                    .eval_bool(&scope_for(count(c), others))
                    .map_err(Rejection::CheckFailed)?
                {
                    winner = Some(c.clone());
                    break;
                }
            }
            winner.unwrap_or_else(|| "fail".into())
        };
        let explanation = explain_tally(&tally, quorum, &outcome, &rule);
        self.emit(Event::VoteClosed {
            step: step_id.to_string(),
            tally,
            quorum,
            explanation,
            held_on: Some(held_on),
        })?;
        self.finish_step(step_id, &outcome, None)
    }

    fn submit_rating(
        &mut self,
        step_id: &str,
        rater: &str,
        ratings: &BTreeMap<String, RatingValue>,
    ) -> R {
        let (_, step) = self.step_def(step_id)?;
        let StepKind::Rating(rule) = &step.kind else {
            return Err(Rejection::WrongKind(format!(
                "{}不是评议步骤",
                self.step_ref(step_id)
            )));
        };
        let rule = rule.clone();
        self.require_active(step_id)?;
        self.check_earliest(step_id)?;
        let s = self.state.steps.get(step_id).cloned().unwrap_or_default();
        if !s.participants.iter().any(|p| p == rater) {
            return Err(Rejection::NotAnAssignee(format!(
                "{}不参加{}的评议",
                person(rater),
                self.step_ref(step_id)
            )));
        }
        if s.ratings.contains_key(rater) {
            return Err(Rejection::AlreadyDecided);
        }
        for (ratee, value) in ratings {
            if !s.ratees.iter().any(|(p, _)| p == ratee) {
                return Err(Rejection::BadForm(format!(
                    "{}不是{}的评议对象",
                    person(ratee),
                    self.step_ref(step_id)
                )));
            }
            match (&rule.scheme, value) {
                (RatingScheme::Scale { grades }, RatingValue::Grade(g)) => {
                    if !grades.iter().any(|x| &x.id == g) {
                        let ids: Vec<String> = grades
                            .iter()
                            .map(|g| format!("{}（{}）", g.id, g.name))
                            .collect();
                        return Err(Rejection::BadForm(format!(
                            "没有等次「{g}」（可选：{}）",
                            ids.join("、")
                        )));
                    }
                }
                (RatingScheme::Rubric { items, .. }, RatingValue::Scores(scores)) => {
                    for item in items {
                        let v = scores.get(&item.id).copied().unwrap_or(0.0);
                        if !(item.min..=item.max).contains(&v) {
                            return Err(Rejection::BadForm(format!(
                                "{}的分数 {v} 超出范围（{} 到 {}）",
                                named(&item.name, &item.id),
                                item.min,
                                item.max
                            )));
                        }
                    }
                    if let Some(k) = scores.keys().find(|k| !items.iter().any(|i| &i.id == *k)) {
                        let known: Vec<String> = items
                            .iter()
                            .map(|i| format!("{}（{}）", i.id, i.name))
                            .collect();
                        return Err(Rejection::BadForm(format!(
                            "没有评分项「{k}」（评分项：{}）",
                            known.join("、")
                        )));
                    }
                }
                _ => {
                    return Err(Rejection::BadForm(format!(
                        "评议内容与{}的评议方式不符（{}）",
                        self.step_ref(step_id),
                        match &rule.scheme {
                            RatingScheme::Scale { .. } => "应评定等次",
                            RatingScheme::Rubric { .. } => "应逐项打分",
                        }
                    )));
                }
            }
        }
        self.emit(Event::RatingSubmitted {
            step: step_id.to_string(),
            rater: rater.to_string(),
            ratings: ratings.clone(),
        })?;
        self.complete_own_task(step_id, rater, "rated")?;
        if self
            .state
            .steps
            .get(step_id)
            .is_some_and(|s| s.ratings.len() == s.participants.len())
        {
            self.close_rating(step_id)?;
        }
        Ok(())
    }

    fn close_rating(&mut self, step_id: &str) -> R {
        self.require_active(step_id)?;
        let (_, step) = self.step_def(step_id)?;
        let StepKind::Rating(rule) = &step.kind else {
            return Err(Rejection::WrongKind(format!(
                "{}不是评议步骤",
                self.step_ref(step_id)
            )));
        };
        let s = self.state.steps.get(step_id).cloned().unwrap_or_default();
        let results = crate::rating::aggregate(rule, &s.ratees, &s.ratings);
        self.emit(Event::RatingClosed {
            step: step_id.to_string(),
            results,
        })?;
        self.finish_step(step_id, "done", None)
    }

    // ----- timers ----------------------------------------------------------

    fn fire_timer(&mut self, timer: &str) -> R {
        let Some(t) = self.state.timers.get(timer).cloned() else {
            // Already fired or disarmed: firing again does nothing.
            return Ok(());
        };
        if t.at > self.now() {
            return Err(Rejection::TooEarly(t.at.to_rfc3339()));
        }
        self.emit(Event::TimerFired {
            timer: timer.to_string(),
        })?;
        if t.purpose == TimerPurpose::WindowOpens {
            return self.advance();
        }
        let current = self
            .state
            .steps
            .get(&t.target)
            .is_some_and(|s| s.status == StepStatus::Active && s.entry == t.entry);
        if !current {
            return Ok(());
        }
        let (_, step) = self.step_def(&t.target)?;
        let step = step.clone();
        // An occurrence's timers concern that occurrence's tasks only.
        let open: Vec<(Uuid, TaskState)> = self
            .state
            .open_tasks(&step.id)
            .into_iter()
            .filter(|(_, task)| t.occurrence.is_none() || task.occurrence == t.occurrence)
            .map(|(id, t)| (id, t.clone()))
            .collect();
        match t.purpose {
            TimerPurpose::RemindBefore | TimerPurpose::Due | TimerPurpose::RemindAfter { .. } => {
                let (kind, n) = match t.purpose {
                    TimerPurpose::RemindBefore => ("reminder", timer.to_string()),
                    TimerPurpose::Due if step.remind.at_due => ("overdue", "due".to_string()),
                    TimerPurpose::Due => return Ok(()),
                    TimerPurpose::RemindAfter { n } => ("overdue", format!("after-{n}")),
                    _ => return Ok(()),
                };
                for (task, rec) in open {
                    let key = format!("{}:{}:{}:{}", self.state.id, task, kind, n);
                    let vars = self.mail_vars(&step.id, Some(task));
                    self.emit(Event::MailQueued {
                        mail: Mail {
                            key,
                            to: rec.assignee.clone(),
                            kind: kind.into(),
                            vars,
                        },
                    })?;
                }
                Ok(())
            }
            TimerPurpose::Escalate { index } => {
                let Some(esc) = step.escalate.get(index) else {
                    return Ok(());
                };
                if open.is_empty() {
                    return Ok(());
                }
                let to = self.resolve_people(&esc.to)?;
                let late: Vec<String> = open.iter().map(|(_, t)| t.assignee.clone()).collect();
                let due = match t.occurrence {
                    Some(_) => open.first().and_then(|(_, task)| task.due),
                    None => self.state.steps.get(&step.id).and_then(|s| s.due),
                };
                let what = match t.occurrence {
                    Some(n) => format!("{}（第 {n} 期）", step.name),
                    None => step.name.clone(),
                };
                let reason = format!(
                    "{what} 已逾期（期限 {}），未办理人：{}",
                    due.map(|d| self.clock.date_of(d).to_string())
                        .unwrap_or_default(),
                    late.join("、")
                );
                self.emit(Event::Escalated {
                    step: step.id.clone(),
                    to: to.clone(),
                    reason: reason.clone(),
                    tasks: open.iter().map(|(id, _)| *id).collect(),
                })?;
                for p in to {
                    let key = match t.occurrence {
                        Some(n) => format!(
                            "{}:{}#{}:occ-{n}:escalation-{}:{}",
                            self.state.id, step.id, t.entry, index, p
                        ),
                        None => format!(
                            "{}:{}#{}:escalation-{}:{}",
                            self.state.id, step.id, t.entry, index, p
                        ),
                    };
                    let mut vars = self.mail_vars(&step.id, None);
                    vars.insert("reason".into(), reason.clone().into());
                    if let Some(d) = due {
                        vars.insert("due".into(), self.clock.date_of(d).to_string().into());
                    }
                    self.emit(Event::MailQueued {
                        mail: Mail {
                            key,
                            to: p,
                            kind: "escalation".into(),
                            vars,
                        },
                    })?;
                }
                Ok(())
            }
            TimerPurpose::Timeout => {
                let Some(rule) = &step.on_timeout else {
                    return Ok(());
                };
                let word = step
                    .outcomes
                    .get(&rule.outcome)
                    .map(|o| o.label.clone())
                    .unwrap_or_else(|| outcome_word(&rule.outcome).to_string());
                let reason = format!("期限已过，按规则自动{word}");
                for (task, _) in &open {
                    self.emit(Event::TaskCompleted {
                        task: *task,
                        actor: SYSTEM.into(),
                        outcome: rule.outcome.clone(),
                        form: Values::new(),
                        comment: None,
                        automatic: Some(reason.clone()),
                    })?;
                }
                let outcome = rule.outcome.clone();
                self.finish_step(&step.id, &outcome, Some(reason))
            }
            TimerPurpose::WaitEnd => self.finish_step(&step.id, "done", None),
            TimerPurpose::Occurrence => self.open_occurrence(&step, t.entry, true),
            TimerPurpose::Until => {
                // An occurrence due at the same instant (or earlier) opens
                // first, whatever order the shell fires the timers in.
                let pending: Vec<String> = self
                    .state
                    .timers
                    .iter()
                    .filter(|(_, x)| {
                        x.target == step.id && x.purpose == TimerPurpose::Occurrence && x.at <= t.at
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in pending {
                    self.emit(Event::TimerFired { timer: id })?;
                    self.open_occurrence(&step, t.entry, false)?;
                }
                self.emit(Event::RecurrenceStopped {
                    step: step.id.clone(),
                })?;
                if self.state.open_tasks(&step.id).is_empty() {
                    self.finish_step(&step.id, "done", None)
                } else {
                    Ok(())
                }
            }
            TimerPurpose::WindowOpens => Ok(()),
        }
    }

    /// Opens the next occurrence of a recurring step; arms the one after
    /// it unless `rearm` is false or it falls past `until`.
    fn open_occurrence(&mut self, step: &Step, entry: u32, rearm: bool) -> R {
        let StepKind::Recurring(rec) = &step.kind else {
            return Ok(());
        };
        let s = self.state.steps.get(&step.id).cloned().unwrap_or_default();
        if s.stopped {
            return Ok(());
        }
        let n = s.occurrences + 1;
        self.emit(Event::OccurrenceOpened {
            step: step.id.clone(),
            n,
        })?;
        let mut people: Vec<(String, Option<String>)> = Vec::new();
        if let Some((sel, role)) = &rec.orgs {
            for org in self.select_orgs(sel)? {
                for p in self.ctx.directory.holders(&org, role) {
                    people.push((p, Some(org.clone())));
                }
            }
        } else {
            let a = step.assignee.clone().unwrap_or(Assignee::Initiator);
            for p in self.resolve_people(&a)? {
                people.push((p, None));
            }
        }
        let due = rec.within.map(|w| {
            let base = day_or_instant(
                &self.clock,
                Moment::Instant(self.now()),
                w.unit.is_day_based(),
            );
            let due = self.clock.shift(self.ctx.calendar, base, w, true).moment;
            // The same 民法典 第203条 rule as a step's own deadline.
            let within = TimeExpr {
                offset: Some((w, true)),
                anchor: crate::time::Anchor::Activated,
            };
            self.shift_off_holiday(&within, due).0
        });
        for (assignee, org) in people {
            let new = NewTask {
                assignee,
                kind: TaskKind::Work,
                org,
                due,
                earliest: None,
                added_by: None,
                then: Vec::new(),
                occurrence: Some(n),
            };
            self.create_task(step, entry, new)?;
        }
        if let Some(d) = due {
            self.arm_deadline_timers(step, entry, d, Watch::Occurrence(n))?;
        }
        if !rearm {
            return Ok(());
        }
        let next = self.occurrence_at(&step.id, rec.every, n + 1)?;
        let until = self
            .state
            .timers
            .get(&timer_id(&step.id, entry, "until"))
            .map(|u| u.at);
        if until.is_none_or(|u| next <= u) {
            self.arm(
                &step.id,
                entry,
                TimerPurpose::Occurrence,
                next,
                &format!("occurrence-{}", n + 1),
            )?;
        }
        Ok(())
    }

    // ----- finishing steps and routing -----------------------------------

    fn finish_step(&mut self, step_id: &str, outcome: &str, automatic: Option<String>) -> R {
        let (_, step) = self.step_def(step_id)?;
        let step = step.clone();
        let outcome_def = step.outcome(outcome).ok_or_else(|| {
            Rejection::BadOutcome(format!(
                "{}的办理结果{}没有去向",
                step_named(&step),
                outcome_named(&step, outcome)
            ))
        })?;
        if let Some(max) = outcome_def.max_times {
            let used = self
                .state
                .outcome_counts
                .get(&format!("{step_id}:{outcome}"))
                .copied()
                .unwrap_or(0);
            if used >= max {
                return Err(Rejection::BadOutcome(format!(
                    "{}的办理结果{}已用过 {used} 次，达到上限",
                    step_named(&step),
                    outcome_named(&step, outcome)
                )));
            }
        }
        self.close_step(step_id)?;
        self.emit(Event::StepCompleted {
            step: step_id.to_string(),
            outcome: outcome.to_string(),
            automatic,
        })?;
        for set in &step.set {
            let value = match &set.value {
                SetValue::Expr(e) => e
                    .eval(&self.scope(Some(step_id)))
                    .map_err(Rejection::CheckFailed)?,
                SetValue::Date(t) => {
                    let r = self.resolve_time(t, Some(step_id))?;
                    serde_json::Value::String(self.clock.date_of(r.moment).to_string())
                }
            };
            self.emit(Event::VarSet {
                name: set.name.clone(),
                value,
            })?;
        }
        let current_stage = self.state.stage.clone().unwrap_or_default();
        let route = match self.route_override.take().unwrap_or(outcome_def.route) {
            Route::Retry => Route::Step(step_id.to_string()),
            r => r,
        };
        self.follow(&route, &current_stage)
    }

    /// Withdraws a step's open tasks and timers.
    /// Once every task of an occurrence is done, its reminders and 督办
    /// are disarmed.
    fn occurrence_settled(&mut self, step_id: &str, n: u32) -> R {
        let open = self
            .state
            .open_tasks(step_id)
            .iter()
            .any(|(_, t)| t.occurrence == Some(n));
        if open {
            return Ok(());
        }
        let timers: Vec<String> = self
            .state
            .timers
            .iter()
            .filter(|(_, t)| t.target == step_id && t.occurrence == Some(n))
            .map(|(id, _)| id.clone())
            .collect();
        for timer in timers {
            self.emit(Event::TimerDisarmed { timer })?;
        }
        Ok(())
    }

    fn close_step(&mut self, step_id: &str) -> R {
        let tasks: Vec<Uuid> = self
            .state
            .open_tasks(step_id)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for task in tasks {
            self.emit(Event::TaskCancelled { task })?;
        }
        let timers: Vec<String> = self
            .state
            .timers
            .iter()
            .filter(|(_, t)| t.target == step_id)
            .map(|(id, _)| id.clone())
            .collect();
        for timer in timers {
            self.emit(Event::TimerDisarmed { timer })?;
        }
        Ok(())
    }

    fn leave_stage(&mut self, stage_id: &str) -> R {
        let Some(stage) = self.def.stage(stage_id) else {
            return Ok(());
        };
        let ids: Vec<String> = stage.steps.iter().map(|s| s.id.clone()).collect();
        for id in &ids {
            self.close_step(id)?;
        }
        let window = timer_id(stage_id, 0, "window");
        if self.state.timers.contains_key(&window) {
            self.emit(Event::TimerDisarmed { timer: window })?;
        }
        Ok(())
    }

    fn close_everything(&mut self) -> R {
        if let Some(stage) = self.state.stage.clone() {
            self.leave_stage(&stage)?;
        }
        let timers: Vec<String> = self.state.timers.keys().cloned().collect();
        for timer in timers {
            self.emit(Event::TimerDisarmed { timer })?;
        }
        Ok(())
    }

    fn follow(&mut self, route: &Route, current_stage: &str) -> R {
        self.routes_left = self.routes_left.checked_sub(1).ok_or_else(|| {
            Rejection::Definition(
                "流程陷入循环，没有等待任何人办理：它的去向又回到立即结束的步骤".into(),
            )
        })?;
        match route {
            Route::Next => self.advance(),
            Route::Retry => Err(Rejection::Definition("`retry` 须指明步骤".into())),
            Route::Step(step) => {
                let stage = self.def.stage(current_stage).ok_or_else(|| {
                    Rejection::Definition(format!("未知的阶段「{current_stage}」"))
                })?;
                for s in dependents(stage, step) {
                    self.close_step(&s)?;
                    self.emit(Event::StepReset { step: s })?;
                }
                self.advance()
            }
            Route::Stage { stage, step } => {
                self.leave_stage(current_stage)?;
                self.enter_stage(stage, step.as_deref())
            }
            Route::End(end) => {
                self.close_everything()?;
                self.emit(Event::InstanceEnded {
                    end_state: end.clone(),
                })
            }
        }
    }

    // ----- resolution --------------------------------------------------------

    fn resolve_time(&self, expr: &TimeExpr, step: Option<&str>) -> R<Resolved> {
        resolve(expr, &self.clock, self.ctx.calendar, |a| {
            self.anchor(a, step)
        })
        .map_err(|a| {
            Rejection::CheckFailed(format!("「{a}」还没有值（计算时间「{expr}」需要用到）"))
        })
    }

    fn anchor(&self, a: &Anchor, step: Option<&str>) -> Option<Moment> {
        let st = &self.state;
        let instant = |t: Option<DateTime<Utc>>| t.map(Moment::Instant);
        let date_value = |v: Option<&serde_json::Value>| {
            v.and_then(|v| v.as_str())
                .and_then(|s| {
                    chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
                })
                .map(Moment::Date)
        };
        match a {
            // A step being activated reads "now"; an active one its activation.
            Anchor::Activated => match step.and_then(|s| st.steps.get(s)) {
                Some(s) if s.status == StepStatus::Active => instant(s.activated_at),
                _ => Some(Moment::Instant(self.now())),
            },
            Anchor::Started => instant(st.started_at),
            Anchor::StageEntered => instant(st.stage_entered_at),
            Anchor::StepCompleted(s) => instant(st.steps.get(s).and_then(|s| s.completed_at)),
            Anchor::StepActivated(s) => instant(st.steps.get(s).and_then(|s| s.activated_at)),
            Anchor::StepField(s, f) => date_value(st.steps.get(s).and_then(|s| s.form.get(f))),
            Anchor::Input(i) => date_value(st.inputs.get(i)),
            Anchor::Var(v) => date_value(st.vars.get(v)),
            Anchor::Date(d) => Some(Moment::Date(*d)),
        }
    }

    fn scope(&self, step: Option<&str>) -> Scope {
        let st = &self.state;
        let mut scope = Scope::default();
        scope.set_all("input.", &st.inputs);
        scope.set_all("var.", &st.vars);
        scope.set_all("subject.", &st.subject.attrs);
        scope.set(
            "today",
            self.clock.local_date(self.now()).to_string().into(),
        );
        for (id, s) in &st.steps {
            scope.set_all(&format!("step.{id}.form."), &s.form);
            if let Some(o) = &s.outcome {
                scope.set(format!("step.{id}.outcome"), o.clone().into());
            }
            if let Some(t) = s.completed_at {
                scope.set(
                    format!("step.{id}.completed_at"),
                    self.clock.local_date(t).to_string().into(),
                );
            }
        }
        if let Some(step) = step
            && let Some(s) = st.steps.get(step)
        {
            scope.set_all("form.", &s.form);
        }
        scope
    }

    fn org_of(&self, r: &OrgRef) -> R<String> {
        let dir = self.ctx.directory;
        let own = self.state.subject.org.clone();
        let missing = |what: &str, above: &str| Rejection::EmptyAssignee {
            role: what.to_string(),
            org: own.clone(),
            detail: format!("{}没有{above}，无法确定办理人", self.org_ref(&own)),
        };
        Ok(match r {
            OrgRef::Own => own.clone(),
            OrgRef::Parent => dir
                .parent(&own)
                .ok_or_else(|| missing("(parent organization)", "上级组织"))?,
            OrgRef::Grandparent => dir
                .parent(&own)
                .and_then(|p| dir.parent(&p))
                .ok_or_else(|| missing("(grandparent organization)", "上上级组织"))?,
            OrgRef::Ancestor(kind) => {
                let above = format!("「{kind}」一级的上级组织");
                let mut cur = Some(own.clone());
                let mut hops = 0;
                loop {
                    let Some(org) = cur else {
                        return Err(missing(&format!("(ancestor of kind {kind})"), &above));
                    };
                    if dir.kind(&org).as_deref() == Some(kind.as_str()) {
                        break org;
                    }
                    hops += 1;
                    if hops > 64 {
                        return Err(missing(&format!("(ancestor of kind {kind})"), &above));
                    }
                    cur = dir.parent(&org);
                }
            }
        })
    }

    fn select_orgs(&self, sel: &crate::model::OrgSelector) -> R<Vec<String>> {
        let root = self.org_of(&sel.under)?;
        Ok(self.ctx.directory.orgs_under(&root, sel.kind.as_deref()))
    }

    fn resolve_people(&self, a: &Assignee) -> R<Vec<String>> {
        let st = &self.state;
        match a {
            Assignee::Subject => {
                st.subject
                    .person
                    .clone()
                    .map(|p| vec![p])
                    .ok_or_else(|| Rejection::EmptyAssignee {
                        role: "subject".into(),
                        org: st.subject.org.clone(),
                        detail: match self.def.subject {
                            SubjectKind::Person => format!(
                                "没有指明流程对象（发起时的 `subject`），无法把事项交给{}",
                                self.role_ref("subject")
                            ),
                            SubjectKind::Organization => format!(
                                "本流程的对象是组织，没有{}可以办理",
                                self.role_ref("subject")
                            ),
                        },
                    })
            }
            Assignee::Initiator => Ok(vec![st.initiator.clone()]),
            Assignee::Field(path) => {
                let scope = self.scope(None);
                match scope.get(path).and_then(|v| v.as_str()) {
                    Some(p) if !p.is_empty() => Ok(vec![p.to_string()]),
                    _ => Err(Rejection::EmptyAssignee {
                        role: path.clone(),
                        org: st.subject.org.clone(),
                        detail: format!("办理人取自 `{path}`，但那里还没有填写人员"),
                    }),
                }
            }
            Assignee::Role { role, org } => {
                let org_id = self.org_of(org)?;
                let people = self.ctx.directory.holders(&org_id, role);
                if !people.is_empty() {
                    return Ok(people);
                }
                if self.def.empty_assignee == EmptyAssignee::ParentSecretary
                    && let Some(parent) = self.ctx.directory.parent(&org_id)
                {
                    let p = self.ctx.directory.holders(&parent, "secretary");
                    if !p.is_empty() {
                        return Ok(p);
                    }
                }
                let detail = format!(
                    "{}没有人担任{}，无法确定办理人",
                    self.org_ref(&org_id),
                    self.role_ref(role)
                );
                Err(Rejection::EmptyAssignee {
                    role: role.clone(),
                    org: org_id,
                    detail,
                })
            }
        }
    }

    // ----- how refusals name things ---------------------------------------

    /// A step as people read it: 步骤「谈话」(talk).
    fn step_ref(&self, id: &str) -> String {
        let name = self.def.step(id).map_or(id, |(_, s)| s.name.as_str());
        format!("步骤{}", named(name, id))
    }

    /// A role as people read it: 「书记」(secretary).
    fn role_ref(&self, role: &str) -> String {
        named(self.def.role_name(role), role)
    }

    /// An organization as people read it: 「机关第一党支部」(zb4), or its id
    /// when the directory has no name for it.
    fn org_ref(&self, org: &str) -> String {
        match self.ctx.directory.name(org) {
            Some(name) => named(&name, org),
            None => format!("「{org}」"),
        }
    }

    fn mail_vars(&self, step_id: &str, task: Option<Uuid>) -> Values {
        let mut v = Values::new();
        v.insert("workflow".into(), self.def.name.clone().into());
        v.insert("instance".into(), self.state.id.to_string().into());
        if let Some((stage, step)) = self.def.step(step_id) {
            v.insert("stage".into(), stage.name.clone().into());
            v.insert("step".into(), step.name.clone().into());
        }
        if let Some(task) = task {
            v.insert("task".into(), task.to_string().into());
        }
        // A task's own deadline (an occurrence's) before the step's.
        let due = task
            .and_then(|t| self.state.tasks.get(&t))
            .and_then(|t| t.due)
            .or_else(|| self.state.steps.get(step_id).and_then(|s| s.due));
        v.insert(
            "due".into(),
            due.map(|d| self.clock.date_of(d).to_string())
                .unwrap_or_default()
                .into(),
        );
        v.insert(
            "subject".into(),
            self.state
                .subject
                .person
                .clone()
                .unwrap_or_else(|| self.state.subject.org.clone())
                .into(),
        );
        v
    }
}

/// A tally in words, for the history: `应到 11 人，实到 9 人，书面意见 1 份；
/// 赞成 7，反对 2，弃权 1：通过（规则 yes > eligible / 2）`.
fn explain_tally(
    tally: &Tally,
    quorum: bool,
    outcome: &str,
    rule: &crate::model::VoteRule,
) -> String {
    let written = tally.cast.saturating_sub(tally.present);
    let counts: Vec<String> = tally
        .counts
        .iter()
        .map(|(choice, n)| {
            let word = match choice.as_str() {
                "yes" => "赞成",
                "no" => "反对",
                "abstain" => "弃权",
                other => other,
            };
            format!("{word} {n}")
        })
        .collect();
    let result = if !quorum {
        format!("不足法定人数（规则 {}），须重新表决", rule.quorum.source)
    } else {
        let word = match outcome {
            "pass" => "通过",
            "fail" => "未通过",
            other => other,
        };
        format!("{word}（规则 {}）", rule.pass.source)
    };
    format!(
        "应到 {} 人，实到 {} 人，书面意见 {} 份；{}：{}",
        tally.eligible,
        tally.present,
        written,
        if counts.is_empty() {
            "无人投票".to_string()
        } else {
            counts.join("，")
        },
        result
    )
}

fn outcome_word(outcome: &str) -> &str {
    match outcome {
        "approve" => "通过",
        "reject" => "驳回",
        "return" => "退回",
        "done" => "办结",
        "yes" => "赞成",
        "no" => "反对",
        "abstain" => "弃权",
        "pass" => "通过",
        "fail" => "未通过",
        "no_quorum" => "不足法定人数",
        "sent" => "已发送",
        other => other,
    }
}

/// The label of one of a step's outcomes (or a ballot's choices).
fn outcome_label<'a>(step: &'a Step, id: &'a str) -> &'a str {
    match step.outcomes.get(id) {
        Some(o) if !o.label.is_empty() && o.label != id => &o.label,
        _ => outcome_word(id),
    }
}

/// An outcome as refusals name it: 「同意」(agree).
fn outcome_named(step: &Step, id: &str) -> String {
    named(outcome_label(step, id), id)
}

/// Outcomes to choose from, as a caller writes them with what they mean:
/// `approve（同意）、reject（不同意）`.
fn outcome_list(step: &Step, ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("{id}（{}）", outcome_label(step, id)))
        .collect::<Vec<_>>()
        .join("、")
}

/// A name as refusals show it, with the id a caller writes when they
/// differ: 「谈话」(talk), or 「talk」 alone.
fn named(name: &str, id: &str) -> String {
    if name.trim().is_empty() || name == id {
        format!("「{id}」")
    } else {
        format!("「{name}」({id})")
    }
}

/// A step as refusals name it: 步骤「谈话」(talk).
fn step_named(step: &Step) -> String {
    format!("步骤{}", named(&step.name, &step.id))
}

/// A person as refusals name them (the engine knows people by id).
fn person(id: &str) -> String {
    format!("「{id}」")
}

/// A share of approvals in words: `67%`.
fn ratio_words(r: f64) -> String {
    format!("{}%", (r * 1000.0).round() / 10.0)
}

/// The outcomes a person may complete a step's task with.
fn allowed_outcomes(step: &Step) -> Vec<String> {
    let mut all = outcomes_of_kind(step);
    // 退回 only where the step's operations allow it.
    all.retain(|o| o != "return" || step.allows("return"));
    all
}

fn outcomes_of_kind(step: &Step) -> Vec<String> {
    match &step.kind {
        StepKind::Approval { .. } => {
            let mut v: Vec<String> = ["approve", "reject", "return"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for id in step.outcomes.keys() {
                if !v.contains(id) {
                    v.push(id.clone());
                }
            }
            v
        }
        _ if step.outcomes.is_empty() => Step::default_outcomes(&step.kind)
            .iter()
            .map(|s| s.to_string())
            .collect(),
        _ => step.outcomes.keys().cloned().collect(),
    }
}

/// The outcome of a step that has only one; with several, a rejection
/// that lists them (`approve（同意）、reject（不同意）`).
fn only_outcome(step: &Step) -> R<String> {
    let allowed = allowed_outcomes(step);
    if let [only] = allowed.as_slice() {
        return Ok(only.clone());
    }
    Err(Rejection::BadOutcome(format!(
        "「{}」有多个办理结果，请用 `outcome` 指明其一：{}",
        step.name,
        outcome_list(step, &allowed)
    )))
}

/// For day-based spans anchor on the local date; else on the instant.
fn day_or_instant(clock: &Clock, m: Moment, day_based: bool) -> Moment {
    if day_based {
        Moment::Date(clock.date_of(m))
    } else {
        m
    }
}

/// The id of a step's timer in one entry.
pub fn timer_id(target: &str, entry: u32, name: &str) -> String {
    format!("{target}#{entry}:{name}")
}

/// A step and every step of the stage that depends on it, in stage order.
fn dependents(stage: &crate::model::Stage, step: &str) -> Vec<String> {
    let mut set: BTreeSet<&str> = BTreeSet::new();
    set.insert(step);
    loop {
        let before = set.len();
        for s in &stage.steps {
            if s.after.iter().any(|a| set.contains(a.as_str())) {
                set.insert(&s.id);
            }
        }
        if set.len() == before {
            break;
        }
    }
    stage
        .steps
        .iter()
        .filter(|s| set.contains(s.id.as_str()))
        .map(|s| s.id.clone())
        .collect()
}

fn check_value(
    id: &str,
    label: &str,
    kind: &FieldKind,
    min: Option<f64>,
    max: Option<f64>,
    v: &serde_json::Value,
) -> R {
    let field = named(label, id);
    let bad = |what: &str| Rejection::BadForm(format!("{field}应为{what}，填写的是 {v}"));
    match kind {
        FieldKind::Text
        | FieldKind::Textarea
        | FieldKind::Person
        | FieldKind::Org
        | FieldKind::File => {
            if !v.is_string() {
                return Err(bad("文本"));
            }
        }
        FieldKind::Boolean => {
            if !v.is_boolean() {
                return Err(bad("`true` 或 `false`"));
            }
        }
        FieldKind::Date => {
            let ok = v
                .as_str()
                .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok());
            if !ok {
                return Err(bad("日期（YYYY-MM-DD）"));
            }
        }
        FieldKind::Choice(options) => {
            let ok = v.as_str().is_some_and(|s| options.iter().any(|o| o == s));
            if !ok {
                let options: Vec<String> = options.iter().map(|o| format!("「{o}」")).collect();
                return Err(bad(&format!("{}之一", options.join(""))));
            }
        }
        FieldKind::Integer | FieldKind::Number => {
            let n = if *kind == FieldKind::Integer {
                v.as_i64().map(|i| i as f64).ok_or_else(|| bad("整数"))?
            } else {
                v.as_f64().ok_or_else(|| bad("数字"))?
            };
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                let range = match (min, max) {
                    (Some(lo), Some(hi)) => format!("在 {lo} 到 {hi} 之间"),
                    (Some(lo), None) => format!("不小于 {lo}"),
                    (None, Some(hi)) => format!("不大于 {hi}"),
                    (None, None) => String::new(),
                };
                return Err(Rejection::BadForm(format!(
                    "{field}应{range}，填写的是 {n}"
                )));
            }
        }
    }
    Ok(())
}
