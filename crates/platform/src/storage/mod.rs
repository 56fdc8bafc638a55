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
pub mod lease;
pub mod migrate;
pub mod ratelimit;

use std::{
    ops::{Deref, DerefMut},
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use futures::{future::BoxFuture, stream::BoxStream};
use sqlx::{
    Any, AnyConnection, AnyPool, ConnectOptions, Database, Describe, Either, Execute, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
};
use tokio::sync::Notify;

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
    /// SQLite: the one connection every transaction runs on. SQLite lets one writer in at
    /// a time and makes the others poll (sleeping 1, 2, 5, 10 … 100 ms between tries, and a
    /// busy writer can starve a waiting one for hundreds of milliseconds); here they wait
    /// their turn in the pool's queue instead and start the moment the connection is free.
    /// Reads outside a transaction go to `pool` and, with WAL, never wait for a writer.
    writer: Option<AnyPool>,
    /// SQLite: the write-ahead log, synced by [`Db::flush`].
    wal: Option<PathBuf>,
    backend: Backend,
    name: String,
    /// Woken when a transaction that wrote outbox rows commits; the outbox relay of this
    /// database waits on it ([`crate::bus::outbox::Relay`]).
    outbox_wake: Arc<Notify>,
}

/// A transaction of a service's database, handed to stores and event handlers. It is the
/// connection (`&mut *tx`, and `&mut Tx` is itself an executor) plus one fact: whether an
/// event went into the outbox through it ([`crate::bus::outbox::enqueue`]). Committing such
/// a transaction wakes the outbox relay, so events go out at once without anyone poking the
/// relay; a transaction rolled back (or dropped) wakes nothing, and its events never existed.
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    outbox_wake: Arc<Notify>,
    events: bool,
}

impl Tx {
    /// Commit; if events were written, the relay wakes and publishes them.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await?;
        if self.events {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }

    /// Roll back (dropping the transaction does the same).
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }

    /// Whether an event was written into the outbox in this transaction.
    pub fn wrote_events(&self) -> bool {
        self.events
    }

    /// Record that an outbox row was written (called by the outbox writer).
    pub(crate) fn mark_events(&mut self) {
        self.events = true;
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("events", &self.events).finish()
    }
}

impl Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

/// `&mut Tx` runs queries like the connection it holds, so a store function can take the
/// transaction (and write events) and still pass it to `execute`/`fetch_*` as it is.
impl<'c> Executor<'c> for &'c mut Tx {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<
        'e,
        Result<Either<<Any as Database>::QueryResult, <Any as Database>::Row>, sqlx::Error>,
    >
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let conn: &'c mut AnyConnection = &mut self.inner;
        conn.fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<<Any as Database>::Row>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Any>,
    {
        let conn: &'c mut AnyConnection = &mut self.inner;
        conn.fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [<Any as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Any as Database>::Statement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        let conn: &'c mut AnyConnection = &mut self.inner;
        conn.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>>
    where
        'c: 'e,
    {
        let conn: &'c mut AnyConnection = &mut self.inner;
        conn.describe(sql)
    }
}

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
        // Writer: switches the file to WAL (a setting the file keeps) and syncs in full.
        // No checkpoint inside a commit (`wal_autocheckpoint=0`): copying the log into the
        // database and its fsync would land on whichever transaction crossed the threshold,
        // a critical one as likely as any; the checkpointer below does it beside the
        // writer. Readers only read: a reader opening later never touches the journal mode
        // (which takes a lock the writer would have to wait for).
        let sqlite_pool = |connections: u32, pragmas: &'static str| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(false)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute(pragmas).await?;
                        Ok(())
                    })
                })
        };
        // Whoever takes the writer gets a full sync on commit ([`Db::begin_relaxed`] lowers
        // it for one transaction).
        let writer = sqlite_pool(
            1,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; \
             PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0;",
        )
        .before_acquire(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA synchronous=FULL").await?;
                Ok(true)
            })
        })
        .connect_with(opts.clone())
        .await?;
        let pool = sqlite_pool(
            4,
            "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON; \
             PRAGMA wal_autocheckpoint=0;",
        )
        .connect_with(opts)
        .await?;
        tokio::spawn(checkpointer(pool.clone()));
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Db {
            pool,
            writer: Some(writer),
            wal: Some(PathBuf::from(wal)),
            backend: Backend::Sqlite,
            name: name.to_string(),
            outbox_wake: Arc::default(),
        })
    }

    /// Connect to PostgreSQL. Requests fail fast (a few seconds) while the server is away,
    /// and the pool reconnects by itself when it is back.
    pub async fn connect_postgres(url: &str, name: &str) -> Result<Db, sqlx::Error> {
        Self::connect_postgres_with(url, name, &crate::config::StorageConfig::default()).await
    }

    /// [`Db::connect_postgres`] with the pool's size and acquire timeout from the
    /// configuration (`[storage]`).
    pub async fn connect_postgres_with(
        url: &str,
        name: &str,
        pool: &crate::config::StorageConfig,
    ) -> Result<Db, sqlx::Error> {
        install_drivers();
        let opts = AnyConnectOptions::from_str(url)?.disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(pool.max_connections)
            .min_connections(pool.min_connections)
            .acquire_timeout(Duration::from_millis(pool.acquire_timeout_ms))
            .test_before_acquire(true)
            .connect_with(opts)
            .await?;
        Ok(Db {
            pool,
            writer: None,
            wal: None,
            backend: Backend::Postgres,
            name: name.to_string(),
            outbox_wake: Arc::default(),
        })
    }

    /// Where reads go (SQLite: never waiting for a writer).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
    /// Where a write outside a transaction goes (SQLite: the writer connection, in turn).
    pub fn writer(&self) -> &AnyPool {
        self.writer.as_ref().unwrap_or(&self.pool)
    }
    /// SQLite: the write-ahead log [`Db::flush`] syncs.
    pub fn wal_path(&self) -> Option<&Path> {
        self.wal.as_deref()
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What wakes this database's outbox relay (every clone of the `Db` shares it).
    pub fn outbox_wake(&self) -> Arc<Notify> {
        self.outbox_wake.clone()
    }

    fn tx(&self, inner: sqlx::Transaction<'static, Any>) -> Tx {
        Tx {
            inner,
            outbox_wake: self.outbox_wake.clone(),
            events: false,
        }
    }

    /// A transaction (SQLite: on the writer connection, in the order asked for).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(self.tx(self.writer().begin().await?))
    }

    /// A transaction whose commit does not wait for the disk: bookkeeping that, if a crash
    /// of the machine or the database server lost it, is only done again (a send's outcome
    /// its lease repeats, a claim the queue repeats). A crash of the service itself loses
    /// nothing (SQLite in WAL mode, and PostgreSQL, have the commit already). Nothing
    /// committed this way is acknowledged to a caller before a [`Db::flush`]. It keeps the
    /// disk free for the commits that are acknowledged, or off the path of urgent work.
    pub async fn begin_relaxed(&self) -> Result<Tx, sqlx::Error> {
        match &self.writer {
            // The level may not change inside a transaction: just before it, on the writer
            // connection (whose next user gets a full sync again, see `open_sqlite`).
            Some(w) => Ok(self.tx(w.begin_with("PRAGMA synchronous=NORMAL; BEGIN").await?)),
            None => {
                let mut tx = self.tx(self.pool.begin().await?);
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Make every commit so far durable: what [`Db::begin_relaxed`] committed (and
    /// anything committed before it) is on disk when this returns. With it, work that is
    /// urgent can start the moment its transaction is committed (visible, and kept if the
    /// service dies) and the acknowledgement waits for the disk: commit relaxed, start the
    /// work, flush, acknowledge. If the machine (or the PostgreSQL server) crashes before
    /// the flush, the transaction is lost and, not acknowledged, it is asked for again.
    pub async fn flush(&self) -> Result<(), sqlx::Error> {
        match &self.wal {
            // The commit wrote its frames to the log without syncing them: sync the file
            // (any descriptor of it will do), beside the writer, which goes on meanwhile.
            // A frame a checkpoint already copied was synced by that checkpoint.
            Some(wal) => {
                let wal = wal.clone();
                tokio::task::spawn_blocking(move || match std::fs::File::open(&wal) {
                    Ok(f) => f.sync_data(),
                    // No log (yet): nothing written to it.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                })
                .await
                .map_err(|_| sqlx::Error::WorkerCrashed)?
                .map_err(sqlx::Error::Io)
            }
            // A record in the log, committed synchronously: the server flushes its log up
            // to there, which holds every commit before it (allowed to every role, at any
            // `wal_level`; logical decoding, if any, sees a message with this prefix).
            None => sqlx::query("SELECT pg_logical_emit_message(true, 'kreki.flush', '')::text")
                .execute(&self.pool)
                .await
                .map(|_| ()),
        }
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
        if let Some(w) = &self.writer {
            w.close().await;
        }
        self.pool.close().await;
    }
}

/// SQLite: copy the write-ahead log into the database file every quarter second, beside the
/// writer (a passive checkpoint never makes a writer wait), until the pool closes.
async fn checkpointer(readers: AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = readers.close_event() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&readers)
            .await
            && !readers.is_closed()
        {
            tracing::debug!(error = %e, "WAL checkpoint failed; next time");
        }
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
