//! `http`: the 5-step approvals over HTTP on loopback. The server is the
//! same router, runtime and store `serve` runs (in this process, on its own
//! port), the directory in the store (50 党支部), bearer tokens per
//! approver. N instances are loaded first; then `--concurrency` clients
//! approve every task with a comment through `POST /api/v1/tasks/{id}/actions`,
//! each taking the next task from the response.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stageflow_app::{App, Config, ManualClock};
use stageflow_runtime::directory::StoreDirectory;
use stageflow_store::TokenKind;
use uuid::Uuid;

use crate::Common;
use crate::admission5::open_task;
use crate::load::bulk_start;
use crate::report::{Report, rate};
use crate::setup::{Bench, t0};

const BRANCHES: usize = 50;

/// The next open task in an action's answer: its id and assignee.
fn next_task(answer: &Value) -> Option<(Uuid, String)> {
    answer["instance"]["tasks"]
        .as_array()?
        .iter()
        .find(|t| t["status"] == "pending")
        .and_then(|t| {
            Some((
                t["id"].as_str()?.parse().ok()?,
                t["assignees"][0].as_str()?.to_string(),
            ))
        })
}

pub async fn run(common: &Common) -> anyhow::Result<Report> {
    let n = common.n.unwrap_or(3_000);
    let clients = common.concurrency.max(1);
    let bench = Bench::open(common, |store| Arc::new(StoreDirectory::new(store))).await?;
    let subjects = crate::tree::seed(bench.store.as_ref(), BRANCHES).await?;
    let mut tokens = HashMap::new();
    let mut approvers: Vec<String> = vec!["committee-secretary".into(), "committee-officer".into()];
    for b in 1..=BRANCHES {
        for role in ["secretary", "organizer", "trainer"] {
            approvers.push(format!("b{b}-{role}"));
        }
    }
    for p in approvers {
        let token = stageflow_app::caller::new_token();
        bench
            .store
            .put_token(
                &stageflow_app::caller::hash_token(&token),
                &p,
                TokenKind::Personal,
                t0(),
                None,
            )
            .await?;
        tokens.insert(p, token);
    }
    let base = 0x4770_0000_0000u128;
    bulk_start(&bench.runtime, "bench-admission5", &subjects, n, base, t0()).await?;
    let mut work = Vec::with_capacity(n);
    for i in 0..n {
        let id = Uuid::from_u128(base + i as u128);
        let state = bench.store.instance(id).await?.expect("loaded");
        work.push((id, open_task(&state).expect("a first task")));
    }

    let app = App::new(
        bench.store.clone(),
        Arc::new(ManualClock::new(t0())),
        Config::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = stageflow_api::router(app);
    tokio::spawn(stageflow_api::server::serve(
        listener,
        router,
        stageflow_api::server::ServeOptions::default(),
        std::future::pending::<()>(),
    ));

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let tokens = Arc::new(tokens);
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (http, tokens, work, next) = (http.clone(), tokens.clone(), work.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut lat: Vec<Duration> = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, first)) = work.get(i).cloned() else {
                    break;
                };
                let mut task = Some(first);
                while let Some((id, who)) = task {
                    let t = Instant::now();
                    let r = http
                        .post(format!("http://{addr}/api/v1/tasks/{id}/actions"))
                        .bearer_auth(&tokens[&who])
                        .json(&json!({ "action": "approve", "comment": "同意，符合条件。" }))
                        .send()
                        .await?;
                    let ok = r.status().is_success();
                    let answer: Value = r.json().await?;
                    lat.push(t.elapsed());
                    if !ok {
                        failed += 1;
                        break;
                    }
                    task = next_task(&answer);
                }
            }
            anyhow::Ok((lat, failed))
        }));
    }
    let mut lat = Vec::new();
    let mut failed = 0;
    for h in handles {
        let (l, f) = h.await??;
        lat.extend(l);
        failed += f;
    }
    let elapsed = began.elapsed();
    anyhow::ensure!(failed == 0, "{failed} approvals refused");
    anyhow::ensure!(
        lat.len() == 5 * n,
        "{} approvals for {n} instances",
        lat.len()
    );
    let mut ended = 0;
    for (id, _) in work.iter() {
        if bench.store.instance(*id).await?.expect("stored").status
            == stageflow_engine::state::Status::Ended("approved".into())
        {
            ended += 1;
        }
    }
    anyhow::ensure!(ended == n, "{ended} of {n} ended approved");

    let mut r = Report::new("http");
    r.set("backend", bench.backend)
        .set("n", n)
        .set("clients", clients)
        .set("requests", lat.len())
        .set("approvals_per_s", rate(lat.len(), elapsed))
        .say(format!(
            "{} approvals over HTTP by {clients} clients in {:.2} s: {} requests/s; every instance ended approved",
            lat.len(),
            elapsed.as_secs_f64(),
            rate(lat.len(), elapsed)
        ))
        .latencies("request", &mut lat)
        .memory();
    Ok(r)
}
