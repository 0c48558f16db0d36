//! The work that runs by itself: due timers and schedules, queued mail —
//! the loops `serve` starts — and, for a manual clock, moving time by
//! request (which fires what came due).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use stageflow_engine::time::{Moment, Span};
use stageflow_runtime::mail::{self, Delivery, MailConfig};
use stageflow_runtime::scheduler;
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};
use crate::policy::{Op, Target};
use crate::{App, Caller};

/// The clock after a move.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClockView {
    /// Now.
    pub now: DateTime<Utc>,
    /// Timers fired by the move.
    pub fired: usize,
}

/// Where to move a manual clock.
#[derive(Debug, Clone)]
pub enum ClockMove {
    /// Forward by a duration: ISO 8601 (`P30D`, `PT2H`) or `3 days`.
    Advance(String),
    /// To an instant.
    Set(DateTime<Utc>),
}

/// A mail given up after its retries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailedMailView {
    /// Idempotency key (instance, task, kind, occurrence).
    pub key: String,
    /// Recipient person id.
    pub to: String,
    /// Kind (`reminder`, `overdue`, `escalation`, ...).
    pub kind: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
}

impl App {
    /// Fires due schedules and timers until `stop` resolves: sleeps until
    /// the next is due (at most `max_sleep`) or a command arms a new one.
    /// Timers are claimed with a lease, so those that came due while the
    /// server was down fire once at start, in order.
    pub async fn run_timers(
        &self,
        max_sleep: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            let now = self.now();
            if let Err(e) = scheduler::fire_due_schedules(&self.runtime, self, now).await {
                tracing::error!(error = %e, "firing schedules failed");
            }
            if let Err(e) = self.runtime.fire_due_timers(now).await {
                tracing::error!(error = %e, "firing timers failed");
            }
            let next_schedule = self.store.schedules().await.ok().and_then(|all| {
                all.iter()
                    .filter(|s| !s.paused)
                    .filter_map(|s| s.next_fire_at)
                    .min()
            });
            let next_timer = self.store.next_timer_at().await.ok().flatten();
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
                _ = self.runtime.timer_armed() => {}
            }
        }
    }

    /// Sends queued mail until `stop` resolves: right after a command
    /// queues one, and every `interval` for retries.
    pub async fn run_mail(
        &self,
        config: &MailConfig,
        interval: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = mail::deliver_due(&self.runtime, config, self.now()).await {
                tracing::error!(error = %e, "mail delivery failed");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
                _ = self.runtime.mail_queued() => {}
            }
        }
    }

    /// One round of mail delivery, now (tests, and `serve`'s loop).
    pub async fn deliver_mail(&self, config: &MailConfig) -> AppResult<Delivery> {
        self.settled().await;
        Ok(mail::deliver_due(&self.runtime, config, self.now()).await?)
    }

    /// Moves a manual clock forward (the admin) and fires the schedules
    /// and timers that came due.
    pub async fn move_clock(&self, caller: &Caller, to: ClockMove) -> AppResult<ClockView> {
        if !self.config.manual_clock {
            return Err(AppError::not_found(
                "只有以 `--clock manual` 启动服务时才能调整时钟",
            ));
        }
        self.allow(caller, Op::MoveClock, Target::System, || {
            AppError::forbidden("调整时钟须使用管理员令牌")
        })?;
        let now = self.now();
        let to = match to {
            ClockMove::Set(t) => t,
            ClockMove::Advance(text) => advanced(self.runtime.calendar(), now, &text)?,
        };
        if to < now {
            return Err(AppError::invalid(
                "invalid-body",
                format!(
                    "时间不能倒退：现在是 {}（北京时间）",
                    now.with_timezone(&chrono_tz::Asia::Shanghai)
                        .format("%Y-%m-%d %H:%M:%S")
                ),
            ));
        }
        let now = self.clock.set(to).unwrap_or(now);
        let mut fired = self.runtime.fire_due_timers(now).await?;
        // Schedules due in the skipped interval fire too (their instances'
        // first timers with them).
        if !scheduler::fire_due_schedules(&self.runtime, self, now)
            .await?
            .is_empty()
        {
            fired += self.runtime.fire_due_timers(now).await?;
        }
        Ok(ClockView { now, fired })
    }

    /// Mails that could not be delivered (the admin): nothing is dropped
    /// silently.
    pub async fn failed_mail(&self, caller: &Caller) -> AppResult<Vec<FailedMailView>> {
        self.allow(caller, Op::ReadMailLog, Target::System, || {
            AppError::forbidden("查看邮件日志须使用管理员令牌")
        })?;
        Ok(self
            .store
            .failed_mail(500)
            .await?
            .into_iter()
            .map(|f| FailedMailView {
                key: f.key,
                to: f.to,
                kind: f.kind,
                attempts: f.attempts,
                error: f.error,
                failed_at: f.failed_at,
            })
            .collect())
    }

    /// The counters `/metrics` shows: `(name, labels, value)`.
    pub async fn metrics(&self) -> AppResult<Vec<(String, String, i64)>> {
        Ok(self.store.metrics().await?)
    }
}

/// `now` moved forward by a duration in words or ISO 8601; moving by days
/// keeps the time of day (Beijing dates).
fn advanced(
    calendar: &stageflow_engine::calendar::Calendar,
    now: DateTime<Utc>,
    text: &str,
) -> AppResult<DateTime<Utc>> {
    let span = match Span::parse_iso(text) {
        Some(span) => span,
        None => Span::parse(text).map_err(|e| {
            AppError::invalid(
                "invalid-body",
                format!("{}（也可写 ISO 8601 时长，如 `P30D` 或 `PT2H`）", e.0),
            )
        })?,
    };
    let clock = stageflow_engine::time::Clock {
        tz: chrono_tz::Asia::Shanghai,
    };
    let base = if span.unit.is_day_based() {
        Moment::Date(clock.date_of(Moment::Instant(now)))
    } else {
        Moment::Instant(now)
    };
    let shifted = clock.shift(calendar, base, span, true).moment;
    Ok(match shifted {
        Moment::Date(d) => {
            now + (clock.start_of(d) - clock.start_of(clock.date_of(Moment::Instant(now))))
        }
        Moment::Instant(t) => t,
    })
}
