//! Storage: one pool type over SQLite (embedded, default) and PostgreSQL.
//!
//! Services write portable SQL (numbered `$1` parameters, `ON CONFLICT`, `RETURNING`,
//! integers for times and flags, text for ids and JSON) against [`Db`], so one adapter serves
//! both engines and one conformance suite proves it on both. The few places where the
//! engines differ (DDL in migrations, row locking) choose by [`Backend`] inside the adapter,
//! never in domain code.

pub mod housekeeping;
pub mod idempotency;
pub mod inbox;
pub mod migrate;
pub mod ratelimit;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    AnyPool, ConnectOptions, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
};

pub use migrate::Migration;

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A service's own database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    name: String,
}

/// Transaction type handed to stores and event handlers.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

fn install_drivers() {
    sqlx::any::install_default_drivers();
}

impl Db {
    /// Open (creating if needed) an SQLite database file with WAL and `synchronous=FULL`:
    /// a commit that returned is on disk.
    pub async fn open_sqlite(path: &Path, name: &str) -> Result<Db, sqlx::Error> {
        install_drivers();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let opts = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
                         PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Db {
            pool,
            backend: Backend::Sqlite,
            name: name.to_string(),
        })
    }

    /// Connect to PostgreSQL. Requests fail fast (a few seconds) while the server is away,
    /// and the pool reconnects by itself when it is back.
    pub async fn connect_postgres(url: &str, name: &str) -> Result<Db, sqlx::Error> {
        install_drivers();
        let opts = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .test_before_acquire(true)
            .connect_with(opts)
            .await?;
        Ok(Db {
            pool,
            backend: Backend::Postgres,
            name: name.to_string(),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin().await
    }

    /// Does the database answer (readiness)?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        let fut = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(Duration::from_secs(2), fut).await {
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// Apply the platform's tables (outbox, inbox, rate limits, idempotency keys) and then
    /// the service's own migrations.
    pub async fn migrate(&self, component: &str, migrations: &[Migration]) -> anyhow::Result<()> {
        migrate::run(self, "platform", migrate::PLATFORM).await?;
        migrate::run(self, component, migrations).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Is this error "the database is not reachable" (→ 503, retry later) rather than a bug?
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        // A connection that broke mid-conversation surfaces as a protocol error.
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // PostgreSQL: class 08 connection exceptions, 57P01-57P03 shutdown / cannot connect now.
            code.starts_with("08")
                || matches!(code, "57P01" | "57P02" | "57P03")
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}

/// Is this a unique-constraint violation?
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}
