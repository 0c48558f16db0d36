//! Persistence for stageflow: the store port and its two implementations,
//! SQLite (one file, the default) and PostgreSQL (several nodes). Both run
//! the same queries (`common.rs`).
//!
//! Key design decision: one [`Store::commit`] writes everything a command
//! produced — the instance snapshot, its events, task rows, timers, outbox
//! mails and child requests — in one transaction, guarded by the instance's
//! version (`seq`). A crash leaves all or nothing; a command that raced
//! another gets [`StoreError::Conflict`] and nothing is written. The store
//! keeps nothing in memory between calls.

#![deny(missing_docs)]

mod postgres;
mod rows;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stageflow_engine::state::{InstanceState, Mail, RecordedEvent};
use stageflow_engine::{Definition, Transition};
use uuid::Uuid;

pub use postgres::{PgOptions, PgStore};
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
    Database(sqlx::Error),
    /// The SQLite writer failed (see [`StoreError::Database`] for the pool).
    #[error("database error: {0}")]
    Sqlite(String),
    /// Another writer holds the database past the wait (SQLite's lock, a
    /// pool with no free connection): nothing was changed; retry soon.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The database cannot be reached, is restarting, or is out of space:
    /// nothing was changed; retry in a few seconds.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A referenced record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request breaks a rule of the directory.
    #[error("{0}")]
    Invalid(String),
    /// Migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer stageflow than this one.
    #[error(
        "the database schema is newer than this stageflow knows (migration {0} is applied but unknown here): run the newer stageflow, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew(i64),
}

impl From<sqlx::Error> for StoreError {
    /// Sorts the pool's errors: busy and unavailable databases are told
    /// apart from the rest, so callers can answer "retry" for them.
    fn from(e: sqlx::Error) -> StoreError {
        use sqlx::Error as E;
        let busy = matches!(e, E::PoolTimedOut)
            || e.as_database_error().is_some_and(|d| {
                // SQLite: SQLITE_BUSY, SQLITE_LOCKED.
                d.message().contains("locked") || d.message().contains("busy")
            });
        let unavailable = match &e {
            E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
            E::Database(d) => {
                let code = d.code().unwrap_or_default();
                // PostgreSQL: connection exceptions (08…), insufficient
                // resources such as a full disk (53…), shutting down (57P…).
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57P")
                    // SQLite: SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN.
                    || d.message().contains("disk is full")
                    || d.message().contains("disk I/O error")
                    || d.message().contains("unable to open")
            }
            _ => false,
        };
        if busy {
            StoreError::Busy(e.to_string())
        } else if unavailable {
            StoreError::Unavailable(e.to_string())
        } else {
            StoreError::Database(e)
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    /// Sorts the SQLite writer's errors as [`From<sqlx::Error>`] does.
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => StoreError::Busy(e.to_string()),
            Some(C::DiskFull | C::SystemIoFailure | C::CannotOpen) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

/// A stored value that does not read back.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A migration error, with a schema newer than this build named as such.
pub(crate) fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::SchemaTooNew(v),
        other => StoreError::Migrate(other),
    }
}

/// Which database a `--db` value names: `postgres://…` (or
/// `postgresql://…`) is PostgreSQL, anything else a SQLite file or URL.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Opens (and migrates) the store a `--db` value names, with default pool
/// settings. PostgreSQL: `postgres://user@host/db`; SQLite: a path or
/// `sqlite://path`.
pub async fn open(db: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if is_postgres_url(db) {
        Ok(std::sync::Arc::new(
            PgStore::open(&PgOptions::new(db)).await?,
        ))
    } else {
        Ok(std::sync::Arc::new(
            SqliteStore::open(&SqliteOptions::new(db)).await?,
        ))
    }
}

/// A published definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDefinition {
    /// The compiled model.
    pub definition: Definition,
    /// The YAML source as published.
    pub source: String,
    /// The organization that owns this version (`None`: the shipped
    /// library, owned by the whole tree).
    pub owner: Option<String>,
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
    /// The owning organization (`None`: the whole tree).
    pub owner: Option<String>,
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
    /// Workflow id of the instance.
    pub workflow: String,
    /// Subject organization of the instance.
    pub org: String,
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
    /// The person the instance is about, if it is about a person.
    pub subject_person: Option<String>,
    /// That person's name (as the directory has it now).
    pub subject_person_name: Option<String>,
    /// The subject organization's name.
    pub subject_org_name: Option<String>,
}

/// A mail that could not be delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedMail {
    /// Idempotency key.
    pub key: String,
    /// Recipient person id.
    pub to: String,
    /// Kind.
    pub kind: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
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
    /// Attempts made so far.
    pub attempts: u32,
    /// The fencing token of the claim that returned it: only its holder
    /// can record the outcome.
    pub lease: i64,
}

/// What a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A bearer token of the API (`stageflow token create`); no expiry.
    Personal,
    /// A signed-in browser (the `sf_session` cookie); expires.
    Session,
    /// A one-time sign-in link sent by mail; expires, used once.
    LoginLink,
    /// A calendar subscription: opens the calendar feeds, nothing else.
    Feed,
    /// A change of one's own e-mail address waiting for the confirmation
    /// sent to the old address; expires, used once.
    EmailChange,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Session => "session",
            TokenKind::LoginLink => "login_link",
            TokenKind::Feed => "feed",
            TokenKind::EmailChange => "email_change",
        }
    }
}

/// A stored token as `token list` shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token's id: the first 16 hex digits of its hash.
    pub id: String,
    /// Whose it is.
    pub person: String,
    /// `personal`, `session`, `feed`, `login_link` or `email_change`.
    pub kind: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working (`None`: a token made before tokens expired).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who changes the directory, and when: every change to organizations,
/// people and memberships is written to the audit trail in its own
/// transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Audit<'a> {
    /// The person (or `admin`, `operator`) who made the change.
    pub actor: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

/// One change in the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the trail.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// `create`, `update`, `delete` or `import`.
    pub action: String,
    /// `org` or `person`.
    pub target_kind: String,
    /// The organization's or person's id.
    pub target_id: String,
    /// The record before (JSON; `None` for a creation).
    pub before: Option<serde_json::Value>,
    /// The record after (JSON; `None` for a deletion).
    pub after: Option<serde_json::Value>,
}

/// What a command's transaction writes besides the command's own rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitExtras<'a> {
    /// An uploaded file the command records (`AttachFile`): its bytes are
    /// stored in the same transaction, so the history never names a file
    /// that is not there, nor is a file kept that it does not name.
    pub file: Option<(&'a FileMeta, &'a [u8])>,
    /// The answer to the request, saved under its idempotency key in the
    /// same transaction: a retry after a crash gets it, never a conflict.
    pub receipt: Option<Receipt<'a>>,
}

/// An answer saved under an idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'a> {
    /// The key.
    pub key: &'a str,
    /// The answer.
    pub response: &'a SavedResponse,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Org {
    /// Id.
    pub id: String,
    /// Name, e.g. `机关第一党支部`.
    pub name: String,
    /// Kind: 党委, 党总支, 党支部, 党小组, 工会, 团委, 妇委会, ...
    pub kind: String,
    /// Parent organization.
    pub parent: Option<String>,
    /// Materialized path `/root/…/id/`.
    pub path: String,
    /// Start of the current term (YYYY-MM-DD), for 换届.
    pub term_start: Option<String>,
    /// Length of a term in years.
    pub term_years: Option<u32>,
}

/// What creating an organization needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewOrg {
    /// Id; generated when absent.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Parent.
    pub parent: Option<String>,
    /// Term start.
    pub term_start: Option<String>,
    /// Term length in years.
    pub term_years: Option<u32>,
}

/// Changes to an organization; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgPatch {
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New parent (moves the whole subtree).
    pub parent: Option<String>,
    /// New term start.
    pub term_start: Option<String>,
    /// New term length.
    pub term_years: Option<u32>,
}

/// Changes to a person; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PersonPatch {
    /// New name.
    pub name: Option<String>,
    /// New email.
    pub email: Option<String>,
    /// New phone.
    pub phone: Option<String>,
    /// New birth date.
    pub birth_date: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New key dates (replace all).
    pub key_dates: Option<serde_json::Map<String, serde_json::Value>>,
    /// New memberships (replace all).
    pub memberships: Option<Vec<Membership>>,
}

/// A role a person holds in an organization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Membership {
    /// Organization id.
    pub org: String,
    /// Role id.
    pub role: String,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email (reminders go here).
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Birth date (YYYY-MM-DD).
    pub birth_date: Option<String>,
    /// 群众 / 申请人 / 积极分子 / 发展对象 / 预备党员 / 正式党员.
    pub status: String,
    /// Key dates (入党申请日期, 预备期起, ...).
    pub key_dates: serde_json::Map<String, serde_json::Value>,
    /// Roles in organizations.
    pub memberships: Vec<Membership>,
}

/// What creating a person needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewPerson {
    /// Id; generated when absent.
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// Status; `群众` when absent.
    pub status: Option<String>,
    /// Key dates.
    pub key_dates: serde_json::Map<String, serde_json::Value>,
    /// Roles.
    pub memberships: Vec<Membership>,
}

/// A stored file's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Id.
    pub id: Uuid,
    /// Instance.
    pub instance: Uuid,
    /// Task it was uploaded for.
    pub task: Uuid,
    /// File name as uploaded.
    pub name: String,
    /// Media type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Who uploaded it.
    pub uploaded_by: String,
}

/// A cron schedule as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRow {
    /// `WORKFLOW:SCHEDULE`.
    pub id: String,
    /// Workflow id.
    pub workflow: String,
    /// Workflow version it starts.
    pub version: u32,
    /// Cron expression (seconds first).
    pub cron: String,
    /// IANA time zone.
    pub timezone: String,
    /// Kind of the organizations it starts instances for.
    pub org_kind: String,
    /// Under which organization (all of the tree when absent).
    pub org_under: Option<String>,
    /// Inputs of each instance.
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// `skip` or `allow`.
    pub overlap: String,
    /// `last`, `all` or `none`.
    pub catch_up: String,
    /// Paused.
    pub paused: bool,
    /// Why it was paused.
    pub pause_note: Option<String>,
    /// The next occurrence.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// When it last fired.
    pub last_fired_at: Option<DateTime<Utc>>,
    /// The organization that owns its definition (`None`: the whole tree);
    /// what it starts must lie in its subtree.
    pub owner: Option<String>,
}

/// One occurrence of a schedule that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleRun {
    /// The occurrence (its cron time).
    pub occurrence: DateTime<Utc>,
    /// Instances started.
    pub started: u32,
    /// Organizations skipped (overlap).
    pub skipped: u32,
}

/// The holder of a token ([`Store::token_holder`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    /// Person id.
    pub person: String,
    /// The person's name; `None` when the person is gone.
    pub name: Option<String>,
    /// The person's roles, each with the path of its organization, by
    /// organization and role.
    pub roles: Vec<(Membership, String)>,
}

/// A stored response to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResponse {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: String,
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
    /// The current states of several instances (a page of the inbox, a
    /// report), in the order asked, each once; ids with no instance are
    /// left out.
    async fn instances(&self, ids: &[Uuid]) -> Result<Vec<InstanceState>, StoreError>;
    /// Writes what a command produced, if the instance is still at
    /// `expected_seq` (0 for a new instance).
    async fn commit(&self, expected_seq: u64, transition: &Transition) -> Result<(), StoreError>;
    /// [`Store::commit`] with what the command's transaction also writes
    /// (an uploaded file, the answer saved under an idempotency key).
    async fn commit_with(
        &self,
        expected_seq: u64,
        transition: &Transition,
        extras: &CommitExtras<'_>,
    ) -> Result<(), StoreError>;
    /// Writes the first transitions of new instances in one transaction
    /// (a batched fan-out start); instances that exist already are left
    /// alone. Returns how many were written.
    async fn commit_new_batch(&self, transitions: &[Transition]) -> Result<usize, StoreError>;
    /// The events of an instance, in order.
    async fn events(&self, id: Uuid) -> Result<Vec<RecordedEvent>, StoreError>;
    /// The events of an instance after the one numbered `seq`, in order.
    async fn events_after(&self, id: Uuid, seq: u64) -> Result<Vec<RecordedEvent>, StoreError>;
    /// The events of one type (`escalated`, …) of several instances: each
    /// with its instance, an instance's in order.
    async fn events_of_type(
        &self,
        ids: &[Uuid],
        kind: &str,
    ) -> Result<Vec<(Uuid, RecordedEvent)>, StoreError>;
    /// Timers due at or before `now`, earliest first.
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32)
    -> Result<Vec<DueTimer>, StoreError>;
    /// Claims up to `limit` timers due at `now` that nobody holds a live
    /// lease on, leasing them to `owner` until `lease_until`; earliest first.
    async fn claim_due_timers(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueTimer>, StoreError>;
    /// Claims up to `limit` mails ready to send (not sent, not failed, next
    /// attempt due), leasing them until `lease_until`.
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError>;
    /// Whether the claim with fencing token `lease` still holds the mail
    /// (checked right before sending: a process whose lease ran out while
    /// it stalled does not send what another has taken over).
    async fn mail_lease_held(
        &self,
        key: &str,
        lease: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Marks a mail sent, if `lease` is still the current claim; false
    /// when another process has taken the mail over.
    async fn mail_sent(
        &self,
        key: &str,
        lease: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records a failed attempt (if `lease` is still the current claim);
    /// the mail is retried at `retry_at`, or marked failed when `retry_at`
    /// is `None`.
    async fn mail_attempt_failed(
        &self,
        key: &str,
        lease: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Mails that failed for good, newest first.
    async fn failed_mail(&self, limit: u32) -> Result<Vec<FailedMail>, StoreError>;
    /// Removes a timer the engine refused to fire, if `owner` still holds
    /// its lease (a re-armed timer of the same name is left alone).
    async fn delete_timer(
        &self,
        instance: Uuid,
        timer: &str,
        owner: &str,
    ) -> Result<(), StoreError>;
    /// When the earliest armed timer can be fired: its time, or for a
    /// timer another process holds, the end of that lease (so a timer loop
    /// does not spin on a timer it cannot claim).
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
    /// A task row.
    async fn task(&self, id: Uuid) -> Result<Option<TaskRow>, StoreError>;
    /// Tasks of an assignee with a status, filtered and paged.
    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<TaskRow>, StoreError>;
    /// How many open tasks a person has (the count beside 待办).
    async fn open_task_count(&self, assignee: &str) -> Result<u64, StoreError>;

    /// Creates an organization under an existing parent (audited).
    async fn create_org(&self, org: &NewOrg, audit: &Audit<'_>) -> Result<Org, StoreError>;
    /// Changes an organization; a new parent moves its subtree (audited).
    async fn update_org(
        &self,
        id: &str,
        patch: &OrgPatch,
        audit: &Audit<'_>,
    ) -> Result<Org, StoreError>;
    /// Deletes an organization with no sub-organizations, members or
    /// instances (audited).
    async fn delete_org(&self, id: &str, audit: &Audit<'_>) -> Result<(), StoreError>;
    /// Changes a person (audited).
    async fn update_person(
        &self,
        id: &str,
        patch: &PersonPatch,
        audit: &Audit<'_>,
    ) -> Result<Person, StoreError>;
    /// Deletes a person with no pending tasks (their memberships and
    /// tokens go too; audited).
    async fn delete_person(&self, id: &str, audit: &Audit<'_>) -> Result<(), StoreError>;
    /// The audit trail of a subtree, newest first: the changes that
    /// concern an organization in it.
    async fn audit_under(&self, root: &str, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// An organization.
    async fn org(&self, id: &str) -> Result<Option<Org>, StoreError>;
    /// Organizations in a subtree (all when `None`), by path. A subtree is
    /// every organization whose path starts with the root's, compared
    /// exactly (byte ranges, never a `LIKE` pattern).
    async fn orgs_under(
        &self,
        root: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Org>, StoreError>;
    /// The top-level organizations (no parent), by path.
    async fn top_orgs(&self) -> Result<Vec<Org>, StoreError>;
    /// An organization and its ancestors, nearest first.
    async fn org_chain(&self, id: &str) -> Result<Vec<Org>, StoreError>;
    /// Creates a person with memberships (audited).
    async fn create_person(
        &self,
        person: &NewPerson,
        audit: &Audit<'_>,
    ) -> Result<Person, StoreError>;
    /// A person with memberships.
    async fn person(&self, id: &str) -> Result<Option<Person>, StoreError>;
    /// People with a membership in a subtree (everyone when `None`).
    async fn people_under(&self, root: Option<&str>) -> Result<Vec<Person>, StoreError>;
    /// `(org, role, person)` for every membership in these organizations.
    async fn holders_in(
        &self,
        orgs: &[String],
    ) -> Result<Vec<(String, String, String)>, StoreError>;
    /// `(org, person)` holding `role` in organizations of `kind` under `root`.
    async fn role_holders_under(
        &self,
        root: &str,
        kind: Option<&str>,
        role: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Imports organizations (parents before children) and people in one
    /// transaction: all or nothing (audited). Returns how many of each
    /// were written.
    async fn import_directory(
        &self,
        orgs: &[NewOrg],
        people: &[NewPerson],
        audit: &Audit<'_>,
    ) -> Result<(usize, usize), StoreError>;
    /// A file's description and content.
    async fn file(&self, id: Uuid) -> Result<Option<(FileMeta, Vec<u8>)>, StoreError>;
    /// A file's description, without its content.
    async fn file_meta(&self, id: Uuid) -> Result<Option<FileMeta>, StoreError>;
    /// The files of an instance, oldest first.
    async fn instance_files(&self, instance: Uuid) -> Result<Vec<FileMeta>, StoreError>;
    /// Creates or updates a schedule from a published definition; pause
    /// state is kept, `next_fire_at` replaced.
    async fn upsert_schedule(&self, row: &ScheduleRow) -> Result<(), StoreError>;
    /// All schedules.
    async fn schedules(&self) -> Result<Vec<ScheduleRow>, StoreError>;
    /// One schedule.
    async fn schedule(&self, id: &str) -> Result<Option<ScheduleRow>, StoreError>;
    /// Pauses (with a note) or resumes a schedule.
    async fn set_schedule_paused(
        &self,
        id: &str,
        paused: bool,
        note: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Resumes a schedule in one write: unpaused, its note cleared, its
    /// next occurrence set (the ones missed while paused do not fire).
    async fn resume_schedule(
        &self,
        id: &str,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// Claims unpaused schedules whose next occurrence is due.
    async fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ScheduleRow>, StoreError>;
    /// Records fired occurrences and the next one; releases the lease.
    async fn finish_schedule(
        &self,
        id: &str,
        next_fire_at: Option<DateTime<Utc>>,
        runs: &[ScheduleRun],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The latest runs of a schedule, newest first.
    async fn schedule_runs(&self, id: &str, limit: u32) -> Result<Vec<ScheduleRun>, StoreError>;
    /// Organizations with a running instance of a workflow.
    async fn running_orgs(&self, workflow: &str) -> Result<Vec<String>, StoreError>;
    /// Open tasks of instances whose organization is in a subtree (all when
    /// `None`), due before `due_before` when given, by deadline.
    async fn open_tasks_under(
        &self,
        root: Option<&str>,
        due_before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<TaskRow>, StoreError>;
    /// Counters for `/metrics`: `(name, labels, value)`.
    async fn metrics(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
    /// Stores a token hash for a person: what it opens and, for sessions
    /// and login links, when it expires. Expired tokens are purged.
    async fn put_token(
        &self,
        hash: &str,
        person: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// The person a token hash of this kind belongs to, unless it expired.
    async fn token_person(
        &self,
        hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    /// Who holds a token of this kind (unless it expired): the person,
    /// their name and their roles, each with its organization's path — what
    /// a request's authorization needs, in one round trip.
    async fn token_holder(
        &self,
        hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenHolder>, StoreError>;
    /// Uses up a one-time token: deletes it and returns its person, unless
    /// it expired or was used already (then `None`).
    async fn take_token(
        &self,
        hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError>;
    /// The people with this e-mail address (compared without case), at
    /// most two, by id: one is its holder; two (a directory from before
    /// addresses were unique) make it nobody's to sign in with.
    async fn people_by_email(&self, email: &str) -> Result<Vec<String>, StoreError>;
    /// Revokes every token of a kind a person holds; returns how many.
    async fn delete_tokens_of(&self, person: &str, kind: TokenKind) -> Result<u64, StoreError>;
    /// Queues a mail that belongs to no instance (a login link).
    async fn queue_mail(&self, mail: &Mail, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Instances of a workflow, running first then newest: `(id, subject
    /// organization, status)`, at most `limit`.
    async fn instances_of(
        &self,
        workflow: &str,
        limit: u32,
    ) -> Result<Vec<(Uuid, String, String)>, StoreError>;
    /// Revokes a token (a web session when its person signs out).
    async fn delete_token(&self, hash: &str) -> Result<(), StoreError>;
    /// The tokens of a person (every person when `None`), newest first;
    /// expired ones are left out.
    async fn tokens(
        &self,
        person: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<TokenInfo>, StoreError>;
    /// The live tokens of several people, newest first.
    async fn tokens_of(
        &self,
        people: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<TokenInfo>, StoreError>;
    /// A token by its id ([`TokenInfo::id`]).
    async fn token_info(&self, id: &str) -> Result<Option<TokenInfo>, StoreError>;
    /// Revokes a token by its id; whether there was one.
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError>;
    /// Stores a pending change of a person's e-mail address under the hash
    /// of the token mailed to the old address.
    async fn put_email_change(
        &self,
        hash: &str,
        person: &str,
        email: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Uses up a pending e-mail change: `(person, new address)` unless it
    /// expired or was used.
    async fn take_email_change(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, StoreError>;
    /// A saved response for an idempotency key.
    async fn saved_response(&self, key: &str) -> Result<Option<SavedResponse>, StoreError>;
    /// Work reported by other processes on the same database (a timer
    /// armed, a mail queued), so their loops wake without polling. `None`
    /// where one process owns the database (SQLite).
    async fn wakeups(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<Wakeup>>, StoreError> {
        Ok(None)
    }
}

/// New work another process committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// A timer was armed (it may be due sooner than the next one known).
    Timer,
    /// A mail was queued.
    Mail,
}

/// Filters of the inbox query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxQuery {
    /// Assignee.
    pub assignee: String,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    /// Only tasks of instances whose subject organization is in this subtree.
    pub org: Option<String>,
    /// Only tasks of this workflow.
    pub workflow: Option<String>,
    /// Only tasks due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks whose subject's name (the person's or the
    /// organization's) contains this text.
    pub subject: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Microseconds since the epoch, the stored form of instants.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant of stored microseconds.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
