//! Integration tests that cross crates, against real parts: a real SQLite
//! file (or, with `STAGEFLOW_TEST_BACKEND=postgres`, a fresh PostgreSQL
//! database per server), the shipped definitions, the real engine, store,
//! application and HTTP server on a loopback port with a manual clock.
//!
//! The catalogue:
//! - `server` — the test server (`Server::start`) and its HTTP client.
//! - `matrix` — the authorization matrix generated from the route table:
//!   every route × every role × a thing inside and outside the role's scope;
//!   `holes` — one regression test for each hole of the issue "The
//!   application core"; `core` — tokens with a lifetime, one's own e-mail
//!   changed from the old address, the audit trail, what may be written,
//!   security headers and downloads, `next=`, mailed links answered alike
//!   and limited, schedules kept inside their owner, versions by owner.
//! - `api` — the API over HTTP: the whole admission procedure, concurrent
//!   approvals, task operations and refusals, bad input as 4xx problems,
//!   votes, ratings, delegation and signers, withdrawal, files, the
//!   directory.
//! - `store` — the store contract on a SQLite file and a fresh PostgreSQL
//!   database (`pg.rs`).
//! - `browser`, `web`, `web_signin`, `web_console` — the pages in headless
//!   Chromium over WebDriver, and over HTTP.
//! - `library`, `library_e2e` — every library definition validates, and
//!   runs end to end: the willing path, then scripted decisions that reach
//!   every end state a definition declares and the failure roads, with
//!   history, gaps between dates and mails checked.
//! - `mail`, `smtp` — the outbox over a real SMTP server the test starts.
//! - `casefile` — the case file (案卷) a task is decided on, through the
//!   API and the page, and the fields a step's `hide:` keeps from its
//!   assignees (case file, history, file downloads).
//! - `operations` — which operations (转办, 委派, 加签, 抄送, 退回, 撤回, 催办)
//!   a step allows, by its `operations:` or its kind's defaults.
//! - `people_fields` — person fields name someone in reach, never the case's
//!   own person, of the 身份 the field's `eligible:` lists; pickers tell
//!   namesakes apart.
//! - `schedules`, `reports`, `openapi`, `simulate`, `diagnostics` (bad-YAML
//!   fixtures with golden diagnostics), `hostile` (oversized, deep, injected
//!   input).
//!
//! Tests of the real binary are in `cli/tests/`: `cli.rs`, `crash.rs`
//! (`serve` SIGKILLed 20 times during approvals), `edges.rs` (an answer
//! lost in a crash given again from its receipt; idle half-sent
//! connections beyond the file limit), `multinode.rs` (three nodes over one
//! PostgreSQL, one killed), `outage.rs` (a locked SQLite file, a full disk,
//! PostgreSQL restarting).

mod api;
mod browser;
mod casefile;
mod core;
mod diagnostics;
mod holes;
mod hostile;
mod library;
mod library_e2e;
mod mail;
mod matrix;
mod openapi;
mod operations;
mod people_fields;
mod reports;
mod rules;
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
