//! `scale`: N open instances stored (one open task each, spread over 100
//! 党支部). The process holds what `serve` holds (store pool, runtime); its
//! RSS is read before the load and after it and the queries. Then one
//! approver's 待办 (the inbox query) and one 党委's overdue list (the
//! 督办台账 query) are timed, and the database size per instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stageflow_runtime::directory::StoreDirectory;
use stageflow_store::InboxQuery;

use crate::Common;
use crate::load::bulk_start;
use crate::report::{Report, proc_status_kb, rate};
use crate::setup::{Bench, t0};

const QUERIES: usize = 300;

pub async fn run(common: &Common) -> anyhow::Result<Report> {
    let n = common.n.unwrap_or(50_000);
    let bench = Bench::open(common, |store| Arc::new(StoreDirectory::new(store))).await?;
    let subjects = crate::tree::seed(bench.store.as_ref(), 100).await?;
    let rss_before = proc_status_kb("VmRSS").unwrap_or(0) / 1024;
    let load = bulk_start(
        &bench.runtime,
        "bench-admission5",
        &subjects,
        n,
        0x5c_0000_0000,
        t0(),
    )
    .await?;

    // One approver's 待办: the 书记 of one branch (n / 100 open tasks).
    let mut inbox = Vec::with_capacity(QUERIES);
    let mut listed = 0;
    for i in 0..QUERIES {
        let q = InboxQuery {
            assignee: format!("b{}-secretary", i % 100 + 1),
            status: "open".into(),
            limit: 50,
            ..Default::default()
        };
        let t = Instant::now();
        listed = bench.store.inbox(&q).await?.len();
        inbox.push(t.elapsed());
    }
    anyhow::ensure!(listed == 50.min(n / 100), "the inbox listed {listed}");
    // The 党委's overdue list, a month after the start (every task late).
    let late = t0() + chrono::Duration::days(30);
    let mut overdue: Vec<Duration> = Vec::with_capacity(QUERIES / 3);
    let mut rows = 0;
    for _ in 0..QUERIES / 3 {
        let t = Instant::now();
        rows = bench
            .store
            .open_tasks_under(Some("committee"), Some(late), 100)
            .await?
            .len();
        overdue.push(t.elapsed());
    }
    anyhow::ensure!(rows == 100.min(n), "the overdue list had {rows} rows");
    let rss_after = proc_status_kb("VmRSS").unwrap_or(0) / 1024;
    let bytes = bench.db_bytes().await?;

    let mut r = Report::new("scale");
    r.set("backend", bench.backend)
        .set("n", n)
        .set("load_s", load.as_secs_f64())
        .set("load_instances_per_s", rate(n, load))
        .say(format!(
            "{n} open instances loaded in {:.1} s ({} /s, batched starts)",
            load.as_secs_f64(),
            rate(n, load)
        ))
        .latencies("inbox", &mut inbox)
        .latencies("overdue_report", &mut overdue)
        .set("rss_before_mb", rss_before)
        .set("rss_after_mb", rss_after)
        .say(format!(
            "RSS {rss_before} MB before the load, {rss_after} MB after it and the queries"
        ))
        .set("db_bytes", bytes)
        .set("db_bytes_per_instance", bytes / n.max(1) as u64)
        .say(format!(
            "database {:.1} MB, {} bytes per open instance",
            bytes as f64 / 1e6,
            bytes / n.max(1) as u64
        ))
        .memory();
    Ok(r)
}
