//! `admission5`: start N instances of the 5-step approval and drive every
//! task to the end through the runtime (engine + store, no HTTP), with
//! `--concurrency` workers. Each approval is one command: load the
//! instance, apply, commit events + task rows + timers in one transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use stageflow_engine::Command;
use stageflow_engine::state::{Subject, TaskStatus, Values};
use stageflow_runtime::synthetic::SyntheticDirectory;
use stageflow_runtime::{Runtime, StartRequest};
use uuid::Uuid;

use crate::Common;
use crate::report::{Report, rate};
use crate::setup::{Bench, t0};

/// The request that starts instance `i` (ids are fixed per index).
pub fn start_request(i: usize, org: &str, person: &str, initiator: &str) -> StartRequest {
    StartRequest {
        workflow: "bench-admission5".into(),
        version: None,
        id: Uuid::from_u128(0xad5_0000_0000 + i as u128),
        subject: Subject {
            person: Some(person.into()),
            org: org.into(),
            attrs: Values::new(),
        },
        initiator: initiator.into(),
        inputs: Values::new(),
    }
}

/// The open task of an instance, with its assignee.
pub fn open_task(state: &stageflow_engine::state::InstanceState) -> Option<(Uuid, String)> {
    state
        .tasks
        .iter()
        .find(|(_, t)| t.status == TaskStatus::Open)
        .map(|(id, t)| (*id, t.assignee.clone()))
}

/// Approves the task with a comment; returns the next open task.
async fn approve(
    runtime: &Runtime,
    instance: Uuid,
    task: Uuid,
    actor: String,
) -> anyhow::Result<Option<(Uuid, String)>> {
    let t = runtime
        .execute(
            instance,
            &Command::Complete {
                task,
                actor,
                outcome: Some("approve".into()),
                form: Values::new(),
                comment: Some("同意，符合条件。".into()),
                return_to: None,
            },
            t0(),
        )
        .await?;
    Ok(open_task(&t.state))
}

/// Where an approval's time goes, measured on `k` more instances driven one
/// command at a time: loading the instance, the engine's `apply`, and the
/// commit (one transaction: events, task rows, timers, mail, snapshot).
async fn breakdown(bench: &Bench, k: usize) -> anyhow::Result<[Vec<Duration>; 3]> {
    use stageflow_engine::apply;
    let runtime = &bench.runtime;
    let mut load = Vec::new();
    let mut engine = Vec::new();
    let mut commit = Vec::new();
    for i in 0..k {
        let request = start_request(
            1_000_000 + i,
            "branch-2",
            "branch-2.applicant",
            "branch-2.secretary",
        );
        let id = request.id;
        let mut task = open_task(&runtime.start(request, t0()).await?.state);
        while let Some((tid, actor)) = task {
            let t = Instant::now();
            let state = bench.store.instance(id).await?.expect("stored");
            load.push(t.elapsed());
            let def = runtime
                .definition(&state.definition, Some(state.version))
                .await?;
            let directory = runtime.directory_for(&def, &state.subject.org).await?;
            let t = Instant::now();
            let tr = apply(
                &def,
                &state,
                &Command::Complete {
                    task: tid,
                    actor,
                    outcome: Some("approve".into()),
                    form: Values::new(),
                    comment: Some("同意，符合条件。".into()),
                    return_to: None,
                },
                &runtime.context_for(t0(), &directory),
            )
            .map_err(|r| anyhow::anyhow!("{r}"))?;
            engine.push(t.elapsed());
            let t = Instant::now();
            bench.store.commit(state.seq, &tr).await?;
            commit.push(t.elapsed());
            task = open_task(&tr.state);
        }
    }
    Ok([load, engine, commit])
}

pub async fn run(common: &Common) -> anyhow::Result<Report> {
    let n = common.n.unwrap_or(4_000);
    let bench = Bench::open(common, |_| Arc::new(SyntheticDirectory::default())).await?;
    let runtime = bench.runtime.clone();
    let workers = common.concurrency.max(1);

    // Start N instances.
    let next = Arc::new(AtomicUsize::new(0));
    let started_at = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (runtime, next) = (runtime.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut first = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                let request =
                    start_request(i, "branch-1", "branch-1.applicant", "branch-1.secretary");
                let id = request.id;
                let tr = runtime.start(request, t0()).await?;
                lat.push(t.elapsed());
                first.push((id, open_task(&tr.state)));
            }
            anyhow::Ok((lat, first))
        }));
    }
    let mut start_lat = Vec::new();
    let mut work = Vec::new();
    for h in handles {
        let (lat, first) = h.await??;
        start_lat.extend(lat);
        work.extend(first);
    }
    let start_elapsed = started_at.elapsed();

    // Drive every task to the end: 5 approvals per instance.
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let driven_at = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (runtime, next, work) = (runtime.clone(), next.clone(), work.clone());
        handles.push(tokio::spawn(async move {
            let mut lat: Vec<Duration> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((instance, first)) = work.get(i).cloned() else {
                    break;
                };
                let mut task = first;
                while let Some((id, actor)) = task {
                    let t = Instant::now();
                    task = approve(&runtime, instance, id, actor).await?;
                    lat.push(t.elapsed());
                }
            }
            anyhow::Ok(lat)
        }));
    }
    let mut approve_lat = Vec::new();
    for h in handles {
        approve_lat.extend(h.await??);
    }
    let drive_elapsed = driven_at.elapsed();

    // Every instance ended approved.
    let mut ended = 0;
    for (id, _) in work.iter() {
        let state = bench.store.instance(*id).await?.expect("stored");
        if state.status == stageflow_engine::state::Status::Ended("approved".into()) {
            ended += 1;
        }
    }
    anyhow::ensure!(ended == n, "only {ended} of {n} instances ended approved");
    let completions = approve_lat.len();
    anyhow::ensure!(
        completions == 5 * n,
        "{completions} approvals for {n} instances"
    );
    let bytes = bench.db_bytes().await?;
    let events = bench.store.events(work[0].0).await?.len();
    let [mut load, mut engine, mut commit] = breakdown(&bench, 200).await?;

    let mut r = Report::new("admission5");
    r.set("backend", bench.backend)
        .set("n", n)
        .set("concurrency", workers)
        .set("instances_per_s", rate(n, start_elapsed))
        .set("completions_per_s", rate(completions, drive_elapsed))
        .set(
            "end_to_end_instances_per_s",
            rate(n, start_elapsed + drive_elapsed),
        )
        .say(format!(
            "{n} instances started in {:.2} s ({} /s), {completions} approvals in {:.2} s ({} task completions/s), every instance ended approved",
            start_elapsed.as_secs_f64(),
            rate(n, start_elapsed),
            drive_elapsed.as_secs_f64(),
            rate(completions, drive_elapsed)
        ))
        .latencies("start", &mut start_lat)
        .latencies("approve", &mut approve_lat)
        .set("db_bytes", bytes)
        .set("db_bytes_per_instance", bytes / n.max(1) as u64)
        .set("events_per_instance", events)
        .say(format!(
            "database {:.1} MB, {} bytes per finished instance ({})",
            bytes as f64 / 1e6,
            bytes / n.max(1) as u64,
            bench.backend
        ))
        .say("one approval, phase by phase (200 more instances, one command at a time):")
        .latencies("phase_load", &mut load)
        .latencies("phase_engine", &mut engine)
        .latencies("phase_commit", &mut commit)
        .memory();
    Ok(r)
}
