//! `stageflow-bench SCENARIO [--n N] [--db sqlite|postgres]`: one scenario
//! per run, each printing one JSON line of results (throughput, latency
//! percentiles, peak RSS, database size) and a short summary in words.
//! `docs/performance.md` holds the figures and the method.

mod admission5;
mod fanout;
mod http;
mod load;
mod report;
mod scale;
mod setup;
mod timers;
mod tree;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "stageflow-bench", about = "stageflow benchmarks")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

/// Options every scenario takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// Size (instances, timers or organizations; each scenario has its default)
    #[arg(long)]
    pub n: Option<usize>,
    /// `sqlite` (a file in a temporary directory, WAL, synchronous=FULL) or
    /// `postgres` (a fresh database on STAGEFLOW_TEST_PG, dropped after)
    #[arg(long, default_value = "sqlite")]
    pub db: String,
    /// SQLite `synchronous`: `full` (durable on power loss: an fsync per
    /// commit) or `normal` (durable on a crash of the process; the last
    /// commits may be lost on power loss)
    #[arg(long, default_value = "full")]
    pub sqlite_sync: String,
    /// Concurrent workers (in-process) or HTTP clients
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

#[derive(Subcommand)]
enum Scenario {
    /// A 5-step sequential approval: start N instances, drive every task to the end, in-process
    Admission5(Common),
    /// The same approvals over HTTP on loopback with many concurrent clients
    Http(Common),
    /// N armed timers of which a tenth come due at once: time until all have fired
    Timers(Common),
    /// N open instances stored: memory, the inbox query and the overdue report, size per instance
    Scale(Common),
    /// One cron fire that starts a workflow for N organizations
    Fanout(Common),
    /// (`scale`'s loader, run by it as a child process)
    #[command(hide = true)]
    ScaleLoad(scale::LoadArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Scenario::ScaleLoad(args) = &cli.scenario {
        return runtime.block_on(scale::load(args));
    }
    let report = runtime.block_on(async {
        match cli.scenario {
            Scenario::ScaleLoad(_) => unreachable!("handled above"),
            Scenario::Admission5(c) => admission5::run(&c).await,
            Scenario::Http(c) => http::run(&c).await,
            Scenario::Timers(c) => timers::run(&c).await,
            Scenario::Scale(c) => scale::run(&c).await,
            Scenario::Fanout(c) => fanout::run(&c).await,
        }
    })?;
    report.print();
    Ok(())
}
