//! HTTP tests of the volunteers service (one binary), each scenario on SQLite and
//! PostgreSQL with the platform harness; tests that need other services (dispatch by the
//! Emergency Core, the demo accounts of KREKI ID) stay in `apps/kreki/tests/kreki/volunteers.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod areas;
mod certification;
mod points;
mod profile;
mod search;
mod structure;
