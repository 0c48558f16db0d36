//! The stageflow HTTP API (axum): the directory, definitions, instances,
//! the inbox and task actions, under `/api/v1`, with problem+json errors
//! and an OpenAPI document generated from the handlers.
//!
//! Key design decision: handlers are thin. They authenticate, authorize
//! against the organization tree, translate JSON into engine commands and
//! engine rejections into problem+json; all state changes go through the
//! runtime, so the API inherits its invariants (one transaction per
//! command, optimistic concurrency, hash-chained history). The wall clock
//! is read only here, through [`Clock`], and can be replaced by a manual
//! clock for tests (`serve --clock manual`).

#![deny(missing_docs)]

pub mod auth;
pub mod demo;
pub mod error;
pub mod extract;
pub mod library;
pub mod openapi;
pub mod routes;
pub mod views;
pub mod web;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use stageflow_runtime::Runtime;
use stageflow_store::Store;

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Moves a manual clock; `None` for the system clock.
    fn set(&self, _to: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }
}

/// The system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told (tests, demos).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A manual clock at a time.
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }

    fn set(&self, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = self.0.lock().ok()?;
        // Time never goes back.
        if to > *t {
            *t = to;
        }
        Some(*t)
    }
}

/// Server configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The bootstrap admin token (`STAGEFLOW_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
    /// Whether `POST /api/v1/admin/clock` exists.
    pub manual_clock: bool,
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The runtime.
    pub runtime: Arc<Runtime>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Configuration.
    pub config: Arc<Config>,
}

/// An instance with the definition version it runs on; `None` when there
/// is no such instance.
pub(crate) async fn instance_with_definition(
    state: &AppState,
    id: uuid::Uuid,
) -> error::ApiResult<
    Option<(
        stageflow_engine::state::InstanceState,
        Arc<stageflow_engine::Definition>,
    )>,
> {
    let Some(instance) = state.store.instance(id).await? else {
        return Ok(None);
    };
    let def = state
        .runtime
        .definition(&instance.definition, Some(instance.version))
        .await?;
    Ok(Some((instance, def)))
}

/// Several instances with their definitions, by id, read together (a page
/// of tasks, a report); ids with no instance are left out.
pub(crate) async fn instances_with_definitions(
    state: &AppState,
    ids: &[uuid::Uuid],
) -> error::ApiResult<
    std::collections::HashMap<
        uuid::Uuid,
        (
            stageflow_engine::state::InstanceState,
            Arc<stageflow_engine::Definition>,
        ),
    >,
> {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    let mut out = std::collections::HashMap::with_capacity(unique.len());
    for instance in state.store.instances(&unique).await? {
        let def = state
            .runtime
            .definition(&instance.definition, Some(instance.version))
            .await?;
        out.insert(instance.id, (instance, def));
    }
    Ok(out)
}

/// The application: every route.
pub fn router(state: AppState) -> Router {
    routes::router()
        .merge(web::routes())
        .with_state(state)
        .layer(axum::middleware::map_response(
            error::problem_for_plain_errors,
        ))
}

/// Fires due timers until `stop` resolves: sleeps until the next timer is
/// due (at most `max_sleep`) or until a command arms a new one, so
/// deadlines are not delayed by a polling tick. Timers are claimed with a
/// lease, so timers that came due while the server was down fire once at
/// start, in order.
pub async fn run_timers(
    state: AppState,
    max_sleep: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let now = state.clock.now();
        if let Err(e) = stageflow_runtime::scheduler::fire_due_schedules(&state.runtime, now).await
        {
            tracing::error!(error = %e, "firing schedules failed");
        }
        if let Err(e) = state.runtime.fire_due_timers(now).await {
            tracing::error!(error = %e, "firing timers failed");
        }
        let next_schedule = state.store.schedules().await.ok().and_then(|all| {
            all.iter()
                .filter(|s| !s.paused)
                .filter_map(|s| s.next_fire_at)
                .min()
        });
        let next_timer = state.store.next_timer_at().await.ok().flatten();
        let next = match (next_timer, next_schedule) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = match next {
            Some(at) if at > now => (at - now).to_std().unwrap_or(max_sleep).min(max_sleep),
            Some(_) => Duration::from_millis(10),
            None => max_sleep,
        };
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
            // A new, possibly earlier, timer: look again.
            _ = state.runtime.timer_armed() => {}
        }
    }
}

/// Sends queued mail until `stop` resolves: right after a command queues
/// one, and every `interval` for retries.
pub async fn run_mail(
    state: AppState,
    config: stageflow_runtime::mail::MailConfig,
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        if let Err(e) =
            stageflow_runtime::mail::deliver_due(&state.runtime, &config, state.clock.now()).await
        {
            tracing::error!(error = %e, "mail delivery failed");
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(interval) => {}
            _ = state.runtime.mail_queued() => {}
        }
    }
}
