// The store's queries, written once for SQLite and PostgreSQL: this file is
// `include!`d by `sqlite/mod.rs` and `postgres.rs` inside a module that
// defines `Db` (the sqlx database), `Me` (the store type, with a `pool`
// field), `POSTGRES`, `wakeups_of` (cross-process notifications, if any),
// `write_turn`, `load_state`, `load_states`, `commit_prepared` and
// `commit_batch`. Placeholders are written `?` and numbered by `sql()`;
// both databases read `$1…`. Integers are 64-bit on both sides.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Row};
use stageflow_engine::Transition;
use stageflow_engine::state::{InstanceState, Mail, RecordedEvent};
use uuid::Uuid;

use crate::{
    Audit, AuditEntry, CommitExtras, DefinitionSummary, DueTimer, FailedMail, FileMeta,
    InboxQuery, Membership, NewOrg, NewPerson, Org, OrgPatch, OutboxMail, Person, PersonPatch,
    SavedResponse, ScheduleRow, ScheduleRun, Store, StoreError, StoredDefinition, TaskRow,
    TokenHolder, TokenInfo, TokenKind, corrupt, from_micros, to_micros,
};

type DbRow = <Db as sqlx::Database>::Row;

/// The query text for this database: each `?` becomes `$1`, `$2`, … in
/// order (text that already numbers its placeholders is left alone), a
/// claim's `/*skip locked*/` becomes `FOR UPDATE SKIP LOCKED` on PostgreSQL,
/// so concurrent nodes claim disjoint rows instead of waiting on each other,
/// and `/*bytes*/` after a column compares it in byte order (`COLLATE "C"`
/// on PostgreSQL; SQLite's default already is).
fn sql(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    let lock = if POSTGRES {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let bytes = if POSTGRES { "COLLATE \"C\"" } else { "" };
    out.replace("/*skip locked*/", lock)
        .replace("/*bytes*/", bytes)
}

/// The paths of a subtree as a byte range: every path that starts with
/// `prefix` (which ends in `/`) and nothing else lies in `[prefix, upper)`,
/// where `upper` is the prefix with its last `/` replaced by the next byte,
/// `0`. Exact for any character in an id (no `LIKE` wildcards, no case
/// folding), and an index in byte order serves it.
fn subtree_range(prefix: &str) -> (String, String) {
    let upper = match prefix.strip_suffix('/') {
        Some(head) => format!("{head}0"),
        // Not a stored path: a range nothing falls in.
        None => prefix.to_string(),
    };
    (prefix.to_string(), upper)
}

/// The condition "`column` lies in a subtree": two placeholders, bound to
/// [`subtree_range`].
fn in_subtree(column: &str) -> String {
    format!("({column} /*bytes*/ >= ? AND {column} /*bytes*/ < ?)")
}

/// A write transaction on the pool, begun once it is this process's turn
/// to write (`write_turn`: SQLite's writers take turns; PostgreSQL's row
/// locks order them).
async fn write_tx(
    me: &Me,
) -> Result<
    (
        Option<tokio::sync::OwnedMutexGuard<()>>,
        sqlx::Transaction<'static, Db>,
    ),
    StoreError,
> {
    let turn = write_turn(me).await;
    Ok((turn, me.pool.begin().await?))
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(corrupt)
}

/// Most values in one `IN (…)` list.
const IN_CHUNK: usize = 500;

/// `?, ?, …` for an `IN (…)` list of `n` values.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn event_row(r: &DbRow) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        seq: u64::try_from(r.try_get::<i64, _>("seq")?).map_err(corrupt)?,
        at: from_micros(r.try_get("at")?),
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
        event: serde_json::from_str(&r.try_get::<String, _>("body")?).map_err(corrupt)?,
    })
}

/// Columns of a task row, with its instance's workflow and subject (ids
/// and names), read with [`TASK_FROM`].
const TASK_COLUMNS: &str = "t.id, t.instance_id, t.step, t.assignee, t.role, t.status, t.outcome, t.due_at, i.definition AS workflow, i.subject_org AS subject_org, i.subject_person AS subject_person, sp.name AS subject_person_name, so.name AS subject_org_name";

/// The tables a task row is read from: the task, its instance, and the
/// subject's person and organization (for their names; one row each by
/// primary key).
const TASK_FROM: &str = "FROM tasks t JOIN instances i ON i.id = t.instance_id LEFT JOIN people sp ON sp.id = i.subject_person LEFT JOIN orgs so ON so.id = i.subject_org";

fn task_row(r: &DbRow) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        workflow: r.try_get("workflow")?,
        org: r.try_get("subject_org")?,
        id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
        step: r.try_get("step")?,
        assignee: r.try_get("assignee")?,
        role: r.try_get("role")?,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        due_at: r.try_get::<Option<i64>, _>("due_at")?.map(from_micros),
        subject_person: r.try_get("subject_person")?,
        subject_person_name: r.try_get("subject_person_name")?,
        subject_org_name: r.try_get("subject_org_name")?,
    })
}

#[async_trait]
impl Store for Me {
    async fn put_definition(
        &self,
        def: &StoredDefinition,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _turn = write_turn(self).await;
        let d = &def.definition;
        let compiled = serde_json::to_string(d).map_err(corrupt)?;
        let existing: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT source FROM definitions WHERE id = ? AND version = ?",
        )))
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
                let r = sqlx::query(AssertSqlSafe(sql("INSERT INTO definitions (id, version, name, source, compiled, created_at, owner_org) VALUES (?, ?, ?, ?, ?, ?, ?)")))
                    .bind(&d.id)
                    .bind(i64::from(d.version))
                    .bind(&d.name)
                    .bind(&def.source)
                    .bind(compiled)
                    .bind(to_micros(now))
                    .bind(&def.owner)
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
            Some(v) => sqlx::query(AssertSqlSafe(sql("SELECT source, compiled, owner_org FROM definitions WHERE id = ? AND version = ?")))
                .bind(id)
                .bind(i64::from(v))
                .fetch_optional(&self.pool)
                .await?,
            None => sqlx::query(AssertSqlSafe(sql("SELECT source, compiled, owner_org FROM definitions WHERE id = ? ORDER BY version DESC LIMIT 1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        };
        let Some(row) = row else { return Ok(None) };
        let compiled: String = row.try_get("compiled")?;
        Ok(Some(StoredDefinition {
            definition: serde_json::from_str(&compiled).map_err(corrupt)?,
            source: row.try_get("source")?,
            owner: row.try_get("owner_org")?,
        }))
    }

    async fn list_definitions(&self) -> Result<Vec<DefinitionSummary>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(
            "SELECT id, version, name, owner_org FROM definitions ORDER BY id, version DESC",
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DefinitionSummary {
                    id: r.try_get("id")?,
                    version: u32::try_from(r.try_get::<i64, _>("version")?).map_err(corrupt)?,
                    name: r.try_get("name")?,
                    owner: r.try_get("owner_org")?,
                })
            })
            .collect()
    }

    async fn instance(&self, id: Uuid) -> Result<Option<InstanceState>, StoreError> {
        load_state(self, id)
            .await?
            .map(|s| serde_json::from_str(&s).map_err(corrupt))
            .transpose()
    }

    async fn instances(&self, ids: &[Uuid]) -> Result<Vec<InstanceState>, StoreError> {
        let mut by_id = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            for (id, state) in load_states(self, chunk).await? {
                by_id.insert(id, state);
            }
        }
        ids.iter()
            .filter_map(|id| by_id.remove(&id.to_string()))
            .map(|s| serde_json::from_str(&s).map_err(corrupt))
            .collect()
    }

    async fn commit(&self, expected_seq: u64, t: &Transition) -> Result<(), StoreError> {
        if t.events.is_empty() {
            return Ok(());
        }
        commit_prepared(self, crate::rows::PreparedWrite::new(expected_seq, t)?).await
    }

    async fn commit_with(
        &self,
        expected_seq: u64,
        t: &Transition,
        extras: &CommitExtras<'_>,
    ) -> Result<(), StoreError> {
        let w = crate::rows::PreparedWrite::new(expected_seq, t)?.with_extras(extras)?;
        commit_prepared(self, w).await
    }

    async fn commit_new_batch(&self, transitions: &[Transition]) -> Result<usize, StoreError> {
        commit_batch(self, transitions).await
    }

    async fn events(&self, id: Uuid) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(
            "SELECT seq, at, body, prev_hash, hash FROM events WHERE instance_id = ? ORDER BY seq",
        )))
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_row).collect()
    }

    async fn events_after(&self, id: Uuid, seq: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(
            "SELECT seq, at, body, prev_hash, hash FROM events WHERE instance_id = ? AND seq > ? ORDER BY seq",
        )))
        .bind(id.to_string())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_row).collect()
    }

    async fn events_of_type(
        &self,
        ids: &[Uuid],
        kind: &str,
    ) -> Result<Vec<(Uuid, RecordedEvent)>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let text = sql(&format!(
                "SELECT instance_id, seq, at, body, prev_hash, hash FROM events WHERE instance_id IN ({}) AND type = ? ORDER BY instance_id, seq",
                marks(chunk.len())
            ));
            let mut q = sqlx::query(AssertSqlSafe(text.as_str()));
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for r in &q.bind(kind).fetch_all(&self.pool).await? {
                out.push((
                    parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
                    event_row(r)?,
                ));
            }
        }
        Ok(out)
    }

    async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql("SELECT instance_id, timer, at FROM timers WHERE at <= ? ORDER BY at, instance_id, timer LIMIT ?")))
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

    async fn claim_due_timers(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let _turn = write_turn(self).await;
        let rows = sqlx::query(AssertSqlSafe(sql("UPDATE timers SET lease_owner = $1, lease_until = $2
             WHERE (instance_id, timer) IN (SELECT instance_id, timer FROM timers WHERE at <= $3 AND (lease_until IS NULL OR lease_until < $4)
                             ORDER BY at, instance_id, timer LIMIT $5 /*skip locked*/)
               AND (lease_until IS NULL OR lease_until < $4)
             RETURNING instance_id, timer, at")),
        )
        .bind(owner)
        .bind(to_micros(lease_until))
        .bind(to_micros(now))
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut due = rows
            .iter()
            .map(|r| {
                Ok(DueTimer {
                    instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
                    timer: r.try_get("timer")?,
                    at: from_micros(r.try_get("at")?),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        due.sort_by(|a, b| (a.at, a.instance, &a.timer).cmp(&(b.at, b.instance, &b.timer)));
        Ok(due)
    }

    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let _turn = write_turn(self).await;
        let rows = sqlx::query(AssertSqlSafe(sql("UPDATE outbox SET lease_until = ?, lease_token = lease_token + 1
             WHERE key IN (SELECT key FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? AND created_at <= ?
                           AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at, rowid LIMIT ? /*skip locked*/)
             RETURNING key, instance_id, to_person, kind, vars, created_at, attempts, lease_token, rowid AS seq")),
        )
        .bind(to_micros(lease_until))
        .bind(to_micros(now))
        .bind(to_micros(now))
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        // Send in the order the mails were queued. (A mail queued later than
        // this process's `now` is not taken: a process whose clock lags must
        // not lease it out on its own, shorter, reckoning.)
        let mut mails = rows
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, outbox_row(r)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        mails.sort_by_key(|(seq, _)| *seq);
        Ok(mails.into_iter().map(|(_, m)| m).collect())
    }

    async fn mail_lease_held(
        &self,
        key: &str,
        lease: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let held: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT lease_token FROM outbox WHERE key = ? AND lease_token = ? AND lease_until > ? AND sent_at IS NULL",
        )))
        .bind(key)
        .bind(lease)
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(held.is_some())
    }

    async fn mail_sent(
        &self,
        key: &str,
        lease: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _turn = write_turn(self).await;
        let r = sqlx::query(AssertSqlSafe(sql("UPDATE outbox SET sent_at = ?, attempts = attempts + 1, lease_until = NULL WHERE key = ? AND lease_token = ?")))
            .bind(to_micros(now))
            .bind(key)
            .bind(lease)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn mail_attempt_failed(
        &self,
        key: &str,
        lease: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _turn = write_turn(self).await;
        let (text, at) = match retry_at {
            Some(at) => (
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL WHERE key = ? AND lease_token = ?",
                at,
            ),
            None => (
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, failed_at = ?, lease_until = NULL WHERE key = ? AND lease_token = ?",
                now,
            ),
        };
        let r = sqlx::query(AssertSqlSafe(sql(text)))
            .bind(error)
            .bind(to_micros(at))
            .bind(key)
            .bind(lease)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn failed_mail(&self, limit: u32) -> Result<Vec<FailedMail>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql("SELECT key, to_person, kind, attempts, last_error, failed_at FROM outbox WHERE failed_at IS NOT NULL ORDER BY failed_at DESC, key LIMIT ?")))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(FailedMail {
                    key: r.try_get("key")?,
                    to: r.try_get("to_person")?,
                    kind: r.try_get("kind")?,
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).map_err(corrupt)?,
                    error: r
                        .try_get::<Option<String>, _>("last_error")?
                        .unwrap_or_default(),
                    failed_at: from_micros(r.try_get("failed_at")?),
                })
            })
            .collect()
    }

    async fn delete_timer(
        &self,
        instance: Uuid,
        timer: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        let _turn = write_turn(self).await;
        sqlx::query(AssertSqlSafe(sql(
            "DELETE FROM timers WHERE instance_id = ? AND timer = ? AND lease_owner = ?",
        )))
        .bind(instance.to_string())
        .bind(timer)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT MIN(CASE WHEN lease_until > at THEN lease_until ELSE at END) FROM timers",
        )))
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
        self.inbox(&InboxQuery {
            assignee: assignee.to_string(),
            status: status.to_string(),
            limit,
            ..InboxQuery::default()
        })
        .await
    }

    async fn instance_tasks(&self, id: Uuid) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(&format!("SELECT {TASK_COLUMNS} {TASK_FROM} WHERE t.instance_id = ? ORDER BY t.created_at, t.id"))))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(task_row).collect()
    }

    async fn pending_mail(&self, limit: u32) -> Result<Vec<OutboxMail>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql("SELECT key, instance_id, to_person, kind, vars, created_at, attempts, lease_token FROM outbox WHERE sent_at IS NULL ORDER BY created_at, rowid LIMIT ?")))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(outbox_row).collect()
    }

    async fn task(&self, id: Uuid) -> Result<Option<TaskRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql(&format!("SELECT {TASK_COLUMNS} {TASK_FROM} WHERE t.id = ?"))))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_row).transpose()
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<TaskRow>, StoreError> {
        let mut text = format!(
            "SELECT {TASK_COLUMNS} {TASK_FROM} WHERE t.assignee = ? AND t.status = ?"
        );
        if q.org.is_some() {
            text.push_str(&format!(
                " AND i.subject_org IN (SELECT id FROM orgs WHERE {})",
                in_subtree("path")
            ));
        }
        if q.workflow.is_some() {
            text.push_str(" AND i.definition = ?");
        }
        if q.due_before.is_some() {
            text.push_str(" AND t.due_at IS NOT NULL AND t.due_at < ?");
        }
        if q.subject.is_some() {
            text.push_str(" AND (sp.name LIKE ? ESCAPE '\\' OR so.name LIKE ? ESCAPE '\\')");
        }
        text.push_str(" ORDER BY t.due_at IS NULL, t.due_at, t.created_at, t.id LIMIT ? OFFSET ?");
        // Built from constant fragments only; every value is bound.
        let mut query = sqlx::query(AssertSqlSafe(sql(&text)))
            .bind(&q.assignee)
            .bind(&q.status);
        if let Some(org) = &q.org {
            let path: Option<String> =
                sqlx::query_scalar(AssertSqlSafe(sql("SELECT path FROM orgs WHERE id = ?")))
                    .bind(org)
                    .fetch_optional(&self.pool)
                    .await?;
            let Some(path) = path else {
                return Ok(Vec::new());
            };
            let (lo, hi) = subtree_range(&path);
            query = query.bind(lo).bind(hi);
        }
        if let Some(w) = &q.workflow {
            query = query.bind(w);
        }
        if let Some(d) = q.due_before {
            query = query.bind(to_micros(d));
        }
        if let Some(text) = &q.subject {
            let pattern = like_contains(text);
            query = query.bind(pattern.clone()).bind(pattern);
        }
        let rows = query
            .bind(i64::from(q.limit))
            .bind(i64::from(q.offset))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(task_row).collect()
    }

    async fn open_task_count(&self, assignee: &str) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM tasks WHERE assignee = ? AND status = 'open'",
        )))
        .bind(assignee)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn create_org(&self, org: &NewOrg, audit: &Audit<'_>) -> Result<Org, StoreError> {
        let id = org.id.clone().unwrap_or_else(|| Uuid::new_v4().to_string());
        let (_turn, mut tx) = write_tx(self).await?;
        let created = insert_org(&mut tx, &id, org, audit.at).await?;
        let paths = vec![created.path.clone()];
        write_audit(&mut tx, audit, "create", ("org", &id), None, Some(&created), &paths).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn update_org(
        &self,
        id: &str,
        patch: &OrgPatch,
        audit: &Audit<'_>,
    ) -> Result<Org, StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        let row = sqlx::query(AssertSqlSafe(sql(
            "SELECT id, name, kind, parent, path, term_start, term_years FROM orgs WHERE id = ?",
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut org =
            row.as_ref().map(org_row).transpose()?.ok_or_else(|| {
                StoreError::NotFound(format!("组织「{id}」不存在"))
            })?;
        let before = org.clone();
        if let Some(parent) = &patch.parent
            && org.parent.as_deref() != Some(parent.as_str())
        {
            let parent_path: Option<String> =
                sqlx::query_scalar(AssertSqlSafe(sql("SELECT path FROM orgs WHERE id = ?")))
                    .bind(parent)
                    .fetch_optional(&mut *tx)
                    .await?;
            let parent_path = parent_path.ok_or_else(|| {
                StoreError::NotFound(format!("上级组织「{parent}」不存在"))
            })?;
            if parent_path.starts_with(&org.path) {
                return Err(StoreError::Invalid(format!(
                    "组织「{id}」不能移到它自己的下级组织「{parent}」之下"
                )));
            }
            let new_path = format!("{parent_path}{id}/");
            // Move the subtree: every path under the old prefix.
            let (lo, hi) = subtree_range(&org.path);
            sqlx::query(AssertSqlSafe(sql(&format!(
                "UPDATE orgs SET path = ? || substr(path, CAST(? AS INTEGER)) WHERE {}",
                in_subtree("path")
            ))))
            .bind(&new_path)
            .bind(i64::try_from(org.path.chars().count() + 1).map_err(corrupt)?)
            .bind(lo)
            .bind(hi)
            .execute(&mut *tx)
            .await?;
            sqlx::query(AssertSqlSafe(sql(
                "UPDATE orgs SET parent = ? WHERE id = ?",
            )))
            .bind(parent)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            org.parent = Some(parent.clone());
            org.path = new_path;
        }
        if let Some(v) = &patch.name {
            org.name = v.clone();
        }
        if let Some(v) = &patch.kind {
            org.kind = v.clone();
        }
        if patch.term_start.is_some() {
            org.term_start = patch.term_start.clone();
        }
        if patch.term_years.is_some() {
            org.term_years = patch.term_years;
        }
        sqlx::query(AssertSqlSafe(sql(
            "UPDATE orgs SET name = ?, kind = ?, term_start = ?, term_years = ? WHERE id = ?",
        )))
        .bind(&org.name)
        .bind(&org.kind)
        .bind(&org.term_start)
        .bind(org.term_years.map(i64::from))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut paths = vec![before.path.clone()];
        if org.path != before.path {
            paths.push(org.path.clone());
        }
        write_audit(&mut tx, audit, "update", ("org", id), Some(&before), Some(&org), &paths).await?;
        tx.commit().await?;
        Ok(org)
    }

    async fn delete_org(&self, id: &str, audit: &Audit<'_>) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        let row = sqlx::query(AssertSqlSafe(sql(
            "SELECT id, name, kind, parent, path, term_start, term_years FROM orgs WHERE id = ?",
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(before) = row.as_ref().map(org_row).transpose()? else {
            return Err(StoreError::NotFound(format!("组织「{id}」不存在")));
        };
        let children: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM orgs WHERE parent = ?",
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let members: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM memberships WHERE org_id = ?",
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let instances: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM instances WHERE subject_org = ?",
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let owned: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM definitions WHERE owner_org = ?",
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if children + members + instances + owned > 0 {
            return Err(StoreError::Invalid(format!(
                "组织「{id}」下还有 {children} 个下级组织、{members} 项人员任职、{instances} 个流程和 {owned} 个所属流程定义版本，请先移走或删除它们"
            )));
        }
        sqlx::query(AssertSqlSafe(sql("DELETE FROM orgs WHERE id = ?")))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        retire(&mut tx, "org", id).await?;
        let paths = vec![before.path.clone()];
        write_audit(&mut tx, audit, "delete", ("org", id), Some(&before), None::<&Org>, &paths).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_person(
        &self,
        id: &str,
        patch: &PersonPatch,
        audit: &Audit<'_>,
    ) -> Result<Person, StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        let mut person = person_in(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("人员「{id}」不存在")))?;
        let before = person.clone();
        if let Some(v) = &patch.name {
            person.name = v.clone();
        }
        if patch.email.is_some() {
            person.email = patch.email.clone();
        }
        if patch.phone.is_some() {
            person.phone = patch.phone.clone();
        }
        if patch.birth_date.is_some() {
            person.birth_date = patch.birth_date.clone();
        }
        if let Some(v) = &patch.status {
            person.status = v.clone();
        }
        if let Some(v) = &patch.key_dates {
            person.key_dates = v.clone();
        }
        sqlx::query(AssertSqlSafe(sql("UPDATE people SET name = ?, email = ?, phone = ?, birth_date = ?, status = ?, key_dates = ? WHERE id = ?")))
            .bind(&person.name)
            .bind(&person.email)
            .bind(&person.phone)
            .bind(&person.birth_date)
            .bind(&person.status)
            .bind(serde_json::to_string(&person.key_dates).map_err(corrupt)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(memberships) = &patch.memberships {
            sqlx::query(AssertSqlSafe(sql(
                "DELETE FROM memberships WHERE person_id = ?",
            )))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let mut ms = memberships.clone();
            ms.sort();
            ms.dedup();
            for m in &ms {
                let exists: Option<String> =
                    sqlx::query_scalar(AssertSqlSafe(sql("SELECT id FROM orgs WHERE id = ?")))
                        .bind(&m.org)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound(format!("组织「{}」不存在", m.org)));
                }
                sqlx::query(AssertSqlSafe(sql(
                    "INSERT INTO memberships (person_id, org_id, role) VALUES (?, ?, ?)",
                )))
                .bind(id)
                .bind(&m.org)
                .bind(&m.role)
                .execute(&mut *tx)
                .await?;
            }
            person.memberships = ms;
        }
        let orgs: Vec<&str> = before
            .memberships
            .iter()
            .chain(&person.memberships)
            .map(|m| m.org.as_str())
            .collect();
        let paths = org_paths(&mut tx, &orgs).await?;
        write_audit(&mut tx, audit, "update", ("person", id), Some(&before), Some(&person), &paths).await?;
        tx.commit().await?;
        Ok(person)
    }

    async fn delete_person(&self, id: &str, audit: &Audit<'_>) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        let Some(before) = person_in(&mut tx, id).await? else {
            return Err(StoreError::NotFound(format!("人员「{id}」不存在")));
        };
        let orgs: Vec<&str> = before.memberships.iter().map(|m| m.org.as_str()).collect();
        let paths = org_paths(&mut tx, &orgs).await?;
        let pending: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM tasks WHERE assignee = ? AND status = 'open'",
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if pending > 0 {
            return Err(StoreError::Invalid(format!(
                "人员「{id}」还有 {pending} 项待办事项，请先转办"
            )));
        }
        sqlx::query(AssertSqlSafe(sql(
            "DELETE FROM memberships WHERE person_id = ?",
        )))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(AssertSqlSafe(sql("DELETE FROM tokens WHERE person_id = ?")))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(AssertSqlSafe(sql("DELETE FROM people WHERE id = ?")))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        retire(&mut tx, "person", id).await?;
        write_audit(&mut tx, audit, "delete", ("person", id), Some(&before), None::<&Person>, &paths).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_under(&self, root: &str, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let Some(root) = self.org(root).await? else {
            return Ok(Vec::new());
        };
        let (lo, hi) = subtree_range(&root.path);
        let rows = sqlx::query(AssertSqlSafe(sql(&format!(
            "SELECT id, at, actor, action, target_kind, target_id, before, after FROM audit
             WHERE id IN (SELECT audit_id FROM audit_orgs WHERE {})
             ORDER BY id DESC LIMIT ?",
            in_subtree("org_path")
        ))))
        .bind(lo)
        .bind(hi)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let json = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
                    r.try_get::<Option<String>, _>(col)?
                        .map(|t| serde_json::from_str(&t).map_err(corrupt))
                        .transpose()
                };
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: from_micros(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target_kind: r.try_get("target_kind")?,
                    target_id: r.try_get("target_id")?,
                    before: json("before")?,
                    after: json("after")?,
                })
            })
            .collect()
    }

    async fn org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql(
            "SELECT id, name, kind, parent, path, term_start, term_years FROM orgs WHERE id = ?",
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(org_row).transpose()
    }

    async fn orgs_under(
        &self,
        root: Option<&str>,
        kind: Option<&str>,
    ) -> Result<Vec<Org>, StoreError> {
        let prefix = match root {
            Some(r) => match self.org(r).await? {
                Some(o) => o.path,
                None => return Ok(Vec::new()),
            },
            None => "/".to_string(),
        };
        let (lo, hi) = subtree_range(&prefix);
        let rows = sqlx::query(AssertSqlSafe(sql(&format!("SELECT id, name, kind, parent, path, term_start, term_years FROM orgs WHERE {} AND (? IS NULL OR kind = ?) ORDER BY path /*bytes*/", in_subtree("path")))))
            .bind(lo)
            .bind(hi)
            .bind(kind)
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(org_row).collect()
    }

    async fn top_orgs(&self) -> Result<Vec<Org>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(
            "SELECT id, name, kind, parent, path, term_start, term_years FROM orgs WHERE parent IS NULL ORDER BY path /*bytes*/",
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(org_row).collect()
    }

    async fn org_chain(&self, id: &str) -> Result<Vec<Org>, StoreError> {
        // One query: the parent links walked up from the organization
        // (bounded, should the stored tree ever hold a loop).
        let rows = sqlx::query(AssertSqlSafe(sql(
            "WITH RECURSIVE chain (id, depth) AS (
                 SELECT id, 0 FROM orgs WHERE id = ?
                 UNION ALL
                 SELECT o.parent, c.depth + 1 FROM orgs o JOIN chain c ON o.id = c.id
                 WHERE o.parent IS NOT NULL AND c.depth < 64
             )
             SELECT o.id, o.name, o.kind, o.parent, o.path, o.term_start, o.term_years
             FROM chain c JOIN orgs o ON o.id = c.id ORDER BY c.depth",
        )))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(org_row).collect()
    }

    async fn create_person(&self, p: &NewPerson, audit: &Audit<'_>) -> Result<Person, StoreError> {
        let id = p.id.clone().unwrap_or_else(|| Uuid::new_v4().to_string());
        let (_turn, mut tx) = write_tx(self).await?;
        let created = insert_person(&mut tx, &id, p, audit.at).await?;
        let orgs: Vec<&str> = created.memberships.iter().map(|m| m.org.as_str()).collect();
        let paths = org_paths(&mut tx, &orgs).await?;
        write_audit(&mut tx, audit, "create", ("person", &id), None::<&Person>, Some(&created), &paths).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql(
            "SELECT id, name, email, phone, birth_date, status, key_dates FROM people WHERE id = ?",
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut person = person_row(&row)?;
        person.memberships = memberships_of(&self.pool, id).await?;
        Ok(Some(person))
    }

    async fn people_under(&self, root: Option<&str>) -> Result<Vec<Person>, StoreError> {
        let prefix = match root {
            Some(r) => match self.org(r).await? {
                Some(o) => o.path,
                None => return Ok(Vec::new()),
            },
            None => "/".to_string(),
        };
        // The people with a role in the subtree, with their roles there.
        let (lo, hi) = subtree_range(&prefix);
        let rows = sqlx::query(AssertSqlSafe(sql(&format!("SELECT p.id, p.name, p.email, p.phone, p.birth_date, p.status, p.key_dates, m.org_id, m.role
             FROM people p JOIN memberships m ON m.person_id = p.id JOIN orgs o ON o.id = m.org_id
             WHERE {} ORDER BY p.id, m.org_id, m.role", in_subtree("o.path")))),
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Person> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id")?;
            if out.last().is_none_or(|p| p.id != id) {
                out.push(person_row(r)?);
            }
            if let Some(p) = out.last_mut() {
                p.memberships.push(Membership {
                    org: r.try_get("org_id")?,
                    role: r.try_get("role")?,
                });
            }
        }
        Ok(out)
    }

    async fn holders_in(
        &self,
        orgs: &[String],
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut out = Vec::new();
        // One query per 500 organizations (a chain has a handful; a
        // fan-out start asks for a thousand at once).
        for chunk in orgs.chunks(IN_CHUNK) {
            let text = sql(&format!(
                "SELECT org_id, role, person_id FROM memberships WHERE org_id IN ({}) ORDER BY org_id, role, person_id",
                marks(chunk.len())
            ));
            let mut q = sqlx::query(AssertSqlSafe(text.as_str()));
            for org in chunk {
                q = q.bind(org);
            }
            for r in &q.fetch_all(&self.pool).await? {
                out.push((
                    r.try_get("org_id")?,
                    r.try_get("role")?,
                    r.try_get("person_id")?,
                ));
            }
        }
        Ok(out)
    }

    async fn role_holders_under(
        &self,
        root: &str,
        kind: Option<&str>,
        role: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let Some(root) = self.org(root).await? else {
            return Ok(Vec::new());
        };
        let (lo, hi) = subtree_range(&root.path);
        let rows = sqlx::query(AssertSqlSafe(sql(&format!("SELECT o.id AS org_id, m.person_id FROM orgs o LEFT JOIN memberships m ON m.org_id = o.id AND m.role = ?
             WHERE {} AND (? IS NULL OR o.kind = ?) ORDER BY o.path /*bytes*/, m.person_id", in_subtree("o.path")))),
        )
        .bind(role)
        .bind(lo)
        .bind(hi)
        .bind(kind)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let person: Option<String> = r.try_get("person_id")?;
            out.push((r.try_get("org_id")?, person.unwrap_or_default()));
        }
        Ok(out)
    }

    async fn import_directory(
        &self,
        orgs: &[NewOrg],
        people: &[NewPerson],
        audit: &Audit<'_>,
    ) -> Result<(usize, usize), StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        for org in orgs {
            let id = org.id.clone().ok_or_else(|| {
                StoreError::Invalid("导入的组织须有 id".into())
            })?;
            let created = insert_org(&mut tx, &id, org, audit.at).await?;
            let paths = vec![created.path.clone()];
            write_audit(&mut tx, audit, "import", ("org", &id), None::<&Org>, Some(&created), &paths)
                .await?;
        }
        for p in people {
            let id =
                p.id.clone()
                    .ok_or_else(|| StoreError::Invalid("导入的人员须有 id".into()))?;
            let created = insert_person(&mut tx, &id, p, audit.at).await?;
            let orgs: Vec<&str> = created.memberships.iter().map(|m| m.org.as_str()).collect();
            let paths = org_paths(&mut tx, &orgs).await?;
            write_audit(&mut tx, audit, "import", ("person", &id), None::<&Person>, Some(&created), &paths)
                .await?;
        }
        tx.commit().await?;
        Ok((orgs.len(), people.len()))
    }

    async fn file(&self, id: Uuid) -> Result<Option<(FileMeta, Vec<u8>)>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql("SELECT id, instance_id, task_id, name, content_type, size, sha256, uploaded_by, content FROM files WHERE id = ?")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((file_row(&r)?, r.try_get::<Vec<u8>, _>("content")?)))
            .transpose()
    }

    async fn file_meta(&self, id: Uuid) -> Result<Option<FileMeta>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql("SELECT id, instance_id, task_id, name, content_type, size, sha256, uploaded_by FROM files WHERE id = ?")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(file_row).transpose()
    }

    async fn instance_files(&self, instance: Uuid) -> Result<Vec<FileMeta>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql("SELECT id, instance_id, task_id, name, content_type, size, sha256, uploaded_by FROM files WHERE instance_id = ? ORDER BY created_at, id")))
            .bind(instance.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(file_row).collect()
    }

    async fn upsert_schedule(&self, r: &ScheduleRow) -> Result<(), StoreError> {
        let _turn = write_turn(self).await;
        sqlx::query(AssertSqlSafe(sql("INSERT INTO schedules (id, workflow, version, cron, timezone, org_kind, org_under, inputs, overlap, catch_up, next_fire_at, owner_org)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, cron = excluded.cron, timezone = excluded.timezone,
               org_kind = excluded.org_kind, org_under = excluded.org_under, inputs = excluded.inputs, overlap = excluded.overlap,
               catch_up = excluded.catch_up, next_fire_at = excluded.next_fire_at, owner_org = excluded.owner_org")),
        )
        .bind(&r.id)
        .bind(&r.workflow)
        .bind(i64::from(r.version))
        .bind(&r.cron)
        .bind(&r.timezone)
        .bind(&r.org_kind)
        .bind(&r.org_under)
        .bind(serde_json::to_string(&r.inputs).map_err(corrupt)?)
        .bind(&r.overlap)
        .bind(&r.catch_up)
        .bind(r.next_fire_at.map(to_micros))
        .bind(&r.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn schedules(&self) -> Result<Vec<ScheduleRow>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY id"
        ))))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(schedule_row).collect()
    }

    async fn schedule(&self, id: &str) -> Result<Option<ScheduleRow>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ?"
        ))))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(schedule_row).transpose()
    }

    async fn set_schedule_paused(
        &self,
        id: &str,
        paused: bool,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        let _turn = write_turn(self).await;
        let r = sqlx::query(AssertSqlSafe(sql(
            "UPDATE schedules SET paused = ?, pause_note = ? WHERE id = ?",
        )))
        .bind(paused)
        .bind(note)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("定时任务「{id}」不存在")));
        }
        Ok(())
    }

    async fn resume_schedule(
        &self,
        id: &str,
        next_fire_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let _turn = write_turn(self).await;
        let r = sqlx::query(AssertSqlSafe(sql(
            "UPDATE schedules SET paused = ?, pause_note = NULL, next_fire_at = ?, lease_until = NULL WHERE id = ?",
        )))
        .bind(false)
        .bind(next_fire_at.map(to_micros))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("定时任务「{id}」不存在")));
        }
        Ok(())
    }

    async fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ScheduleRow>, StoreError> {
        let _turn = write_turn(self).await;
        let rows = sqlx::query(AssertSqlSafe(sql(&format!("UPDATE schedules SET lease_until = ? WHERE id IN (SELECT id FROM schedules WHERE NOT paused AND next_fire_at IS NOT NULL AND next_fire_at <= ?
               AND (lease_until IS NULL OR lease_until < ?) /*skip locked*/) RETURNING {SCHEDULE_COLUMNS}"))))
        .bind(to_micros(lease_until))
        .bind(to_micros(now))
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(schedule_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.sort_by(|a, b| (a.next_fire_at, &a.id).cmp(&(b.next_fire_at, &b.id)));
        Ok(out)
    }

    async fn finish_schedule(
        &self,
        id: &str,
        next_fire_at: Option<DateTime<Utc>>,
        runs: &[ScheduleRun],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        for run in runs {
            sqlx::query(AssertSqlSafe(sql("INSERT INTO schedule_runs (schedule_id, occurrence, fired_at, started, skipped) VALUES (?, ?, ?, ?, ?) ON CONFLICT (schedule_id, occurrence) DO UPDATE SET fired_at = excluded.fired_at, started = excluded.started, skipped = excluded.skipped")))
                .bind(id)
                .bind(to_micros(run.occurrence))
                .bind(to_micros(now))
                .bind(i64::from(run.started))
                .bind(i64::from(run.skipped))
                .execute(&mut *tx)
                .await?;
        }
        let last = runs.iter().map(|r| r.occurrence).max();
        sqlx::query(AssertSqlSafe(sql("UPDATE schedules SET next_fire_at = ?, last_fired_at = COALESCE(?, last_fired_at), lease_until = NULL WHERE id = ?")))
            .bind(next_fire_at.map(to_micros))
            .bind(last.map(to_micros))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn schedule_runs(&self, id: &str, limit: u32) -> Result<Vec<ScheduleRun>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql("SELECT occurrence, started, skipped FROM schedule_runs WHERE schedule_id = ? ORDER BY occurrence DESC LIMIT ?")))
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ScheduleRun {
                    occurrence: from_micros(r.try_get("occurrence")?),
                    started: u32::try_from(r.try_get::<i64, _>("started")?).map_err(corrupt)?,
                    skipped: u32::try_from(r.try_get::<i64, _>("skipped")?).map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn running_orgs(&self, workflow: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(AssertSqlSafe(sql("SELECT DISTINCT subject_org FROM instances WHERE definition = ? AND status = 'running'"))).bind(workflow).fetch_all(&self.pool).await?)
    }

    async fn open_tasks_under(
        &self,
        root: Option<&str>,
        due_before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let prefix = match root {
            Some(r) => match self.org(r).await? {
                Some(o) => o.path,
                None => return Ok(Vec::new()),
            },
            None => "/".to_string(),
        };
        // Overdue (a `due_before`): walk the open tasks in deadline order
        // (index `tasks_open_due`) and stop at the page's end.
        let (lo, hi) = subtree_range(&prefix);
        let scope = format!(
            "(i.subject_org IN (SELECT id FROM orgs WHERE {p}) OR t.org IN (SELECT id FROM orgs WHERE {p}))",
            p = in_subtree("path")
        );
        let rows = match due_before {
            Some(before) => sqlx::query(AssertSqlSafe(sql(&format!("SELECT {TASK_COLUMNS} {TASK_FROM}
             WHERE t.status = 'open' AND t.due_at IS NOT NULL AND t.due_at < ?
               AND {scope}
             ORDER BY t.due_at, t.id LIMIT ?"))))
            .bind(to_micros(before))
            .bind(&lo)
            .bind(&hi)
            .bind(&lo)
            .bind(&hi)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?,
            None => sqlx::query(AssertSqlSafe(sql(&format!("SELECT {TASK_COLUMNS} {TASK_FROM}
             WHERE t.status = 'open' AND {scope}
             ORDER BY t.due_at IS NULL, t.due_at, t.id LIMIT ?"))))
            .bind(&lo)
            .bind(&hi)
            .bind(&lo)
            .bind(&hi)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?,
        };
        rows.iter().map(task_row).collect()
    }

    async fn metrics(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut out = Vec::new();
        for (name, sql) in [
            (
                "stageflow_instances",
                "SELECT status, COUNT(*) FROM instances GROUP BY status",
            ),
            (
                "stageflow_tasks",
                "SELECT status, COUNT(*) FROM tasks GROUP BY status",
            ),
            (
                "stageflow_mail",
                "SELECT CASE WHEN sent_at IS NOT NULL THEN 'sent' WHEN failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END AS s, COUNT(*) FROM outbox GROUP BY s",
            ),
        ] {
            let rows: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(self::sql(sql)))
                .fetch_all(&self.pool)
                .await?;
            for (label, n) in rows {
                out.push((name.to_string(), format!("status=\"{label}\""), n));
            }
        }
        let timers: i64 = sqlx::query_scalar(AssertSqlSafe(sql("SELECT COUNT(*) FROM timers")))
            .fetch_one(&self.pool)
            .await?;
        out.push(("stageflow_timers_armed".into(), String::new(), timers));
        let paused: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT COUNT(*) FROM schedules WHERE paused",
        )))
        .fetch_one(&self.pool)
        .await?;
        out.push(("stageflow_schedules_paused".into(), String::new(), paused));
        Ok(out)
    }

    async fn put_token(
        &self,
        hash: &str,
        person: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        if self.person(person).await?.is_none() {
            return Err(StoreError::NotFound(format!("人员「{person}」不存在")));
        }
        let (_turn, mut tx) = write_tx(self).await?;
        sqlx::query(AssertSqlSafe(sql(
            "DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= ?",
        )))
        .bind(to_micros(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(AssertSqlSafe(sql(
            "INSERT INTO tokens (hash, person_id, created_at, kind, expires_at) VALUES (?, ?, ?, ?, ?)",
        )))
        .bind(hash)
        .bind(person)
        .bind(to_micros(now))
        .bind(kind.as_str())
        .bind(expires_at.map(to_micros))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn instances_of(
        &self,
        workflow: &str,
        limit: u32,
    ) -> Result<Vec<(Uuid, String, String)>, StoreError> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(AssertSqlSafe(sql(
            "SELECT id, subject_org, status FROM instances WHERE definition = ?
             ORDER BY CASE WHEN status = 'running' THEN 0 ELSE 1 END, started_at DESC LIMIT ?",
        )))
        .bind(workflow)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, org, status)| Ok((parse_uuid(&id)?, org, status)))
            .collect()
    }

    async fn delete_token(&self, hash: &str) -> Result<(), StoreError> {
        let _turn = write_turn(self).await;
        sqlx::query(AssertSqlSafe(sql("DELETE FROM tokens WHERE hash = ?")))
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_person(
        &self,
        hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT person_id FROM tokens WHERE hash = ? AND kind = ?
             AND (expires_at IS NULL OR expires_at > ?)",
        )))
        .bind(hash)
        .bind(kind.as_str())
        .bind(to_micros(now))
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn token_holder(
        &self,
        hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenHolder>, StoreError> {
        // One query: the token, its person and their roles with the path of
        // each role's organization.
        let rows = sqlx::query(AssertSqlSafe(sql(
            "SELECT t.person_id, p.name, m.org_id, m.role, o.path
             FROM tokens t
             LEFT JOIN people p ON p.id = t.person_id
             LEFT JOIN memberships m ON m.person_id = t.person_id
             LEFT JOIN orgs o ON o.id = m.org_id
             WHERE t.hash = ? AND t.kind = ? AND (t.expires_at IS NULL OR t.expires_at > ?)
             ORDER BY m.org_id, m.role",
        )))
        .bind(hash)
        .bind(kind.as_str())
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut holder = TokenHolder {
            person: first.try_get("person_id")?,
            name: first.try_get("name")?,
            roles: Vec::new(),
        };
        for r in &rows {
            if let (Some(org), Some(role)) = (
                r.try_get::<Option<String>, _>("org_id")?,
                r.try_get::<Option<String>, _>("role")?,
            ) {
                holder.roles.push((
                    Membership { org, role },
                    r.try_get::<Option<String>, _>("path")?.unwrap_or_default(),
                ));
            }
        }
        Ok(Some(holder))
    }

    async fn take_token(
        &self,
        hash: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let _turn = write_turn(self).await;
        let row: Option<(String, Option<i64>)> = sqlx::query_as(AssertSqlSafe(sql(
            "DELETE FROM tokens WHERE hash = ? AND kind = ? RETURNING person_id, expires_at",
        )))
        .bind(hash)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(person, expires)| match expires {
            Some(e) if e <= to_micros(now) => None,
            _ => Some(person),
        }))
    }

    async fn people_by_email(&self, email: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(AssertSqlSafe(sql(
            "SELECT id FROM people WHERE lower(email) = lower(?) ORDER BY id LIMIT 2",
        )))
        .bind(email.trim())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_tokens_of(&self, person: &str, kind: TokenKind) -> Result<u64, StoreError> {
        let _turn = write_turn(self).await;
        Ok(sqlx::query(AssertSqlSafe(sql(
            "DELETE FROM tokens WHERE person_id = ? AND kind = ?",
        )))
        .bind(person)
        .bind(kind.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn queue_mail(&self, mail: &Mail, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        sqlx::query(AssertSqlSafe(sql("INSERT INTO outbox (key, instance_id, to_person, kind, vars, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING")))
            .bind(&mail.key)
            .bind(Uuid::nil().to_string())
            .bind(&mail.to)
            .bind(&mail.kind)
            .bind(serde_json::to_string(&mail.vars).map_err(corrupt)?)
            .bind(to_micros(now))
            .execute(&mut *tx)
            .await?;
        if POSTGRES {
            sqlx::query(AssertSqlSafe(sql("SELECT pg_notify(?, '')")))
                .bind("stageflow_mail")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn saved_response(&self, key: &str) -> Result<Option<SavedResponse>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql(
            "SELECT status, body FROM idempotency WHERE key = ?",
        )))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SavedResponse {
                status: u16::try_from(r.try_get::<i64, _>("status")?).map_err(corrupt)?,
                body: r.try_get("body")?,
            })
        })
        .transpose()
    }

    async fn tokens(
        &self,
        person: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(sql(
            "SELECT hash, person_id, kind, created_at, expires_at FROM tokens
             WHERE (? IS NULL OR person_id = ?) AND (expires_at IS NULL OR expires_at > ?)
             ORDER BY created_at DESC, hash",
        )))
        .bind(person)
        .bind(person)
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_info_row).collect()
    }

    async fn tokens_of(
        &self,
        people: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<TokenInfo>, StoreError> {
        let mut out = Vec::new();
        for chunk in people.chunks(IN_CHUNK) {
            let text = sql(&format!(
                "SELECT hash, person_id, kind, created_at, expires_at FROM tokens
                 WHERE person_id IN ({}) AND (expires_at IS NULL OR expires_at > ?)",
                marks(chunk.len())
            ));
            let mut q = sqlx::query(AssertSqlSafe(text.as_str()));
            for p in chunk {
                q = q.bind(p);
            }
            for r in &q.bind(to_micros(now)).fetch_all(&self.pool).await? {
                out.push(token_info_row(r)?);
            }
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    async fn token_info(&self, id: &str) -> Result<Option<TokenInfo>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(sql(
            "SELECT hash, person_id, kind, created_at, expires_at FROM tokens WHERE substr(hash, 1, 16) = ?",
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_info_row).transpose()
    }

    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let _turn = write_turn(self).await;
        Ok(sqlx::query(AssertSqlSafe(sql(
            "DELETE FROM tokens WHERE substr(hash, 1, 16) = ?",
        )))
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0)
    }

    async fn put_email_change(
        &self,
        hash: &str,
        person: &str,
        email: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = write_tx(self).await?;
        // One pending change per person: a new request replaces the last.
        sqlx::query(AssertSqlSafe(sql(
            "DELETE FROM tokens WHERE person_id = ? AND kind = ?",
        )))
        .bind(person)
        .bind(TokenKind::EmailChange.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(AssertSqlSafe(sql(
            "INSERT INTO tokens (hash, person_id, created_at, kind, expires_at, data) VALUES (?, ?, ?, ?, ?, ?)",
        )))
        .bind(hash)
        .bind(person)
        .bind(to_micros(now))
        .bind(TokenKind::EmailChange.as_str())
        .bind(to_micros(expires_at))
        .bind(email)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_email_change(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, StoreError> {
        let _turn = write_turn(self).await;
        let row: Option<(String, Option<i64>, Option<String>)> = sqlx::query_as(AssertSqlSafe(sql(
            "DELETE FROM tokens WHERE hash = ? AND kind = ? RETURNING person_id, expires_at, data",
        )))
        .bind(hash)
        .bind(TokenKind::EmailChange.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((person, Some(expires), Some(email))) if expires > to_micros(now) => {
                Some((person, email))
            }
            _ => None,
        })
    }

    async fn wakeups(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<crate::Wakeup>>, StoreError> {
        wakeups_of(self).await
    }
}

fn org_row(r: &DbRow) -> Result<Org, StoreError> {
    Ok(Org {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        parent: r.try_get("parent")?,
        path: r.try_get("path")?,
        term_start: r.try_get("term_start")?,
        term_years: r
            .try_get::<Option<i64>, _>("term_years")?
            .map(|y| u32::try_from(y).unwrap_or(0)),
    })
}

fn person_row(r: &DbRow) -> Result<Person, StoreError> {
    Ok(Person {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        birth_date: r.try_get("birth_date")?,
        status: r.try_get("status")?,
        key_dates: serde_json::from_str(&r.try_get::<String, _>("key_dates")?).map_err(corrupt)?,
        memberships: Vec::new(),
    })
}

fn file_row(r: &DbRow) -> Result<FileMeta, StoreError> {
    Ok(FileMeta {
        id: parse_uuid(&r.try_get::<String, _>("id")?)?,
        instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
        task: parse_uuid(&r.try_get::<String, _>("task_id")?)?,
        name: r.try_get("name")?,
        content_type: r.try_get("content_type")?,
        size: u64::try_from(r.try_get::<i64, _>("size")?).map_err(corrupt)?,
        sha256: r.try_get("sha256")?,
        uploaded_by: r.try_get("uploaded_by")?,
    })
}

type Tx = sqlx::Transaction<'static, Db>;

/// Inserts an organization under an existing parent, in a transaction.
async fn insert_org(
    tx: &mut Tx,
    id: &str,
    org: &NewOrg,
    now: DateTime<Utc>,
) -> Result<Org, StoreError> {
    if id.contains('/') || id.contains('%') || id.is_empty() {
        return Err(StoreError::Invalid(format!(
            "组织 id「{id}」不能为空，也不能含「/」或「%」"
        )));
    }
    refuse_retired(tx, "org", id).await?;
    let path = match &org.parent {
        Some(p) => {
            let parent: Option<String> =
                sqlx::query_scalar(AssertSqlSafe(sql("SELECT path FROM orgs WHERE id = ?")))
                    .bind(p)
                    .fetch_optional(&mut **tx)
                    .await?;
            let parent = parent.ok_or_else(|| {
                StoreError::NotFound(format!("组织「{id}」的上级组织「{p}」不存在"))
            })?;
            format!("{parent}{id}/")
        }
        None => format!("/{id}/"),
    };
    let r = sqlx::query(AssertSqlSafe(sql("INSERT INTO orgs (id, name, kind, parent, path, term_start, term_years, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")))
        .bind(id)
        .bind(&org.name)
        .bind(&org.kind)
        .bind(&org.parent)
        .bind(&path)
        .bind(&org.term_start)
        .bind(org.term_years.map(i64::from))
        .bind(to_micros(now))
        .execute(&mut **tx)
        .await;
    match r {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(StoreError::Invalid(format!("组织「{id}」已经存在")));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Org {
        id: id.to_string(),
        name: org.name.clone(),
        kind: org.kind.clone(),
        parent: org.parent.clone(),
        path,
        term_start: org.term_start.clone(),
        term_years: org.term_years,
    })
}

/// Inserts a person and their memberships, in a transaction.
async fn insert_person(
    tx: &mut Tx,
    id: &str,
    p: &NewPerson,
    now: DateTime<Utc>,
) -> Result<Person, StoreError> {
    refuse_retired(tx, "person", id).await?;
    let status = p.status.clone().unwrap_or_else(|| "群众".to_string());
    let r = sqlx::query(AssertSqlSafe(sql("INSERT INTO people (id, name, email, phone, birth_date, status, key_dates, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")))
        .bind(id)
        .bind(&p.name)
        .bind(&p.email)
        .bind(&p.phone)
        .bind(&p.birth_date)
        .bind(&status)
        .bind(serde_json::to_string(&p.key_dates).map_err(corrupt)?)
        .bind(to_micros(now))
        .execute(&mut **tx)
        .await;
    match r {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(StoreError::Invalid(format!("人员「{id}」已经存在")));
        }
        Err(e) => return Err(e.into()),
    }
    let mut memberships = p.memberships.clone();
    memberships.sort();
    memberships.dedup();
    for m in &memberships {
        let exists: Option<String> =
            sqlx::query_scalar(AssertSqlSafe(sql("SELECT id FROM orgs WHERE id = ?")))
                .bind(&m.org)
                .fetch_optional(&mut **tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "人员「{id}」所在的组织「{}」不存在",
                m.org
            )));
        }
        sqlx::query(AssertSqlSafe(sql(
            "INSERT INTO memberships (person_id, org_id, role) VALUES (?, ?, ?)",
        )))
        .bind(id)
        .bind(&m.org)
        .bind(&m.role)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Person {
        id: id.to_string(),
        name: p.name.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        birth_date: p.birth_date.clone(),
        status,
        key_dates: p.key_dates.clone(),
        memberships,
    })
}

/// Keeps a deleted organization's or person's id from being given again.
async fn retire(tx: &mut Tx, kind: &str, id: &str) -> Result<(), StoreError> {
    sqlx::query(AssertSqlSafe(sql(
        "INSERT INTO retired_ids (kind, id) VALUES (?, ?) ON CONFLICT (kind, id) DO NOTHING",
    )))
    .bind(kind)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Refuses an id that belonged to a deleted organization or person.
async fn refuse_retired(tx: &mut Tx, kind: &str, id: &str) -> Result<(), StoreError> {
    let retired: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql(
        "SELECT id FROM retired_ids WHERE kind = ? AND id = ?",
    )))
    .bind(kind)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match retired {
        Some(_) => Err(StoreError::Invalid(format!(
            "id「{id}」曾属于一个已删除的{}；id 不会再次分配（历史记录中仍在使用），请另选一个",
            if kind == "org" { "组织" } else { "人员" }
        ))),
        None => Ok(()),
    }
}

/// A person with their memberships, read in a transaction.
async fn person_in(tx: &mut Tx, id: &str) -> Result<Option<Person>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(sql(
        "SELECT id, name, email, phone, birth_date, status, key_dates FROM people WHERE id = ?",
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut person = person_row(&row)?;
    person.memberships = memberships_of(&mut **tx, id).await?;
    Ok(Some(person))
}

/// A person's memberships, by organization and role, through a pool or in
/// a transaction.
async fn memberships_of<'c, E>(exec: E, id: &str) -> Result<Vec<Membership>, StoreError>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    let rows = sqlx::query(AssertSqlSafe(sql(
        "SELECT org_id, role FROM memberships WHERE person_id = ? ORDER BY org_id, role",
    )))
    .bind(id)
    .fetch_all(exec)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Membership {
                org: r.try_get("org_id")?,
                role: r.try_get("role")?,
            })
        })
        .collect()
}

/// The paths of organizations (each once), read in a transaction.
async fn org_paths(tx: &mut Tx, ids: &[&str]) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<&str> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let text = sql(&format!(
            "SELECT path FROM orgs WHERE id IN ({})",
            marks(chunk.len())
        ));
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(text.as_str()));
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// Writes one entry of the audit trail in the transaction of the change
/// it records, with the paths of the organizations it concerns.
async fn write_audit<T: serde::Serialize>(
    tx: &mut Tx,
    audit: &Audit<'_>,
    action: &str,
    (kind, target): (&str, &str),
    before: Option<&T>,
    after: Option<&T>,
    paths: &[String],
) -> Result<(), StoreError> {
    let json = |v: Option<&T>| v.map(serde_json::to_string).transpose().map_err(corrupt);
    let id: i64 = sqlx::query_scalar(AssertSqlSafe(sql(
        "INSERT INTO audit (at, actor, action, target_kind, target_id, before, after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )))
    .bind(to_micros(audit.at))
    .bind(audit.actor)
    .bind(action)
    .bind(kind)
    .bind(target)
    .bind(json(before)?)
    .bind(json(after)?)
    .fetch_one(&mut **tx)
    .await?;
    let mut paths: Vec<&String> = paths.iter().collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        sqlx::query(AssertSqlSafe(sql(
            "INSERT INTO audit_orgs (audit_id, org_path) VALUES (?, ?)",
        )))
        .bind(id)
        .bind(path)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn token_info_row(r: &DbRow) -> Result<TokenInfo, StoreError> {
    let hash: String = r.try_get("hash")?;
    Ok(TokenInfo {
        id: hash.chars().take(16).collect(),
        person: r.try_get("person_id")?,
        kind: r.try_get("kind")?,
        created_at: from_micros(r.try_get("created_at")?),
        expires_at: r.try_get::<Option<i64>, _>("expires_at")?.map(from_micros),
    })
}

fn outbox_row(r: &DbRow) -> Result<OutboxMail, StoreError> {
    Ok(OutboxMail {
        instance: parse_uuid(&r.try_get::<String, _>("instance_id")?)?,
        mail: Mail {
            key: r.try_get("key")?,
            to: r.try_get("to_person")?,
            kind: r.try_get("kind")?,
            vars: serde_json::from_str(&r.try_get::<String, _>("vars")?).map_err(corrupt)?,
        },
        created_at: from_micros(r.try_get("created_at")?),
        attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).map_err(corrupt)?,
        lease: r.try_get("lease_token")?,
    })
}

const SCHEDULE_COLUMNS: &str = "id, workflow, version, cron, timezone, org_kind, org_under, inputs, overlap, catch_up, paused, pause_note, next_fire_at, last_fired_at, owner_org";

fn schedule_row(r: &DbRow) -> Result<ScheduleRow, StoreError> {
    Ok(ScheduleRow {
        id: r.try_get("id")?,
        workflow: r.try_get("workflow")?,
        version: u32::try_from(r.try_get::<i64, _>("version")?).map_err(corrupt)?,
        cron: r.try_get("cron")?,
        timezone: r.try_get("timezone")?,
        org_kind: r.try_get("org_kind")?,
        org_under: r.try_get("org_under")?,
        inputs: serde_json::from_str(&r.try_get::<String, _>("inputs")?).map_err(corrupt)?,
        overlap: r.try_get("overlap")?,
        catch_up: r.try_get("catch_up")?,
        paused: r.try_get::<bool, _>("paused")?,
        pause_note: r.try_get("pause_note")?,
        next_fire_at: r
            .try_get::<Option<i64>, _>("next_fire_at")?
            .map(from_micros),
        last_fired_at: r
            .try_get::<Option<i64>, _>("last_fired_at")?
            .map(from_micros),
        owner: r.try_get("owner_org")?,
    })
}

/// A LIKE pattern matching values that contain `text` literally (`%`, `_`
/// and `\` escaped; used with `ESCAPE '\'`).
fn like_contains(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
