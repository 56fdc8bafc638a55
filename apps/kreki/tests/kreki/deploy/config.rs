//! Configuration as a cluster hands it over: through the `kreki` binary, as a pod runs it.

use std::{process::Command, time::Duration};

use kreki_platform::{
    bus::nats::{NatsBus, StreamLimits},
    testkit::{TempDir, TestNats},
};

fn kreki() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
    // The test's own environment may hold KREKI_* variables: start from none of them.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KREKI_") {
            c.env_remove(k);
        }
    }
    c.env("KREKI_LOG__LEVEL", "warn");
    c
}

fn check(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.args(["config", "check"]).output().expect("run kreki");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every variable Kubernetes injects for the Services of the kit (`kreki-<service>` and
/// `kreki-nats`), as a pod without `enableServiceLinks: false` sees them.
fn service_links() -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for (i, (svc, port)) in [
        ("IDENTITY", 8201),
        ("EMERGENCY", 8202),
        ("VOLUNTEERS", 8203),
        ("LMS", 8204),
        ("BRIDGE", 8205),
        ("NOTIFY", 8206),
        ("NATS", 4222),
    ]
    .into_iter()
    .enumerate()
    {
        let ip = format!("10.0.0.{}", i + 1);
        let p = format!("KREKI_{svc}_PORT");
        vars.push((p.clone(), format!("tcp://{ip}:{port}")));
        vars.push((format!("{p}_{port}_TCP"), format!("tcp://{ip}:{port}")));
        vars.push((format!("{p}_{port}_TCP_ADDR"), ip.clone()));
        vars.push((format!("{p}_{port}_TCP_PORT"), port.to_string()));
        vars.push((format!("{p}_{port}_TCP_PROTO"), "tcp".into()));
        vars.push((format!("KREKI_{svc}_SERVICE_HOST"), ip));
        vars.push((format!("KREKI_{svc}_SERVICE_PORT"), port.to_string()));
        vars.push((format!("KREKI_{svc}_SERVICE_PORT_HTTP"), port.to_string()));
    }
    vars
}

#[test]
fn kubernetes_service_links_do_not_break_config_check() {
    // The crash loop of the issue: one variable was enough.
    let (ok, _, err) = check(kreki().env("KREKI_EMERGENCY_PORT", "tcp://10.0.0.1:8202"));
    assert!(ok, "{err}");
    let (ok, out, err) = check(
        kreki()
            .envs(service_links())
            .env("KREKI_HTTP__SHUTDOWN_GRACE_MS", "15000"),
    );
    assert!(ok, "{err}");
    assert!(out.contains("shutdown_grace_ms = 15000"), "{out}");
}

#[test]
fn genuine_unknown_keys_are_refused_among_service_links() {
    let (ok, _, err) = check(
        kreki()
            .envs(service_links())
            .env("KREKI_HTTP__PROT", "8202"),
    );
    assert!(!ok);
    assert!(
        err.contains("`http.prot`") && err.contains("unknown key"),
        "{err}"
    );
    // A service link's name with another kind of value is a mistyped key.
    let (ok, _, err) = check(kreki().env("KREKI_HTTP_PORT", "8202"));
    assert!(!ok);
    assert!(err.contains("`http_port`: unknown key"), "{err}");
}

#[test]
fn secrets_come_from_files_and_never_print() {
    let dir = TempDir::new();
    let db = dir.path().join("database-url");
    std::fs::write(&db, "postgres://kreki:pg-from-file@db/kreki\n").unwrap();
    let nats = dir.path().join("nats-url");
    std::fs::write(&nats, "nats://kreki:nats-from-file@kreki-nats:4222\n").unwrap();
    let (ok, out, err) = check(
        kreki()
            .env("KREKI_DATABASE_URL_FILE", &db)
            .env("KREKI_BUS__URL_FILE", &nats),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("database_url = \"********\"") && out.contains("url = \"********\""),
        "{out}"
    );
    assert!(
        !out.contains("from-file") && !err.contains("from-file"),
        "{out}{err}"
    );

    let (ok, _, err) = check(kreki().env(
        "KREKI_DATABASE_URL_FILE",
        dir.path().join("missing").as_os_str(),
    ));
    assert!(!ok);
    assert!(
        err.contains("`database_url`")
            && err.contains("cannot read the file")
            && err.contains("KREKI_DATABASE_URL_FILE"),
        "{err}"
    );
    // A value from a file is checked like any other.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "mysql://x").unwrap();
    let (ok, _, err) = check(kreki().env("KREKI_DATABASE_URL_FILE", &bad));
    assert!(!ok);
    assert!(
        err.contains("`database_url`: must be a postgres:// URL"),
        "{err}"
    );
}

#[tokio::test]
async fn jetstream_limits_follow_the_configuration() {
    let Some(n) = TestNats::create().await else {
        return;
    };
    let ack = Duration::from_secs(5);
    let bus = NatsBus::connect(&n.url, "t", &n.stream, &n.prefix, ack)
        .await
        .unwrap();
    let js = async_nats::jetstream::new(async_nats::connect(&n.url).await.unwrap());
    let mut stream = js.get_stream(&n.stream).await.unwrap();
    let info = stream.info().await.unwrap().config.clone();
    assert_eq!(
        (info.num_replicas, info.max_age, info.max_bytes),
        (1, Duration::from_secs(7 * 24 * 3600), -1),
        "today's values are the defaults"
    );
    drop(bus);
    // A start with other limits applies them to the existing stream.
    let limits = StreamLimits {
        replicas: 1,
        max_age: Duration::from_secs(3 * 24 * 3600),
        max_bytes: Some(64 * 1024 * 1024),
    };
    let _bus = NatsBus::connect_with(&n.url, "t", &n.stream, &n.prefix, ack, limits)
        .await
        .unwrap();
    let info = stream.info().await.unwrap().config.clone();
    assert_eq!(
        (info.max_age, info.max_bytes),
        (Duration::from_secs(3 * 24 * 3600), 64 * 1024 * 1024)
    );
    n.cleanup().await;
}
