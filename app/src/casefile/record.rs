//! The case file's record (案卷): what every step recorded, grouped by
//! stage — each act (who, when, which outcome, the form's values with
//! their labels, the comment), the comments in between, a vote's tally —
//! built from the instance's events. Pure: the names, files and hidden
//! fields are given.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use stageflow_engine::model::{Field, FieldKind};
use stageflow_engine::state::{Event, RecordedEvent, Values};
use stageflow_engine::{Definition, InstanceState};
use utoipa::ToSchema;
use uuid::Uuid;

/// One stage of the case file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseStage {
    /// Stage id.
    pub id: String,
    /// Stage name.
    pub name: String,
    /// Whether the instance is in this stage now (the page opens it).
    pub current: bool,
    /// Its steps that recorded something, in the definition's order.
    pub steps: Vec<CaseStep>,
}

/// What one step recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseStep {
    /// Step id.
    pub id: String,
    /// Step name.
    pub name: String,
    /// Each decision or completion, in order.
    pub acts: Vec<CaseAct>,
    /// Comments given on its tasks without deciding.
    pub comments: Vec<CaseComment>,
    /// A vote's result in words (应到、实到、赞成…, the rule), and the
    /// meeting's date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vote: Option<String>,
    /// The meeting's date (a vote step).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub held_on: Option<NaiveDate>,
    /// A rating's results: ratee name and grade.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<(String, String)>,
}

/// One act on a step: a person's decision or the system's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseAct {
    /// Who acted (name), or 系统 for an automatic completion.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The outcome's label (通过, 同意确定为入党积极分子 …).
    pub outcome: String,
    /// Why the system acted (a timeout, a rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic: Option<String>,
    /// The form's values, in the step's field order, hidden ones left out.
    pub fields: Vec<CaseField>,
    /// The opinion given with the decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A comment (意见) without a decision.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseComment {
    /// Who (name).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The text.
    pub text: String,
}

/// One recorded form value with its label.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseField {
    /// Field id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// The value, typed for people.
    pub value: CaseValue,
}

/// A recorded value as people read it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CaseValue {
    /// Text, a number or a choice's label.
    Text {
        /// The text.
        text: String,
    },
    /// A date.
    Date {
        /// The date.
        #[schema(value_type = String, format = Date)]
        date: NaiveDate,
    },
    /// Yes or no.
    Boolean {
        /// The value.
        value: bool,
    },
    /// A person, by name and organization.
    Person {
        /// Person id.
        id: String,
        /// Name.
        name: String,
        /// Their organization(s), by name.
        org: String,
    },
    /// An uploaded file.
    File {
        /// File id (download: `GET /api/v1/files/{id}`).
        id: Uuid,
        /// File name.
        name: String,
        /// Media type.
        content_type: String,
        /// Size in bytes.
        size: u64,
        /// Whether a page may show it inline (PDF, images).
        preview: bool,
    },
}

/// A file as the case file shows it.
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// File name.
    pub name: String,
    /// Media type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// What the builder is given besides the definition and the events.
pub struct Lookups<'a> {
    /// People by id: name and organization names.
    pub people: &'a HashMap<String, (String, String)>,
    /// Files by id.
    pub files: &'a HashMap<Uuid, FileInfo>,
    /// Fields the viewer may not see: `(step, field)`; a field `*` hides
    /// the whole step's form.
    pub hidden: &'a BTreeSet<(String, String)>,
}

/// The case file of an instance, stage by stage.
pub fn record(
    def: &Definition,
    instance: &InstanceState,
    events: &[RecordedEvent],
    look: &Lookups<'_>,
) -> Vec<CaseStage> {
    let mut steps: HashMap<String, CaseStep> = HashMap::new();
    let mut task_step: HashMap<Uuid, String> = HashMap::new();
    for e in events {
        let at = e.at;
        match &e.event {
            Event::TaskCreated { task, record } => {
                task_step.insert(*task, record.step.clone());
            }
            Event::TaskCompleted {
                task,
                actor,
                outcome,
                form,
                comment,
                automatic,
            } => {
                // A ballot or a rating is counted on the step, not listed.
                if automatic.is_none() && (outcome == "voted" || outcome == "rated") {
                    continue;
                }
                let Some(step_id) = task_step.get(task) else {
                    continue;
                };
                let act = CaseAct {
                    by: match automatic {
                        Some(_) => "系统".into(),
                        None => name_of(look, actor),
                    },
                    at,
                    outcome: outcome_label(def, step_id, outcome),
                    automatic: automatic.clone(),
                    fields: fields(def, step_id, form, look),
                    comment: comment.clone().filter(|c| !c.trim().is_empty()),
                };
                entry(def, &mut steps, step_id).acts.push(act);
            }
            Event::Commented { task, actor, text } => {
                if let Some(step_id) = task_step.get(task) {
                    entry(def, &mut steps, step_id).comments.push(CaseComment {
                        by: name_of(look, actor),
                        at,
                        text: text.clone(),
                    });
                }
            }
            Event::VoteClosed {
                step,
                explanation,
                held_on,
                ..
            } => {
                let s = entry(def, &mut steps, step);
                s.vote = Some(explanation.clone());
                s.held_on = *held_on;
            }
            Event::RatingClosed { step, results } => {
                let s = entry(def, &mut steps, step);
                s.ratings = results
                    .iter()
                    .map(|(who, grade)| (name_of(look, who), grade_label(def, step, grade)))
                    .collect();
            }
            _ => {}
        }
    }
    def.stages
        .iter()
        .map(|stage| CaseStage {
            id: stage.id.clone(),
            name: stage.name.clone(),
            current: instance.stage.as_deref() == Some(stage.id.as_str()),
            steps: stage
                .steps
                .iter()
                .filter_map(|s| steps.remove(&s.id))
                .collect(),
        })
        .filter(|s| s.current || !s.steps.is_empty())
        .collect()
}

fn entry<'a>(
    def: &Definition,
    steps: &'a mut HashMap<String, CaseStep>,
    step_id: &str,
) -> &'a mut CaseStep {
    steps
        .entry(step_id.to_string())
        .or_insert_with(|| CaseStep {
            id: step_id.to_string(),
            name: def
                .step(step_id)
                .map_or(step_id.to_string(), |(_, s)| s.name.clone()),
            acts: Vec::new(),
            comments: Vec::new(),
            vote: None,
            held_on: None,
            ratings: Vec::new(),
        })
}

fn name_of(look: &Lookups<'_>, id: &str) -> String {
    look.people
        .get(id)
        .map_or(id.to_string(), |(name, _)| name.clone())
}

/// An outcome by its label; the standard ones in words.
fn outcome_label(def: &Definition, step: &str, outcome: &str) -> String {
    def.step(step)
        .and_then(|(_, s)| s.outcomes.get(outcome))
        .map(|o| o.label.clone())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| crate::views::default_label(outcome))
}

fn grade_label(def: &Definition, step: &str, grade: &str) -> String {
    let scheme = def.step(step).and_then(|(_, s)| match &s.kind {
        stageflow_engine::model::StepKind::Rating(r) => Some(r),
        _ => None,
    });
    scheme
        .and_then(|r| match &r.scheme {
            stageflow_engine::model::RatingScheme::Scale { grades } => grades
                .iter()
                .find(|g| g.id == grade)
                .map(|g| g.name.clone()),
            _ => None,
        })
        .unwrap_or_else(|| grade.to_string())
}

/// A form's values in the step's field order, typed, hidden ones left out.
fn fields(def: &Definition, step_id: &str, form: &Values, look: &Lookups<'_>) -> Vec<CaseField> {
    let Some((_, step)) = def.step(step_id) else {
        return Vec::new();
    };
    let hidden = |field: &str| is_hidden(look.hidden, step_id, field);
    step.form
        .iter()
        .filter(|f| !hidden(&f.id))
        .filter_map(|f| {
            let v = form.get(&f.id)?;
            if v.is_null() {
                return None;
            }
            Some(CaseField {
                id: f.id.clone(),
                label: f.label.clone(),
                value: value(f, v, look),
            })
        })
        .collect()
}

fn value(f: &Field, v: &serde_json::Value, look: &Lookups<'_>) -> CaseValue {
    let text = || match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match f.kind {
        FieldKind::Date => match v.as_str().and_then(|s| s.parse().ok()) {
            Some(date) => CaseValue::Date { date },
            None => CaseValue::Text { text: text() },
        },
        FieldKind::Boolean => CaseValue::Boolean {
            value: v.as_bool().unwrap_or(false),
        },
        FieldKind::Person => {
            let id = text();
            let (name, org) = look
                .people
                .get(&id)
                .cloned()
                .unwrap_or_else(|| (id.clone(), String::new()));
            CaseValue::Person { id, name, org }
        }
        FieldKind::File => match v.as_str().and_then(|s| s.parse::<Uuid>().ok()) {
            Some(id) => {
                let info = look.files.get(&id);
                let content_type = info.map_or("application/octet-stream".to_string(), |i| {
                    i.content_type.clone()
                });
                CaseValue::File {
                    id,
                    name: info.map_or(id.to_string(), |i| i.name.clone()),
                    preview: crate::files::SHOWN_INLINE.contains(&content_type.as_str()),
                    content_type,
                    size: info.map_or(0, |i| i.size),
                }
            }
            None => CaseValue::Text { text: text() },
        },
        _ => CaseValue::Text { text: text() },
    }
}

/// Person ids a form mentions (for their names).
pub fn people_in_forms(def: &Definition, events: &[RecordedEvent]) -> Vec<String> {
    let mut task_step: HashMap<Uuid, &str> = HashMap::new();
    let mut out = Vec::new();
    for e in events {
        match &e.event {
            Event::TaskCreated { task, record } => {
                task_step.insert(*task, record.step.as_str());
            }
            Event::TaskCompleted { task, form, .. } => {
                let Some((_, step)) = task_step.get(task).and_then(|s| def.step(s)) else {
                    continue;
                };
                for f in step.form.iter().filter(|f| f.kind == FieldKind::Person) {
                    if let Some(p) = form.get(&f.id).and_then(|v| v.as_str()) {
                        out.push(p.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The fields hidden from `person`: the `hide:` lists of every step of the
/// instance where they hold or held a task, or were sent a copy of one
/// (抄送 must not hand the hidden on). A hidden value is never sent to them
/// — not in the case file, the history or a file download — even where
/// another role would let them read it.
pub fn hidden_for(
    def: &Definition,
    instance: &InstanceState,
    events: &[RecordedEvent],
    person: &str,
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut steps: BTreeSet<&str> = instance
        .tasks
        .values()
        .filter(|t| t.assignee == person)
        .map(|t| t.step.as_str())
        .collect();
    for e in events {
        if let Event::CopiedTo { task, to, .. } = &e.event
            && to.iter().any(|p| p == person)
            && let Some(t) = instance.tasks.get(task)
        {
            steps.insert(t.step.as_str());
        }
    }
    for step in steps {
        let Some((_, s)) = def.step(step) else {
            continue;
        };
        for h in &s.hide {
            let (target, field) = h.split_once('.').unwrap_or((h.as_str(), "*"));
            out.insert((target.to_string(), field.to_string()));
        }
    }
    out
}

fn is_hidden(hidden: &BTreeSet<(String, String)>, step: &str, field: &str) -> bool {
    hidden.contains(&(step.to_string(), field.to_string()))
        || hidden.contains(&(step.to_string(), "*".to_string()))
}

/// Removes the hidden fields' values from the forms the events record
/// (decisions and delegates' opinions), and the hidden files' names and ids
/// from their uploads. The server verified the hash chain before; a
/// redacted history no longer verifies for its reader.
pub fn redact(def: &Definition, events: &mut [RecordedEvent], hidden: &BTreeSet<(String, String)>) {
    if hidden.is_empty() {
        return;
    }
    let files = hidden_files(def, events, hidden);
    // A redacted event no longer matches its hash, and the hashes would
    // let a reader confirm a guess at a hidden value: the chain goes (the
    // server verified it as stored).
    for e in events.iter_mut() {
        e.hash.clear();
        e.prev_hash.clear();
    }
    let mut task_step: HashMap<Uuid, String> = HashMap::new();
    for e in events.iter_mut() {
        match &mut e.event {
            Event::TaskCreated { task, record } => {
                task_step.insert(*task, record.step.clone());
            }
            Event::TaskCompleted { task, form, .. }
            | Event::DelegationResolved { task, form, .. } => {
                if let Some(step) = task_step.get(task) {
                    form.retain(|field, _| !is_hidden(hidden, step, field));
                }
            }
            Event::FileAttached {
                file, name, sha256, ..
            } if files.contains(file) => {
                *file = Uuid::nil();
                *name = "（已隐藏的材料）".into();
                sha256.clear();
            }
            _ => {}
        }
    }
}

/// The files a hidden field holds.
pub fn hidden_files(
    def: &Definition,
    events: &[RecordedEvent],
    hidden: &BTreeSet<(String, String)>,
) -> BTreeSet<Uuid> {
    let mut out = BTreeSet::new();
    if hidden.is_empty() {
        return out;
    }
    let mut task_step: HashMap<Uuid, &str> = HashMap::new();
    // Files a visible field names stay visible.
    let mut visible: BTreeSet<Uuid> = BTreeSet::new();
    // Uploads on tasks of a step whose files are (partly) hidden: a scan
    // replaced before the decision, or never put in a field, is hidden too.
    let mut uploads: Vec<Uuid> = Vec::new();
    let hides_files = |step: &str| {
        is_hidden(hidden, step, "*")
            || def.step(step).is_some_and(|(_, s)| {
                s.form
                    .iter()
                    .any(|f| f.kind == FieldKind::File && is_hidden(hidden, step, &f.id))
            })
    };
    for e in events {
        match &e.event {
            Event::TaskCreated { task, record } => {
                task_step.insert(*task, record.step.as_str());
            }
            Event::FileAttached { task, file, .. }
                if task_step.get(task).is_some_and(|s| hides_files(s)) =>
            {
                uploads.push(*file);
            }
            Event::TaskCompleted { task, form, .. }
            | Event::DelegationResolved { task, form, .. } => {
                let Some((id, step)) = task_step
                    .get(task)
                    .and_then(|s| def.step(s).map(|d| (*s, d.1)))
                else {
                    continue;
                };
                for f in step.form.iter().filter(|f| f.kind == FieldKind::File) {
                    let Some(file) = form
                        .get(&f.id)
                        .and_then(|v| v.as_str())
                        .and_then(|v| v.parse().ok())
                    else {
                        continue;
                    };
                    if is_hidden(hidden, id, &f.id) {
                        out.insert(file);
                    } else {
                        visible.insert(file);
                    }
                }
            }
            _ => {}
        }
    }
    out.extend(uploads.into_iter().filter(|f| !visible.contains(f)));
    out
}
