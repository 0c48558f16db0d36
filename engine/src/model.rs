//! The definition model: a validated workflow, as the engine runs it.
//!
//! The YAML language in `stageflow-workflows` compiles into these types; the
//! engine never sees YAML. Every reference here (step ids, stage ids, roles,
//! end states, templates) has been checked by the compiler, so the engine
//! may rely on them and reports a broken reference as a rejection, never a
//! panic.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::expr::Expr;
use crate::time::{Span, TimeExpr};

/// A compiled workflow definition. Immutable once published; instances are
/// pinned to the `(id, version)` they started on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Definition {
    /// ASCII id, e.g. `member-admission`.
    pub id: String,
    /// Version of this definition (published definitions are immutable).
    pub version: u32,
    /// Name shown to users, e.g. `发展党员`.
    pub name: String,
    /// What an instance is about: a person (an applicant) or an organization.
    pub subject: SubjectKind,
    /// Time zone for dates and day arithmetic (default `Asia/Shanghai`).
    pub timezone: Tz,
    /// Name of the working-day calendar (`cn`).
    pub calendar: String,
    /// Values given when an instance starts.
    pub inputs: Vec<InputDef>,
    /// Checks made when an instance starts (e.g. age ≥ 18).
    pub checks: Vec<Check>,
    /// End states an instance can reach.
    pub end_states: Vec<EndState>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
    /// Cron schedules that start this workflow.
    pub schedules: Vec<Schedule>,
    /// Mail templates by id (handlebars source, checked at validation time).
    pub templates: BTreeMap<String, MailTemplate>,
    /// What to do when an assignee rule resolves to nobody.
    pub empty_assignee: EmptyAssignee,
    /// Whether a deadline counted in days, weeks, months or years that
    /// falls on a rest day moves to the next working day.
    pub deadline_on_holiday: HolidayDeadline,
    /// The names people read for role ids (`secretary` → 书记): the
    /// built-in vocabulary and the definition's own `roles:`.
    #[serde(default)]
    pub role_names: BTreeMap<String, String>,
}

impl Definition {
    /// The name of a role as people read it, or the id when it has none.
    pub fn role_name<'a>(&'a self, role: &'a str) -> &'a str {
        self.role_names.get(role).map_or(role, String::as_str)
    }
}

/// Deadlines that fall on a rest day or holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayDeadline {
    /// Move to the next working day (民法典 第203条; the default).
    #[default]
    NextWorkday,
    /// Keep the computed date.
    Keep,
}

/// What an instance is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A person moving through the workflow (e.g. an applicant).
    Person,
    /// An organization (e.g. a branch being appraised).
    Organization,
}

/// A declared input of a workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputDef {
    /// Field definition (id, type, label, required, default).
    #[serde(flatten)]
    pub field: Field,
}

/// A typed form or input field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    /// ASCII id.
    pub id: String,
    /// Label shown to users.
    pub label: String,
    /// Value type.
    pub kind: FieldKind,
    /// Whether a value must be given.
    pub required: bool,
    /// Default value when none is given.
    pub default: Option<serde_json::Value>,
    /// Smallest number allowed (number and integer fields).
    pub min: Option<f64>,
    /// Largest number allowed (number and integer fields).
    pub max: Option<f64>,
    /// A date field that may lie after today (a plan, a term's end). By
    /// default a date records something that happened and may not.
    #[serde(default)]
    pub future: bool,
    /// The earliest date a date field may hold (a talk not before the
    /// application was received, a meeting not before the 公示 ended).
    #[serde(default)]
    pub not_before: Option<crate::time::TimeExpr>,
    /// A person field: the 身份 (directory status) the person must have,
    /// e.g. `[正式党员]` for a 入党介绍人 (细则 第十五条); empty: any. A
    /// person field of a person's case never names that person.
    #[serde(default)]
    pub eligible: Vec<String>,
}

/// The type of a field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "options")]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// Yes or no.
    Boolean,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// A person id.
    Person,
    /// An organization id.
    Org,
    /// One of a fixed list of values.
    Choice(Vec<String>),
    /// A file reference (an id or URL of an uploaded file).
    File,
}

/// A condition that must hold, with the message shown when it does not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// The condition.
    pub expr: Expr,
    /// Message shown when the condition is false.
    pub message: String,
}

/// An end state, e.g. `admitted` (`已接收为正式党员`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndState {
    /// ASCII id.
    pub id: String,
    /// Name shown to users.
    pub name: String,
}

/// A stage: one state of the state machine, holding steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    /// ASCII id.
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// Steps, ordered by their `after` dependencies.
    pub steps: Vec<Step>,
    /// Where the instance goes when every required step is done.
    pub then: Route,
    /// When the stage may be worked on (campaign phases): it is entered no
    /// earlier than `opens`, and its open tasks are due at `closes`.
    pub window: Option<Window>,
}

/// A dated window (a campaign phase).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Window {
    /// Start of the window.
    pub opens: TimeExpr,
    /// End of the window (the last day).
    pub closes: TimeExpr,
}

/// A step inside a stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// ASCII id, unique in the whole definition.
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// What kind of work this step is.
    pub kind: StepKind,
    /// Steps of the same stage that must end first.
    pub after: Vec<String>,
    /// Guard: the step runs only when this is true, else it is skipped.
    pub when: Option<Expr>,
    /// Whether the stage waits for this step.
    pub required: bool,
    /// Who does the work.
    pub assignee: Option<Assignee>,
    /// Deadline.
    pub due: Option<TimeExpr>,
    /// The work may not be completed before this time.
    pub earliest: Option<TimeExpr>,
    /// Reminders around the deadline.
    pub remind: Remind,
    /// Escalations (督办) after the deadline.
    pub escalate: Vec<Escalation>,
    /// Automatic outcome when the deadline passes.
    pub on_timeout: Option<Timeout>,
    /// Outcomes and where they lead.
    pub outcomes: IndexMap<String, Outcome>,
    /// Form fields filled when completing the step.
    pub form: Vec<Field>,
    /// Conditions checked when the step is completed.
    pub checks: Vec<Check>,
    /// Values computed when the step completes (`var.NAME`).
    pub set: Vec<SetVar>,
    /// Whether every decision needs a comment (审批意见).
    #[serde(default)]
    pub comment_required: bool,
    /// Earlier steps' fields this step's assignees do not see in the case
    /// file (字段权限 隐藏; everything else earlier steps recorded is 只读):
    /// `STEP.FIELD`, or `STEP` for a step's whole form.
    #[serde(default)]
    pub hide: Vec<String>,
    /// The operations its tasks allow besides deciding (`transfer`,
    /// `delegate`, `add_signer`, …; see [`STEP_OPERATIONS`]); `None`: the
    /// defaults of its kind ([`Step::allows`]).
    #[serde(default)]
    pub operations: Option<Vec<String>>,
}

/// The operations a step can allow on its tasks, with their names:
/// 转办, 委派, 加签, 减签, 抄送, 退回, 撤回 (one's own decision), 催办.
pub const STEP_OPERATIONS: &[(&str, &str)] = &[
    ("transfer", "转办"),
    ("delegate", "委派"),
    ("add_signer", "加签"),
    ("remove_signer", "减签"),
    ("cc", "抄送"),
    ("return", "退回"),
    ("withdraw", "撤回"),
    ("urge", "催办"),
];

/// The operations that hand a task (or a share of it) to someone else.
const HANDING_ON: &[&str] = &["transfer", "delegate", "add_signer", "remove_signer"];

/// A computed value stored on the instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetVar {
    /// Variable name, read as `var.NAME`.
    pub name: String,
    /// The value.
    pub value: SetValue,
}

/// How a computed value is produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetValue {
    /// An expression.
    Expr(Expr),
    /// A date computed from a time expression.
    Date(TimeExpr),
}

/// The kinds of step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StepKind {
    /// A human task with a form; outcome `done` unless others are declared.
    Task,
    /// An approval by one or more approvers.
    Approval {
        /// How several approvers decide.
        mode: ApprovalMode,
    },
    /// A vote with ballots.
    Vote(Box<VoteRule>),
    /// Raters rate ratees on a scale or a rubric.
    Rating(Box<RatingRule>),
    /// Wait for a time to pass.
    Wait {
        /// When the wait ends.
        until: WaitUntil,
    },
    /// A task on a cadence while the stage is active.
    Recurring(Box<Recurrence>),
    /// One task per organization matched by a selector.
    Fanout {
        /// Which organizations.
        orgs: OrgSelector,
        /// The role that does the task in each organization.
        role: String,
    },
    /// Send a notice (抄送 / announcement) and continue.
    Notify {
        /// Template id.
        template: String,
    },
    /// Start a child instance of another workflow and wait for its end.
    Subflow {
        /// Workflow id of the child.
        workflow: String,
        /// Inputs for the child, as expressions over this instance.
        inputs: BTreeMap<String, Expr>,
    },
}

/// When a wait ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitUntil {
    /// After a period from activation (ends at the end of its last day).
    For(Span),
    /// At a time (the start of a date).
    At(TimeExpr),
}

/// Approval modes, after the vocabulary Chinese OA users know.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// 或签: the first approver decides.
    Any,
    /// 会签: all must approve; one rejection rejects.
    All,
    /// 依次审批: one after another, in order.
    Sequential,
    /// 票签: approved when the share of approvals reaches the threshold.
    Ratio(f64),
}

/// A vote: who votes, what on, and the rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoteRule {
    /// Eligible voters (应到会有表决权的人).
    pub voters: Assignee,
    /// Choices; empty means a yes/no vote with outcomes `pass` and `fail`.
    pub choices: Vec<String>,
    /// Quorum over `eligible`, `present`, `cast`, `yes`, `no`, `abstain`.
    pub quorum: Expr,
    /// Pass rule over the same variables (`yes` counts the choice tested).
    pub pass: Expr,
}

/// A rating: raters × ratees × scale or rubric.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RatingRule {
    /// Who rates.
    pub raters: Assignee,
    /// Who is rated (several rules may be combined).
    pub ratees: Vec<Assignee>,
    /// Roles among the ratees that take part but receive no grade.
    pub no_grade_roles: Vec<String>,
    /// The scale or rubric.
    pub scheme: RatingScheme,
}

/// How ratings are given and turned into grades.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingScheme {
    /// Each rater picks a grade; the grade with most votes wins, ties go to
    /// the lower grade; caps limit the share of a grade.
    Scale {
        /// Grades from best to worst.
        grades: Vec<Grade>,
    },
    /// Each rater scores items; the total (weighted mean over raters)
    /// maps to a grade by thresholds.
    Rubric {
        /// Scored items.
        items: Vec<RubricItem>,
        /// Grades from best to worst with their minimum total.
        grades: Vec<Grade>,
    },
}

/// A grade of a scale or rubric.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grade {
    /// ASCII id.
    pub id: String,
    /// Name shown to users, e.g. `优秀`.
    pub name: String,
    /// Largest share of ratees that may get this grade (e.g. 1/3).
    pub max_share: Option<f64>,
    /// Smallest total score for this grade (rubrics).
    pub min_score: Option<f64>,
}

/// An item of a scored rubric.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RubricItem {
    /// ASCII id.
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// Largest score (a deduction item has a negative minimum instead).
    pub max: f64,
    /// Smallest score (negative for deductions).
    pub min: f64,
    /// Weight of the item in the total.
    pub weight: f64,
}

/// A cadence of tasks while a stage is active.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recurrence {
    /// Period between occurrences, from the step's activation.
    pub every: Span,
    /// Each occurrence is due this long after it opens.
    pub within: Option<Span>,
    /// The step ends (and stops recurring) at this time.
    pub until: Option<TimeExpr>,
    /// One task per matched organization at each occurrence.
    pub orgs: Option<(OrgSelector, String)>,
}

/// Selects organizations in the tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgSelector {
    /// Organization kind, e.g. `党支部`.
    pub kind: Option<String>,
    /// Under which organization.
    pub under: OrgRef,
}

/// An organization relative to the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRef {
    /// The subject's organization.
    Own,
    /// Its parent.
    Parent,
    /// Its parent's parent.
    Grandparent,
    /// The nearest ancestor (or itself) of a kind.
    Ancestor(String),
}

/// Who does a step's work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignee {
    /// The subject person.
    Subject,
    /// The person who started the instance.
    Initiator,
    /// Holders of a role in an organization relative to the subject.
    Role {
        /// Role id.
        role: String,
        /// Which organization.
        org: OrgRef,
    },
    /// The person named in a form field or input (`step.X.form.F`, `input.F`).
    Field(String),
}

/// Policy when an assignee rule resolves to nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmptyAssignee {
    /// Assign to the secretary of the parent organization.
    ParentSecretary,
    /// Reject the command with an error naming the empty role.
    Fail,
    /// Skip the step (e.g. a branch without 预备党员).
    Skip,
}

/// Reminders around a deadline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Remind {
    /// Reminders this long before the deadline.
    pub before: Vec<Span>,
    /// A reminder when the deadline passes.
    pub at_due: bool,
    /// Repeating reminders after the deadline.
    pub every: Option<Span>,
    /// At most this many repeating reminders.
    pub max: u32,
}

/// An escalation (督办) after a deadline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Escalation {
    /// How long after the deadline.
    pub after: Span,
    /// Instead of `after`: a limit counted from its own anchor (the
    /// statute's), never from a deadline moved off a holiday.
    #[serde(default)]
    pub limit: Option<crate::time::TimeExpr>,
    /// Who is told.
    pub to: Assignee,
}

/// An automatic outcome when a deadline passes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeout {
    /// How long after the deadline (zero: at the deadline).
    pub after: Option<Span>,
    /// Instead of `after`: the statutory limit, counted from its own anchor
    /// (六个月 from the 支部大会), never from a deadline moved off a
    /// holiday; the outcome applies when that day has passed.
    #[serde(default)]
    pub limit: Option<crate::time::TimeExpr>,
    /// The outcome applied.
    pub outcome: String,
}

/// An outcome of a step and where it leads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// Name shown on the button, e.g. `通过`.
    pub label: String,
    /// Where the instance goes.
    pub route: Route,
    /// How many times this outcome may be taken in one instance.
    pub max_times: Option<u32>,
}

/// Where an outcome or a finished stage leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The step is done; the stage goes on.
    Next,
    /// Enter a stage (at a step: earlier steps keep their results).
    Stage {
        /// Stage id.
        stage: String,
        /// Step to restart from.
        step: Option<String>,
    },
    /// Re-open a step of the current stage and the steps after it (退回).
    Step(String),
    /// Open this step again (e.g. a vote without quorum).
    Retry,
    /// End the instance.
    End(String),
}

/// A cron schedule that starts instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    /// ASCII id.
    pub id: String,
    /// Cron expression (seconds field first, as the `cron` crate reads it).
    pub cron: String,
    /// Time zone of the cron expression.
    pub timezone: Tz,
    /// Which organizations an instance is started for.
    pub orgs: ScheduleSelector,
    /// Inputs of each started instance.
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// Whether a new occurrence starts while the previous one still runs
    /// for an organization (`allow`) or skips it (`skip`, the default).
    #[serde(default)]
    pub overlap: Overlap,
    /// Which occurrences missed during downtime are fired: the last one
    /// (default), all of them, or none.
    #[serde(default)]
    pub catch_up: CatchUp,
}

/// Overlap policy of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Skip an organization whose previous instance still runs.
    #[default]
    Skip,
    /// Start anyway.
    Allow,
}

/// Catch-up policy of a schedule after downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Fire the last missed occurrence once.
    #[default]
    Last,
    /// Fire every missed occurrence.
    All,
    /// Fire none of them.
    None,
}

/// Organizations a schedule starts instances for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleSelector {
    /// Organization kind, e.g. `党支部`.
    pub kind: String,
    /// Under the organization with this id; all of the tree when absent.
    pub under: Option<String>,
}

/// A mail template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailTemplate {
    /// Subject line (handlebars).
    pub subject: String,
    /// Body (handlebars).
    pub body: String,
}

impl Definition {
    /// Finds a stage by id.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// Finds a step and the stage holding it.
    pub fn step(&self, id: &str) -> Option<(&Stage, &Step)> {
        self.stages
            .iter()
            .find_map(|stage| stage.steps.iter().find(|s| s.id == id).map(|s| (stage, s)))
    }

    /// Index of a stage in order.
    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    /// Whether an end state exists.
    pub fn has_end_state(&self, id: &str) -> bool {
        self.end_states.iter().any(|e| e.id == id)
    }
}

impl StepKind {
    /// The kind's name in the language (`task`, `approval`, `vote`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Task => "task",
            StepKind::Approval { .. } => "approval",
            StepKind::Vote(_) => "vote",
            StepKind::Rating(_) => "rating",
            StepKind::Wait { .. } => "wait",
            StepKind::Recurring(_) => "recurring",
            StepKind::Fanout { .. } => "fanout",
            StepKind::Notify { .. } => "notify",
            StepKind::Subflow { .. } => "subflow",
        }
    }
}

impl Step {
    /// Whether the step's tasks allow an operation of [`STEP_OPERATIONS`].
    /// Declared `operations:` decide; without them, a step assigned to the
    /// subject (the applicant's own 递交入党申请书) or a vote or rating
    /// (each voter's own ballot) cannot be handed on (转办, 委派, 加签,
    /// 减签) and everything else is allowed.
    pub fn allows(&self, op: &str) -> bool {
        if let Some(list) = &self.operations {
            return list.iter().any(|o| o == op);
        }
        let own = matches!(self.assignee, Some(Assignee::Subject))
            || matches!(self.kind, StepKind::Vote(_) | StepKind::Rating(_));
        !(own && HANDING_ON.contains(&op))
    }

    /// The outcomes this step can end with, given its kind, when the
    /// definition declares none.
    pub fn default_outcomes(kind: &StepKind) -> &'static [&'static str] {
        match kind {
            StepKind::Task => &["done"],
            StepKind::Approval { .. } => &["approve", "reject", "return"],
            StepKind::Vote(_) => &["pass", "fail", "no_quorum"],
            StepKind::Rating(_) => &["done"],
            StepKind::Wait { .. } => &["done"],
            StepKind::Recurring(_) => &["done"],
            StepKind::Fanout { .. } => &["done"],
            StepKind::Notify { .. } => &["sent"],
            StepKind::Subflow { .. } => &["done"],
        }
    }

    /// The outcome's definition, or the implicit `next` route for the
    /// standard outcomes a kind produces when the definition is silent.
    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        if let Some(o) = self.outcomes.get(id) {
            return Some(o.clone());
        }
        let route = match id {
            "done" | "sent" | "approve" | "pass" => Route::Next,
            "no_quorum" if matches!(self.kind, StepKind::Vote(_)) => Route::Retry,
            _ => return None,
        };
        Some(Outcome {
            label: id.to_string(),
            route,
            max_times: None,
        })
    }
}
