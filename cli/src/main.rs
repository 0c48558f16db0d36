//! `stageflow`, the command line: an adapter over the application layer
//! like the HTTP API. Subcommands:
//!
//! - `serve` — the HTTP API and the pages, with the timer, schedule and
//!   mail loops (`serve_cmd`)
//! - `validate`, `schema` — check definitions; the JSON Schema for editors
//! - `simulate` — a definition's timeline on a virtual clock (`simulate_cmd`)
//! - `calendar` — working days, holidays and 调休 (`calendar_cmd`)
//! - `import`, `export` — the directory as CSV (`directory_cmd`)
//! - `schedules list | preview | pause | resume | trigger` (`schedules_cmd`)
//! - `token create | list | revoke` — personal tokens (`token_cmd`)
//! - `migrate` — apply the schema; report stored ids that break the id rule (`db`)

mod calendar_cmd;
mod db;
mod directory_cmd;
mod schedules_cmd;
mod serve_cmd;
mod simulate_cmd;
mod token_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stageflow",
    version,
    about = "Workflow and approval engine for Party and mass organizations"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow definitions; prints `path:line:column: message` per problem
    Validate {
        /// Definition files (YAML)
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the workflow language
    Schema,
    /// Working-day calendar (Chinese holidays and 调休)
    Calendar {
        #[command(subcommand)]
        command: calendar_cmd::CalendarCommand,
        #[command(flatten)]
        holidays: calendar_cmd::HolidayArgs,
    },
    /// Run a definition with a virtual clock and print its timeline
    Simulate(simulate_cmd::SimulateArgs),
    /// Run the HTTP API over the database
    Serve(serve_cmd::ServeArgs),
    /// Import organizations and people from UTF-8 CSV (all or nothing)
    Import(directory_cmd::ImportArgs),
    /// Export organizations and people as UTF-8 CSV
    Export(directory_cmd::ExportArgs),
    /// Cron schedules: list, preview, pause, resume, trigger
    Schedules {
        #[command(subcommand)]
        command: schedules_cmd::SchedulesCommand,
    },
    /// Apply the database migrations this build knows (serve also does at start)
    Migrate(db::DbArgs),
    /// Personal bearer tokens: create, list, revoke
    Token {
        #[command(subcommand)]
        command: token_cmd::TokenCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&stageflow_workflows::schema::schema())
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Calendar { command, holidays } => calendar_cmd::run(command, &holidays),
        Command::Simulate(args) => simulate_cmd::run(args),
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Token { command } => token_cmd::run(command),
        Command::Migrate(args) => db::migrate(args),
        Command::Import(args) => directory_cmd::import(args),
        Command::Schedules { command } => schedules_cmd::run(command),
        Command::Export(args) => directory_cmd::export(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn validate(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for path in files {
        match stageflow_workflows::load_file(path) {
            Ok(loaded) => {
                let d = &loaded.definition;
                let steps: usize = d.stages.iter().map(|s| s.steps.len()).sum();
                println!(
                    "{}: ok ({} v{}: {} stages, {} steps)",
                    path.display(),
                    d.id,
                    d.version,
                    d.stages.len(),
                    steps
                );
            }
            Err(diags) => {
                failed += 1;
                for d in &diags {
                    println!("{d}");
                }
                eprintln!("{}：{} 处问题", path.display(), diags.len());
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
