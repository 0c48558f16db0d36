//! The SQLite writer: one thread that owns one connection to the file and
//! does the hot work of every command — loading an instance's snapshot and
//! committing what a command produced — and a checkpointer thread beside it.
//!
//! Why a thread of its own: sqlx runs each SQLite connection on a thread
//! and every statement is a round trip to it (a wake-up each way, ~50 µs),
//! and a pooled connection's page cache is thrown away whenever another
//! connection wrote. Here a command costs one hop for its load and one for
//! its commit; the statements are prepared once and the page cache stays
//! warm, because this connection is the one that writes.
//!
//! Commands commit in groups: whatever is queued when the thread comes
//! round is written in one transaction (one `COMMIT`, one fsync). Each
//! command's version check is its first statement, so a command that lost
//! a race writes nothing and the others go on; any other failure rolls the
//! group back and each command is then written alone, for its own answer.
//! Every command hears its answer only after its `COMMIT`.
//!
//! Checkpoints (copying the WAL back into the database file) run on the
//! checkpointer's own connection, so the writer only appends to the WAL.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::StoreError;
use crate::rows::{self, PreparedWrite, RowWrite};

/// Most commands written in one transaction.
const GROUP: usize = 512;

/// Pages the WAL may reach before a connection checkpoints it itself; the
/// checkpointer normally keeps it far below (it runs after every burst of
/// commits). Also set on the pool's connections.
pub(crate) const AUTOCHECKPOINT_PAGES: u32 = 20_000;

/// The least time between two checkpoints while commits go on: each
/// copies every page changed since the previous one, once.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Work for the writer thread.
enum Job {
    /// An instance's snapshot (JSON).
    Load {
        id: String,
        reply: oneshot::Sender<Result<Option<String>, StoreError>>,
    },
    /// Several instances' snapshots: `(id, state)`.
    LoadMany {
        ids: Vec<String>,
        reply: oneshot::Sender<Result<Vec<(String, String)>, StoreError>>,
    },
    /// One command's writes, committed with the others queued.
    Commit {
        write: Box<PreparedWrite>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// First transitions of new instances, in one transaction of their own;
    /// instances that exist are skipped. Answers how many were written.
    Batch {
        writes: Vec<PreparedWrite>,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
}

/// A handle on the writer thread; the thread ends when the last handle is
/// dropped, after the work queued before.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// How the writer opens its connection.
pub(crate) struct WriterOptions {
    pub path: String,
    pub synchronous: &'static str,
    pub busy_timeout: Duration,
    /// Page cache in KiB.
    pub cache_kib: i64,
}

fn gone() -> StoreError {
    StoreError::Corrupt("the SQLite writer thread stopped".into())
}

fn open(options: &WriterOptions) -> Result<Connection, StoreError> {
    let conn = Connection::open(&options.path)?;
    conn.busy_timeout(options.busy_timeout)?;
    conn.pragma_update(None, "synchronous", options.synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
    Ok(conn)
}

impl Writer {
    /// Opens the connections and starts the threads. `turn` is the
    /// process's write turn: the writer holds it while it writes, so the
    /// pool's own writers never meet it in SQLite's busy handler.
    pub(crate) fn start(
        options: &WriterOptions,
        turn: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<Writer, StoreError> {
        let conn = open(options)?;
        conn.pragma_update(None, "cache_size", -options.cache_kib)?;
        // Undo information of a statement stays in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(32);
        let checkpointer = open(options)?;
        let (wrote, written) = mpsc::sync_channel(1);
        let (jobs, queue) = mpsc::channel();
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|e| StoreError::Corrupt(format!("cannot start {name}: {e}")))
        };
        spawn(
            "stageflow-sqlite-checkpoint",
            Box::new(move || checkpoints(checkpointer, written)),
        )?;
        spawn(
            "stageflow-sqlite-writer",
            Box::new(move || run(conn, queue, turn, wrote)),
        )?;
        Ok(Writer { jobs })
    }

    /// An instance's snapshot.
    pub(crate) async fn load(&self, id: String) -> Result<Option<String>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Load { id, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Several instances' snapshots (those that exist).
    pub(crate) async fn load_many(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::LoadMany { ids, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Commits one command's writes (with whatever else is queued).
    pub(crate) async fn commit(&self, write: PreparedWrite) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Commit {
                write: Box::new(write),
                reply,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Writes new instances in one transaction; existing ones are skipped.
    pub(crate) async fn batch(&self, writes: Vec<PreparedWrite>) -> Result<usize, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Batch { writes, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

type CommitJob = (Box<PreparedWrite>, oneshot::Sender<Result<(), StoreError>>);

/// The writer: take everything queued, answer the loads, write the
/// commands in one transaction, then the batches; tell the checkpointer;
/// repeat until every handle is gone.
fn run(
    conn: Connection,
    queue: mpsc::Receiver<Job>,
    turn: Arc<tokio::sync::Mutex<()>>,
    wrote: mpsc::SyncSender<()>,
) {
    while let Ok(first) = queue.recv() {
        let mut loads = Vec::new();
        let mut many = Vec::new();
        let mut commits: Vec<CommitJob> = Vec::new();
        let mut batches = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Load { id, reply } => loads.push((id, reply)),
                Job::LoadMany { ids, reply } => many.push((ids, reply)),
                Job::Commit { write, reply } => commits.push((write, reply)),
                Job::Batch { writes, reply } => batches.push((writes, reply)),
            }
            next = if commits.len() < GROUP {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        // Reads first: none of the commands below has been answered, so a
        // load that does not see them is still in order. One read
        // transaction for them all (each transaction's end walks the page
        // cache).
        let read = !(loads.is_empty() && many.is_empty()) && conn.execute_batch("BEGIN").is_ok();
        for (id, reply) in loads {
            let _ = reply.send(load(&conn, &id));
        }
        for (ids, reply) in many {
            let _ = reply.send(load_many(&conn, &ids));
        }
        if read {
            let _ = conn.execute_batch("COMMIT");
        }
        if commits.is_empty() && batches.is_empty() {
            continue;
        }
        if !commits.is_empty() {
            let _turn = turn.blocking_lock();
            commit_group(&conn, commits);
        }
        for (writes, reply) in batches {
            let _turn = turn.blocking_lock();
            let _ = reply.send(write_batch(&conn, &writes));
        }
        // A full channel means a checkpoint is already asked for.
        let _ = wrote.try_send(());
    }
}

/// The checkpointer: after commits, copy the WAL into the database file
/// (passive: it never waits for the writer or blocks it), at most every
/// [`CHECKPOINT_EVERY`]; once more when the writer is gone.
fn checkpoints(conn: Connection, written: mpsc::Receiver<()>) {
    while written.recv().is_ok() {
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        std::thread::sleep(CHECKPOINT_EVERY);
    }
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

fn load(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT state FROM instances WHERE id = ?")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

fn load_many(conn: &Connection, ids: &[String]) -> Result<Vec<(String, String)>, StoreError> {
    // Not cached: a statement per list length would push the commands'
    // statements out of the cache.
    let marks = vec!["?"; ids.len()].join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT id, state FROM instances WHERE id IN ({marks})"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(ids), |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ends a transaction that failed part-way, so the connection is usable.
fn roll_back(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Writes a group in one transaction; on any failure but a lost race, each
/// command is written again alone.
fn commit_group(conn: &Connection, group: Vec<CommitJob>) {
    let together = (|| {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut results = Vec::with_capacity(group.len());
        for (write, _) in &group {
            match write_one(conn, write) {
                Ok(()) => results.push(Ok(())),
                Err(StoreError::Conflict(id)) => results.push(Err(StoreError::Conflict(id))),
                Err(e) => return Err(e),
            }
        }
        conn.execute_batch("COMMIT")?;
        Ok::<_, StoreError>(results)
    })();
    match together {
        Ok(results) => {
            for ((_, reply), r) in group.into_iter().zip(results) {
                let _ = reply.send(r);
            }
        }
        Err(_) => {
            roll_back(conn);
            for (write, reply) in group {
                let alone = (|| {
                    conn.execute_batch("BEGIN IMMEDIATE")?;
                    write_one(conn, &write)?;
                    conn.execute_batch("COMMIT")?;
                    Ok(())
                })();
                if alone.is_err() {
                    roll_back(conn);
                }
                let _ = reply.send(alone);
            }
        }
    }
}

fn write_batch(conn: &Connection, writes: &[PreparedWrite]) -> Result<usize, StoreError> {
    let written = (|| {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut written = 0;
        let mut exists = conn.prepare_cached(rows::INSTANCE_EXISTS)?;
        for w in writes {
            if exists
                .query_row([&w.instance.id], |_| Ok(()))
                .optional()?
                .is_some()
            {
                continue;
            }
            write_one(conn, w)?;
            written += 1;
        }
        drop(exists);
        conn.execute_batch("COMMIT")?;
        Ok(written)
    })();
    if written.is_err() {
        roll_back(conn);
    }
    written
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation
                && matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                )
    )
}

/// Writes one command. The version check is the first statement and
/// writes nothing when it fails, so a command that lost a race leaves the
/// transaction as it found it.
fn write_one(conn: &Connection, w: &PreparedWrite) -> Result<(), StoreError> {
    let i = &w.instance;
    if w.expected_seq == 0 {
        let r = conn.prepare_cached(rows::INSERT_INSTANCE)?.execute(params![
            i.id,
            i.definition,
            i.version,
            i.status,
            i.end_state,
            i.subject_org,
            i.subject_person,
            i.stage,
            i.seq,
            i.state,
            i.started_at,
            i.updated_at
        ]);
        match r {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict(w.id)),
            Err(e) => return Err(e.into()),
        }
    } else {
        let changed = if w.status_changed {
            conn.prepare_cached(rows::UPDATE_INSTANCE)?
                .execute(params![
                    i.status,
                    i.end_state,
                    i.stage,
                    i.seq,
                    i.state,
                    i.updated_at,
                    i.id,
                    w.expected_seq
                ])?
        } else {
            conn.prepare_cached(rows::UPDATE_INSTANCE_STATE)?
                .execute(params![
                    i.stage,
                    i.seq,
                    i.state,
                    i.updated_at,
                    i.id,
                    w.expected_seq
                ])?
        };
        if changed != 1 {
            return Err(StoreError::Conflict(w.id));
        }
    }
    let mut insert = conn.prepare_cached(rows::INSERT_EVENT)?;
    for e in &w.events {
        insert.execute(params![
            i.id,
            e.seq,
            e.at,
            e.kind,
            e.body,
            e.prev_hash,
            e.hash
        ])?;
    }
    for row in &w.rows {
        match row {
            RowWrite::CreateTask {
                id,
                step,
                assignee,
                role,
                org,
                kind,
                created_at,
                due_at,
            } => {
                conn.prepare_cached(rows::INSERT_TASK)?.execute(params![
                    id, i.id, step, assignee, role, org, kind, created_at, due_at
                ])?;
            }
            RowWrite::CloseTask {
                id,
                status,
                outcome,
                closed_at,
            } => {
                conn.prepare_cached(rows::CLOSE_TASK)?
                    .execute(params![status, outcome, closed_at, id])?;
            }
            RowWrite::Reassign { id, assignee } => {
                conn.prepare_cached(rows::REASSIGN_TASK)?
                    .execute(params![assignee, id])?;
            }
            RowWrite::ArmTimer { timer, at } => {
                conn.prepare_cached(rows::ARM_TIMER)?
                    .execute(params![i.id, timer, at])?;
            }
            RowWrite::DisarmTimer { timer } => {
                conn.prepare_cached(rows::DELETE_TIMER)?
                    .execute(params![i.id, timer])?;
            }
            RowWrite::Mail {
                key,
                to,
                kind,
                vars,
                created_at,
            } => {
                conn.prepare_cached(rows::INSERT_MAIL)?
                    .execute(params![key, i.id, to, kind, vars, created_at])?;
            }
            RowWrite::Child {
                step,
                workflow,
                inputs,
            } => {
                conn.prepare_cached(rows::INSERT_CHILD)?
                    .execute(params![i.id, step, i.seq, workflow, inputs])?;
            }
        }
    }
    if let Some(f) = &w.file {
        conn.prepare_cached(rows::INSERT_FILE)?.execute(params![
            f.id,
            i.id,
            f.task,
            f.name,
            f.content_type,
            f.size,
            f.sha256,
            f.content,
            f.uploaded_by,
            f.created_at
        ])?;
    }
    if let Some(r) = &w.receipt {
        conn.prepare_cached(rows::INSERT_RECEIPT)?.execute(params![
            r.key,
            r.status,
            r.body,
            r.created_at
        ])?;
    }
    let mut consumed = conn.prepare_cached(rows::DELETE_TIMER)?;
    for timer in &w.fired {
        consumed.execute(params![i.id, timer])?;
    }
    Ok(())
}
