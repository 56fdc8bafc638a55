//! The PostgreSQL backup drill (`scripts/pg-backup-drill.sh`, docs/operations.md): a base
//! backup and archived WAL replayed into a fresh throw-away cluster (its own `initdb`, never
//! the shared server) under the Emergency Core; every acknowledged panic that the archive
//! covers must come back.

use std::{path::Path, process::Command};

#[test]
fn every_archived_panic_survives_losing_the_cluster() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pg_bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .is_some();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !(pg_bin && is_root) {
        kreki_platform::testkit::server_missing(
            "PostgreSQL server binaries and root (for a throw-away cluster)",
            &"initdb not found or not root",
        );
        return;
    }
    let out = Command::new("bash")
        .arg(root.join("scripts/pg-backup-drill.sh"))
        .arg(env!("CARGO_BIN_EXE_kreki"))
        .env("DRILL_N1", "8")
        .env("DRILL_N2", "8")
        .env("DRILL_N3", "3")
        .output()
        .expect("run the drill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "drill failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("before the base backup:            8, restored 8"),
        "{stdout}"
    );
    assert!(
        stdout.contains("before the last archived segment:  8, restored 8"),
        "{stdout}"
    );
    // The panics after the last archived segment died with the cluster: the drill's loss
    // window is real (the restore did not read cluster A's files).
    assert!(
        stdout.contains("the RPO window):          3, restored 0"),
        "{stdout}"
    );
    assert!(stdout.contains("drill passed"), "{stdout}");
}
