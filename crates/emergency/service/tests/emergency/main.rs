//! The Emergency Core alone (one test binary): its store on SQLite and PostgreSQL, and its
//! HTTP API over the platform harness — the panic and its limits, case access, the SMS
//! fallback, dispatch in waves to accept, statuses and completion, escalation, the Ops
//! console, AEDs, well-being, the web apps, the demo — its OpenAPI snapshot and its module
//! structure. `cargo nextest run -p kreki-emergency` is the service's whole loop; tests that
//! need other services (notify delivering offers, sockets across replicas, crashes and
//! outages of `kreki serve`) stay in `apps/kreki/tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aed;
mod app;
mod cases;
mod dispatch;
mod ops;
mod sms;
mod store;
mod structure;
mod web;
mod wellbeing;

use std::path::PathBuf;

use kreki_platform::testkit::assert_json_snapshot;
use serde_json::Value;

/// The OpenAPI document is generated from the code; the committed snapshot makes every
/// contract change visible in review (the same file `kreki up` is checked against).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_snapshot() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db.clone()).await;
    let (s, doc): (u16, Value) = app
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/emergency/v1/healthz"].is_object());
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi-emergency.json");
    assert_json_snapshot(&file, &doc);
    app.stop().await;
    db.close().await;
}
