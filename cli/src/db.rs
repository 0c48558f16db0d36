//! Opening the database a `--db` value names, and `stageflow migrate`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use stageflow_app::{App, Config, Database, SystemClock};

/// How to reach the database (shared by every command that uses one).
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Database: a SQLite file path (the default, one machine) or a
    /// PostgreSQL URL `postgres://user@host:5432/db` (several nodes)
    #[arg(long, env = "STAGEFLOW_DB", default_value = "stageflow.db")]
    pub db: String,
    /// Most database connections this process holds
    /// (default 16 on PostgreSQL, 8 on SQLite)
    #[arg(long, env = "STAGEFLOW_DB_POOL")]
    pub db_pool: Option<u32>,
    /// PostgreSQL: seconds a statement may run before the server cancels it
    #[arg(long, env = "STAGEFLOW_DB_STATEMENT_TIMEOUT", default_value_t = 30)]
    pub db_statement_timeout: u64,
}

impl DbArgs {
    /// Where the database is, as the application takes it.
    pub fn database(&self) -> Database {
        Database {
            url: self.db.clone(),
            pool: self.db_pool,
            statement_timeout: Duration::from_secs(self.db_statement_timeout.max(1)),
        }
    }

    /// Opens the database (applying the migrations this build knows;
    /// refusing a database migrated by a newer stageflow) under an
    /// application on the system clock.
    pub async fn open(&self) -> anyhow::Result<Arc<App>> {
        self.open_with(Arc::new(SystemClock), Config::default())
            .await
    }

    /// [`DbArgs::open`] with a clock and configuration of one's own.
    pub async fn open_with(
        &self,
        clock: Arc<dyn stageflow_app::Clock>,
        config: Config,
    ) -> anyhow::Result<Arc<App>> {
        App::open(&self.database(), clock, config)
            .await
            .with_context(|| format!("opening database {}", redacted(&self.db)))
    }
}

/// A database URL without its password, for messages.
pub fn redacted(db: &str) -> String {
    match (db.find("://"), db.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &db[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &db[..scheme + 3], &db[at..]),
                None => db.to_string(),
            }
        }
        _ => db.to_string(),
    }
}

/// A runtime for a command that does one thing and ends.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `stageflow migrate`: applies the pending migrations, says which schema
/// the database now has, and reports stored ids that break the safe
/// alphabet (it changes none of them).
pub fn migrate(args: DbArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let app = args.open().await?;
        let kind = if stageflow_app::is_postgres_url(&args.db) {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        println!(
            "{kind} database {} is migrated to the schema of stageflow {}",
            redacted(&args.db),
            env!("CARGO_PKG_VERSION")
        );
        let offenders = app.unsafe_ids().await?;
        if !offenders.is_empty() {
            println!(
                "warning: {} stored id(s) break the id rule (1–{} ASCII letters, digits, '-' and '_', starting with a letter or digit); they keep working, but new ones like them are refused. Rename them when you can:",
                offenders.len(),
                stageflow_app::validate::MAX_ID
            );
            for o in &offenders {
                println!("  {} {:?}", o.kind, o.id);
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_never_show_in_messages() {
        assert_eq!(
            redacted("postgres://sf:secret@db.example:5432/sf"),
            "postgres://sf:***@db.example:5432/sf"
        );
        assert_eq!(
            redacted("postgres://sf@db.example/sf"),
            "postgres://sf@db.example/sf"
        );
        assert_eq!(redacted("stageflow.db"), "stageflow.db");
    }
}
