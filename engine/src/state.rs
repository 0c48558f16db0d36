//! Instance state, events and the hash chain.
//!
//! The state is a fold over the events: [`InstanceState::evolve`] applies
//! one event and cannot fail. Replaying the stored events reproduces the
//! state exactly; the machine only ever changes state by emitting events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::time::Moment;

/// A JSON object of named values (inputs, form values, variables).
pub type Values = serde_json::Map<String, serde_json::Value>;

/// The hash that precedes the first event of every instance.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who or what an instance is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The person (for person workflows).
    pub person: Option<String>,
    /// The organization the subject belongs to, or is.
    pub org: String,
    /// Attributes readable as `subject.NAME` (e.g. `birth_date`).
    #[serde(default)]
    pub attrs: Values,
}

/// Lifecycle of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "end_state")]
pub enum Status {
    /// Not started yet (the state before `Start`).
    #[default]
    New,
    /// Running.
    Running,
    /// Reached an end state.
    Ended(String),
    /// Cancelled by a person.
    Cancelled,
}

/// Lifecycle of a step within its current entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Waiting for its `after` steps (or for its stage).
    #[default]
    Waiting,
    /// Open for work.
    Active,
    /// Ended with an outcome.
    Done,
    /// Skipped by its guard.
    Skipped,
}

/// A ballot in a vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    /// The choice (`yes`, `no`, `abstain`, or a declared choice).
    pub choice: String,
    /// A written opinion by an absent voter: counts as cast, not present.
    pub written: bool,
}

/// One rater's rating of one ratee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingValue {
    /// A grade id of a scale.
    Grade(String),
    /// Scores per rubric item.
    Scores(BTreeMap<String, f64>),
}

/// The record of a step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    /// Status in the current entry.
    pub status: StepStatus,
    /// How many times the step has been activated.
    pub entry: u32,
    /// When the current entry was activated.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it last completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// The outcome it last completed with.
    pub outcome: Option<String>,
    /// Deadline of the current entry.
    pub due: Option<Moment>,
    /// Not-before time of the current entry.
    pub earliest: Option<Moment>,
    /// Whether a working-day count used an unpublished holiday year.
    pub provisional: bool,
    /// Form values of the last completion.
    pub form: Values,
    /// People still to act, in order (sequential approvals).
    pub queue: Vec<String>,
    /// Eligible voters or raters.
    pub participants: Vec<String>,
    /// Ratees with the role they were selected by.
    pub ratees: Vec<(String, String)>,
    /// Ballots by voter.
    pub ballots: BTreeMap<String, Ballot>,
    /// Ratings by rater, then ratee.
    pub ratings: BTreeMap<String, BTreeMap<String, RatingValue>>,
    /// Results of a closed rating, by ratee.
    pub results: BTreeMap<String, String>,
    /// Occurrences created (recurring steps).
    pub occurrences: u32,
    /// A recurring step past its `until`.
    pub stopped: bool,
    /// Approvals counted in this entry.
    pub approvals: u32,
    /// How many approvers took part in this entry.
    pub approvers: u32,
}

/// What a task asks of its assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Complete a form / decide an outcome.
    Work,
    /// Cast a ballot.
    Ballot,
    /// Submit ratings.
    Rate,
}

/// Lifecycle of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "outcome")]
pub enum TaskStatus {
    /// Waiting for its assignee.
    Open,
    /// Decided with an outcome.
    Done(String),
    /// Withdrawn (the step ended otherwise).
    Cancelled,
}

/// A task for one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    /// The step it belongs to.
    pub step: String,
    /// The step entry it belongs to.
    pub entry: u32,
    /// Who must act.
    pub assignee: String,
    /// The role the assignee was chosen by, if any.
    pub role: Option<String>,
    /// The organization it is done for (fan-outs), if any.
    pub org: Option<String>,
    /// What it asks.
    pub kind: TaskKind,
    /// Status.
    pub status: TaskStatus,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Deadline.
    pub due: Option<Moment>,
    /// The instant the deadline is missed (in the definition's time zone).
    pub due_at: Option<DateTime<Utc>>,
    /// Not before.
    pub earliest: Option<Moment>,
    /// When it was last urged (催办).
    #[serde(default)]
    pub urged_at: Option<DateTime<Utc>>,
    /// The owner who delegated it (委派); the task returns to them.
    #[serde(default)]
    pub delegated_by: Option<String>,
    /// Who added this signer (加签), if it was added.
    #[serde(default)]
    pub added_by: Option<String>,
    /// A signer added before this task's assignee, who must approve first.
    #[serde(default)]
    pub blocked_by: Option<Uuid>,
    /// Signers added after this task's assignee, in order.
    #[serde(default)]
    pub then: Vec<String>,
    /// The event number of its decision.
    #[serde(default)]
    pub decided_seq: Option<u64>,
    /// The occurrence of a recurring step it was opened for (from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
}

/// Why a timer was armed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "purpose")]
pub enum TimerPurpose {
    /// The step's deadline passed.
    Due,
    /// A reminder before the deadline.
    RemindBefore,
    /// A repeating reminder after the deadline (nth).
    RemindAfter {
        /// Which repetition, from 1.
        n: u32,
    },
    /// An escalation (index into the step's list).
    Escalate {
        /// Index of the escalation.
        index: usize,
    },
    /// The automatic outcome.
    Timeout,
    /// The end of a wait.
    WaitEnd,
    /// The next occurrence of a recurring step.
    Occurrence,
    /// The end of a recurring step.
    Until,
    /// A stage window opens.
    WindowOpens,
}

/// An armed timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerState {
    /// When it fires.
    pub at: DateTime<Utc>,
    /// The step (or stage, for windows) it belongs to.
    pub target: String,
    /// The step entry it belongs to.
    pub entry: u32,
    /// Why.
    pub purpose: TimerPurpose,
    /// The occurrence of a recurring step whose deadline it watches (its
    /// reminders and 督办 concern that occurrence's tasks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurrence: Option<u32>,
}

/// A mail to send, with its idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mail {
    /// `(instance, task or step, kind, occurrence)`: unique per mail.
    pub key: String,
    /// Person id of the recipient.
    pub to: String,
    /// Notification kind, also the template id (`task_assigned`, `reminder`,
    /// `overdue`, `escalation`, `notice`).
    pub kind: String,
    /// Values for the template.
    pub vars: Values,
}

/// Tally of a closed vote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// 应到会有表决权的人数.
    pub eligible: u32,
    /// Present in person.
    pub present: u32,
    /// Ballots cast (present + written).
    pub cast: u32,
    /// Ballots per choice.
    pub counts: BTreeMap<String, u32>,
}

/// Something that happened to an instance. Past tense; append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    /// The instance started.
    InstanceStarted {
        /// Definition id.
        definition: String,
        /// Definition version.
        version: u32,
        /// Subject.
        subject: Subject,
        /// Who started it.
        initiator: String,
        /// Inputs with defaults applied.
        inputs: Values,
    },
    /// A stage was entered.
    StageEntered {
        /// Stage id.
        stage: String,
    },
    /// A step was put back to waiting (stage entry, 退回, retry).
    StepReset {
        /// Step id.
        step: String,
    },
    /// A step was activated.
    StepActivated {
        /// Step id.
        step: String,
        /// Deadline.
        due: Option<Moment>,
        /// Not before.
        earliest: Option<Moment>,
        /// Whether a working-day count used an unpublished year.
        provisional: bool,
        /// Eligible voters, raters or approvers in order.
        participants: Vec<String>,
        /// Ratees and the role they were selected by.
        ratees: Vec<(String, String)>,
    },
    /// A step was skipped by its guard.
    StepSkipped {
        /// Step id.
        step: String,
    },
    /// A task was created.
    TaskCreated {
        /// Task id.
        task: Uuid,
        /// Task record.
        record: TaskState,
    },
    /// A task was decided.
    TaskCompleted {
        /// Task id.
        task: Uuid,
        /// Who acted (`system` for automatic outcomes).
        actor: String,
        /// Outcome.
        outcome: String,
        /// Form values.
        form: Values,
        /// Comment (审批意见).
        comment: Option<String>,
        /// Reason when decided automatically.
        automatic: Option<String>,
    },
    /// A task was handed to another person (转办).
    TaskTransferred {
        /// Task id.
        task: Uuid,
        /// The previous assignee.
        from: String,
        /// The new assignee.
        to: String,
        /// Why.
        comment: Option<String>,
    },
    /// A task was delegated (委派): the delegate gives an opinion and the
    /// task returns to its owner.
    TaskDelegated {
        /// Task id.
        task: Uuid,
        /// The owner.
        from: String,
        /// The delegate.
        to: String,
        /// Why.
        comment: Option<String>,
    },
    /// A delegate gave their opinion; the task is back with its owner.
    DelegationResolved {
        /// Task id.
        task: Uuid,
        /// The delegate.
        by: String,
        /// The outcome the delegate recommends.
        opinion: String,
        /// Form values the delegate filled.
        form: Values,
        /// The delegate's comment.
        comment: Option<String>,
    },
    /// A signer was added (加签) before or after a task's assignee.
    SignerAdded {
        /// The task the signer was added to.
        task: Uuid,
        /// Who added them.
        by: String,
        /// The added signer.
        signer: String,
        /// `before` or `after`.
        position: String,
        /// The added signer's task (for `before`).
        signer_task: Option<Uuid>,
    },
    /// An added signer was removed (减签).
    SignerRemoved {
        /// The task the signer had been added to.
        task: Uuid,
        /// Who removed them.
        by: String,
        /// The removed signer.
        signer: String,
    },
    /// A decision was withdrawn (撤回) before anyone acted after it.
    Withdrawn {
        /// The task whose decision was withdrawn.
        task: Uuid,
        /// Who withdrew.
        by: String,
    },
    /// A file was attached to a task.
    FileAttached {
        /// Task id.
        task: Uuid,
        /// Who uploaded it.
        by: String,
        /// File id.
        file: Uuid,
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
        /// SHA-256, hex.
        sha256: String,
    },
    /// A comment was added to a task.
    Commented {
        /// Task id.
        task: Uuid,
        /// Who.
        actor: String,
        /// The text.
        text: String,
    },
    /// A task's assignee was urged (催办).
    Urged {
        /// Task id.
        task: Uuid,
        /// Who urged.
        actor: String,
    },
    /// A task was copied to people (抄送).
    CopiedTo {
        /// Task id.
        task: Uuid,
        /// Who sent it.
        actor: String,
        /// Recipients.
        to: Vec<String>,
        /// A note.
        comment: Option<String>,
    },
    /// A task was withdrawn.
    TaskCancelled {
        /// Task id.
        task: Uuid,
    },
    /// A ballot was cast.
    BallotCast {
        /// Step id.
        step: String,
        /// Voter.
        voter: String,
        /// Ballot.
        ballot: Ballot,
    },
    /// A vote was counted.
    VoteClosed {
        /// Step id.
        step: String,
        /// The tally.
        tally: Tally,
        /// Whether the quorum was met.
        quorum: bool,
        /// The count and the result in words.
        #[serde(default)]
        explanation: String,
        /// The day the meeting was held (recorded as the step's
        /// `form.held_on`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held_on: Option<chrono::NaiveDate>,
    },
    /// A rater submitted ratings.
    RatingSubmitted {
        /// Step id.
        step: String,
        /// Rater.
        rater: String,
        /// Ratings by ratee.
        ratings: BTreeMap<String, RatingValue>,
    },
    /// Ratings were aggregated into grades.
    RatingClosed {
        /// Step id.
        step: String,
        /// Grade per ratee (`no_grade` for those who get none).
        results: BTreeMap<String, String>,
    },
    /// A step ended with an outcome.
    StepCompleted {
        /// Step id.
        step: String,
        /// Outcome.
        outcome: String,
        /// Reason when automatic.
        automatic: Option<String>,
    },
    /// A computed value was stored.
    VarSet {
        /// Name.
        name: String,
        /// Value.
        value: serde_json::Value,
    },
    /// A recurring step opened an occurrence.
    OccurrenceOpened {
        /// Step id.
        step: String,
        /// Occurrence number from 1.
        n: u32,
    },
    /// A recurring step stopped recurring.
    RecurrenceStopped {
        /// Step id.
        step: String,
    },
    /// A timer was armed.
    TimerArmed {
        /// Timer id.
        timer: String,
        /// Timer record.
        record: TimerState,
    },
    /// A timer was disarmed.
    TimerDisarmed {
        /// Timer id.
        timer: String,
    },
    /// A timer fired.
    TimerFired {
        /// Timer id.
        timer: String,
    },
    /// A mail was queued.
    MailQueued {
        /// The mail.
        mail: Mail,
    },
    /// A step's work was escalated (督办).
    Escalated {
        /// Step id.
        step: String,
        /// Who was told.
        to: Vec<String>,
        /// Why.
        reason: String,
        /// The open tasks that were late.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tasks: Vec<Uuid>,
    },
    /// A child instance was requested.
    ChildRequested {
        /// Step id.
        step: String,
        /// Child's workflow id.
        workflow: String,
        /// Child's inputs.
        inputs: Values,
    },
    /// The instance reached an end state.
    InstanceEnded {
        /// End state id.
        end_state: String,
    },
    /// The instance was cancelled.
    InstanceCancelled {
        /// Who cancelled.
        actor: String,
        /// Why.
        reason: String,
    },
}

/// An event as stored: numbered, timed and chained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Position in the instance's history, from 1.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Hash of the previous event (`GENESIS_HASH` for the first).
    pub prev_hash: String,
    /// Hash of this event.
    pub hash: String,
    /// The event.
    pub event: Event,
}

impl RecordedEvent {
    /// Computes the hash of an event given its position and predecessor.
    pub fn compute_hash(seq: u64, at: DateTime<Utc>, prev_hash: &str, event: &Event) -> String {
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(seq.to_be_bytes());
        h.update(at.to_rfc3339().as_bytes());
        // Serializing our own event types cannot fail.
        h.update(serde_json::to_vec(event).unwrap_or_default());
        hex::encode(h.finalize())
    }
}

/// Where a hash chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {seq} breaks the hash chain: {reason}")]
pub struct ChainError {
    /// The first bad event.
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// Checks that events are numbered from 1 and each hash matches.
pub fn verify_chain(events: &[RecordedEvent]) -> Result<(), ChainError> {
    let mut prev = GENESIS_HASH.to_string();
    for (i, e) in events.iter().enumerate() {
        let seq = i as u64 + 1;
        if e.seq != seq {
            return Err(ChainError {
                seq: e.seq,
                reason: format!("expected number {seq}"),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainError {
                seq,
                reason: "previous hash does not match".into(),
            });
        }
        let h = RecordedEvent::compute_hash(e.seq, e.at, &e.prev_hash, &e.event);
        if h != e.hash {
            return Err(ChainError {
                seq,
                reason: "content does not match its hash".into(),
            });
        }
        prev = h;
    }
    Ok(())
}

/// The state of one instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceState {
    /// Instance id.
    pub id: Uuid,
    /// Definition id.
    pub definition: String,
    /// Definition version.
    pub version: u32,
    /// Lifecycle.
    pub status: Status,
    /// Subject.
    pub subject: Subject,
    /// Who started it.
    pub initiator: String,
    /// Inputs.
    pub inputs: Values,
    /// Computed values.
    pub vars: Values,
    /// Started at.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended or cancelled at.
    pub ended_at: Option<DateTime<Utc>>,
    /// Current stage.
    pub stage: Option<String>,
    /// When the current stage was entered.
    pub stage_entered_at: Option<DateTime<Utc>>,
    /// Steps by id.
    pub steps: BTreeMap<String, StepState>,
    /// Tasks by id.
    pub tasks: BTreeMap<Uuid, TaskState>,
    /// Armed timers by id.
    pub timers: BTreeMap<String, TimerState>,
    /// How often each `step:outcome` was taken.
    pub outcome_counts: BTreeMap<String, u32>,
    /// Number of events (the optimistic-concurrency version).
    pub seq: u64,
    /// Hash of the last event.
    pub last_hash: String,
    /// Tasks created so far (for task ids).
    pub task_count: u64,
    /// The event number of the latest decision by a person.
    #[serde(default)]
    pub last_decision_seq: u64,
    /// Whether anyone but the initiator decided a task.
    #[serde(default)]
    pub acted_by_others: bool,
    /// Everyone who ever held a task in it or was sent a copy (抄送): they
    /// may read it after the task moved on (转办, a delegation that came
    /// back).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub readers: std::collections::BTreeSet<String>,
}

impl InstanceState {
    /// The state before the first event.
    pub fn new(id: Uuid) -> InstanceState {
        InstanceState {
            id,
            last_hash: GENESIS_HASH.to_string(),
            ..InstanceState::default()
        }
    }

    /// Rebuilds a state from its events.
    pub fn replay(id: Uuid, events: &[RecordedEvent]) -> InstanceState {
        let mut s = InstanceState::new(id);
        for e in events {
            s.evolve(e);
        }
        s
    }

    /// The id the next task will get.
    pub fn next_task_id(&self) -> Uuid {
        Uuid::new_v5(&self.id, format!("task-{}", self.task_count + 1).as_bytes())
    }

    fn unblock(&mut self, done: Uuid) {
        for t in self.tasks.values_mut() {
            if t.blocked_by == Some(done) {
                t.blocked_by = None;
            }
        }
    }

    /// Open tasks of a step.
    pub fn open_tasks(&self, step: &str) -> Vec<(Uuid, &TaskState)> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.step == step && t.status == TaskStatus::Open)
            .map(|(id, t)| (*id, t))
            .collect()
    }

    /// Applies one recorded event. Never fails: an event that names
    /// something unknown changes only what it can.
    pub fn evolve(&mut self, rec: &RecordedEvent) {
        self.seq = rec.seq;
        self.last_hash = rec.hash.clone();
        let at = rec.at;
        match &rec.event {
            Event::InstanceStarted {
                definition,
                version,
                subject,
                initiator,
                inputs,
            } => {
                self.definition = definition.clone();
                self.version = *version;
                self.subject = subject.clone();
                self.initiator = initiator.clone();
                self.inputs = inputs.clone();
                self.status = Status::Running;
                self.started_at = Some(at);
            }
            Event::StageEntered { stage } => {
                self.stage = Some(stage.clone());
                self.stage_entered_at = Some(at);
            }
            Event::StepReset { step } => {
                let s = self.steps.entry(step.clone()).or_default();
                s.status = StepStatus::Waiting;
            }
            Event::StepActivated {
                step,
                due,
                earliest,
                provisional,
                participants,
                ratees,
            } => {
                let s = self.steps.entry(step.clone()).or_default();
                s.status = StepStatus::Active;
                s.entry += 1;
                s.activated_at = Some(at);
                s.due = *due;
                s.earliest = *earliest;
                s.provisional = *provisional;
                s.queue = participants.clone();
                s.participants = participants.clone();
                s.ratees = ratees.clone();
                s.ballots.clear();
                s.ratings.clear();
                s.results.clear();
                s.occurrences = 0;
                s.stopped = false;
                s.approvals = 0;
                s.approvers = 0;
            }
            Event::StepSkipped { step } => {
                let s = self.steps.entry(step.clone()).or_default();
                s.status = StepStatus::Skipped;
                s.entry += 1;
            }
            Event::TaskCreated { task, record } => {
                self.task_count += 1;
                self.readers.insert(record.assignee.clone());
                if let Some(s) = self.steps.get_mut(&record.step) {
                    s.queue.retain(|p| p != &record.assignee);
                }
                self.tasks.insert(*task, record.clone());
            }
            Event::TaskCompleted {
                task,
                outcome,
                form,
                actor,
                ..
            } => {
                self.unblock(*task);
                if actor != "system" {
                    self.last_decision_seq = rec.seq;
                    if actor != &self.initiator {
                        self.acted_by_others = true;
                    }
                }
                if let Some(t) = self.tasks.get_mut(task) {
                    t.decided_seq = Some(rec.seq);
                    t.status = TaskStatus::Done(outcome.clone());
                    if let Some(s) = self.steps.get_mut(&t.step)
                        && t.kind == TaskKind::Work
                    {
                        s.approvers += 1;
                        if outcome == "approve" {
                            s.approvals += 1;
                        }
                        for (k, v) in form {
                            s.form.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            Event::TaskTransferred { task, to, .. } => {
                self.readers.insert(to.clone());
                if let Some(t) = self.tasks.get_mut(task) {
                    t.assignee = to.clone();
                }
            }
            Event::Urged { task, .. } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.urged_at = Some(at);
                }
            }
            Event::TaskDelegated { task, from, to, .. } => {
                self.readers.insert(to.clone());
                if let Some(t) = self.tasks.get_mut(task) {
                    t.delegated_by = Some(from.clone());
                    t.assignee = to.clone();
                }
            }
            Event::DelegationResolved { task, .. } => {
                if let Some(t) = self.tasks.get_mut(task)
                    && let Some(owner) = t.delegated_by.take()
                {
                    t.assignee = owner;
                }
            }
            Event::SignerAdded {
                task,
                signer,
                position,
                signer_task,
                ..
            } => {
                self.readers.insert(signer.clone());
                if let Some(t) = self.tasks.get_mut(task) {
                    if position == "after" {
                        t.then.push(signer.clone());
                    } else {
                        t.blocked_by = *signer_task;
                    }
                }
            }
            Event::SignerRemoved { task, signer, .. } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.then.retain(|p| p != signer);
                }
            }
            Event::Withdrawn { task, .. } => {
                if let Some(t) = self.tasks.get(task).cloned()
                    && let Some(s) = self.steps.get_mut(&t.step)
                    && s.entry == t.entry
                    && s.status == StepStatus::Active
                {
                    s.approvers = s.approvers.saturating_sub(1);
                    if t.status == TaskStatus::Done("approve".into()) {
                        s.approvals = s.approvals.saturating_sub(1);
                    }
                }
                if let Some(t) = self.tasks.get_mut(task) {
                    t.status = TaskStatus::Cancelled;
                }
            }
            Event::CopiedTo { to, .. } => {
                self.readers.extend(to.iter().cloned());
            }
            Event::Commented { .. } | Event::FileAttached { .. } => {}
            Event::TaskCancelled { task } => {
                self.unblock(*task);
                if let Some(t) = self.tasks.get_mut(task) {
                    t.status = TaskStatus::Cancelled;
                }
            }
            Event::BallotCast {
                step,
                voter,
                ballot,
            } => {
                self.last_decision_seq = rec.seq;
                if let Some(s) = self.steps.get_mut(step) {
                    s.ballots.insert(voter.clone(), ballot.clone());
                }
            }
            Event::VoteClosed {
                step,
                held_on: Some(d),
                ..
            } => {
                if let Some(s) = self.steps.get_mut(step) {
                    s.form
                        .insert("held_on".into(), serde_json::json!(d.to_string()));
                }
            }
            Event::VoteClosed { .. } => {}
            Event::RatingSubmitted {
                step,
                rater,
                ratings,
            } => {
                if let Some(s) = self.steps.get_mut(step) {
                    s.ratings.insert(rater.clone(), ratings.clone());
                }
            }
            Event::RatingClosed { step, results } => {
                if let Some(s) = self.steps.get_mut(step) {
                    s.results = results.clone();
                }
            }
            Event::StepCompleted { step, outcome, .. } => {
                let s = self.steps.entry(step.clone()).or_default();
                s.status = StepStatus::Done;
                s.completed_at = Some(at);
                s.outcome = Some(outcome.clone());
                *self
                    .outcome_counts
                    .entry(format!("{step}:{outcome}"))
                    .or_default() += 1;
            }
            Event::VarSet { name, value } => {
                self.vars.insert(name.clone(), value.clone());
            }
            Event::OccurrenceOpened { step, n } => {
                if let Some(s) = self.steps.get_mut(step) {
                    s.occurrences = *n;
                }
            }
            Event::RecurrenceStopped { step } => {
                if let Some(s) = self.steps.get_mut(step) {
                    s.stopped = true;
                }
            }
            Event::TimerArmed { timer, record } => {
                self.timers.insert(timer.clone(), record.clone());
            }
            Event::TimerDisarmed { timer } | Event::TimerFired { timer } => {
                self.timers.remove(timer);
            }
            Event::MailQueued { .. } | Event::Escalated { .. } | Event::ChildRequested { .. } => {}
            Event::InstanceEnded { end_state } => {
                self.status = Status::Ended(end_state.clone());
                self.ended_at = Some(at);
            }
            Event::InstanceCancelled { .. } => {
                self.status = Status::Cancelled;
                self.ended_at = Some(at);
            }
        }
    }
}
