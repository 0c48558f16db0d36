//! The application layer of stageflow: every operation people (and the
//! command line) can do, as one typed function each, under the adapters
//! (the JSON API, the web pages, the CLI) and over the runtime.
//!
//! Key design decisions:
//! - An operation loads what it is about, asks [`policy::check`] — the one
//!   place that decides permissions — and only then reads or changes
//!   anything. Outside the caller's scope a thing answers exactly as a
//!   missing one does.
//! - An operation owns its transaction boundary: a command and everything
//!   it implies (its events, timers, mail, an uploaded file, the answer
//!   saved under an idempotency key) commit together or not at all.
//! - The clock and the background loops (timers, schedules, mail) live
//!   here, not in an adapter: an adapter parses, calls and renders.
//!
//! The adapters depend on this crate and on nothing below it but the pure
//! engine: no adapter touches the store or the runtime.

#![deny(missing_docs)]

pub mod caller;
pub mod casefile;
pub mod clock;
pub mod console;
pub mod definitions;
pub mod demo;
pub mod directory;
pub mod error;
pub mod files;
pub mod holidays;
pub mod instances;
pub mod loops;
pub mod policy;
pub mod reports;
pub mod schedules;
pub mod signin;
pub mod tasks;
pub mod tokens;
pub mod validate;
pub mod views;

mod scope;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use stageflow_runtime::Runtime;
use stageflow_runtime::directory::StoreDirectory;
use stageflow_store::Store;

pub use caller::{Caller, Credential};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, AppResult, ErrorKind};

/// The mail transport and templates (`serve --smtp`), as the runtime's
/// outbox worker takes them.
pub use stageflow_runtime::mail::{
    Language as MailLanguage, MailConfig, Transport as MailTransport,
};
/// What a preview (`simulate`) is given and gives back.
pub use stageflow_runtime::simulate;

/// How the application runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bootstrap admin token (`STAGEFLOW_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
    /// Whether the clock can be moved (`serve --clock manual`).
    pub manual_clock: bool,
    /// How long a personal token lives unless asked otherwise.
    pub token_days: i64,
    /// How long a web session lasts.
    pub session_hours: i64,
    /// How long a mailed sign-in link (and an e-mail change link) stays valid.
    pub link_minutes: i64,
    /// Mailed sign-in links per address per hour.
    pub links_per_address: u32,
    /// Mailed sign-in links per client (network address) per hour.
    pub links_per_client: u32,
    /// A test hook: the process aborts right after an action with an
    /// idempotency key commits, before it answers (the crash test).
    pub crash_after_commit: bool,
    /// Holiday notices loaded at start (`serve --holidays DIR`); `None`:
    /// the built-in calendar.
    pub holidays: Option<holidays::HolidayData>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            admin_token: None,
            manual_clock: false,
            token_days: 90,
            session_hours: 12,
            link_minutes: 15,
            links_per_address: 5,
            links_per_client: 20,
            crash_after_commit: false,
            holidays: None,
        }
    }
}

/// The application: the store and runtime under it, the clock, the
/// configuration and the sign-in limits. Shared by every adapter.
pub struct App {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    clock: Arc<dyn Clock>,
    config: Config,
    limits: signin::Limits,
}

impl App {
    /// An application over a store, with a clock.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: Config) -> Arc<App> {
        let mut runtime = Runtime::new(store.clone(), Arc::new(StoreDirectory::new(store.clone())));
        if let Some(h) = &config.holidays {
            runtime = runtime.with_calendar(h.calendar.clone());
        }
        let runtime = Arc::new(runtime);
        Arc::new(App {
            limits: signin::Limits::new(&config),
            store,
            runtime,
            clock,
            config,
        })
    }

    /// Opens (and migrates) the database a `--db` value names: a SQLite
    /// file or a `postgres://` URL.
    pub async fn open(db: &Database, clock: Arc<dyn Clock>, config: Config) -> AppResult<Arc<App>> {
        let store: Arc<dyn Store> = if stageflow_store::is_postgres_url(&db.url) {
            let mut options = stageflow_store::PgOptions::new(&db.url);
            if let Some(n) = db.pool {
                options.max_connections = n;
            }
            options.statement_timeout = db.statement_timeout;
            Arc::new(stageflow_store::PgStore::open(&options).await?)
        } else {
            let mut options = stageflow_store::SqliteOptions::new(&db.url);
            if let Some(n) = db.pool {
                options.max_connections = n;
            }
            Arc::new(stageflow_store::SqliteStore::open(&options).await?)
        };
        let app = App::new(store, clock, config);
        app.runtime.follow_other_nodes().await?;
        Ok(app)
    }

    /// Now, by the application's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Where the database is.
#[derive(Debug, Clone)]
pub struct Database {
    /// A SQLite path (or `sqlite://…`) or a `postgres://` URL.
    pub url: String,
    /// Most connections this process holds.
    pub pool: Option<u32>,
    /// PostgreSQL: how long a statement may run.
    pub statement_timeout: std::time::Duration,
}

/// Whether a `--db` value names PostgreSQL.
pub fn is_postgres_url(db: &str) -> bool {
    stageflow_store::is_postgres_url(db)
}
