//! Integration tests of the platform kit (one binary): storage and bus conformance on both
//! adapters, the HTTP kit's handling of bad input, bearer authentication, and outages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod bus;
mod faults;
mod http;
mod storage;
mod structure;
