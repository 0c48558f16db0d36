//! Where the current time comes from: the system clock, or a manual clock
//! that moves only when told (tests, demos; `serve --clock manual`).
//!
//! The wall clock is read here and nowhere below: the runtime, the store
//! and the engine take time as an argument.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Moves a manual clock (never back); `None` for the system clock.
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
