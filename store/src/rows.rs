//! What one command writes, as row values: prepared on the caller's task
//! (serializing the snapshot and the events there, where commands run side
//! by side), then written by either backend with the statements below.
//!
//! The statements use `?` placeholders: SQLite's writer binds them as they
//! are, PostgreSQL numbers them (`common.rs`'s `sql()`).

use stageflow_engine::machine::Effect;
use stageflow_engine::state::{Status, TaskStatus};
use stageflow_engine::{Event, Transition};

use crate::{StoreError, corrupt, to_micros};

/// A new instance row.
pub(crate) const INSERT_INSTANCE: &str = "INSERT INTO instances (id, definition, version, status, end_state, subject_org, subject_person, stage, seq, state, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// The instance row of a later command, guarded by its version.
pub(crate) const UPDATE_INSTANCE: &str = "UPDATE instances SET status = ?, end_state = ?, stage = ?, seq = ?, state = ?, updated_at = ? WHERE id = ? AND seq = ?";
/// The instance row of a command that left its status alone: the indexes
/// over the status are not touched.
pub(crate) const UPDATE_INSTANCE_STATE: &str =
    "UPDATE instances SET stage = ?, seq = ?, state = ?, updated_at = ? WHERE id = ? AND seq = ?";
/// Whether an instance exists (a batch start leaves existing ones alone).
pub(crate) const INSTANCE_EXISTS: &str = "SELECT CAST(1 AS BIGINT) FROM instances WHERE id = ?";
/// One event.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (instance_id, seq, at, type, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)";
/// A task row.
pub(crate) const INSERT_TASK: &str = "INSERT INTO tasks (id, instance_id, step, assignee, role, org, kind, status, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)";
/// A task closed.
pub(crate) const CLOSE_TASK: &str =
    "UPDATE tasks SET status = ?, outcome = ?, closed_at = ? WHERE id = ?";
/// A task handed to someone else.
pub(crate) const REASSIGN_TASK: &str = "UPDATE tasks SET assignee = ? WHERE id = ?";
/// A timer armed (re-arming one replaces it and drops any lease).
pub(crate) const ARM_TIMER: &str = "INSERT INTO timers (instance_id, timer, at) VALUES (?, ?, ?) ON CONFLICT (instance_id, timer) DO UPDATE SET at = excluded.at, lease_owner = NULL, lease_until = NULL";
/// A timer disarmed, or consumed by the command it fired.
pub(crate) const DELETE_TIMER: &str = "DELETE FROM timers WHERE instance_id = ? AND timer = ?";
/// A mail queued; a key seen before is ignored.
pub(crate) const INSERT_MAIL: &str = "INSERT INTO outbox (key, instance_id, to_person, kind, vars, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING";
/// A file's bytes, stored with the command that attaches it.
pub(crate) const INSERT_FILE: &str = "INSERT INTO files (id, instance_id, task_id, name, content_type, size, sha256, content, uploaded_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/// The answer to an idempotent request, saved with the command it
/// answers (a retry with the same key gets it back). A key seen before
/// fails the transaction: two requests with one key never both act.
pub(crate) const INSERT_RECEIPT: &str =
    "INSERT INTO idempotency (key, status, body, created_at) VALUES (?, ?, ?, ?)";
/// A child instance requested.
pub(crate) const INSERT_CHILD: &str =
    "INSERT INTO child_requests (instance_id, step, seq, workflow, inputs) VALUES (?, ?, ?, ?, ?)";

/// Everything one command writes, in row values.
#[derive(Debug, Clone)]
pub(crate) struct PreparedWrite {
    /// The instance.
    pub id: uuid::Uuid,
    /// The version the instance must still be at (0: it must not exist).
    pub expected_seq: i64,
    /// The instance row.
    pub instance: InstanceRow,
    /// New events, in order.
    pub events: Vec<EventRow>,
    /// Task, timer, mail and child rows, in the order of the effects.
    pub rows: Vec<RowWrite>,
    /// A file stored with the command (it records the upload).
    pub file: Option<FileRow>,
    /// The answer saved for the request's idempotency key.
    pub receipt: Option<ReceiptRow>,
    /// Timers this command consumed (it fired them).
    pub fired: Vec<String>,
    /// Whether the instance's status (and end state) changed: only the
    /// lifecycle events change them.
    pub status_changed: bool,
    /// Whether it arms a timer (other nodes are told on PostgreSQL).
    pub arms_timer: bool,
    /// Whether it queues mail.
    pub queues_mail: bool,
}

/// The columns of an instance row.
#[derive(Debug, Clone)]
pub(crate) struct InstanceRow {
    pub id: String,
    pub definition: String,
    pub version: i64,
    pub status: &'static str,
    pub end_state: Option<String>,
    pub subject_org: String,
    pub subject_person: Option<String>,
    pub stage: Option<String>,
    pub seq: i64,
    /// The state snapshot as JSON.
    pub state: String,
    pub started_at: i64,
    pub updated_at: i64,
}

/// The columns of an event row (besides the instance).
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub body: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The columns of a file row.
#[derive(Debug, Clone)]
pub(crate) struct FileRow {
    pub id: String,
    pub task: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub content: Vec<u8>,
    pub uploaded_by: String,
    pub created_at: i64,
}

/// The columns of a saved answer.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptRow {
    pub key: String,
    pub status: i64,
    pub body: String,
    pub created_at: i64,
}

/// A row an effect writes.
#[derive(Debug, Clone)]
pub(crate) enum RowWrite {
    CreateTask {
        id: String,
        step: String,
        assignee: String,
        role: Option<String>,
        org: Option<String>,
        kind: String,
        created_at: i64,
        due_at: Option<i64>,
    },
    CloseTask {
        id: String,
        status: &'static str,
        outcome: Option<String>,
        closed_at: i64,
    },
    Reassign {
        id: String,
        assignee: String,
    },
    ArmTimer {
        timer: String,
        at: i64,
    },
    DisarmTimer {
        timer: String,
    },
    Mail {
        key: String,
        to: String,
        kind: String,
        vars: String,
        created_at: i64,
    },
    Child {
        step: String,
        workflow: String,
        inputs: String,
    },
}

fn int(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(corrupt)
}

/// The `type` of an event's JSON body (`{"type":"…",…}`: serde writes the
/// tag first), without parsing it again.
fn event_type(body: &str) -> String {
    body.strip_prefix("{\"type\":\"")
        .and_then(|rest| rest.split_once('"'))
        .map(|(kind, _)| kind.to_string())
        .unwrap_or_else(|| {
            serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_default()
        })
}

impl PreparedWrite {
    /// The rows of a transition that expects the instance at
    /// `expected_seq` (0: a new instance).
    pub(crate) fn new(expected_seq: u64, t: &Transition) -> Result<PreparedWrite, StoreError> {
        let s = &t.state;
        let now = t.events.last().map(|e| e.at).unwrap_or_default();
        let (status, end_state) = match &s.status {
            Status::New => ("new", None),
            Status::Running => ("running", None),
            Status::Ended(e) => ("ended", Some(e.clone())),
            Status::Cancelled => ("cancelled", None),
        };
        let instance = InstanceRow {
            id: s.id.to_string(),
            definition: s.definition.clone(),
            version: i64::from(s.version),
            status,
            end_state,
            subject_org: s.subject.org.clone(),
            subject_person: s.subject.person.clone(),
            stage: s.stage.clone(),
            seq: int(s.seq)?,
            state: serde_json::to_string(s).map_err(corrupt)?,
            started_at: to_micros(s.started_at.unwrap_or(now)),
            updated_at: to_micros(now),
        };
        let mut events = Vec::with_capacity(t.events.len());
        let mut fired = Vec::new();
        let mut status_changed = false;
        for e in &t.events {
            let body = serde_json::to_string(&e.event).map_err(corrupt)?;
            events.push(EventRow {
                seq: int(e.seq)?,
                at: to_micros(e.at),
                kind: event_type(&body),
                body,
                prev_hash: e.prev_hash.clone(),
                hash: e.hash.clone(),
            });
            match &e.event {
                Event::TimerFired { timer } => fired.push(timer.clone()),
                Event::InstanceStarted { .. }
                | Event::InstanceEnded { .. }
                | Event::InstanceCancelled { .. } => status_changed = true,
                _ => {}
            }
        }
        let mut rows = Vec::with_capacity(t.effects.len());
        let (mut arms_timer, mut queues_mail) = (false, false);
        for effect in &t.effects {
            rows.push(match effect {
                Effect::CreateTask { task, record } => RowWrite::CreateTask {
                    id: task.to_string(),
                    step: record.step.clone(),
                    assignee: record.assignee.clone(),
                    role: record.role.clone(),
                    org: record.org.clone(),
                    kind: serde_json::to_value(record.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    created_at: to_micros(record.created_at),
                    due_at: record.due_at.map(to_micros),
                },
                Effect::CloseTask { task, status } => {
                    let (status, outcome) = match status {
                        TaskStatus::Open => ("open", None),
                        TaskStatus::Done(o) => ("done", Some(o.clone())),
                        TaskStatus::Cancelled => ("cancelled", None),
                    };
                    RowWrite::CloseTask {
                        id: task.to_string(),
                        status,
                        outcome,
                        closed_at: to_micros(now),
                    }
                }
                Effect::ReassignTask { task, assignee } => RowWrite::Reassign {
                    id: task.to_string(),
                    assignee: assignee.clone(),
                },
                Effect::ArmTimer { timer, at } => {
                    arms_timer = true;
                    RowWrite::ArmTimer {
                        timer: timer.clone(),
                        at: to_micros(*at),
                    }
                }
                Effect::DisarmTimer { timer } => RowWrite::DisarmTimer {
                    timer: timer.clone(),
                },
                Effect::EnqueueMail(mail) => {
                    queues_mail = true;
                    RowWrite::Mail {
                        key: mail.key.clone(),
                        to: mail.to.clone(),
                        kind: mail.kind.clone(),
                        vars: serde_json::to_string(&mail.vars).map_err(corrupt)?,
                        created_at: to_micros(now),
                    }
                }
                Effect::StartChild {
                    step,
                    workflow,
                    inputs,
                } => RowWrite::Child {
                    step: step.clone(),
                    workflow: workflow.clone(),
                    inputs: serde_json::to_string(inputs).map_err(corrupt)?,
                },
            });
        }
        Ok(PreparedWrite {
            id: s.id,
            expected_seq: int(expected_seq)?,
            instance,
            events,
            rows,
            file: None,
            receipt: None,
            fired,
            status_changed,
            arms_timer,
            queues_mail,
        })
    }
}

impl PreparedWrite {
    /// The same writes with what [`crate::CommitExtras`] adds: a file's
    /// bytes, the answer to an idempotent request.
    pub(crate) fn with_extras(
        mut self,
        extras: &crate::CommitExtras<'_>,
    ) -> Result<PreparedWrite, StoreError> {
        if let Some((meta, content)) = extras.file {
            self = self.with_file(meta, content)?;
        }
        if let Some(r) = &extras.receipt {
            self.receipt = Some(ReceiptRow {
                key: r.key.to_string(),
                status: i64::from(r.response.status),
                body: r.response.body.clone(),
                created_at: self.instance.updated_at,
            });
        }
        Ok(self)
    }

    /// The same writes with a file's bytes stored alongside.
    fn with_file(
        mut self,
        meta: &crate::FileMeta,
        content: &[u8],
    ) -> Result<PreparedWrite, StoreError> {
        self.file = Some(FileRow {
            id: meta.id.to_string(),
            task: meta.task.to_string(),
            name: meta.name.clone(),
            content_type: meta.content_type.clone(),
            size: int(meta.size)?,
            sha256: meta.sha256.clone(),
            content: content.to_vec(),
            uploaded_by: meta.uploaded_by.clone(),
            created_at: self.instance.updated_at,
        });
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::event_type;

    #[test]
    fn event_type_is_read_from_the_tag_or_parsed() {
        assert_eq!(
            event_type(r#"{"type":"task_completed","task":"x"}"#),
            "task_completed"
        );
        assert_eq!(
            event_type(r#"{"task":"x","type":"timer_fired"}"#),
            "timer_fired"
        );
        assert_eq!(event_type("not json"), "");
    }
}
