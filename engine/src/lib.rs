//! The pure core of stageflow.
//!
//! Key design decision: everything here is a pure function of its inputs.
//! The state machine ([`machine::apply`]) takes a definition, an instance
//! state, a command and the current time, and returns the new state, the
//! events that produced it and effects as data. There is no IO, no wall
//! clock and no async runtime in this crate; the shell (`stageflow-runtime`)
//! persists what the engine decides.

#![deny(missing_docs)]

pub mod calendar;
pub mod directory;
pub mod expr;
pub mod machine;
pub mod model;
pub mod rating;
pub mod state;
pub mod time;

#[cfg(test)]
mod proptests;

pub use machine::{Command, Context, Effect, Rejection, Transition, apply};
pub use model::Definition;
pub use state::{Event, InstanceState, RecordedEvent};
