//! Integration tests that cross crates, against real parts: a real SQLite
//! file, the shipped definitions, the real engine and store together.

mod api;
mod browser;
mod diagnostics;
mod hostile;
mod library;
mod library_e2e;
mod mail;
mod openapi;
mod reports;
mod schedules;
mod server;
mod simulate;
mod smtp;
mod store;
mod web;
mod web_console;
mod web_signin;

pub use stageflow_tests::pg;

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}
