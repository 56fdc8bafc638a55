//! The bridge's tests (one binary): its own API over HTTP, the SATUSEHAT client and
//! simulator, the FHIR it generates against the official schema, sending to SATUSEHAT
//! through outages, and the crate's module structure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod client_and_sim;
mod common;
mod fhir_schema;
mod satusehat;
mod structure;
