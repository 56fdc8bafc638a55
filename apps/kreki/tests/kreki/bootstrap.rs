//! `kreki bootstrap-admin` (issue 21): the binary against `kreki up`'s data directory; the
//! link it prints opens the set-up page of the running platform. The link's behaviour (once,
//! expiry, password and TOTP) is tested in KREKI ID's crate.

use std::process::Command;

use kreki_platform::testkit::TempDir;

fn kreki(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kreki"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KREKI_") {
            c.env_remove(k);
        }
    }
    c.env("KREKI_LOG__LEVEL", "warn");
    c.arg("bootstrap-admin").args(args);
    c.arg("--data-dir").arg(data);
    let out = c.output().expect("run kreki");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_admin_prints_a_link_and_refuses_a_second_admin_unless_forced() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let (ok, out, err) = kreki(
        &data,
        &["--email", "admin@example.org", "--phone", "081200000009"],
    );
    assert!(ok, "{out}{err}");
    let link = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("http://127.0.0.1:8119"))
        .unwrap_or_else(|| panic!("a link: {out}"))
        .to_string();
    assert!(link.starts_with("/akun/atur-admin?token="), "{link}");
    // Twice: a clear bilingual error, nothing changed.
    let (ok, out, err) = kreki(&data, &["--email", "lain@example.org"]);
    assert!(!ok, "{out}");
    assert!(err.contains("ADMIN_BOOTSTRAP_REFUSED"), "{err}");
    assert!(
        err.contains("Sudah ada System Admin") && err.contains("already exists"),
        "{err}"
    );
    // Forced: created, and said so.
    let (ok, out, err) = kreki(&data, &["--email", "lain@example.org", "--force"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("--force"), "{out}");
    // `kreki up` on the same data directory serves the link's page.
    let app = crate::up::start_up_full(Some(dir), |_| {}, None).await;
    let res = app
        .client
        .get(format!("{}{link}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("System Admin"), "{html}");
    app.stop().await;
}

/// Serve mode: against KREKI ID's PostgreSQL database (`kreki serve identity`'s
/// `--database-url`), the link on the service's own port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_admin_works_on_the_identity_postgresql_database() {
    let Some(pg) = kreki_platform::testkit::TestPg::create().await else {
        return;
    };
    let dir = TempDir::new();
    let url = pg.url.clone();
    let (ok, out, err) = kreki(
        dir.path(),
        &["--email", "admin@example.org", "--database-url", &url],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("http://127.0.0.1:8201/akun/atur-admin?token="),
        "{out}"
    );
    let (ok, _, err) = kreki(
        dir.path(),
        &["--email", "lain@example.org", "--database-url", &url],
    );
    assert!(!ok);
    assert!(err.contains("ADMIN_BOOTSTRAP_REFUSED"), "{err}");
    // Nothing was written to the embedded folder.
    assert!(!dir.path().join("identity.db").exists());
}
