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
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
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
    include!("common.rs");
}
