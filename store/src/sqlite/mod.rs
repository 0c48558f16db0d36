//! The SQLite implementation of the store port (the embedded default).

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;

mod writer;

/// How to open a SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// `sqlite://path.db`, a plain path, or `sqlite::memory:`.
    pub url: String,
    /// Most pooled connections.
    pub max_connections: u32,
    /// `FULL` (default, durable on power loss) or `NORMAL`.
    pub synchronous_full: bool,
    /// The writer thread's page cache, in KiB (each pooled connection
    /// keeps SQLite's default, 2 MiB). Bigger is not always faster: while
    /// the database is under 1 GiB, SQLite walks the whole cache at the end
    /// of any transaction that split a B-tree page (`balance_nonroot`
    /// parks a page at the pending-byte page number, past the end of the
    /// file), so each commit pays for the cache's size.
    pub writer_cache_kib: i64,
}

impl SqliteOptions {
    /// Options for a database file or URL.
    pub fn new(url: impl Into<String>) -> SqliteOptions {
        SqliteOptions {
            url: url.into(),
            max_connections: 8,
            synchronous_full: true,
            writer_cache_kib: 16 * 1024,
        }
    }
}

/// SQLite store: one file, WAL journal. Commands (an instance's load, its
/// commit) go to the writer thread ([`writer`]); everything else runs on a
/// sqlx pool. Writers of this process — the writer thread and the pool's
/// writes — take turns on one async lock, because SQLite has one writer at
/// a time and waiting in line costs nothing, while waiting in SQLite's busy
/// handler sleeps (1, 2, 5 … 100 ms).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    write: std::sync::Arc<tokio::sync::Mutex<()>>,
    writer: writer::Writer,
    /// The directory of a throwaway database (`sqlite::memory:`), removed
    /// when the last handle goes.
    _scratch: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates a database.
    ///
    /// `sqlite::memory:` is a throwaway database in a temporary file
    /// without fsync (removed when the store is dropped): the writer thread
    /// and the pool need one file to share.
    pub async fn open(options: &SqliteOptions) -> Result<SqliteStore, StoreError> {
        let (path, scratch) = if options.url.contains(":memory:") {
            let dir = tempfile::tempdir().map_err(|e| {
                StoreError::Unavailable(format!("cannot create a temporary database: {e}"))
            })?;
            let path = dir.path().join("scratch.db").display().to_string();
            (path, Some(std::sync::Arc::new(dir)))
        } else {
            let path = options.url.strip_prefix("sqlite://").unwrap_or(
                options
                    .url
                    .strip_prefix("sqlite:")
                    .unwrap_or(options.url.as_str()),
            );
            (path.to_string(), None)
        };
        let (synchronous, synchronous_name) = match (scratch.is_some(), options.synchronous_full) {
            (true, _) => (SqliteSynchronous::Off, "OFF"),
            (false, true) => (SqliteSynchronous::Full, "FULL"),
            (false, false) => (SqliteSynchronous::Normal, "NORMAL"),
        };
        let busy_timeout = Duration::from_secs(10);
        let connect = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(busy_timeout)
            .foreign_keys(true)
            // The writer's checkpointer copies the WAL back (writer.rs).
            .pragma(
                "wal_autocheckpoint",
                writer::AUTOCHECKPOINT_PAGES.to_string(),
            );
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(600)))
            .max_lifetime(Some(Duration::from_secs(3600)))
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(crate::migrate_error)?;
        let write: std::sync::Arc<tokio::sync::Mutex<()>> = Default::default();
        let writer = writer::Writer::start(
            &writer::WriterOptions {
                path,
                synchronous: synchronous_name,
                busy_timeout,
                cache_kib: options.writer_cache_kib,
            },
            write.clone(),
        )?;
        Ok(SqliteStore {
            pool,
            write,
            writer,
            _scratch: scratch,
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
    /// The write turn for a statement on the pool that writes.
    async fn write_turn(me: &Me) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        Some(me.write.clone().lock_owned().await)
    }

    /// An instance's snapshot, from the writer thread (its cache is warm).
    async fn load_state(me: &Me, id: Uuid) -> Result<Option<String>, StoreError> {
        me.writer.load(id.to_string()).await
    }

    /// Several instances' snapshots, in one hop to the writer thread.
    async fn load_states(me: &Me, ids: &[Uuid]) -> Result<Vec<(String, String)>, StoreError> {
        me.writer
            .load_many(ids.iter().map(Uuid::to_string).collect())
            .await
    }

    /// Group commit on the writer thread (see [`writer`]).
    async fn commit_prepared(me: &Me, w: crate::rows::PreparedWrite) -> Result<(), StoreError> {
        me.writer.commit(w).await
    }

    /// New instances in one transaction on the writer thread.
    async fn commit_batch(
        me: &Me,
        transitions: &[stageflow_engine::Transition],
    ) -> Result<usize, StoreError> {
        let writes = transitions
            .iter()
            .filter(|t| !t.events.is_empty())
            .map(|t| crate::rows::PreparedWrite::new(0, t))
            .collect::<Result<Vec<_>, _>>()?;
        me.writer.batch(writes).await
    }
    include!("../common.rs");
}
