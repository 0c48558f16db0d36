//! Persistence for stageflow: the store port and its SQLite implementation.
//!
//! Key design decision: one [`Store::commit`] writes everything a command
//! produced — the instance snapshot, its events, task rows, timers, outbox
//! mails and child requests — in one transaction, guarded by the instance's
//! version (`seq`). A crash leaves all or nothing; a command that raced
//! another gets [`StoreError::Conflict`] and nothing is written. The store
//! keeps nothing in memory between calls.

#![deny(missing_docs)]

mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::state::{InstanceState, Mail, RecordedEvent};
use stageflow_engine::{Definition, Transition};
use uuid::Uuid;

pub use sqlite::{SqliteOptions, SqliteStore};

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another command changed the instance first (optimistic concurrency).
    #[error("conflict: instance {0} was changed by another command")]
    Conflict(Uuid),
    /// A definition with this id and version exists with other content.
    #[error("definition {id} version {version} is already published with different content")]
    DefinitionExists {
        /// Id.
        id: String,
        /// Version.
        version: u32,
    },
    /// A stored value could not be read back.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A published definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDefinition {
    /// The compiled model.
    pub definition: Definition,
    /// The YAML source as published.
    pub source: String,
}

/// A line of the definitions list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionSummary {
    /// Id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Name.
    pub name: String,
}

/// A due timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// Instance.
    pub instance: Uuid,
    /// Timer id.
    pub timer: String,
    /// When it is due.
    pub at: DateTime<Utc>,
}

/// A task row as the inbox shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    /// Task id.
    pub id: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Step id.
    pub step: String,
    /// Assignee.
    pub assignee: String,
    /// Role the assignee was chosen by.
    pub role: Option<String>,
    /// Status: open, done or cancelled.
    pub status: String,
    /// Outcome when done.
    pub outcome: Option<String>,
    /// When the deadline is missed.
    pub due_at: Option<DateTime<Utc>>,
}

/// A queued mail.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMail {
    /// Instance.
    pub instance: Uuid,
    /// The mail.
    pub mail: Mail,
    /// Queued at.
    pub created_at: DateTime<Utc>,
}

/// The store port. Object safe: the shell holds an `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync {
    /// Publishes a definition. Publishing the same content again is a no-op;
    /// different content under the same id and version is refused.
    async fn put_definition(
        &self,
        def: &StoredDefinition,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// A definition by id and version (the newest when `None`).
    async fn definition(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredDefinition>, StoreError>;
    /// All published definitions, newest version of each first.
    async fn list_definitions(&self) -> Result<Vec<DefinitionSummary>, StoreError>;
    /// The current state of an instance.
    async fn instance(&self, id: Uuid) -> Result<Option<InstanceState>, StoreError>;
    /// Writes what a command produced, if the instance is still at
    /// `expected_seq` (0 for a new instance).
    async fn commit(&self, expected_seq: u64, transition: &Transition) -> Result<(), StoreError>;
    /// The events of an instance, in order.
    async fn events(&self, id: Uuid) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Timers due at or before `now`, earliest first.
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32)
    -> Result<Vec<DueTimer>, StoreError>;
    /// Removes a timer the engine refused to fire.
    async fn delete_timer(&self, instance: Uuid, timer: &str) -> Result<(), StoreError>;
    /// When the earliest armed timer is due.
    async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Tasks of an assignee with a status, by deadline.
    async fn tasks_for(
        &self,
        assignee: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<TaskRow>, StoreError>;
    /// Tasks of an instance.
    async fn instance_tasks(&self, id: Uuid) -> Result<Vec<TaskRow>, StoreError>;
    /// Mails not sent yet, oldest first.
    async fn pending_mail(&self, limit: u32) -> Result<Vec<OutboxMail>, StoreError>;
}

/// Microseconds since the epoch, the stored form of instants.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of stored microseconds.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
