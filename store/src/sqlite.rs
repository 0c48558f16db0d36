//! The SQLite implementation of the store port (the embedded default).

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;

/// How to open a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `sqlite://path.db`, a plain path, or `sqlite::memory:`.
    pub url: String,
    /// Most pooled connections.
    pub max_connections: u32,
    /// `FULL` (default, durable on power loss) or `NORMAL`.
    pub synchronous_full: bool,
}

impl SqliteOptions {
    /// Options for a database file or URL.
    pub fn new(url: impl Into<String>) -> SqliteOptions {
        SqliteOptions {
            url: url.into(),
            max_connections: 8,
            synchronous_full: true,
        }
    }
}

/// SQLite store: one file, WAL journal, foreign writers serialized by
/// SQLite's lock and the version check. Writers of this process take turns
/// on an async lock before they begin: SQLite has one writer at a time, and
/// waiting in line costs nothing, while waiting in SQLite's busy handler
/// sleeps (1, 2, 5 … 100 ms) and made the slowest commits under load
/// hundreds of times slower than the median.
///
/// Commands commit in groups: a command queues its transition and waits for
/// the write turn; whoever gets the turn writes every queued transition in
/// one transaction (one `BEGIN`/`COMMIT`, one fsync) and tells each its
/// result. Nobody hears "committed" before the transaction is.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
    queued: std::sync::Arc<std::sync::Mutex<Vec<Queued>>>,
}

/// A transition waiting for its group commit, and who waits for it.
#[derive(Debug)]
struct Queued {
    expected_seq: u64,
    transition: stageflow_engine::Transition,
    done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates a database.
    pub async fn open(options: &SqliteOptions) -> Result<SqliteStore, StoreError> {
        let memory = options.url.contains(":memory:");
        let url = if options.url.starts_with("sqlite:") {
            options.url.clone()
        } else {
            format!("sqlite://{}", options.url)
        };
        let connect = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(if memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(if options.synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if memory {
                1
            } else {
                options.max_connections.max(1)
            })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            .max_lifetime(if memory {
                None
            } else {
                Some(Duration::from_secs(3600))
            })
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(crate::migrate_error)?;
        Ok(SqliteStore {
            pool,
            write: Default::default(),
            queued: Default::default(),
        })
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The shared queries (`common.rs`), compiled for SQLite.
mod queries {
    type Db = sqlx::Sqlite;
    type Me = super::SqliteStore;
    const POSTGRES: bool = false;
    /// One process owns a SQLite file: nothing to listen for.
    async fn wakeups_of(
        _: &Me,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<crate::Wakeup>>, StoreError> {
        Ok(None)
    }
    /// A write transaction, begun once this process's earlier writers are
    /// done.
    async fn write_tx(
        me: &Me,
    ) -> Result<
        (
            Option<tokio::sync::OwnedMutexGuard<()>>,
            sqlx::Transaction<'static, Db>,
        ),
        StoreError,
    > {
        let turn = me.write.clone().lock_owned().await;
        Ok((Some(turn), me.pool.begin().await?))
    }
    /// Most transitions written in one group.
    const GROUP: usize = 64;

    /// Group commit (see [`SqliteStore`]).
    async fn commit_transition(
        me: &Me,
        expected_seq: u64,
        t: &stageflow_engine::Transition,
    ) -> Result<(), StoreError> {
        let (done, mut result) = tokio::sync::oneshot::channel();
        me.queued
            .lock()
            .map_err(|_| StoreError::Corrupt("the commit queue's lock is poisoned".into()))?
            .push(super::Queued {
                expected_seq,
                transition: t.clone(),
                done,
            });
        loop {
            let turn = me.write.clone().lock_owned().await;
            // Written by the writer before us (it held the turn).
            if let Ok(r) = result.try_recv() {
                return r;
            }
            let group: Vec<super::Queued> = {
                let mut queued = me.queued.lock().map_err(|_| {
                    StoreError::Corrupt("the commit queue's lock is poisoned".into())
                })?;
                let n = queued.len().min(GROUP);
                queued.drain(..n).collect()
            };
            write_group(me, group).await;
            drop(turn);
            if let Ok(r) = result.try_recv() {
                return r;
            }
        }
    }

    /// Writes a group in one transaction, the write turn held. A command
    /// that lost a race (its version check failed: nothing of it written)
    /// gets its conflict; any other failure rolls the group back and each
    /// transition is written alone, so each gets its own answer.
    async fn write_group(me: &Me, group: Vec<super::Queued>) {
        if group.is_empty() {
            return;
        }
        let together = async {
            let mut tx = me.pool.begin().await?;
            let mut results = Vec::with_capacity(group.len());
            for q in &group {
                match write_transition(&mut tx, q.expected_seq, &q.transition).await {
                    Ok(()) => results.push(Ok(())),
                    Err(StoreError::Conflict(id)) => results.push(Err(StoreError::Conflict(id))),
                    Err(e) => return Err(e),
                }
            }
            tx.commit().await?;
            Ok::<_, StoreError>(results)
        };
        match together.await {
            Ok(results) => {
                for (q, r) in group.into_iter().zip(results) {
                    let _ = q.done.send(r);
                }
            }
            Err(_) => {
                for q in group {
                    let r = async {
                        let mut tx = me.pool.begin().await?;
                        write_transition(&mut tx, q.expected_seq, &q.transition).await?;
                        tx.commit().await?;
                        Ok(())
                    }
                    .await;
                    let _ = q.done.send(r);
                }
            }
        }
    }
    include!("common.rs");
}
