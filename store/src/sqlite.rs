//! The SQLite implementation of the store port (the embedded default).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use stageflow_engine::Transition;
use stageflow_engine::machine::Effect;
use stageflow_engine::state::{InstanceState, Mail, RecordedEvent, Status, TaskStatus};
use uuid::Uuid;

use crate::{
    DefinitionSummary, DueTimer, OutboxMail, Store, StoreError, StoredDefinition, TaskRow,
    from_micros, to_micros,
};

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
/// SQLite's lock and the version check.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(corrupt)
}

fn status_text(s: &Status) -> (&'static str, Option<String>) {
    match s {
        Status::New => ("new", None),
        Status::Running => ("running", None),
        Status::Ended(e) => ("ended", Some(e.clone())),
        Status::Cancelled => ("cancelled", None),
    }
}

fn event_type(e: &stageflow_engine::Event) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}

fn task_row(r: &sqlx::sqlite::SqliteRow) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
        step: r.try_get("step")?,
        assignee: r.try_get("assignee")?,
        role: r.try_get("role")?,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        due_at: r.try_get::<Option<i64>, _>("due_at")?.map(from_micros),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn put_definition(
        &self,
        def: &StoredDefinition,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let d = &def.definition;
        let compiled = serde_json::to_string(d).map_err(corrupt)?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT source FROM definitions WHERE id = ? AND version = ?")
                .bind(&d.id)
                .bind(i64::from(d.version))
                .fetch_optional(&self.pool)
                .await?;
        match existing {
            Some(source) if source == def.source => Ok(()),
            Some(_) => Err(StoreError::DefinitionExists {
                id: d.id.clone(),
                version: d.version,
            }),
            None => {
                let r = sqlx::query("INSERT INTO definitions (id, version, name, source, compiled, created_at) VALUES (?, ?, ?, ?, ?, ?)")
                    .bind(&d.id)
                    .bind(i64::from(d.version))
                    .bind(&d.name)
                    .bind(&def.source)
                    .bind(compiled)
                    .bind(to_micros(now))
                    .execute(&self.pool)
                    .await;
                match r {
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                        Err(StoreError::DefinitionExists {
                            id: d.id.clone(),
                            version: d.version,
                        })
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn definition(
        &self,
        id: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredDefinition>, StoreError> {
        let row = match version {
            Some(v) => sqlx::query("SELECT source, compiled FROM definitions WHERE id = ? AND version = ?")
                .bind(id)
                .bind(i64::from(v))
                .fetch_optional(&self.pool)
                .await?,
            None => sqlx::query("SELECT source, compiled FROM definitions WHERE id = ? ORDER BY version DESC LIMIT 1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        };
        let Some(row) = row else { return Ok(None) };
        let compiled: String = row.try_get("compiled")?;
        Ok(Some(StoredDefinition {
            definition: serde_json::from_str(&compiled).map_err(corrupt)?,
            source: row.try_get("source")?,
        }))
    }

    async fn list_definitions(&self) -> Result<Vec<DefinitionSummary>, StoreError> {
        let rows =
            sqlx::query("SELECT id, version, name FROM definitions ORDER BY id, version DESC")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(DefinitionSummary {
                    id: r.try_get("id")?,
                    version: u32::try_from(r.try_get::<i64, _>("version")?).map_err(corrupt)?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    async fn instance(&self, id: Uuid) -> Result<Option<InstanceState>, StoreError> {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM instances WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        state
            .map(|s| serde_json::from_str(&s).map_err(corrupt))
            .transpose()
    }

    async fn commit(&self, expected_seq: u64, t: &Transition) -> Result<(), StoreError> {
        if t.events.is_empty() {
            return Ok(());
        }
        let s = &t.state;
        let id = s.id.to_string();
        let now = t.events.last().map(|e| e.at).unwrap_or_default();
        let (status, end_state) = status_text(&s.status);
        let snapshot = serde_json::to_string(s).map_err(corrupt)?;
        let seq = i64::try_from(s.seq).map_err(corrupt)?;
        let mut tx = self.pool.begin().await?;
        if expected_seq == 0 {
            let r = sqlx::query(
                "INSERT INTO instances (id, definition, version, status, end_state, subject_org, subject_person, stage, seq, state, started_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(&s.definition)
            .bind(i64::from(s.version))
            .bind(status)
            .bind(&end_state)
            .bind(&s.subject.org)
            .bind(&s.subject.person)
            .bind(&s.stage)
            .bind(seq)
            .bind(&snapshot)
            .bind(to_micros(s.started_at.unwrap_or(now)))
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await;
            match r {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(StoreError::Conflict(s.id));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            let r = sqlx::query("UPDATE instances SET status = ?, end_state = ?, stage = ?, seq = ?, state = ?, updated_at = ? WHERE id = ? AND seq = ?")
                .bind(status)
                .bind(&end_state)
                .bind(&s.stage)
                .bind(seq)
                .bind(&snapshot)
                .bind(to_micros(now))
                .bind(&id)
                .bind(i64::try_from(expected_seq).map_err(corrupt)?)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(s.id));
            }
        }
        for e in &t.events {
            let body = serde_json::to_string(&e.event).map_err(corrupt)?;
            sqlx::query("INSERT INTO events (instance_id, seq, at, type, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(&id)
                .bind(i64::try_from(e.seq).map_err(corrupt)?)
                .bind(to_micros(e.at))
                .bind(event_type(&e.event))
                .bind(body)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .execute(&mut *tx)
                .await?;
        }
        for effect in &t.effects {
            match effect {
                Effect::CreateTask { task, record } => {
                    let kind = serde_json::to_value(record.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    sqlx::query(
                        "INSERT INTO tasks (id, instance_id, step, assignee, role, org, kind, status, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
                    )
                    .bind(task.to_string())
                    .bind(&id)
                    .bind(&record.step)
                    .bind(&record.assignee)
                    .bind(&record.role)
                    .bind(&record.org)
                    .bind(kind)
                    .bind(to_micros(record.created_at))
                    .bind(record.due_at.map(to_micros))
                    .execute(&mut *tx)
                    .await?;
                }
                Effect::CloseTask { task, status } => {
                    let (st, outcome) = match status {
                        TaskStatus::Open => ("open", None),
                        TaskStatus::Done(o) => ("done", Some(o.clone())),
                        TaskStatus::Cancelled => ("cancelled", None),
                    };
                    sqlx::query(
                        "UPDATE tasks SET status = ?, outcome = ?, closed_at = ? WHERE id = ?",
                    )
                    .bind(st)
                    .bind(outcome)
                    .bind(to_micros(now))
                    .bind(task.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                Effect::ArmTimer { timer, at } => {
                    sqlx::query("INSERT INTO timers (instance_id, timer, at) VALUES (?, ?, ?) ON CONFLICT (instance_id, timer) DO UPDATE SET at = excluded.at, lease_owner = NULL, lease_until = NULL")
                        .bind(&id)
                        .bind(timer)
                        .bind(to_micros(*at))
                        .execute(&mut *tx)
                        .await?;
                }
                Effect::DisarmTimer { timer } => {
                    sqlx::query("DELETE FROM timers WHERE instance_id = ? AND timer = ?")
                        .bind(&id)
                        .bind(timer)
                        .execute(&mut *tx)
                        .await?;
                }
                Effect::EnqueueMail(mail) => {
                    sqlx::query("INSERT INTO outbox (key, instance_id, to_person, kind, vars, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING")
                        .bind(&mail.key)
                        .bind(&id)
                        .bind(&mail.to)
                        .bind(&mail.kind)
                        .bind(serde_json::to_string(&mail.vars).map_err(corrupt)?)
                        .bind(to_micros(now))
                        .execute(&mut *tx)
                        .await?;
                }
                Effect::StartChild {
                    step,
                    workflow,
                    inputs,
                } => {
                    sqlx::query("INSERT INTO child_requests (instance_id, step, seq, workflow, inputs) VALUES (?, ?, ?, ?, ?)")
                        .bind(&id)
                        .bind(step)
                        .bind(seq)
                        .bind(workflow)
                        .bind(serde_json::to_string(inputs).map_err(corrupt)?)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        // Timers fired by this command were consumed.
        for e in &t.events {
            if let stageflow_engine::Event::TimerFired { timer } = &e.event {
                sqlx::query("DELETE FROM timers WHERE instance_id = ? AND timer = ?")
                    .bind(&id)
                    .bind(timer)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn events(&self, id: Uuid) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, body, prev_hash, hash FROM events WHERE instance_id = ? ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecordedEvent {
                    seq: u64::try_from(r.try_get::<i64, _>("seq")?).map_err(corrupt)?,
                    at: from_micros(r.try_get("at")?),
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                    event: serde_json::from_str(&r.try_get::<String, _>("body")?)
                        .map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let rows = sqlx::query("SELECT instance_id, timer, at FROM timers WHERE at <= ? ORDER BY at, instance_id, timer LIMIT ?")
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueTimer {
                    instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
                    timer: r.try_get("timer")?,
                    at: from_micros(r.try_get("at")?),
                })
            })
            .collect()
    }

    async fn delete_timer(&self, instance: Uuid, timer: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM timers WHERE instance_id = ? AND timer = ?")
            .bind(instance.to_string())
            .bind(timer)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<i64> = sqlx::query_scalar("SELECT MIN(at) FROM timers")
            .fetch_one(&self.pool)
            .await?;
        Ok(at.map(from_micros))
    }

    async fn tasks_for(
        &self,
        assignee: &str,
        status: &str,
        limit: u32,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, instance_id, step, assignee, role, status, outcome, due_at FROM tasks
             WHERE assignee = ? AND status = ? ORDER BY due_at IS NULL, due_at, created_at LIMIT ?",
        )
        .bind(assignee)
        .bind(status)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_row).collect()
    }

    async fn instance_tasks(&self, id: Uuid) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query("SELECT id, instance_id, step, assignee, role, status, outcome, due_at FROM tasks WHERE instance_id = ? ORDER BY created_at, id")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(task_row).collect()
    }

    async fn pending_mail(&self, limit: u32) -> Result<Vec<OutboxMail>, StoreError> {
        let rows = sqlx::query("SELECT key, instance_id, to_person, kind, vars, created_at FROM outbox WHERE sent_at IS NULL ORDER BY created_at, key LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxMail {
                    instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
                    mail: Mail {
                        key: r.try_get("key")?,
                        to: r.try_get("to_person")?,
                        kind: r.try_get("kind")?,
                        vars: serde_json::from_str(&r.try_get::<String, _>("vars")?)
                            .map_err(corrupt)?,
                    },
                    created_at: from_micros(r.try_get("created_at")?),
                })
            })
            .collect()
    }
}
