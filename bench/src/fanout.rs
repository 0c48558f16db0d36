//! `fanout`: N 党支部 in the store and a yearly schedule over them; one
//! fire of the schedule starts an instance for each (the directory read
//! for a thousand organizations at a time, each thousand written in one
//! transaction): time until all are started.

use std::sync::Arc;
use std::time::Instant;

use stageflow_runtime::directory::StoreDirectory;

use crate::Common;
use crate::report::{Report, rate};
use crate::setup::{Bench, t0};

pub async fn run(common: &Common) -> anyhow::Result<Report> {
    let n = common.n.unwrap_or(10_000);
    let bench = Bench::open(common, |store| Arc::new(StoreDirectory::new(store))).await?;
    let seeded = Instant::now();
    crate::tree::seed(bench.store.as_ref(), n).await?;
    let seed = seeded.elapsed();
    let fired_at = Instant::now();
    let run =
        stageflow_runtime::scheduler::trigger(&bench.runtime, "bench-fanout:yearly", t0()).await?;
    let elapsed = fired_at.elapsed();
    anyhow::ensure!(
        run.started as usize == n,
        "{} started, {} skipped, {n} expected",
        run.started,
        run.skipped
    );
    let bytes = bench.db_bytes().await?;
    let mut r = Report::new("fanout");
    r.set("backend", bench.backend)
        .set("n", n)
        .set("seed_s", seed.as_secs_f64())
        .set("fire_s", elapsed.as_secs_f64())
        .set("instances_per_s", rate(n, elapsed))
        .say(format!(
            "{n} 党支部 imported in {:.1} s; one fire of the yearly schedule started {n} instances in {:.2} s ({} /s)",
            seed.as_secs_f64(),
            elapsed.as_secs_f64(),
            rate(n, elapsed)
        ))
        .set("db_bytes", bytes)
        .memory();
    Ok(r)
}
