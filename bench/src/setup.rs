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

impl Bench {
    /// Opens the store the options name, with a directory source.
    pub async fn open(
        common: &Common,
        directory: impl FnOnce(Arc<dyn Store>) -> Arc<dyn DirectorySource>,
    ) -> anyhow::Result<Bench> {
        let dir = tempfile::tempdir()?;
        let pool = (common.concurrency as u32).clamp(4, 32);
        let (store, backend, file, pg): (Arc<dyn Store>, _, _, _) = match common.db.as_str() {
            "sqlite" => {
                let path = dir.path().join("bench.db");
                let mut options = SqliteOptions::new(path.display().to_string());
                options.max_connections = pool;
                options.synchronous_full = match common.sqlite_sync.as_str() {
                    "full" => true,
                    "normal" => false,
                    other => anyhow::bail!("--sqlite-sync is full or normal, not '{other}'"),
                };
                let store = SqliteStore::open(&options).await?;
                (Arc::new(store), "sqlite", Some(path), None)
            }
            "postgres" => {
                let db = FreshDb::create().await;
                let mut options = PgOptions::new(&db.url);
                options.max_connections = pool;
                let store = PgStore::open(&options).await?;
                (Arc::new(store), "postgres", None, Some(db))
            }
            other => anyhow::bail!("--db is sqlite or postgres, not '{other}'"),
        };
        let runtime = Arc::new(Runtime::new(store.clone(), directory(store.clone())));
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
            runtime.publish(loaded.definition, text, t0()).await?;
        }
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
        if let Some(path) = &self.file {
            let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            return Ok(size(path.clone()) + size(wal.into()));
        }
        let url = &self.pg.as_ref().expect("a database").url;
        let pool = sqlx::PgPool::connect(url).await?;
        let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        Ok(bytes as u64)
    }
}
