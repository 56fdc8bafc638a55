//! `kreki routes` against what the services really serve: every service as its own
//! `kreki serve` process, and every route's sample path asked of every process. The owner
//! must answer it, no other process may; a planned route is answered by nobody yet (when it
//! is built, change its availability in `apps/kreki/src/routes.rs`).

use std::process::Command;

use kreki::routes::{self, Availability};
use kreki_platform::testkit::{self, TestNats, TestPg, TestSigner};

use crate::{processes::spawn, up::ISSUER};

/// Whether a process serves `path`: anything but the platform's own "no such route".
async fn serves(client: &reqwest::Client, base: &str, path: &str) -> bool {
    let res = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{base}{path}: {e}"));
    if res.status() != 404 {
        return true;
    }
    let body = res.text().await.unwrap_or_default();
    !body.contains("\"NOT_FOUND\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_matches_what_each_service_serves() {
    let Some(nats) = TestNats::create().await else {
        return;
    };
    let signer = TestSigner::new("k");
    let jwks = testkit::serve_jwks(signer.jwks()).await;
    // Databases outlive the processes (dropped in reverse order, also on a failure).
    let mut dbs = Vec::new();
    let mut procs = Vec::new();
    for desc in kreki::services() {
        let Some(pg) = TestPg::create().await else {
            return;
        };
        let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
        c.env("KREKI_HTTP__METRICS_PORT", "0");
        c.args([
            "serve",
            desc.name,
            "--port",
            "0",
            "--database-url",
            &pg.url,
            "--bus-url",
            &nats.url,
        ])
        .env("KREKI_LOG__LEVEL", "warn")
        .env("KREKI_BUS__STREAM", &nats.stream)
        .env("KREKI_BUS__SUBJECT_PREFIX", &nats.prefix)
        .env("KREKI_AUTH__JWKS_URL", &jwks)
        .env("KREKI_AUTH__ISSUER", ISSUER);
        procs.push((desc.name, spawn(c)));
        dbs.push(pg);
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut problems = Vec::new();
    for r in routes::routes() {
        if r.availability == Availability::DemoOnly {
            continue;
        }
        for (name, p) in &procs {
            let served = serves(&client, &p.url, r.sample).await;
            let expected = r.availability == Availability::Served && *name == r.service;
            if served != expected {
                problems.push(format!(
                    "{} ({}, {:?}): {name} {}",
                    r.sample,
                    r.service,
                    r.availability,
                    if served {
                        "serves it"
                    } else {
                        "does not serve it"
                    }
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    drop(procs);
    nats.cleanup().await;
}
