//! `stageflow schedules …`: list, preview, pause, resume, trigger — on the
//! database directly (the server need not run), as the operator.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use stageflow_app::Caller;

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

pub fn run(command: SchedulesCommand) -> anyhow::Result<ExitCode> {
    let operator = Caller::operator();
    crate::db::runtime()?.block_on(async {
        let open = |db: String| async move {
            crate::db::DbArgs {
                db,
                db_pool: None,
                db_statement_timeout: 30,
            }
            .open()
            .await
        };
        let fail = |e: stageflow_app::AppError| anyhow::anyhow!("{e}");
        match command {
            SchedulesCommand::List { db } => {
                let app = open(db).await?;
                for s in app.schedules(&operator).await.map_err(fail)? {
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
                let app = open(db).await?;
                for t in app
                    .schedule_preview(&operator, &id, n)
                    .await
                    .map_err(fail)?
                    .next
                {
                    println!("{}", t.to_rfc3339());
                }
            }
            SchedulesCommand::Pause { id, note, db } => {
                if note.trim().is_empty() {
                    bail!("say why with --note");
                }
                let app = open(db).await?;
                app.pause_schedule(&operator, &id, &note)
                    .await
                    .map_err(fail)?;
                println!("paused {id}");
            }
            SchedulesCommand::Resume { id, db } => {
                let app = open(db).await?;
                app.resume_schedule(&operator, &id).await.map_err(fail)?;
                println!("resumed {id}");
            }
            SchedulesCommand::Trigger { id, db } => {
                let app = open(db).await?;
                let run = app.trigger_schedule(&operator, &id).await.map_err(fail)?;
                println!(
                    "started {} instance(s), skipped {}",
                    run.started, run.skipped
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
