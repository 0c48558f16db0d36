//! Tasks: the inbox (待办 / 已办), one task, and acting on it.
//!
//! [`App::act`] is the path of an approval: the task and its instance are
//! loaded once, the policy asked, the action turned into the engine's
//! command, and the runtime applies and commits it — with the answer saved
//! under the request's idempotency key in the same transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::machine::{Command, Rejection};
use stageflow_engine::model::{FieldKind, StepKind};
use stageflow_engine::state::{InstanceState, RatingValue, TaskStatus, Values};
use stageflow_runtime::{ExecError, Extras};
use stageflow_store::{InboxQuery, SavedResponse, TaskRow};
use stageflow_workflows::diag::named;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::policy::{Op, Target, TaskScope};
use crate::views::{InstanceView, SubjectView, TaskView, instance_view, task_view};
use crate::{App, Caller};

/// Which tasks of the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatusFilter {
    /// Still to do (待办).
    #[default]
    Pending,
    /// Done (已办).
    Done,
    /// Cancelled.
    Cancelled,
}

/// The inbox query.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// Whose tasks (`None`: the caller's own).
    pub assignee: Option<String>,
    /// Which.
    pub status: TaskStatusFilter,
    /// Only instances of organizations in this subtree.
    pub org: Option<String>,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only tasks due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Only cases whose subject's name (person or organization) contains
    /// this text.
    pub subject: Option<String>,
    /// Page size (at most 500).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// A page of tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    /// Tasks by deadline.
    pub tasks: Vec<TaskView>,
    /// Page size used.
    pub limit: u32,
    /// Offset used.
    pub offset: u32,
}

/// Where an added signer signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignerPosition {
    /// Signs before the one who adds them (and must approve first).
    Before,
    /// Also signs, after.
    #[default]
    After,
}

/// One rater's rating of one ratee: a grade id of a scale, or a score per
/// rubric item.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Rating {
    /// A grade id.
    Grade(String),
    /// Scores by rubric item.
    Scores(BTreeMap<String, f64>),
}

/// What to do with a task: each action carries only its own fields.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// 通过.
    Approve {
        /// Form values.
        #[serde(default)]
        #[schema(value_type = Object)]
        form: Values,
        /// 审批意见.
        comment: Option<String>,
    },
    /// 驳回.
    Reject {
        /// Form values.
        #[serde(default)]
        #[schema(value_type = Object)]
        form: Values,
        /// 审批意见.
        comment: Option<String>,
    },
    /// 退回, to an earlier step of the stage (`to`) or where the
    /// definition routes it.
    Return {
        /// The step to send the work back to.
        to: Option<String>,
        /// Form values.
        #[serde(default)]
        #[schema(value_type = Object)]
        form: Values,
        /// Why.
        comment: Option<String>,
    },
    /// Complete a task with an outcome; it may be left out only when the
    /// step has a single outcome (no silent choices: otherwise 422 listing
    /// them).
    Complete {
        /// The outcome.
        outcome: Option<String>,
        /// Form values.
        #[serde(default)]
        #[schema(value_type = Object)]
        form: Values,
        /// Comment.
        comment: Option<String>,
    },
    /// 转办: the person `to` decides in your place.
    Transfer {
        /// The new assignee.
        to: String,
        /// Why.
        comment: Option<String>,
    },
    /// 委派: the person `to` gives an opinion and the task comes back.
    Delegate {
        /// The delegate.
        to: String,
        /// Why.
        comment: Option<String>,
    },
    /// 加签: the person `to` signs too, before or after you.
    AddSigner {
        /// The added signer.
        to: String,
        /// Before or after (default after).
        #[serde(default)]
        position: SignerPosition,
    },
    /// 减签: remove a signer you added who has not decided.
    RemoveSigner {
        /// The signer.
        to: String,
    },
    /// A comment, without deciding.
    Comment {
        /// The text.
        comment: String,
    },
    /// 催办: remind the assignee now.
    Urge,
    /// 抄送 to people.
    Cc {
        /// Recipients.
        people: Vec<String>,
        /// A note.
        comment: Option<String>,
    },
    /// Cast a ballot.
    Vote {
        /// `yes`, `no`, `abstain` or a declared choice.
        choice: String,
        /// A written opinion by an absent voter (counts as cast, not present).
        #[serde(default)]
        written: bool,
    },
    /// Submit ratings: ratee → grade id, or item → score.
    Rate {
        /// The ratings.
        ratings: BTreeMap<String, Rating>,
    },
    /// 撤回 your decision, before anyone acted after it.
    Withdraw,
}

impl Action {
    /// The action's name on the wire (`approve`, `add_signer`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Approve { .. } => "approve",
            Action::Reject { .. } => "reject",
            Action::Return { .. } => "return",
            Action::Complete { .. } => "complete",
            Action::Transfer { .. } => "transfer",
            Action::Delegate { .. } => "delegate",
            Action::AddSigner { .. } => "add_signer",
            Action::RemoveSigner { .. } => "remove_signer",
            Action::Comment { .. } => "comment",
            Action::Urge => "urge",
            Action::Cc { .. } => "cc",
            Action::Vote { .. } => "vote",
            Action::Rate { .. } => "rate",
            Action::Withdraw => "withdraw",
        }
    }

    /// The step operation it is (`STEP_OPERATIONS`), if the step's
    /// `operations:` govern it; deciding, voting, rating and commenting are
    /// always allowed.
    fn step_operation(&self) -> Option<&'static str> {
        match self {
            Action::Transfer { .. } => Some("transfer"),
            Action::Delegate { .. } => Some("delegate"),
            Action::AddSigner { .. } => Some("add_signer"),
            Action::RemoveSigner { .. } => Some("remove_signer"),
            Action::Cc { .. } => Some("cc"),
            Action::Return { .. } => Some("return"),
            Action::Complete {
                outcome: Some(o), ..
            } if o == "return" => Some("return"),
            Action::Withdraw => Some("withdraw"),
            Action::Urge => Some("urge"),
            _ => None,
        }
    }

    /// What the policy calls it.
    fn op(&self) -> Op {
        match self {
            Action::Comment { .. } => Op::CommentOnTask,
            Action::Urge => Op::UrgeTask,
            _ => Op::ActOnTask,
        }
    }

    /// The form values it records.
    fn form(&self) -> Option<&Values> {
        match self {
            Action::Approve { form, .. }
            | Action::Reject { form, .. }
            | Action::Return { form, .. }
            | Action::Complete { form, .. } => Some(form),
            _ => None,
        }
    }

    /// The people it hands the task (or a copy) to.
    fn recipients(&self) -> Vec<&str> {
        match self {
            Action::Transfer { to, .. }
            | Action::Delegate { to, .. }
            | Action::AddSigner { to, .. } => vec![to.as_str()],
            Action::Cc { people, .. } => people.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// The result of an action: the task and its instance after it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActionResult {
    /// The task after the action.
    pub task: TaskView,
    /// The instance after the action.
    pub instance: InstanceView,
}

/// An action's result, and whether it is the saved answer to an earlier
/// request with the same idempotency key.
#[derive(Debug, Clone)]
pub struct Acted {
    /// The result.
    pub result: ActionResult,
    /// Whether the action had already been done (nothing changed now).
    pub replayed: bool,
}

impl App {
    /// The inbox: a person's tasks by deadline.
    pub async fn inbox(&self, caller: &Caller, q: InboxFilter) -> AppResult<TaskPage> {
        let assignee = q.assignee.unwrap_or_else(|| caller.person.clone());
        let whose = crate::policy::PersonScope {
            id: assignee.clone(),
            ..Default::default()
        };
        self.allow(caller, Op::ListTasksOf, Target::Person(&whose), || {
            AppError::forbidden("只能查看自己的待办和已办")
        })?;
        let status = match q.status {
            TaskStatusFilter::Pending => "open",
            TaskStatusFilter::Done => "done",
            TaskStatusFilter::Cancelled => "cancelled",
        };
        let limit = q.limit.clamp(1, 500);
        let rows = self
            .store
            .inbox(&InboxQuery {
                assignee,
                status: status.into(),
                org: q.org,
                workflow: q.workflow,
                due_before: q.due_before,
                // Control characters go (a NUL ends the pattern in SQLite).
                subject: q
                    .subject
                    .map(|t| {
                        t.chars()
                            .filter(|c| !c.is_control())
                            .take(50)
                            .collect::<String>()
                            .trim()
                            .to_string()
                    })
                    .filter(|t| !t.is_empty()),
                limit,
                offset: q.offset,
            })
            .await?;
        let tasks = self.task_views(&rows).await?;
        Ok(TaskPage {
            tasks,
            limit,
            offset: q.offset,
        })
    }

    /// The views of task rows, their instances read together.
    pub(crate) async fn task_views(&self, rows: &[TaskRow]) -> AppResult<Vec<TaskView>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.instance).collect();
        let instances = self.instances_with_definitions(&ids).await?;
        let mut tasks = Vec::with_capacity(rows.len());
        for row in rows {
            let Some((instance, def)) = instances.get(&row.instance) else {
                continue;
            };
            if let Some(t) = instance.tasks.get(&row.id) {
                let mut view = task_view(def, instance, row.id, t);
                view.subject = Some(SubjectView::of_row(row));
                tasks.push(view);
            }
        }
        Ok(tasks)
    }

    /// One task: whoever may read its instance.
    pub async fn task(&self, caller: &Caller, id: Uuid) -> AppResult<TaskView> {
        let (instance, row) = self.task_and_instance(id).await?;
        let scope = self.instance_scope(&instance).await?;
        self.allow(caller, Op::ReadInstance, Target::Instance(&scope), || {
            task_missing(id)
        })?;
        let def = self.definition_of(&instance).await?;
        let t = instance
            .tasks
            .get(&row.id)
            .ok_or_else(|| task_missing(id))?;
        let mut view = task_view(&def, &instance, id, t);
        view.subject = Some(SubjectView::of_row(&row));
        Ok(view)
    }

    /// How many tasks wait for the caller (the count beside 待办).
    pub async fn pending_count(&self, caller: &Caller) -> AppResult<u64> {
        let me = crate::policy::PersonScope {
            id: caller.person.clone(),
            ..Default::default()
        };
        self.allow(caller, Op::ListTasksOf, Target::Person(&me), || {
            AppError::forbidden("只能查看自己的待办")
        })?;
        Ok(self.store.open_task_count(&caller.person).await?)
    }

    /// A task as the policy sees it: its instance, and who holds it now
    /// (the instance's record: a delegate holds it while they give their
    /// opinion).
    pub(crate) async fn task_scope(
        &self,
        instance: &InstanceState,
        row: &TaskRow,
    ) -> AppResult<TaskScope> {
        Ok(TaskScope {
            instance: self.instance_scope(instance).await?,
            assignee: instance
                .tasks
                .get(&row.id)
                .map_or_else(|| row.assignee.clone(), |t| t.assignee.clone()),
        })
    }

    /// A task row and its instance, or the task is not found.
    pub(crate) async fn task_and_instance(&self, id: Uuid) -> AppResult<(InstanceState, TaskRow)> {
        let row = self.store.task(id).await?.ok_or_else(|| task_missing(id))?;
        let instance = self
            .store
            .instance(row.instance)
            .await?
            .ok_or_else(|| task_missing(id))?;
        Ok((instance, row))
    }

    /// Acts on a task. With an idempotency `key`, a retried action gets the
    /// first answer back (saved with the command, in its transaction)
    /// instead of acting twice. Losing a race to another approver is a
    /// conflict carrying the task as it is now.
    pub async fn act(
        &self,
        caller: &Caller,
        id: Uuid,
        action: Action,
        key: Option<&str>,
    ) -> AppResult<Acted> {
        let key = key.map(|k| format!("{}:{id}:{k}", caller.person));
        let (instance, row) = self.task_and_instance(id).await?;
        let scope = self.task_scope(&instance, &row).await?;
        self.allow(caller, action.op(), Target::Task(&scope), || {
            task_missing(id)
        })?;
        if let Some(acted) = self.replay(key.as_deref()).await? {
            return Ok(acted);
        }
        if let Some(op) = action.step_operation() {
            let def = self.definition_of(&instance).await?;
            if let Some((_, step)) = def.step(&row.step)
                && !step.allows(op)
            {
                return Err(operation_refused(step, op));
            }
        }
        let recipients: Vec<String> = action.recipients().into_iter().map(String::from).collect();
        if let Some(form) = action.form() {
            self.check_file_fields(&instance, &row.step, id, form)
                .await?;
            let def = self.definition_of(&instance).await?;
            if let Some((_, step)) = def.step(&row.step) {
                self.check_person_fields(
                    caller,
                    &step.form,
                    form,
                    &scope.instance.org_path,
                    instance.subject.person.as_deref(),
                )
                .await?;
            }
        }
        let command = command_for(caller, id, &row, action)?;
        for person in &recipients {
            self.require_in_reach(caller, person, &scope.instance.org_path)
                .await?;
        }
        let def_of = |s: &InstanceState| (s.definition.clone(), s.version);
        let (workflow, version) = def_of(&instance);
        let def = self.runtime.definition(&workflow, Some(version)).await?;
        let make = |t: &stageflow_engine::Transition| {
            let body = t
                .state
                .tasks
                .get(&id)
                .map(|task| ActionResult {
                    task: task_view(&def, &t.state, id, task),
                    instance: instance_view(&def, &t.state),
                })
                .and_then(|r| serde_json::to_string(&r).ok())
                .unwrap_or_default();
            SavedResponse { status: 200, body }
        };
        let extras = Extras {
            loaded: Some(instance),
            file: None,
            receipt: key
                .as_deref()
                .map(|k| (k, &make as &stageflow_runtime::ReceiptFn<'_>)),
        };
        let executed = self
            .runtime
            .execute_with(row.instance, &command, self.now(), extras)
            .await;
        match executed {
            Ok(t) => {
                if key.is_some() && self.config.crash_after_commit {
                    // The crash test's hook: committed, never answered.
                    std::process::abort();
                }
                let def = self.definition_of(&t.state).await?;
                let task = t.state.tasks.get(&id).ok_or_else(|| task_missing(id))?;
                Ok(Acted {
                    result: ActionResult {
                        task: task_view(&def, &t.state, id, task),
                        instance: instance_view(&def, &t.state),
                    },
                    replayed: false,
                })
            }
            // The same key sent twice at once: the first answer's receipt
            // made the second command's transaction fail (or the first
            // decided the task); either way the first answer stands.
            Err(e) if key.is_some() => match self.replay(key.as_deref()).await? {
                Some(acted) => Ok(acted),
                None => Err(self.refusal(id, row.instance, e).await),
            },
            Err(e) => Err(self.refusal(id, row.instance, e).await),
        }
    }

    /// The answer saved under an idempotency key, if there is one.
    async fn replay(&self, key: Option<&str>) -> AppResult<Option<Acted>> {
        let Some(key) = key else { return Ok(None) };
        let Some(saved) = self.store.saved_response(key).await? else {
            return Ok(None);
        };
        let result = serde_json::from_str(&saved.body)
            .map_err(|e| AppError::internal(format!("保存的答复「{key}」无法读取：{e}")))?;
        Ok(Some(Acted {
            result,
            replayed: true,
        }))
    }

    /// Why an action was not done: a lost race says so with the task as it
    /// is now.
    async fn refusal(&self, id: Uuid, instance: Uuid, e: ExecError) -> AppError {
        match e {
            ExecError::Rejected(
                r @ (Rejection::AlreadyDecided
                | Rejection::StepNotActive(_)
                | Rejection::NotRunning(_)),
            ) => self.lost_race(id, instance, r).await,
            e => e.into(),
        }
    }

    /// Someone acted first: say so, with the task as it is now.
    async fn lost_race(&self, id: Uuid, instance: Uuid, r: Rejection) -> AppError {
        let fresh = match self.store.instance(instance).await {
            Ok(Some(fresh)) => fresh,
            Ok(None) => return task_missing(id),
            Err(e) => return e.into(),
        };
        let def = match self.definition_of(&fresh).await {
            Ok(d) => d,
            Err(e) => return e,
        };
        let task = fresh.tasks.get(&id);
        let current =
            task.map(|t| serde_json::to_value(task_view(&def, &fresh, id, t)).unwrap_or_default());
        // Whatever else changed, a task someone already decided is the
        // reason the caller cares about.
        let r = match task.map(|t| &t.status) {
            Some(TaskStatus::Done(_)) => Rejection::AlreadyDecided,
            _ => r,
        };
        AppError::from(r).with(serde_json::json!({ "current": current }))
    }

    /// Closes a vote or a rating now, counting what was cast (the step's
    /// chair; the engine checks who that is).
    pub async fn close_step(
        &self,
        caller: &Caller,
        instance_id: Uuid,
        step: &str,
        held_on: Option<chrono::NaiveDate>,
    ) -> AppResult<InstanceView> {
        let (instance, def) = self
            .readable_instance(caller, instance_id, Op::CloseStep)
            .await?;
        let (_, s) = def.step(step).ok_or_else(|| {
            AppError::not_found(format!(
                "流程{}没有步骤「{step}」",
                named(&def.name, &def.id)
            ))
        })?;
        let command = match &s.kind {
            StepKind::Vote(_) => Command::CloseVote {
                step: step.to_string(),
                actor: caller.person.clone(),
                held_on,
            },
            StepKind::Rating(_) => Command::CloseRating {
                step: step.to_string(),
                actor: caller.person.clone(),
            },
            _ => {
                return Err(AppError::invalid(
                    "wrong-kind",
                    format!("步骤{}既不是表决，也不是评议", named(&s.name, step)),
                ));
            }
        };
        let extras = Extras {
            loaded: Some(instance),
            ..Extras::default()
        };
        let t = self
            .runtime
            .execute_with(instance_id, &command, self.now(), extras)
            .await?;
        Ok(instance_view(&def, &t.state))
    }

    /// Refuses a person a task cannot go to: missing, or outside the
    /// instance's organization, its subtree and the organizations above it.
    pub(crate) async fn require_in_reach(
        &self,
        caller: &Caller,
        person: &str,
        org_path: &str,
    ) -> AppResult<()> {
        let missing = || {
            AppError::invalid(
                "unknown-person",
                format!("在本组织、其下级组织和上级组织中都找不到人员「{person}」"),
            )
        };
        let Some(p) = self.store.person(person).await? else {
            return Err(missing());
        };
        let scope = self.person_scope(&p).await?;
        self.allow(
            caller,
            Op::HandTaskTo,
            Target::PersonIn(&scope, org_path),
            missing,
        )
    }

    /// A `person` field names a person a task of the instance may go to
    /// (its organization, its subtree or the organizations above): the
    /// engine may assign them a task from it.
    pub(crate) async fn check_person_fields(
        &self,
        caller: &Caller,
        fields: &[stageflow_engine::model::Field],
        values: &Values,
        org_path: &str,
        subject: Option<&str>,
    ) -> AppResult<()> {
        for field in fields.iter().filter(|f| f.kind == FieldKind::Person) {
            match values.get(&field.id) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::String(person)) => {
                    self.require_in_reach(caller, person, org_path).await?;
                    self.require_eligible(field, person, subject).await?;
                }
                Some(_) => {
                    return Err(AppError::invalid(
                        "bad-form",
                        format!("{}应为人员的 id", named(&field.label, &field.id)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A person field names someone the definition allows: not the
    /// person the case is about, and of a 身份 its `eligible:` lists (a
    /// 入党介绍人 is a 正式党员, 细则 第十五条).
    async fn require_eligible(
        &self,
        field: &stageflow_engine::model::Field,
        person: &str,
        subject: Option<&str>,
    ) -> AppResult<()> {
        if subject == Some(person) {
            return Err(AppError::invalid(
                "bad-form",
                format!("{}不能是本案的对象本人", named(&field.label, &field.id)),
            ));
        }
        if field.eligible.is_empty() {
            return Ok(());
        }
        let p = self.store.person(person).await?;
        let status = p.as_ref().map(|p| p.status.as_str()).unwrap_or("");
        if !field.eligible.iter().any(|s| s == status) {
            let who = p.as_ref().map_or(person, |p| p.name.as_str());
            return Err(AppError::invalid(
                "bad-form",
                format!(
                    "{}须为{}；「{who}」的身份是{}",
                    named(&field.label, &field.id),
                    field.eligible.join("或"),
                    if status.is_empty() {
                        "未登记"
                    } else {
                        status
                    }
                ),
            ));
        }
        Ok(())
    }

    /// A `file` field must name a file uploaded for this instance.
    async fn check_file_fields(
        &self,
        instance: &InstanceState,
        step: &str,
        task: Uuid,
        form: &Values,
    ) -> AppResult<()> {
        let def = self.definition_of(instance).await?;
        let Some((_, step)) = def.step(step) else {
            return Ok(());
        };
        for field in step.form.iter().filter(|f| f.kind == FieldKind::File) {
            let Some(value) = form.get(&field.id) else {
                continue;
            };
            let file = value.as_str().and_then(|v| Uuid::parse_str(v).ok());
            let known = match file {
                Some(f) => self
                    .store
                    .file_meta(f)
                    .await?
                    .is_some_and(|m| m.instance == instance.id),
                None => false,
            };
            if !known {
                return Err(AppError::invalid(
                    "bad-form",
                    format!(
                        "{}应为本流程已上传文件的 id：请先用 POST /api/v1/tasks/{task}/files 上传",
                        named(&field.label, &field.id)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The answer for a task that is not there, or not the caller's to see.
pub(crate) fn task_missing(id: Uuid) -> AppError {
    AppError::not_found(format!("找不到事项「{id}」"))
}

/// The engine's command for an action on a task.
fn command_for(caller: &Caller, id: Uuid, row: &TaskRow, action: Action) -> AppResult<Command> {
    let me = caller.person.clone();
    let complete = |outcome: Option<&str>, form, comment, return_to| Command::Complete {
        task: id,
        actor: me.clone(),
        outcome: outcome.map(str::to_string),
        form,
        comment,
        return_to,
    };
    require_fields(&action)?;
    Ok(match action {
        Action::Approve { form, comment } => complete(Some("approve"), form, comment, None),
        Action::Reject { form, comment } => complete(Some("reject"), form, comment, None),
        Action::Return { to, form, comment } => complete(Some("return"), form, comment, to),
        Action::Complete {
            outcome,
            form,
            comment,
        } => complete(outcome.as_deref(), form, comment, None),
        Action::Transfer { to, comment } => Command::Transfer {
            task: id,
            actor: me.clone(),
            to,
            comment,
        },
        Action::Delegate { to, comment } => Command::Delegate {
            task: id,
            actor: me.clone(),
            to,
            comment,
        },
        Action::AddSigner { to, position } => Command::AddSigner {
            task: id,
            actor: me.clone(),
            signer: to,
            before: position == SignerPosition::Before,
        },
        Action::RemoveSigner { to } => Command::RemoveSigner {
            task: id,
            actor: me.clone(),
            signer: to,
        },
        Action::Comment { comment } => Command::Comment {
            task: id,
            actor: me.clone(),
            text: comment,
        },
        Action::Urge => Command::Urge {
            task: id,
            actor: me.clone(),
        },
        Action::Cc { people, comment } => Command::Cc {
            task: id,
            actor: me.clone(),
            to: people,
            comment,
        },
        Action::Vote { choice, written } => Command::CastBallot {
            step: row.step.clone(),
            voter: me.clone(),
            choice,
            written,
        },
        Action::Rate { ratings } => Command::SubmitRating {
            step: row.step.clone(),
            rater: me.clone(),
            ratings: ratings
                .into_iter()
                .map(|(ratee, r)| (ratee, r.into()))
                .collect(),
        },
        Action::Withdraw => Command::Withdraw {
            task: id,
            actor: me.clone(),
        },
    })
}

/// The field an action cannot do without, if it is empty.
fn require_fields(action: &Action) -> AppResult<()> {
    let (what, value, name) = match action {
        Action::Transfer { to, .. } => ("to", to, "transfer"),
        Action::Delegate { to, .. } => ("to", to, "delegate"),
        Action::AddSigner { to, .. } => ("to", to, "add_signer"),
        Action::RemoveSigner { to } => ("to", to, "remove_signer"),
        Action::Comment { comment } => ("comment", comment, "comment"),
        Action::Vote { choice, .. } => ("choice", choice, "vote"),
        _ => return Ok(()),
    };
    if value.trim().is_empty() {
        return Err(AppError::invalid(
            "invalid-body",
            format!("`{name}` 须填写 `{what}`"),
        ));
    }
    Ok(())
}

impl From<Rating> for RatingValue {
    fn from(r: Rating) -> RatingValue {
        match r {
            Rating::Grade(g) => RatingValue::Grade(g),
            Rating::Scores(s) => RatingValue::Scores(s),
        }
    }
}

/// The problem for an operation a step does not allow: which, and what it
/// allows instead.
fn operation_refused(step: &stageflow_engine::model::Step, op: &str) -> AppError {
    use stageflow_engine::model::STEP_OPERATIONS;
    let name = |id: &str| {
        STEP_OPERATIONS
            .iter()
            .find(|(o, _)| *o == id)
            .map_or(id.to_string(), |(_, n)| (*n).to_string())
    };
    let allowed: Vec<String> = STEP_OPERATIONS
        .iter()
        .filter(|(o, _)| step.allows(o))
        .map(|(o, _)| name(o))
        .collect();
    let why = if step.operations.is_some() {
        "流程定义的 `operations:` 未列出它"
    } else {
        "本人办理的步骤和表决、评议不能交由他人"
    };
    AppError::invalid(
        "operation-not-allowed",
        format!(
            "「{}」不允许{}（{why}）；本步骤可以：{}",
            step.name,
            name(op),
            if allowed.is_empty() {
                "无其他操作".to_string()
            } else {
                allowed.join("、")
            }
        ),
    )
}
