//! Shared helpers for the integration tests: most live in `it/`; the
//! PostgreSQL databases (`pg`) are shared with the tests of the binary.

pub mod pg;
