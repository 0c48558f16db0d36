//! The case file (案卷) of a task, as its page shows it: the task, the
//! stage map, the hash-checked history with people by name, whom the task
//! may be handed to, where 退回 may send it, and what the viewer may do.

use std::collections::HashMap;
use std::sync::Arc;

use stageflow_engine::Definition;
use stageflow_engine::state::{
    Event, InstanceState, RecordedEvent, Status, StepStatus, TaskKind, TaskStatus, verify_chain,
};
use uuid::Uuid;

pub mod record;

pub use record::{CaseAct, CaseComment, CaseField, CaseStage, CaseStep, CaseValue};

use crate::error::AppResult;
use crate::policy::{self, Op, Target};
use crate::tasks::task_missing;
use crate::views::{TaskView, task_view};
use crate::{App, Caller};

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageMark {
    /// Before the current one.
    Done,
    /// The current one.
    Current,
    /// After it.
    Todo,
    /// The instance has ended.
    Ended,
}

/// A person to choose (a recipient, a person field's value), told apart
/// from namesakes by organization and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonChoice {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Organizations and roles: `机关第一党支部 书记、正式党员`.
    pub detail: String,
    /// Their 身份 (正式党员 …).
    pub status: String,
}

/// What the viewer may do besides deciding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offers {
    /// 催办 (the initiator, the organization's managers; someone else's task).
    pub urge: bool,
    /// 撤回 one's decision (nobody acted after it).
    pub retract: bool,
    /// 撤回 the whole instance (its initiator).
    pub withdraw: bool,
    /// Close a vote or rating early (offered to the managers and the
    /// initiator; the engine checks who the chair is).
    pub close: bool,
    /// The step's own operations its `operations:` (or its kind's
    /// defaults) allow: 转办, 委派, 加签, 抄送, 退回.
    pub transfer: bool,
    /// 委派.
    pub delegate: bool,
    /// 加签.
    pub add_signer: bool,
    /// 抄送.
    pub cc: bool,
    /// 退回 to an earlier step.
    pub return_to: bool,
}

/// A task's case file.
#[derive(Debug, Clone)]
pub struct TaskCase {
    /// The task.
    pub task: TaskView,
    /// The definition its instance runs.
    pub definition: Arc<Definition>,
    /// The stages with where each stands.
    pub stages: Vec<(String, StageMark)>,
    /// The instance's events, in order.
    pub events: Vec<RecordedEvent>,
    /// Whether every event's hash matches.
    pub verified: bool,
    /// Names of the people the page mentions, by id.
    pub names: HashMap<String, String>,
    /// The person or organization the instance is about, by name.
    pub subject: String,
    /// Whether the task is the viewer's to decide now.
    pub open: bool,
    /// People the task may go to (its organization's subtree and the
    /// members of the organizations above it).
    pub people: Vec<PersonChoice>,
    /// Earlier steps of the stage that 退回 may send it to: `(id, name)`.
    pub returnable: Vec<(String, String)>,
    /// What else the viewer may do.
    pub offers: Offers,
    /// Whether the step asks for a comment.
    pub comment_required: bool,
    /// What the earlier steps recorded, stage by stage (the fields hidden
    /// from the viewer left out).
    pub record: Vec<CaseStage>,
    /// The person the case is about, when it is about a person.
    pub person: Option<SubjectCard>,
}

/// The person a case is about, at the top of its case file.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SubjectCard {
    /// Person id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Their organizations, by name.
    pub orgs: String,
    /// 群众, 申请人, 积极分子, 发展对象, 预备党员 or 正式党员.
    pub status: String,
    /// Date of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Key dates by label (申请入党日期 …), as the directory has them.
    pub key_dates: Vec<(String, String)>,
}

/// The case file as the API gives it: the subject and the record.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CaseFileView {
    /// The task it was read through.
    pub task: Uuid,
    /// Whom the case is about, by name.
    pub subject: String,
    /// The person, when it is about a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<SubjectCard>,
    /// What the steps recorded, stage by stage.
    pub stages: Vec<CaseStage>,
}

impl From<&TaskCase> for CaseFileView {
    fn from(c: &TaskCase) -> CaseFileView {
        CaseFileView {
            task: c.task.id,
            subject: c.subject.clone(),
            person: c.person.clone(),
            stages: c.record.clone(),
        }
    }
}

impl App {
    /// The case file of a task, for whoever may read its instance.
    pub async fn task_case(&self, caller: &Caller, id: Uuid) -> AppResult<TaskCase> {
        let (instance, row) = self.task_and_instance(id).await?;
        let scope = self.task_scope(&instance, &row).await?;
        self.allow(
            caller,
            Op::ReadInstance,
            Target::Instance(&scope.instance),
            || task_missing(id),
        )?;
        let def = self.definition_of(&instance).await?;
        let state = instance.tasks.get(&id).ok_or_else(|| task_missing(id))?;
        let task = task_view(&def, &instance, id, state);
        let mut events = self.store.events(instance.id).await?;
        let verified = verify_chain(&events).is_ok();
        let ended = instance.status != Status::Running;
        let open = state.status == TaskStatus::Open
            && state.assignee == caller.person
            && policy::check(caller, Op::ActOnTask, Target::Task(&scope)).is_ok();
        // Everyone the page names, each person and organization read once.
        let mut directory = Names::default();
        let mut mentioned = people_in(&events);
        mentioned.push(state.assignee.clone());
        if let Some(step) = instance.steps.get(&state.step) {
            mentioned.extend(step.ratees.iter().map(|(p, _)| p.clone()));
        }
        mentioned.extend(record::people_in_forms(&def, &events));
        mentioned.extend(instance.subject.person.clone());
        self.load_names(&mut directory, mentioned).await?;
        let names = directory.names();
        let subject = match &instance.subject.person {
            Some(p) => directory.name(p),
            None => {
                self.read_org_name(&mut directory, &instance.subject.org)
                    .await?;
                directory.org(&instance.subject.org)
            }
        };
        let people = if open {
            self.choices_for(&task.org, &caller.person).await?
        } else {
            Vec::new()
        };
        let returnable = if open
            && task.outcomes.iter().any(|o| o.id == "return")
            && def
                .step(&task.step)
                .is_some_and(|(_, s)| s.allows("return"))
        {
            returnable(&def, &instance, &task.step)
        } else {
            Vec::new()
        };
        let allowed = |op| policy::check(caller, op, Target::Task(&scope)).is_ok();
        let step_allows = |op: &str| def.step(&state.step).is_some_and(|(_, s)| s.allows(op));
        let running = !ended;
        let voting = matches!(state.kind, TaskKind::Ballot | TaskKind::Rate);
        let offers = Offers {
            urge: state.status == TaskStatus::Open
                && !open
                && allowed(Op::UrgeTask)
                && step_allows("urge"),
            retract: running
                && step_allows("withdraw")
                && state.assignee == caller.person
                && state.kind == TaskKind::Work
                && matches!(state.status, TaskStatus::Done(_))
                && state.decided_seq == Some(instance.last_decision_seq),
            withdraw: running && instance.initiator == caller.person,
            close: running
                && voting
                && instance
                    .steps
                    .get(&state.step)
                    .is_some_and(|st| st.status == StepStatus::Active)
                && allowed(Op::UrgeTask),
            transfer: open && step_allows("transfer"),
            delegate: open && step_allows("delegate"),
            add_signer: open && step_allows("add_signer"),
            cc: open && step_allows("cc"),
            return_to: open && step_allows("return"),
        };
        let stages = stage_marks(&def, &instance);
        let comment_required = def
            .step(&task.step)
            .is_some_and(|(_, st)| st.comment_required);
        let hidden = record::hidden_for(&def, &instance, &events, &caller.person);
        let record = self
            .case_record(&def, &instance, &events, &hidden, &directory)
            .await?;
        // The page's history reads the events too: nothing hidden in them.
        record::redact(&def, &mut events, &hidden);
        let person = subject_card(&instance, &directory);
        Ok(TaskCase {
            task,
            definition: def,
            stages,
            events,
            verified,
            names,
            subject,
            open,
            people,
            returnable,
            offers,
            comment_required,
            record,
            person,
        })
    }

    /// The case file of a task as the API gives it.
    pub async fn case_file(&self, caller: &Caller, id: Uuid) -> AppResult<CaseFileView> {
        Ok(CaseFileView::from(&self.task_case(caller, id).await?))
    }

    /// What the steps recorded, with people, files and hidden fields
    /// looked up.
    async fn case_record(
        &self,
        def: &Definition,
        instance: &InstanceState,
        events: &[RecordedEvent],
        hidden: &std::collections::BTreeSet<(String, String)>,
        directory: &Names,
    ) -> AppResult<Vec<CaseStage>> {
        let people = directory
            .people
            .values()
            .map(|p| (p.id.clone(), (p.name.clone(), directory.orgs_of(p))))
            .collect();
        let files = self
            .store
            .instance_files(instance.id)
            .await?
            .into_iter()
            .map(|f| {
                (
                    f.id,
                    record::FileInfo {
                        name: f.name,
                        content_type: f.content_type,
                        size: f.size,
                    },
                )
            })
            .collect();
        let look = record::Lookups {
            people: &people,
            files: &files,
            hidden,
        };
        Ok(record::record(def, instance, events, &look))
    }

    /// Reads the people `ids` names and their organizations' names into
    /// `names`, each once.
    async fn load_names(
        &self,
        names: &mut Names,
        ids: impl IntoIterator<Item = String>,
    ) -> AppResult<()> {
        for id in ids {
            if names.people.contains_key(&id) {
                continue;
            }
            let Some(p) = self.store.person(&id).await? else {
                continue;
            };
            for m in &p.memberships {
                self.read_org_name(names, &m.org).await?;
            }
            names.people.insert(id, p);
        }
        Ok(())
    }

    /// Reads an organization's name into `names`, once.
    async fn read_org_name(&self, names: &mut Names, org: &str) -> AppResult<()> {
        if !names.orgs.contains_key(org) {
            let name = self
                .store
                .org(org)
                .await?
                .map_or(org.to_string(), |o| o.name);
            names.orgs.insert(org.to_string(), name);
        }
        Ok(())
    }

    /// Whom a task of an organization may go to (the policy's
    /// `HandTaskTo`): the people of its subtree and the members of the
    /// organizations above it — but the viewer. A person field's choices.
    async fn choices_for(&self, org: &str, viewer: &str) -> AppResult<Vec<PersonChoice>> {
        let mut found: Vec<stageflow_store::Person> = Vec::new();
        for p in self.store.people_under(Some(org)).await? {
            if p.id != viewer && !found.iter().any(|x| x.id == p.id) {
                found.push(p);
            }
        }
        let above: Vec<String> = self
            .store
            .org_chain(org)
            .await?
            .into_iter()
            .skip(1)
            .map(|o| o.id)
            .collect();
        let mut ids: Vec<String> = self
            .store
            .holders_in(&above)
            .await?
            .into_iter()
            .map(|(_, _, person)| person)
            .filter(|p| p != viewer && !found.iter().any(|x| &x.id == p))
            .collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Some(p) = self.store.person(&id).await? {
                found.push(p);
            }
        }
        let mut names = Names::default();
        for p in &found {
            for m in &p.memberships {
                self.read_org_name(&mut names, &m.org).await?;
            }
        }
        let people = found
            .into_iter()
            .map(|p| PersonChoice {
                detail: names.roles_of(&p),
                id: p.id,
                name: p.name,
                status: p.status,
            })
            .collect();
        Ok(people)
    }
}

/// Everyone an instance's history names.
fn people_in(events: &[RecordedEvent]) -> Vec<String> {
    let mut out = Vec::new();
    for e in events {
        let who: Vec<&String> = match &e.event {
            Event::InstanceStarted { initiator, .. } => vec![initiator],
            Event::TaskCreated { record, .. } => vec![&record.assignee],
            Event::TaskCompleted { actor, .. }
            | Event::Urged { actor, .. }
            | Event::Commented { actor, .. } => vec![actor],
            Event::CopiedTo { actor, to, .. } => std::iter::once(actor).chain(to).collect(),
            Event::TaskTransferred { from, to, .. } | Event::TaskDelegated { from, to, .. } => {
                vec![from, to]
            }
            Event::SignerAdded { by, signer, .. } => vec![by, signer],
            Event::Withdrawn { by, .. } => vec![by],
            Event::BallotCast { voter, .. } => vec![voter],
            Event::RatingSubmitted { rater, .. } => vec![rater],
            Event::RatingClosed { results, .. } => results.keys().collect(),
            _ => continue,
        };
        out.extend(who.into_iter().cloned());
    }
    out.sort();
    out.dedup();
    out
}

/// Each stage of the definition, marked done, current or to come.
fn stage_marks(def: &Definition, instance: &InstanceState) -> Vec<(String, StageMark)> {
    let ended = instance.status != Status::Running;
    let current = instance
        .stage
        .as_deref()
        .and_then(|c| def.stages.iter().position(|st| st.id == c));
    def.stages
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let mark = match current {
                _ if ended => StageMark::Ended,
                Some(c) if i < c => StageMark::Done,
                Some(c) if i == c => StageMark::Current,
                _ => StageMark::Todo,
            };
            (st.name.clone(), mark)
        })
        .collect()
}

/// The steps before `step` in its stage that are done: where 退回 may go.
fn returnable(def: &Definition, instance: &InstanceState, step: &str) -> Vec<(String, String)> {
    def.step(step)
        .map(|(stage, _)| {
            stage
                .steps
                .iter()
                .take_while(|x| x.id != step)
                .filter(|x| {
                    instance
                        .steps
                        .get(&x.id)
                        .is_some_and(|r| r.status == StepStatus::Done)
                })
                .map(|x| (x.id.clone(), x.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// People and organizations a page names, each read from the store once.
#[derive(Default)]
struct Names {
    people: HashMap<String, stageflow_store::Person>,
    orgs: HashMap<String, String>,
}

impl Names {
    /// A person's name, or the id when the directory has no such person.
    fn name(&self, id: &str) -> String {
        self.people
            .get(id)
            .map_or(id.to_string(), |p| p.name.clone())
    }

    /// Every person's name by id.
    fn names(&self) -> HashMap<String, String> {
        self.people
            .iter()
            .map(|(id, p)| (id.clone(), p.name.clone()))
            .collect()
    }

    /// An organization's name, or its id.
    fn org(&self, id: &str) -> String {
        self.orgs.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    /// A person's organizations by name: `机关第一党支部、机关党委`.
    fn orgs_of(&self, p: &stageflow_store::Person) -> String {
        let mut orgs: Vec<String> = Vec::new();
        for m in &p.memberships {
            let name = self.org(&m.org);
            if !orgs.contains(&name) {
                orgs.push(name);
            }
        }
        orgs.join("、")
    }

    /// A person's organizations with their roles there:
    /// `机关第一党支部 书记、正式党员；机关党委 支部书记`.
    fn roles_of(&self, p: &stageflow_store::Person) -> String {
        let mut parts: Vec<(String, Vec<&str>)> = Vec::new();
        for m in &p.memberships {
            let org = self.org(&m.org);
            let role = stageflow_workflows::vocab::role_name(&m.role).unwrap_or(&m.role);
            match parts.iter_mut().find(|(o, _)| *o == org) {
                Some((_, roles)) => roles.push(role),
                None => parts.push((org, vec![role])),
            }
        }
        parts
            .iter()
            .map(|(o, roles)| format!("{o} {}", roles.join("、")))
            .collect::<Vec<_>>()
            .join("；")
    }
}

/// The person an instance is about, for the top of its case file.
fn subject_card(instance: &InstanceState, names: &Names) -> Option<SubjectCard> {
    let p = names.people.get(instance.subject.person.as_deref()?)?;
    let key_dates = p
        .key_dates
        .iter()
        .map(|(k, v)| {
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (key_date_label(k).to_string(), value)
        })
        .collect();
    Some(SubjectCard {
        id: p.id.clone(),
        name: p.name.clone(),
        orgs: names.orgs_of(p),
        status: p.status.clone(),
        birth_date: p.birth_date.clone(),
        key_dates,
    })
}

/// The label of a key date the directory keeps (the id when unknown).
fn key_date_label(key: &str) -> &str {
    match key {
        "applied_on" => "申请入党日期",
        "activist_on" => "确定为入党积极分子日期",
        "candidate_on" => "确定为发展对象日期",
        "probationary_on" => "接收为预备党员日期",
        "full_member_on" | "full_member_since" => "转为正式党员日期",
        "joined_on" => "入党日期",
        other => other,
    }
}
