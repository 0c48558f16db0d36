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
    /// PostgreSQL orders writers by its row locks: no turn to take.
    async fn write_turn(_: &Me) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        None
    }

    /// An instance's snapshot.
    async fn load_state(me: &Me, id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT state FROM instances WHERE id = ?",
        )))
        .bind(id.to_string())
        .fetch_optional(&me.pool)
        .await?)
    }

    /// Several instances' snapshots: `(id, state)`.
    async fn load_states(me: &Me, ids: &[Uuid]) -> Result<Vec<(String, String)>, StoreError> {
        let text = sql(&format!(
            "SELECT id, state FROM instances WHERE id IN ({})",
            marks(ids.len())
        ));
        let mut q = sqlx::query_as(AssertSqlSafe(text.as_str()));
        for id in ids {
            q = q.bind(id.to_string());
        }
        Ok(q.fetch_all(&me.pool).await?)
    }

    /// Each command commits on its own connection: PostgreSQL runs the
    /// transactions side by side and groups their WAL flushes itself.
    async fn commit_prepared(me: &Me, w: PreparedWrite) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(me).await?;
        write_transition(&mut tx, &w).await?;
        tx.commit().await?;
        Ok(())
    }

    /// New instances in one transaction; existing ones are skipped.
    async fn commit_batch(
        me: &Me,
        transitions: &[stageflow_engine::Transition],
    ) -> Result<usize, StoreError> {
        let writes = transitions
            .iter()
            .filter(|t| !t.events.is_empty())
            .map(|t| PreparedWrite::new(0, t))
            .collect::<Result<Vec<_>, _>>()?;
        let (_turn, mut tx) = write_tx(me).await?;
        let mut written = 0;
        for w in &writes {
            let exists: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql(rows::INSTANCE_EXISTS)))
                .bind(&w.instance.id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                write_transition(&mut tx, w).await?;
                written += 1;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Writes one command's rows in a transaction, if the instance is still
    /// at the version it expects (nothing is written otherwise).
    async fn write_transition(tx: &mut Tx, w: &PreparedWrite) -> Result<(), StoreError> {
        let i = &w.instance;
        if w.expected_seq == 0 {
            let r = sqlx::query(AssertSqlSafe(sql(rows::INSERT_INSTANCE)))
                .bind(&i.id)
                .bind(&i.definition)
                .bind(i.version)
                .bind(i.status)
                .bind(&i.end_state)
                .bind(&i.subject_org)
                .bind(&i.subject_person)
                .bind(&i.stage)
                .bind(i.seq)
                .bind(&i.state)
                .bind(i.started_at)
                .bind(i.updated_at)
                .execute(&mut **tx)
                .await;
            match r {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(StoreError::Conflict(w.id));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            let r = sqlx::query(AssertSqlSafe(sql(rows::UPDATE_INSTANCE)))
                .bind(i.status)
                .bind(&i.end_state)
                .bind(&i.stage)
                .bind(i.seq)
                .bind(&i.state)
                .bind(i.updated_at)
                .bind(&i.id)
                .bind(w.expected_seq)
                .execute(&mut **tx)
                .await?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(w.id));
            }
        }
        // The events in as few statements as possible (one per 64): each
        // statement is a round trip to the server.
        for chunk in w.events.chunks(64) {
            let mut text = String::from(
                "INSERT INTO events (instance_id, seq, at, type, body, prev_hash, hash) VALUES ",
            );
            for n in 0..chunk.len() {
                text.push_str(if n == 0 {
                    "(?, ?, ?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?, ?, ?)"
                });
            }
            let text = sql(&text);
            let mut q = sqlx::query(AssertSqlSafe(text.as_str()));
            for e in chunk {
                q = q
                    .bind(&i.id)
                    .bind(e.seq)
                    .bind(e.at)
                    .bind(&e.kind)
                    .bind(&e.body)
                    .bind(&e.prev_hash)
                    .bind(&e.hash);
            }
            q.execute(&mut **tx).await?;
        }
        for row in &w.rows {
            let q = match row {
                RowWrite::CreateTask {
                    id,
                    step,
                    assignee,
                    role,
                    org,
                    kind,
                    created_at,
                    due_at,
                } => sqlx::query(AssertSqlSafe(sql(rows::INSERT_TASK)))
                    .bind(id)
                    .bind(&i.id)
                    .bind(step)
                    .bind(assignee)
                    .bind(role)
                    .bind(org)
                    .bind(kind)
                    .bind(created_at)
                    .bind(due_at),
                RowWrite::CloseTask {
                    id,
                    status,
                    outcome,
                    closed_at,
                } => sqlx::query(AssertSqlSafe(sql(rows::CLOSE_TASK)))
                    .bind(*status)
                    .bind(outcome)
                    .bind(closed_at)
                    .bind(id),
                RowWrite::Reassign { id, assignee } => {
                    sqlx::query(AssertSqlSafe(sql(rows::REASSIGN_TASK)))
                        .bind(assignee)
                        .bind(id)
                }
                RowWrite::ArmTimer { timer, at } => {
                    sqlx::query(AssertSqlSafe(sql(rows::ARM_TIMER)))
                        .bind(&i.id)
                        .bind(timer)
                        .bind(at)
                }
                RowWrite::DisarmTimer { timer } => {
                    sqlx::query(AssertSqlSafe(sql(rows::DELETE_TIMER)))
                        .bind(&i.id)
                        .bind(timer)
                }
                RowWrite::Mail {
                    key,
                    to,
                    kind,
                    vars,
                    created_at,
                } => sqlx::query(AssertSqlSafe(sql(rows::INSERT_MAIL)))
                    .bind(key)
                    .bind(&i.id)
                    .bind(to)
                    .bind(kind)
                    .bind(vars)
                    .bind(created_at),
                RowWrite::Child {
                    step,
                    workflow,
                    inputs,
                } => sqlx::query(AssertSqlSafe(sql(rows::INSERT_CHILD)))
                    .bind(&i.id)
                    .bind(step)
                    .bind(i.seq)
                    .bind(workflow)
                    .bind(inputs),
            };
            q.execute(&mut **tx).await?;
        }
        // Other nodes wake up for the new work when this commits.
        for (channel, any) in [
            ("stageflow_timer", w.arms_timer),
            ("stageflow_mail", w.queues_mail),
        ] {
            if any {
                sqlx::query(AssertSqlSafe(sql("SELECT pg_notify(?, '')")))
                    .bind(channel)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        if let Some(f) = &w.file {
            sqlx::query(AssertSqlSafe(sql(rows::INSERT_FILE)))
                .bind(&f.id)
                .bind(&i.id)
                .bind(&f.task)
                .bind(&f.name)
                .bind(&f.content_type)
                .bind(f.size)
                .bind(&f.sha256)
                .bind(&f.content)
                .bind(&f.uploaded_by)
                .bind(f.created_at)
                .execute(&mut **tx)
                .await?;
        }
        if let Some(r) = &w.receipt {
            sqlx::query(AssertSqlSafe(sql(rows::INSERT_RECEIPT)))
                .bind(&r.key)
                .bind(r.status)
                .bind(&r.body)
                .bind(r.created_at)
                .execute(&mut **tx)
                .await?;
        }
        // Timers fired by this command were consumed.
        for timer in &w.fired {
            sqlx::query(AssertSqlSafe(sql(rows::DELETE_TIMER)))
                .bind(&i.id)
                .bind(timer)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
    use crate::rows::{self, PreparedWrite, RowWrite};
    include!("common.rs");
}
