//! The PostgreSQL implementation of the store port: any number of `serve`
//! nodes share one database. The queries are the SQLite ones (`common.rs`);
//! claims of timers, mails and schedule fires add `FOR UPDATE SKIP LOCKED`
//! so nodes take disjoint rows, and leases let a live node take over the
//! rows of one that died.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::StoreError;

/// How to connect to PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// `postgres://user@host:5432/database`.
    pub url: String,
    /// Most pooled connections per process.
    pub max_connections: u32,
    /// How long a statement may run before the server cancels it.
    pub statement_timeout: Duration,
    /// How long a caller waits for a free connection before it gets an
    /// error (instead of waiting for ever when the pool is exhausted).
    pub acquire_timeout: Duration,
}

impl PgOptions {
    /// Options for a database URL, with the default pool (16 connections,
    /// 30 s statement timeout, 10 s acquire timeout).
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            max_connections: 16,
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects without touching the schema.
    pub async fn connect(options: &PgOptions) -> Result<PgStore, StoreError> {
        let timeout_ms = options.statement_timeout.as_millis().to_string();
        let connect = PgConnectOptions::from_str(&options.url)?
            .application_name("stageflow")
            .options([("statement_timeout", timeout_ms.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(600)))
            .connect_with(connect)
            .await?;
        Ok(PgStore { pool })
    }

    /// Connects and applies the migrations this build knows (under a
    /// PostgreSQL advisory lock, so several nodes starting at once migrate
    /// once). A database migrated by a newer build is refused.
    pub async fn open(options: &PgOptions) -> Result<PgStore, StoreError> {
        let store = PgStore::connect(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(crate::migrate_error)
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Channels of the wake-up notifications (sent by `common.rs` on commit).
const CHANNELS: [&str; 2] = ["stageflow_timer", "stageflow_mail"];

impl PgStore {
    /// Listens for other nodes' wake-ups on a connection of its own; the
    /// listener reconnects by itself when the connection drops.
    pub(crate) async fn listen(
        &self,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<crate::Wakeup>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen_all(CHANNELS).await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let wakeup = match listener.recv().await {
                    Ok(n) if n.channel() == CHANNELS[0] => crate::Wakeup::Timer,
                    Ok(_) => crate::Wakeup::Mail,
                    // Lost connection: `recv` reconnects on the next call;
                    // meanwhile wake everyone up, something may have been missed.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        crate::Wakeup::Timer
                    }
                };
                if tx.send(wakeup).is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }
}

/// The shared queries (`common.rs`), compiled for PostgreSQL.
mod queries {
    type Db = sqlx::Postgres;
    type Me = super::PgStore;
    const POSTGRES: bool = true;
    async fn wakeups_of(
        me: &Me,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<crate::Wakeup>>, StoreError> {
        me.listen().await.map(Some)
    }
    /// A write transaction: PostgreSQL's row locks order the writers.
    async fn write_tx(
        me: &Me,
    ) -> Result<
        (
            Option<tokio::sync::OwnedMutexGuard<()>>,
            sqlx::Transaction<'static, Db>,
        ),
        StoreError,
    > {
        Ok((None, me.pool.begin().await?))
    }
    /// Each command commits on its own connection: PostgreSQL runs the
    /// transactions side by side and groups their WAL flushes itself.
    async fn commit_transition(
        me: &Me,
        expected_seq: u64,
        t: &stageflow_engine::Transition,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(me).await?;
        write_transition(&mut tx, expected_seq, t).await?;
        tx.commit().await?;
        Ok(())
    }
    include!("common.rs");
}
