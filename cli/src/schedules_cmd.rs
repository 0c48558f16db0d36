//! `stageflow schedules …`: list, preview, pause, resume, trigger — on the
//! database directly (the server need not run).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use stageflow_runtime::Runtime;
use stageflow_runtime::directory::StoreDirectory;
use stageflow_runtime::scheduler;
use stageflow_store::Store;

#[derive(Subcommand)]
pub enum SchedulesCommand {
    /// Every schedule with its next fire time
    List {
        /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
        #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
        db: String,
    },
    /// The next N fire times of a schedule
    Preview {
        /// Schedule id (WORKFLOW:SCHEDULE)
        id: String,
        /// How many
        #[arg(long, default_value_t = 5)]
        n: usize,
        /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
        #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
        db: String,
    },
    /// Pause a schedule, with a note
    Pause {
        /// Schedule id
        id: String,
        /// Why
        #[arg(long)]
        note: String,
        /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
        #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
        db: String,
    },
    /// Resume a paused schedule (what was missed while paused is not fired)
    Resume {
        /// Schedule id
        id: String,
        /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
        #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
        db: String,
    },
    /// Fire a schedule now
    Trigger {
        /// Schedule id
        id: String,
        /// Database: a SQLite file path, or a PostgreSQL URL postgres://user@host/db
        #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
        db: String,
    },
}

async fn open(db: &str) -> anyhow::Result<Arc<dyn Store>> {
    stageflow_store::open(db)
        .await
        .with_context(|| format!("opening {}", crate::db::redacted(db)))
}

pub fn run(command: SchedulesCommand) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let now = chrono::Utc::now();
        match command {
            SchedulesCommand::List { db } => {
                let store = open(&db).await?;
                for s in store.schedules().await? {
                    let next = s
                        .next_fire_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "-".into());
                    let state = if s.paused {
                        format!("paused: {}", s.pause_note.unwrap_or_default())
                    } else {
                        "active".into()
                    };
                    println!(
                        "{}\t{}\t{}\tnext {}\t{}",
                        s.id, s.cron, s.timezone, next, state
                    );
                }
            }
            SchedulesCommand::Preview { id, n, db } => {
                let store = open(&db).await?;
                let s = store
                    .schedule(&id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("schedule '{id}' does not exist"))?;
                for t in scheduler::next_fires(&s.cron, &s.timezone, now, n)
                    .map_err(|e| anyhow::anyhow!(e))?
                {
                    println!("{}", t.to_rfc3339());
                }
            }
            SchedulesCommand::Pause { id, note, db } => {
                if note.trim().is_empty() {
                    bail!("say why with --note");
                }
                open(&db)
                    .await?
                    .set_schedule_paused(&id, true, Some(&note))
                    .await?;
                println!("paused {id}");
            }
            SchedulesCommand::Resume { id, db } => {
                let store = open(&db).await?;
                let s = store
                    .schedule(&id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("schedule '{id}' does not exist"))?;
                store.set_schedule_paused(&id, false, None).await?;
                let next = scheduler::next_fires(&s.cron, &s.timezone, now, 1)
                    .map_err(|e| anyhow::anyhow!(e))?;
                store
                    .finish_schedule(
                        &id,
                        next.first().map(|t| t.with_timezone(&chrono::Utc)),
                        &[],
                        now,
                    )
                    .await?;
                println!("resumed {id}");
            }
            SchedulesCommand::Trigger { id, db } => {
                let store = open(&db).await?;
                let runtime =
                    Runtime::new(store.clone(), Arc::new(StoreDirectory::new(store.clone())));
                let run = scheduler::trigger(&runtime, &id, now)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "started {} instance(s), skipped {}",
                    run.started, run.skipped
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
