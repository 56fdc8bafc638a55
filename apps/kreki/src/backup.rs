//! `kreki backup` / `kreki restore` for `kreki up`: the data directory holds one SQLite
//! database per service (its rows, its outbox of events not yet relayed, its inbox of events
//! handled) and `bus.db`, the embedded bus (the stream, each consumer group's cursor and its
//! deliveries awaiting acknowledgement).
//!
//! A backup is taken while the platform runs, with SQLite's `VACUUM INTO` (a consistent
//! snapshot of one database, readers and the writer go on). The databases cannot be copied
//! at one instant, so the order makes the set consistent with the bus:
//! 1. the bus's consumer state first (cursors, pending deliveries): nothing a consumer has
//!    acknowledged there is missing from its service's copy taken afterwards — an event
//!    handled in between is delivered again after a restore and dropped by the inbox;
//! 2. every service's database;
//! 3. the bus's stream last: every event a service's copy no longer has in its outbox
//!    (relayed before its copy) is in the stream; one relayed after its copy is relayed
//!    again after a restore and stored once (the stream deduplicates by event id).
//!
//! The backup's `bus.db` is the stream of step 3 with the consumer state of step 1.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sqlx::{
    ConnectOptions, Connection,
    sqlite::{SqliteConnectOptions, SqliteConnection},
};

/// Written by `kreki up` into its data directory while it runs (its process id).
pub const PID_FILE: &str = "kreki-up.pid";
/// Held (an exclusive advisory lock) by the `kreki up` serving a data directory, for as long
/// as it runs: a second `kreki up` or a `kreki restore` on the same folder is refused.
pub const LOCK_FILE: &str = "kreki-up.lock";
/// What a backup folder holds besides the databases.
pub const MANIFEST: &str = "kreki-backup.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub kreki_version: String,
    /// RFC 3339 UTC, when the backup started.
    pub started_at: String,
    pub files: Vec<BackupFile>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BackupFile {
    pub name: String,
    pub bytes: u64,
}

/// What a backup or restore did.
#[derive(Debug)]
pub struct Report {
    pub files: Vec<BackupFile>,
    pub took: Duration,
    /// Restore: where the replaced files were moved.
    pub moved_aside: Option<PathBuf>,
}

fn database_names() -> Vec<String> {
    crate::services()
        .iter()
        .map(|d| format!("{}.db", d.name))
        .chain(std::iter::once("bus.db".to_string()))
        .collect()
}

async fn open(path: &Path) -> anyhow::Result<SqliteConnection> {
    SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .disable_statement_logging()
        .connect()
        .await
        .with_context(|| format!("cannot open {}", path.display()))
}

async fn vacuum_into(source: &Path, target: &Path) -> anyhow::Result<()> {
    let mut conn = open(source).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(target.display().to_string())
        .execute(&mut conn)
        .await
        .with_context(|| format!("cannot copy {}", source.display()))?;
    conn.close().await?;
    Ok(())
}

/// Is a `kreki up` running on `data_dir`? Its lock is held (the process id, from its pid file,
/// when known, else 0).
pub fn running_install(data_dir: &Path) -> Option<u32> {
    let lock = std::fs::File::open(data_dir.join(LOCK_FILE)).ok()?;
    match lock.try_lock() {
        Ok(()) => None,
        Err(std::fs::TryLockError::WouldBlock) => Some(
            std::fs::read_to_string(data_dir.join(PID_FILE))
                .ok()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0),
        ),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// Takes the data directory for this `kreki up` (created if missing): refused while another
/// `kreki up` holds it. The lock lasts as long as the returned file is open (the process's
/// life; the system drops it when the process ends, even after a crash or kill -9).
pub fn lock_install(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(data_dir.join(PID_FILE)).unwrap_or_default();
            anyhow::bail!(
                "kreki up sudah berjalan pada {dir} (proses {pid}) / kreki up is already running on {dir} (process {pid}): one data directory, one kreki up",
                dir = data_dir.display(),
                pid = pid.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Take a backup of the `kreki up` install in `data_dir` into `to` (new or empty).
pub async fn backup(data_dir: &Path, to: &Path) -> anyhow::Result<Report> {
    let began = Instant::now();
    let started_at = kreki_platform::time_util::rfc3339(kreki_platform::time_util::now_micros());
    let names = database_names();
    for n in &names {
        if !data_dir.join(n).is_file() {
            bail!(
                "{} is not a `kreki up` data directory ({n} is missing); set --data-dir",
                data_dir.display()
            );
        }
    }
    if to.exists()
        && std::fs::read_dir(to)
            .with_context(|| format!("cannot read {}", to.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: a backup goes into a new or empty folder",
            to.display()
        );
    }
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    // 1. The bus's consumer state.
    let consumers = to.join("bus.consumers.tmp");
    vacuum_into(&data_dir.join("bus.db"), &consumers).await?;
    // 2. Every service's database.
    for n in names.iter().filter(|n| *n != "bus.db") {
        vacuum_into(&data_dir.join(n), &to.join(n)).await?;
    }
    // 3. The stream, with the consumer state of step 1.
    let bus = to.join("bus.db");
    vacuum_into(&data_dir.join("bus.db"), &bus).await?;
    {
        let mut conn = open(&bus).await?;
        sqlx::query("ATTACH DATABASE $1 AS early")
            .bind(consumers.display().to_string())
            .execute(&mut conn)
            .await?;
        let mut tx = conn.begin().await?;
        for table in ["bus_consumers", "bus_pending"] {
            sqlx::query(&format!("DELETE FROM main.{table}"))
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!(
                "INSERT INTO main.{table} SELECT * FROM early.{table}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        sqlx::query("DETACH DATABASE early")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }
    std::fs::remove_file(&consumers)?;
    let files = names
        .iter()
        .map(|n| -> anyhow::Result<BackupFile> {
            Ok(BackupFile {
                name: n.clone(),
                bytes: std::fs::metadata(to.join(n))?.len(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let manifest = Manifest {
        format: 1,
        kreki_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        files,
    };
    std::fs::write(to.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(Report {
        files: manifest.files,
        took: began.elapsed(),
        moved_aside: None,
    })
}

/// Restore the backup in `from` into `data_dir`. Refuses while a `kreki up` runs there; the
/// files it replaces are moved into `data_dir/before-restore-<time>/`, never deleted.
pub async fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<Report> {
    let began = Instant::now();
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(from.join(MANIFEST)).with_context(|| {
            format!(
                "{} is not a kreki backup ({MANIFEST} is missing or unreadable)",
                from.display()
            )
        })?)
        .with_context(|| format!("{} is damaged", from.join(MANIFEST).display()))?;
    if manifest.format != 1 {
        bail!(
            "backup format {} is not known to this kreki",
            manifest.format
        );
    }
    for n in database_names() {
        if !manifest.files.iter().any(|f| f.name == n) {
            bail!("the backup has no {n}");
        }
    }
    for f in &manifest.files {
        let path = from.join(&f.name);
        let mut conn = open(&path).await?;
        let check: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("{} is not an SQLite database", path.display()))?;
        conn.close().await?;
        if check != "ok" {
            bail!("{} is damaged: {check}", path.display());
        }
    }
    if let Some(pid) = running_install(data_dir) {
        bail!(
            "kreki up is running on {} (process {pid}): stop it before restoring",
            data_dir.display()
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut moved_aside = None;
    for f in &manifest.files {
        for suffix in ["", "-wal", "-shm"] {
            let old = data_dir.join(format!("{}{suffix}", f.name));
            if old.exists() {
                let aside = moved_aside.get_or_insert_with(|| {
                    data_dir.join(format!(
                        "before-restore-{}",
                        kreki_platform::time_util::now_micros()
                    ))
                });
                std::fs::create_dir_all(&*aside)?;
                std::fs::rename(&old, aside.join(format!("{}{suffix}", f.name)))
                    .with_context(|| format!("cannot move {} aside", old.display()))?;
            }
        }
    }
    for f in &manifest.files {
        std::fs::copy(from.join(&f.name), data_dir.join(&f.name))
            .with_context(|| format!("cannot copy {} into {}", f.name, data_dir.display()))?;
    }
    Ok(Report {
        files: manifest.files,
        took: began.elapsed(),
        moved_aside,
    })
}
