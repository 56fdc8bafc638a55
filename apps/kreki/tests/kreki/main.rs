//! Tests of the whole binary: contracts, the dependency rule, `kreki up` in process, and
//! `kreki serve` as separate processes on PostgreSQL and NATS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod bootstrap;
mod bridge;
mod cluster;
mod consents;
mod contracts;
mod crash;
mod deploy;
mod deps;
mod emergency;
mod identity;
mod live;
mod lms;
mod notify;
mod outage;
mod processes;
mod security;
mod up;
mod volunteers;
