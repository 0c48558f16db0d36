//! The read models the operations answer with, built from engine and
//! store types: the JSON API serializes them as they are, the pages render
//! them. An action's answer is also saved (serialized) under its
//! idempotency key, so the models that make it up read back too.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::Definition;
use stageflow_engine::model::{FieldKind, StepKind};
use stageflow_engine::state::{
    InstanceState, RecordedEvent, Status, StepStatus, TaskKind, TaskState, TaskStatus,
};
use stageflow_engine::time::Clock as EngineClock;
use stageflow_store::{Membership, Org, Person};
use utoipa::ToSchema;
use uuid::Uuid;

/// An organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind (党委, 党总支, 党支部, 党小组, 工会, 团委, 妇委会, ...).
    pub kind: String,
    /// Parent id.
    pub parent: Option<String>,
    /// Start of the current term (YYYY-MM-DD).
    pub term_start: Option<String>,
    /// Term length in years.
    pub term_years: Option<u32>,
}

impl From<Org> for OrgView {
    fn from(o: Org) -> OrgView {
        OrgView {
            id: o.id,
            name: o.name,
            kind: o.kind,
            parent: o.parent,
            term_start: o.term_start,
            term_years: o.term_years,
        }
    }
}

/// A role in an organization.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipView {
    /// Organization id.
    pub org: String,
    /// Role id (secretary, organization_member, full_member, ...).
    pub role: String,
}

impl From<Membership> for MembershipView {
    fn from(m: Membership) -> MembershipView {
        MembershipView {
            org: m.org,
            role: m.role,
        }
    }
}

/// A person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// 群众 / 申请人 / 积极分子 / 发展对象 / 预备党员 / 正式党员.
    pub status: String,
    /// Key dates.
    #[schema(value_type = Object)]
    pub key_dates: serde_json::Map<String, serde_json::Value>,
    /// Roles.
    pub memberships: Vec<MembershipView>,
}

impl From<Person> for PersonView {
    fn from(p: Person) -> PersonView {
        PersonView {
            id: p.id,
            name: p.name,
            email: p.email,
            phone: p.phone,
            birth_date: p.birth_date,
            status: p.status,
            key_dates: p.key_dates,
            memberships: p.memberships.into_iter().map(Into::into).collect(),
        }
    }
}

/// A published definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DefinitionSummaryView {
    /// Id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// The owning organization (absent: the whole tree, as the shipped library).
    pub owner: Option<String>,
}

/// A definition with its source.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DefinitionView {
    /// Id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
    /// `person` or `organization`.
    pub subject: String,
    /// Inputs an instance takes.
    pub inputs: Vec<FieldView>,
    /// End states an instance can reach, with their names.
    pub end_states: Vec<EndStateView>,
    /// Stages with their steps.
    pub stages: Vec<StageView>,
    /// The YAML as published.
    pub source: String,
    /// The owning organization (absent: the whole tree).
    pub owner: Option<String>,
}

/// An end state of a definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndStateView {
    /// Id (`admitted`, `not_admitted`, ...).
    pub id: String,
    /// Name shown to users.
    pub name: String,
}

/// A stage of a definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Steps: (id, name, kind).
    pub steps: Vec<StepSummaryView>,
}

/// A step of a definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StepSummaryView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
}

/// A form field or input.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldView {
    /// Id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Type (`text`, `date`, `choice`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Choices of a `choice` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Required.
    pub required: bool,
    /// Default (any JSON value).
    pub default: Option<serde_json::Value>,
    /// Smallest number allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest number allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// A person field: the 身份 the person must have (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligible: Vec<String>,
}

fn field_view(f: &stageflow_engine::model::Field) -> FieldView {
    let (kind, options) = match &f.kind {
        FieldKind::Choice(o) => ("choice".to_string(), o.clone()),
        other => (
            serde_json::to_value(other)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_default(),
            Vec::new(),
        ),
    };
    FieldView {
        id: f.id.clone(),
        label: f.label.clone(),
        kind,
        options,
        required: f.required,
        default: f.default.clone(),
        min: f.min,
        max: f.max,
        eligible: f.eligible.clone(),
    }
}

/// The view of a definition.
pub fn definition_view(d: &Definition, source: String, owner: Option<String>) -> DefinitionView {
    DefinitionView {
        id: d.id.clone(),
        version: d.version,
        name: d.name.clone(),
        subject: match d.subject {
            stageflow_engine::model::SubjectKind::Person => "person".into(),
            stageflow_engine::model::SubjectKind::Organization => "organization".into(),
        },
        inputs: d.inputs.iter().map(|i| field_view(&i.field)).collect(),
        end_states: d
            .end_states
            .iter()
            .map(|e| EndStateView {
                id: e.id.clone(),
                name: e.name.clone(),
            })
            .collect(),
        stages: d
            .stages
            .iter()
            .map(|s| StageView {
                id: s.id.clone(),
                name: s.name.clone(),
                steps: s
                    .steps
                    .iter()
                    .map(|x| StepSummaryView {
                        id: x.id.clone(),
                        name: x.name.clone(),
                        kind: x.kind.name().into(),
                    })
                    .collect(),
            })
            .collect(),
        source,
        owner,
    }
}

/// An outcome a task can be decided with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutcomeView {
    /// Id (`approve`, `reject`, `return`, `done`, ...).
    pub id: String,
    /// Button label.
    pub label: String,
}

/// A task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// Id.
    pub id: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Workflow id.
    pub workflow: String,
    /// Workflow name.
    pub workflow_name: String,
    /// The instance's subject organization.
    pub org: String,
    /// Whom the case is about, by name (in lists and a task's own read;
    /// absent from the answers to actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectView>,
    /// Stage name.
    pub stage: String,
    /// Step id.
    pub step: String,
    /// Step name.
    pub step_name: String,
    /// What the task asks: `work`, `ballot` or `rate`.
    pub kind: String,
    /// Person ids who must act.
    pub assignees: Vec<String>,
    /// The role they were chosen by.
    pub role: Option<String>,
    /// `pending`, `done` or `cancelled`.
    pub status: String,
    /// Outcome when done.
    pub outcome: Option<String>,
    /// Deadline (the last day).
    #[schema(value_type = Option<String>, format = Date)]
    pub due: Option<NaiveDate>,
    /// The instant the deadline is missed.
    pub due_at: Option<DateTime<Utc>>,
    /// The deadline counted through a year whose 放假调休 notice is not out
    /// (暂算): its fixed holidays were skipped, its make-up working days are
    /// unknown, so the date may move once the notice is published.
    pub due_provisional: bool,
    /// Not before.
    #[schema(value_type = Option<String>, format = Date)]
    pub earliest: Option<NaiveDate>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Outcomes the assignee can choose.
    pub outcomes: Vec<OutcomeView>,
    /// Form fields.
    pub form: Vec<FieldView>,
    /// Ballot choices (votes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// What a rating asks (rating tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<RatingView>,
}

/// Whom a case is about: a person (with their organization) or an
/// organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubjectView {
    /// The person's id, when the case is about a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// The person's name, or the organization's.
    pub name: String,
    /// The subject organization's name (the person's branch).
    pub org_name: String,
}

impl SubjectView {
    /// From a task row's names (ids where the directory has no name).
    pub fn of_row(row: &stageflow_store::TaskRow) -> SubjectView {
        let org_name = row
            .subject_org_name
            .clone()
            .unwrap_or_else(|| row.org.clone());
        SubjectView {
            person: row.subject_person.clone(),
            name: match &row.subject_person {
                Some(p) => row.subject_person_name.clone().unwrap_or_else(|| p.clone()),
                None => org_name.clone(),
            },
            org_name,
        }
    }
}

/// What a rater rates, on what.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RatingView {
    /// People to rate.
    pub ratees: Vec<String>,
    /// Grades of a scale, best first (empty for a rubric).
    pub grades: Vec<OutcomeView>,
    /// Items of a rubric with their score range (empty for a scale).
    pub items: Vec<RubricItemView>,
}

/// An item of a scored rubric.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RubricItemView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Lowest score (negative for deductions).
    pub min: f64,
    /// Highest score.
    pub max: f64,
}

/// The view of a task.
pub fn task_view(def: &Definition, state: &InstanceState, id: Uuid, t: &TaskState) -> TaskView {
    let clock = EngineClock { tz: def.timezone };
    let found = def.step(&t.step);
    let (stage, step_name, outcomes, form, choices) = match found {
        Some((stage, step)) => {
            let mut outcomes: Vec<OutcomeView> = Vec::new();
            if t.kind == TaskKind::Work {
                let ids: Vec<String> = match &step.kind {
                    StepKind::Approval { .. } => {
                        let mut v: Vec<String> =
                            vec!["approve".into(), "reject".into(), "return".into()];
                        v.extend(
                            step.outcomes
                                .keys()
                                .filter(|k| !v.contains(k))
                                .cloned()
                                .collect::<Vec<_>>(),
                        );
                        v
                    }
                    k if step.outcomes.is_empty() => {
                        stageflow_engine::model::Step::default_outcomes(k)
                            .iter()
                            .map(|s| s.to_string())
                            .collect()
                    }
                    _ => step.outcomes.keys().cloned().collect(),
                };
                // 退回 only where the step's operations allow it.
                for id in ids
                    .into_iter()
                    .filter(|id| id != "return" || step.allows("return"))
                {
                    let label = step
                        .outcomes
                        .get(&id)
                        .map(|o| o.label.clone())
                        .unwrap_or_else(|| default_label(&id));
                    outcomes.push(OutcomeView { id, label });
                }
            }
            let choices = match &step.kind {
                StepKind::Vote(v) if v.choices.is_empty() => {
                    vec!["yes".into(), "no".into(), "abstain".into()]
                }
                StepKind::Vote(v) => {
                    let mut c = v.choices.clone();
                    c.push("abstain".into());
                    c
                }
                _ => Vec::new(),
            };
            (
                stage.name.clone(),
                step.name.clone(),
                outcomes,
                step.form.iter().map(field_view).collect(),
                choices,
            )
        }
        None => (
            String::new(),
            t.step.clone(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
    };
    TaskView {
        id,
        instance: state.id,
        workflow: def.id.clone(),
        workflow_name: def.name.clone(),
        org: state.subject.org.clone(),
        subject: None,
        stage,
        step: t.step.clone(),
        step_name,
        kind: match t.kind {
            TaskKind::Work => "work",
            TaskKind::Ballot => "ballot",
            TaskKind::Rate => "rate",
        }
        .into(),
        assignees: vec![t.assignee.clone()],
        role: t.role.clone(),
        status: match &t.status {
            TaskStatus::Open => "pending".into(),
            TaskStatus::Done(_) => "done".into(),
            TaskStatus::Cancelled => "cancelled".into(),
        },
        outcome: match &t.status {
            TaskStatus::Done(o) => Some(o.clone()),
            _ => None,
        },
        due: t.due.map(|d| clock.date_of(d)),
        due_at: t.due_at,
        due_provisional: t.due.is_some() && state.steps.get(&t.step).is_some_and(|s| s.provisional),
        earliest: t.earliest.map(|d| clock.date_of(d)),
        created_at: t.created_at,
        outcomes,
        form,
        choices,
        rating: rating_view(def, state, t),
    }
}

fn rating_view(def: &Definition, state: &InstanceState, t: &TaskState) -> Option<RatingView> {
    if t.kind != TaskKind::Rate {
        return None;
    }
    let (_, step) = def.step(&t.step)?;
    let StepKind::Rating(rule) = &step.kind else {
        return None;
    };
    let ratees = state
        .steps
        .get(&t.step)
        .map(|s| s.ratees.iter().map(|(p, _)| p.clone()).collect())
        .unwrap_or_default();
    let (grades, items) = match &rule.scheme {
        stageflow_engine::model::RatingScheme::Scale { grades } => (
            grades
                .iter()
                .map(|g| OutcomeView {
                    id: g.id.clone(),
                    label: g.name.clone(),
                })
                .collect(),
            Vec::new(),
        ),
        stageflow_engine::model::RatingScheme::Rubric { items, .. } => (
            Vec::new(),
            items
                .iter()
                .map(|i| RubricItemView {
                    id: i.id.clone(),
                    name: i.name.clone(),
                    min: i.min,
                    max: i.max,
                })
                .collect(),
        ),
    };
    Some(RatingView {
        ratees,
        grades,
        items,
    })
}

/// The words of an outcome a definition does not label.
pub fn default_label(id: &str) -> String {
    match id {
        "approve" => "通过",
        "reject" => "驳回",
        "return" => "退回",
        "done" => "完成",
        other => other,
    }
    .to_string()
}

/// A step of an instance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StepStateView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `waiting`, `active`, `done` or `skipped`.
    pub status: String,
    /// Last outcome.
    pub outcome: Option<String>,
    /// Deadline of the current entry.
    #[schema(value_type = Option<String>, format = Date)]
    pub due: Option<NaiveDate>,
    /// The deadline is provisional (暂算): see `TaskView::due_provisional`.
    pub due_provisional: bool,
    /// How often it was activated.
    pub entry: u32,
}

/// An instance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstanceView {
    /// Id.
    pub id: Uuid,
    /// Workflow id.
    pub definition: String,
    /// Workflow version.
    pub version: u32,
    /// `running`, `ended` or `cancelled`.
    pub status: String,
    /// End state, once ended.
    pub end_state: Option<String>,
    /// Subject person.
    pub subject: Option<String>,
    /// Subject organization.
    pub org: String,
    /// Who started it.
    pub initiator: String,
    /// Current stage id.
    pub stage: Option<String>,
    /// Current stage name.
    pub stage_name: Option<String>,
    /// Steps of the current stage.
    pub steps: Vec<StepStateView>,
    /// Open tasks.
    pub tasks: Vec<TaskView>,
    /// Inputs.
    #[schema(value_type = Object)]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// Computed values.
    #[schema(value_type = Object)]
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Started at.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended at.
    pub ended_at: Option<DateTime<Utc>>,
    /// Version for optimistic concurrency (number of events).
    pub seq: u64,
}

/// The view of an instance.
pub fn instance_view(def: &Definition, s: &InstanceState) -> InstanceView {
    let clock = EngineClock { tz: def.timezone };
    let stage = s.stage.as_deref().and_then(|id| def.stage(id));
    let steps = stage
        .map(|st| {
            st.steps
                .iter()
                .map(|step| {
                    let rec = s.steps.get(&step.id).cloned().unwrap_or_default();
                    StepStateView {
                        id: step.id.clone(),
                        name: step.name.clone(),
                        status: match rec.status {
                            StepStatus::Waiting => "waiting",
                            StepStatus::Active => "active",
                            StepStatus::Done => "done",
                            StepStatus::Skipped => "skipped",
                        }
                        .into(),
                        outcome: rec.outcome.clone(),
                        due: rec.due.map(|d| clock.date_of(d)),
                        due_provisional: rec.due.is_some() && rec.provisional,
                        entry: rec.entry,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let (status, end_state) = match &s.status {
        Status::New => ("new".to_string(), None),
        Status::Running => ("running".to_string(), None),
        Status::Ended(e) => ("ended".to_string(), Some(e.clone())),
        Status::Cancelled => ("cancelled".to_string(), None),
    };
    InstanceView {
        id: s.id,
        definition: s.definition.clone(),
        version: s.version,
        status,
        end_state,
        subject: s.subject.person.clone(),
        org: s.subject.org.clone(),
        initiator: s.initiator.clone(),
        stage: s.stage.clone(),
        stage_name: stage.map(|st| st.name.clone()),
        steps,
        tasks: s
            .tasks
            .iter()
            .filter(|(_, t)| t.status == TaskStatus::Open)
            .map(|(id, t)| task_view(def, s, *id, t))
            .collect(),
        inputs: s.inputs.clone(),
        variables: s.vars.clone(),
        started_at: s.started_at,
        ended_at: s.ended_at,
        seq: s.seq,
    }
}

/// One event of the history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    /// Position from 1.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's data.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// Hash of this event.
    pub hash: String,
}

/// The history of an instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryView {
    /// Instance.
    pub instance: Uuid,
    /// Whether every hash matches (nothing was tampered with).
    pub verified: bool,
    /// Events in order.
    pub events: Vec<EventView>,
}

/// The view of the history.
pub fn history_view(id: Uuid, events: &[RecordedEvent]) -> HistoryView {
    let verified = stageflow_engine::state::verify_chain(events).is_ok();
    HistoryView {
        instance: id,
        verified,
        events: events
            .iter()
            .map(|e| {
                let mut data = serde_json::to_value(&e.event).unwrap_or_default();
                let kind = data
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string();
                if let Some(o) = data.as_object_mut() {
                    o.remove("type");
                }
                EventView {
                    seq: e.seq,
                    at: e.at,
                    kind,
                    data,
                    prev_hash: e.prev_hash.clone(),
                    hash: e.hash.clone(),
                }
            })
            .collect(),
    }
}
