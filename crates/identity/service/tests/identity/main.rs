//! KREKI ID over HTTP, alone (no other service): the OIDC provider driven by an independent
//! relying-party library (`openidconnect`), the REST API of the org standard, MFA checked
//! with an independent TOTP implementation (`totp-rs`), passkeys with a software
//! authenticator, throttles, phone codes, privacy rights, the login pages, the attacks of
//! the security review, the OpenAPI snapshot and the crate's module structure.
//! `cargo nextest run -p kreki-identity` is the service's whole loop; tests that need other
//! services stay in `apps/kreki/tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod attacks;
mod bootstrap;
mod client;
mod oidc;
mod pages;
mod passkeys;
mod privacy;
mod rest;
mod structure;

use std::path::PathBuf;

use kreki_platform::testkit::assert_json_snapshot;
use serde_json::Value;

/// The OpenAPI document is generated from the code; the committed snapshot makes every
/// contract change visible in review (the same file `kreki up` is checked against).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_snapshot() {
    let app = app::start(false).await;
    let doc: Value = app
        .client
        .get(format!("{}/api/auth/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/auth/v1/healthz"].is_object());
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi-auth.json");
    assert_json_snapshot(&file, &doc);
    app.stop().await;
}
