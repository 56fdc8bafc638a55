//! The shared kit every KREKI service stands on.
//!
//! Nothing in here knows about a particular service: configuration, the org's JSON envelope
//! and error type, HTTP middleware, bearer-token authentication against a JWKS, telemetry
//! with masking of personal data, storage (SQLite and PostgreSQL behind one pool type),
//! the event bus (durable in-process bus on SQLite, NATS JetStream) with a transactional
//! outbox and consumer-side deduplication, and the service descriptor that the `kreki`
//! binary wires into one process or many.

pub mod auth;
pub mod bus;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod metrics;
pub mod pages;
pub mod service;
pub mod signature;
pub mod storage;
pub mod telemetry;
pub mod time_util;
pub mod types;

#[cfg(feature = "testkit")]
pub mod structure;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use error::{ApiError, ApiResult, Envelope, Msg};
