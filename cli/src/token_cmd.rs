//! `stageflow token create | list | revoke`: personal tokens of the API,
//! on the database directly (the operator's command line).

use std::process::ExitCode;

use clap::Subcommand;
use stageflow_app::Caller;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a person; prints the token alone on stdout
    Create {
        #[command(flatten)]
        db: crate::db::DbArgs,
        /// Person id
        #[arg(long)]
        person: String,
        /// Days it lives (default 90)
        #[arg(long)]
        days: Option<i64>,
    },
    /// List live tokens (never the tokens themselves): id, person, kind, made, expires
    List {
        #[command(flatten)]
        db: crate::db::DbArgs,
        /// Only this person's
        #[arg(long)]
        person: Option<String>,
    },
    /// Revoke a token by its id (from `token list`); it gets 401 from then on
    Revoke {
        #[command(flatten)]
        db: crate::db::DbArgs,
        /// Token id
        id: String,
    },
}

pub fn run(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let operator = Caller::operator();
    crate::db::runtime()?.block_on(async {
        match command {
            TokenCommand::Create { db, person, days } => {
                let app = db.open().await?;
                let made = app
                    .create_token(&operator, &person, days)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating a token for '{person}': {e}"))?;
                println!("{}", made.token);
                eprintln!(
                    "token {} for {} expires {}",
                    made.info.id,
                    person,
                    made.info
                        .expires_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                );
            }
            TokenCommand::List { db, person } => {
                let app = db.open().await?;
                let tokens = app
                    .tokens(&operator, person.as_deref())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for t in tokens {
                    println!(
                        "{}\t{}\t{}\tmade {}\texpires {}",
                        t.id,
                        t.person,
                        t.kind,
                        t.created_at.to_rfc3339(),
                        t.expires_at.map(|e| e.to_rfc3339()).unwrap_or_else(|| {
                            "never (made before tokens expired: revoke and remake it)".into()
                        })
                    );
                }
            }
            TokenCommand::Revoke { db, id } => {
                let app = db.open().await?;
                let t = app
                    .revoke_token(&operator, &id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("revoked token {} of {}", t.id, t.person);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
