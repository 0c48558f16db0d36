//! The store under test (a SQLite file or a fresh PostgreSQL database), a
//! runtime over it, the benchmark's workflows published.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use stageflow_runtime::Runtime;
use stageflow_runtime::directory::DirectorySource;
use stageflow_store::{PgOptions, PgStore, SqliteOptions, SqliteStore, Store};
use stageflow_tests::pg::FreshDb;

use crate::Common;

/// A store, its runtime and what keeps them alive.
pub struct Bench {
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    file: Option<PathBuf>,
    pg: Option<FreshDb>,
    _dir: tempfile::TempDir,
}

/// 2026-03-02 09:00 in Beijing: the benchmark's "now".
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()
}

/// Opens the store at a SQLite path or a PostgreSQL URL with the options
/// the scenario was given (`pool` connections).
pub async fn open_store(
    common: &Common,
    backend: &str,
    location: &str,
    pool: u32,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match backend {
        "sqlite" => {
            let mut options = SqliteOptions::new(location);
            options.max_connections = pool;
            options.synchronous_full = match common.sqlite_sync.as_str() {
                "full" => true,
                "normal" => false,
                other => anyhow::bail!("--sqlite-sync is full or normal, not '{other}'"),
            };
            Arc::new(SqliteStore::open(&options).await?)
        }
        "postgres" => {
            let mut options = PgOptions::new(location);
            options.max_connections = pool;
            Arc::new(PgStore::open(&options).await?)
        }
        other => anyhow::bail!("--db is sqlite or postgres, not '{other}'"),
    })
}

/// Publishes the benchmark's workflows (`bench/workflows/`).
pub async fn publish_workflows(runtime: &Runtime) -> anyhow::Result<()> {
    for file in [
        "admission5.yaml",
        "timer.yaml",
        "timer-late.yaml",
        "fanout.yaml",
    ] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/workflows/").to_string() + file;
        let text = std::fs::read_to_string(&path)?;
        let loaded = stageflow_workflows::load_str(&path, &text).map_err(|d| {
            anyhow::anyhow!(
                "{}",
                d.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
        runtime.publish(loaded.definition, text, None, t0()).await?;
    }
    Ok(())
}

impl Bench {
    /// Opens the store the options name, with a directory source.
    pub async fn open(
        common: &Common,
        directory: impl FnOnce(Arc<dyn Store>) -> Arc<dyn DirectorySource>,
    ) -> anyhow::Result<Bench> {
        let dir = tempfile::tempdir()?;
        let pool = (common.concurrency as u32).clamp(4, 32);
        let (file, pg, location) = match common.db.as_str() {
            "postgres" => {
                let db = FreshDb::create().await;
                let url = db.url.clone();
                (None, Some(db), url)
            }
            _ => {
                let path = dir.path().join("bench.db");
                let location = path.display().to_string();
                (Some(path), None, location)
            }
        };
        let store = open_store(common, &common.db, &location, pool).await?;
        let backend = if pg.is_some() { "postgres" } else { "sqlite" };
        let runtime = Arc::new(Runtime::new(store.clone(), directory(store.clone())));
        publish_workflows(&runtime).await?;
        Ok(Bench {
            store,
            runtime,
            backend,
            file,
            pg,
            _dir: dir,
        })
    }

    /// The database's size on disk in bytes (SQLite: the file and its WAL).
    pub async fn db_bytes(&self) -> anyhow::Result<u64> {
        match (&self.file, &self.pg) {
            (Some(path), _) => db_bytes("sqlite", &path.display().to_string()).await,
            (None, Some(db)) => db_bytes("postgres", &db.url).await,
            (None, None) => anyhow::bail!("no database"),
        }
    }
}

/// The size on disk of the database at a SQLite path (the file and its
/// WAL) or a PostgreSQL URL.
pub async fn db_bytes(backend: &str, location: &str) -> anyhow::Result<u64> {
    if backend == "sqlite" {
        let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        return Ok(size(location.to_string()) + size(format!("{location}-wal")));
    }
    let pool = sqlx::PgPool::connect(location).await?;
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(bytes as u64)
}
