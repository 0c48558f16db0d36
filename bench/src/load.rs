//! Loading many instances fast: the engine computes each start in memory
//! (one directory snapshot per organization, reused) and the store writes
//! them in batches of one transaction each (`commit_new_batch`, the path a
//! scheduled fan-out takes).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use stageflow_engine::state::{InstanceState, Subject, Values};
use stageflow_engine::{Command, apply};
use stageflow_runtime::Runtime;
use uuid::Uuid;

/// Writes `n` started instances of a workflow; instance `i` is about
/// `subjects[i % len]` (organization, person) and gets id `base + i`.
/// Returns the time it took.
pub async fn bulk_start(
    runtime: &Runtime,
    workflow: &str,
    subjects: &[(String, Option<String>)],
    n: usize,
    base: u128,
    now: DateTime<Utc>,
) -> anyhow::Result<Duration> {
    const BATCH: usize = 2_000;
    let def = runtime.definition(workflow, None).await?;
    let mut directories = HashMap::new();
    for (org, _) in subjects {
        if !directories.contains_key(org) {
            directories.insert(org.clone(), runtime.directory_for(&def, org).await?);
        }
    }
    let started = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let mut batch = Vec::with_capacity(end - i);
        for k in i..end {
            let (org, person) = &subjects[k % subjects.len()];
            let command = Command::Start {
                subject: Subject {
                    person: person.clone(),
                    org: org.clone(),
                    attrs: Values::new(),
                },
                initiator: "bench".into(),
                inputs: Values::new(),
            };
            let directory = &directories[org];
            let t = apply(
                &def,
                &InstanceState::new(Uuid::from_u128(base + k as u128)),
                &command,
                &runtime.context_for(now, directory),
            )
            .map_err(|r| anyhow::anyhow!("start refused: {r}"))?;
            batch.push(t);
        }
        let written = runtime.store().commit_new_batch(&batch).await?;
        anyhow::ensure!(
            written == batch.len(),
            "{written} of {} written",
            batch.len()
        );
        i = end;
    }
    Ok(started.elapsed())
}
