//! The imperative shell of stageflow: runs commands in transactions and
//! simulates definitions with a virtual clock.
//!
//! Key design decision: the runtime never holds instance state between
//! commands. Each command loads the state, applies the pure engine, and
//! commits everything in one transaction guarded by the instance version;
//! a lost race is retried on fresh state, so two approvers acting at once
//! never both win. Time is always an argument: nothing here reads a clock.

#![deny(missing_docs)]

pub mod directory;
pub mod mail;
pub mod scheduler;
pub mod simulate;
pub mod synthetic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use stageflow_engine::calendar::Calendar;
use stageflow_engine::machine::{Command, Context, Rejection};
use stageflow_engine::state::{InstanceState, Subject, Values};
use stageflow_engine::{Definition, Transition, apply};
use stageflow_store::{CommitExtras, Receipt, SavedResponse, Store, StoreError, StoredDefinition};
use uuid::Uuid;

use crate::directory::{DirectorySource, SharedDirectory};

/// How often a command that lost a race is re-applied on fresh state.
const CONFLICT_RETRIES: usize = 5;

/// Most instances whose due timers fire at the same time.
pub const TIMERS_AT_ONCE: usize = 64;

/// Why a command did not go through.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The engine refused it; nothing changed.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// No such instance.
    #[error("找不到流程「{0}」")]
    InstanceNotFound(Uuid),
    /// No such definition.
    #[error("找不到流程定义「{0}」")]
    DefinitionNotFound(String),
    /// It kept losing races.
    #[error("流程「{0}」一直在被其他操作修改，请重试")]
    Conflict(Uuid),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What starting an instance needs.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// Workflow id.
    pub workflow: String,
    /// Version; the newest when absent.
    pub version: Option<u32>,
    /// The new instance's id (chosen by the caller, so a retried start is
    /// idempotent).
    pub id: Uuid,
    /// Who or what it is about.
    pub subject: Subject,
    /// Who starts it.
    pub initiator: String,
    /// Inputs.
    pub inputs: Values,
}

/// What a command's transaction carries besides the command's own rows.
#[derive(Default)]
pub struct Extras<'a> {
    /// The state the caller has just loaded (to check who may act): the
    /// first attempt applies the command to it; should another command
    /// have changed the instance in between, the commit says so and the
    /// retries load it afresh.
    pub loaded: Option<InstanceState>,
    /// An uploaded file the command records (`AttachFile`): its bytes are
    /// committed with it.
    pub file: Option<(&'a stageflow_store::FileMeta, &'a [u8])>,
    /// The answer to an idempotent request, saved under the key in the
    /// command's transaction: built from the transition that commits.
    pub receipt: Option<(&'a str, &'a ReceiptFn<'a>)>,
}

/// The built-in calendar, shared by every runtime that is not given another.
pub fn built_in_calendar() -> Arc<Calendar> {
    static BUILT_IN: std::sync::OnceLock<Arc<Calendar>> = std::sync::OnceLock::new();
    BUILT_IN
        .get_or_init(|| Arc::new(Calendar::china().clone()))
        .clone()
}

/// Builds the answer saved with a command from its transition.
pub type ReceiptFn<'a> = dyn Fn(&Transition) -> SavedResponse + Send + Sync + 'a;

/// Runs commands against a store.
pub struct Runtime {
    store: Arc<dyn Store>,
    directory: Arc<dyn DirectorySource>,
    calendar: Arc<Calendar>,
    definitions: Mutex<HashMap<(String, u32), Arc<Definition>>>,
    /// This runtime's lease owner id.
    owner: String,
    /// Signalled when a commit arms a timer.
    armed: tokio::sync::Notify,
    /// Signalled when a commit queues a mail.
    mailed: tokio::sync::Notify,
}

impl Runtime {
    /// A runtime over a store and an organization directory.
    pub fn new(store: Arc<dyn Store>, directory: Arc<dyn DirectorySource>) -> Runtime {
        Runtime {
            store,
            directory,
            calendar: built_in_calendar(),
            definitions: Mutex::new(HashMap::new()),
            owner: Uuid::new_v4().to_string(),
            armed: tokio::sync::Notify::new(),
            mailed: tokio::sync::Notify::new(),
        }
    }

    /// This runtime computing deadlines with `calendar` (the built-in one
    /// with a newer holiday notice, say) instead of [`Calendar::china`].
    #[must_use]
    pub fn with_calendar(mut self, calendar: Arc<Calendar>) -> Runtime {
        self.calendar = calendar;
        self
    }

    /// Wakes this process's timer and mail loops when another process on
    /// the same database arms a timer or queues mail (PostgreSQL's
    /// LISTEN/NOTIFY), so a timer armed on one node is not delayed on
    /// another. Nothing to do on SQLite.
    pub async fn follow_other_nodes(self: &Arc<Self>) -> Result<(), ExecError> {
        let Some(mut wakeups) = self.store.wakeups().await? else {
            return Ok(());
        };
        let runtime = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(w) = wakeups.recv().await {
                let Some(runtime) = runtime.upgrade() else {
                    return;
                };
                match w {
                    stageflow_store::Wakeup::Timer => runtime.armed.notify_one(),
                    stageflow_store::Wakeup::Mail => runtime.mailed.notify_one(),
                }
            }
        });
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Queues a mail that belongs to no instance (a sign-in link) and wakes
    /// the mail loop.
    pub async fn queue_mail(
        &self,
        mail: &stageflow_engine::state::Mail,
        now: DateTime<Utc>,
    ) -> Result<(), ExecError> {
        self.store.queue_mail(mail, now).await?;
        self.mailed.notify_one();
        Ok(())
    }

    /// Publishes a definition (immutable once published), owned by an
    /// organization (`None`: the whole tree, as the shipped library is),
    /// and registers its schedules — unless a newer version is published
    /// already (the library published again at start does not take the
    /// schedules back to its older version).
    pub async fn publish(
        &self,
        definition: Definition,
        source: String,
        owner: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), ExecError> {
        self.store
            .put_definition(
                &StoredDefinition {
                    definition: definition.clone(),
                    source,
                    owner: owner.clone(),
                },
                now,
            )
            .await?;
        let newest = self
            .store
            .definition(&definition.id, None)
            .await?
            .map_or(0, |d| d.definition.version);
        if definition.version < newest {
            return Ok(());
        }
        scheduler::register(self, &definition, owner.as_deref(), now).await
    }

    /// A published definition (cached: published definitions never change).
    pub async fn definition(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<Arc<Definition>, ExecError> {
        if let Some(v) = version
            && let Some(d) = self
                .definitions
                .lock()
                .ok()
                .and_then(|m| m.get(&(id.to_string(), v)).cloned())
        {
            return Ok(d);
        }
        let stored = self
            .store
            .definition(id, version)
            .await?
            .ok_or_else(|| ExecError::DefinitionNotFound(id.to_string()))?;
        let def = Arc::new(stored.definition);
        if let Ok(mut m) = self.definitions.lock() {
            m.insert((def.id.clone(), def.version), def.clone());
        }
        Ok(def)
    }

    /// Starts an instance of the newest (or the given) version of a
    /// workflow.
    pub async fn start(
        &self,
        request: StartRequest,
        now: DateTime<Utc>,
    ) -> Result<Transition, ExecError> {
        let def = self.definition(&request.workflow, request.version).await?;
        let directory = self.directory.snapshot(&def, &request.subject.org).await?;
        let state = InstanceState::new(request.id);
        let command = Command::Start {
            subject: request.subject,
            initiator: request.initiator,
            inputs: request.inputs,
        };
        let t = apply(&def, &state, &command, &self.context(now, &directory))?;
        match self.store.commit(0, &t).await {
            Ok(()) => {
                self.note_timers(&t);
                Ok(t)
            }
            Err(StoreError::Conflict(_)) => Err(Rejection::AlreadyStarted.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// The directory a command on an organization's instance needs.
    pub async fn directory_for(
        &self,
        def: &Definition,
        org: &str,
    ) -> Result<SharedDirectory, ExecError> {
        Ok(self.directory.snapshot(def, org).await?)
    }

    /// The directories commands on many organizations' instances need (a
    /// scheduled fan-out start), in as few reads as the source manages.
    pub async fn directories_for(
        &self,
        def: &Definition,
        orgs: &[stageflow_store::Org],
    ) -> Result<Vec<SharedDirectory>, ExecError> {
        Ok(self.directory.snapshots(def, orgs).await?)
    }

    /// The engine context at a time with a directory.
    pub fn context_for<'a>(
        &'a self,
        now: DateTime<Utc>,
        directory: &'a SharedDirectory,
    ) -> Context<'a> {
        self.context(now, directory)
    }

    /// Tells the timer and mail loops about a batch written elsewhere.
    pub fn note_batch(&self, transitions: &[Transition]) {
        for t in transitions {
            self.note_timers(t);
        }
    }

    fn note_timers(&self, t: &Transition) {
        if t.effects
            .iter()
            .any(|e| matches!(e, stageflow_engine::Effect::ArmTimer { .. }))
        {
            self.armed.notify_one();
        }
        if t.effects
            .iter()
            .any(|e| matches!(e, stageflow_engine::Effect::EnqueueMail(_)))
        {
            self.mailed.notify_one();
        }
    }

    fn context<'a>(&'a self, now: DateTime<Utc>, directory: &'a SharedDirectory) -> Context<'a> {
        Context {
            now,
            directory: directory.as_ref(),
            calendar: &self.calendar,
        }
    }

    /// The working-day calendar deadlines are computed with.
    pub fn calendar(&self) -> &Arc<Calendar> {
        &self.calendar
    }

    /// Applies a command to an instance, retrying on fresh state when
    /// another command won the race.
    pub async fn execute(
        &self,
        id: Uuid,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<Transition, ExecError> {
        self.execute_with(id, command, now, Extras::default()).await
    }

    /// [`Runtime::execute`] with what the command's transaction also
    /// carries ([`Extras`]): a state just loaded, an uploaded file, the
    /// answer to an idempotent request.
    pub async fn execute_with(
        &self,
        id: Uuid,
        command: &Command,
        now: DateTime<Utc>,
        mut extras: Extras<'_>,
    ) -> Result<Transition, ExecError> {
        for _ in 0..CONFLICT_RETRIES {
            let state = match extras.loaded.take() {
                Some(state) => state,
                None => self
                    .store
                    .instance(id)
                    .await?
                    .ok_or(ExecError::InstanceNotFound(id))?,
            };
            let def = self
                .definition(&state.definition, Some(state.version))
                .await?;
            let directory = self.directory.snapshot(&def, &state.subject.org).await?;
            let t = apply(&def, &state, command, &self.context(now, &directory))?;
            let response = extras.receipt.map(|(key, make)| (key, make(&t)));
            let commit_extras = CommitExtras {
                file: extras.file,
                receipt: response
                    .as_ref()
                    .map(|(key, response)| Receipt { key, response }),
            };
            let committed = if commit_extras.file.is_none() && commit_extras.receipt.is_none() {
                self.store.commit(state.seq, &t).await
            } else {
                self.store.commit_with(state.seq, &t, &commit_extras).await
            };
            match committed {
                Ok(()) => {
                    self.note_timers(&t);
                    return Ok(t);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ExecError::Conflict(id))
    }

    /// Fires every timer due at `now`. Returns how many fired.
    ///
    /// Each instance's timers fire in order (earliest first), one after
    /// the other; different instances' timers fire side by side (up to
    /// [`TIMERS_AT_ONCE`]), so their commits share transactions.
    pub async fn fire_due_timers(&self, now: DateTime<Utc>) -> Result<usize, ExecError> {
        use futures_util::stream::{self, StreamExt};
        let mut fired = 0;
        loop {
            // Claimed with a lease: if this process dies mid-way, another
            // (or the next start) takes the timers over when it expires.
            let due = self
                .store
                .claim_due_timers(&self.owner, now, now + chrono::Duration::minutes(1), 500)
                .await?;
            if due.is_empty() {
                return Ok(fired);
            }
            // Per instance, in the claimed (deadline) order.
            let mut per_instance: Vec<(Uuid, Vec<String>)> = Vec::new();
            let mut index: HashMap<Uuid, usize> = HashMap::new();
            for t in due {
                let i = *index.entry(t.instance).or_insert_with(|| {
                    per_instance.push((t.instance, Vec::new()));
                    per_instance.len() - 1
                });
                per_instance[i].1.push(t.timer);
            }
            let results: Vec<Result<usize, ExecError>> = stream::iter(per_instance)
                .map(|(instance, timers)| self.fire_timers_of(instance, timers, now))
                .buffer_unordered(TIMERS_AT_ONCE)
                .collect()
                .await;
            for r in results {
                fired += r?;
            }
        }
    }

    /// Fires one instance's due timers in order; how many fired.
    async fn fire_timers_of(
        &self,
        instance: Uuid,
        timers: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<usize, ExecError> {
        let mut fired = 0;
        for timer in timers {
            let command = Command::FireTimer {
                timer: timer.clone(),
            };
            match self.execute(instance, &command, now).await {
                Ok(t) if !t.events.is_empty() => fired += 1,
                // Nothing to do (already consumed): drop the row.
                Ok(_) => self.drop_timer(instance, &timer).await?,
                // A timer of an ended instance, or one the engine refuses,
                // must not block the others: it was consumed or is stale.
                Err(ExecError::Rejected(_)) | Err(ExecError::InstanceNotFound(_)) => {
                    self.drop_timer(instance, &timer).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(fired)
    }

    /// Resolves when a command queued a mail since the last call.
    pub async fn mail_queued(&self) {
        self.mailed.notified().await;
    }

    /// Resolves when a command armed a timer since the last call, so a timer
    /// loop can recompute its sleep without a polling tick.
    pub async fn timer_armed(&self) {
        self.armed.notified().await;
    }

    async fn drop_timer(&self, instance: Uuid, timer: &str) -> Result<(), ExecError> {
        // A refused fire means the instance no longer wants this timer (it
        // ended, or its definition is broken): drop it so it cannot block
        // the timers behind it.
        self.store
            .delete_timer(instance, timer, &self.owner)
            .await?;
        Ok(())
    }
}
