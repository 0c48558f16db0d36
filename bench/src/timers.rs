//! `timers`: N armed timers (one per instance: a wait), a tenth of them
//! due one day after the start, the rest in a year. The clock moves past
//! the day and the runtime fires what is due, as the timer loop does: time
//! until all have fired, and the 待办 mails they enqueue per second.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use stageflow_runtime::synthetic::SyntheticDirectory;

use crate::Common;
use crate::load::bulk_start;
use crate::report::{Report, rate};
use crate::setup::{Bench, t0};

async fn count(bench: &Bench, name: &str, label: &str) -> anyhow::Result<i64> {
    Ok(bench
        .store
        .metrics()
        .await?
        .into_iter()
        .filter(|(n, l, _)| n == name && (label.is_empty() || l.contains(label)))
        .map(|(_, _, v)| v)
        .sum())
}

pub async fn run(common: &Common) -> anyhow::Result<Report> {
    let n = common.n.unwrap_or(100_000);
    let due = (n / 10).max(1);
    let bench = Bench::open(common, |_| Arc::new(SyntheticDirectory::default())).await?;
    let subjects: Vec<(String, Option<String>)> =
        (1..=3).map(|b| (format!("branch-{b}"), None)).collect();
    let load_soon = bulk_start(
        &bench.runtime,
        "bench-timer",
        &subjects,
        due,
        0x71_0000_0000,
        t0(),
    )
    .await?;
    let load_late = bulk_start(
        &bench.runtime,
        "bench-timer-late",
        &subjects,
        n - due,
        0x72_0000_0000,
        t0(),
    )
    .await?;
    let armed = count(&bench, "stageflow_timers_armed", "").await?;
    anyhow::ensure!(armed as usize == n, "{armed} timers armed, {n} expected");
    let mails_before = count(&bench, "stageflow_mail", "").await?;

    // The day passes: every timer of the first kind is due at once.
    let later = t0() + Duration::days(1) + Duration::hours(1);
    let fired_at = Instant::now();
    let fired = bench.runtime.fire_due_timers(later).await?;
    let fire_elapsed = fired_at.elapsed();
    anyhow::ensure!(fired == due, "{fired} fired, {due} were due");
    let left = count(&bench, "stageflow_timers_armed", "").await?;
    anyhow::ensure!(left as usize == n - due, "{left} timers left");
    let mails = (count(&bench, "stageflow_mail", "").await? - mails_before) as usize;
    anyhow::ensure!(
        mails == due,
        "{mails} mails enqueued for {due} fired timers"
    );
    let bytes = bench.db_bytes().await?;

    let mut r = Report::new("timers");
    r.set("backend", bench.backend)
        .set("n", n)
        .set("due", due)
        .set("load_s", (load_soon + load_late).as_secs_f64())
        .set("fire_s", fire_elapsed.as_secs_f64())
        .set("timers_fired_per_s", rate(fired, fire_elapsed))
        .set("mails_enqueued_per_s", rate(mails, fire_elapsed))
        .say(format!(
            "{n} timers armed (loaded in {:.1} s); {due} came due at once and fired in {:.2} s ({} /s), each opening a task and enqueueing its 待办 mail ({} mails/s); {} still armed",
            (load_soon + load_late).as_secs_f64(),
            fire_elapsed.as_secs_f64(),
            rate(fired, fire_elapsed),
            rate(mails, fire_elapsed),
            left
        ))
        .set("db_bytes", bytes)
        .say(format!("database {:.1} MB", bytes as f64 / 1e6))
        .memory();
    Ok(r)
}
