//! Opening the database a `--db` value names, and `stageflow migrate`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use stageflow_store::{PgOptions, PgStore, SqliteOptions, SqliteStore, Store, is_postgres_url};

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
    /// Opens the database and applies the migrations this build knows;
    /// refuses a database migrated by a newer stageflow.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let shown = redacted(&self.db);
        if is_postgres_url(&self.db) {
            let mut options = PgOptions::new(&self.db);
            if let Some(n) = self.db_pool {
                options.max_connections = n;
            }
            options.statement_timeout = Duration::from_secs(self.db_statement_timeout.max(1));
            let store = PgStore::open(&options)
                .await
                .with_context(|| format!("opening database {shown}"))?;
            Ok(Arc::new(store))
        } else {
            let mut options = SqliteOptions::new(&self.db);
            if let Some(n) = self.db_pool {
                options.max_connections = n;
            }
            let store = SqliteStore::open(&options)
                .await
                .with_context(|| format!("opening database {shown}"))?;
            Ok(Arc::new(store))
        }
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

/// `stageflow migrate`: applies the pending migrations and says which
/// schema the database now has.
pub fn migrate(args: DbArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        args.open().await?;
        let kind = if is_postgres_url(&args.db) {
            "PostgreSQL"
        } else {
            "SQLite"
        };
        println!(
            "{kind} database {} is migrated to the schema of stageflow {}",
            redacted(&args.db),
            env!("CARGO_PKG_VERSION")
        );
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
