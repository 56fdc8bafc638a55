//! A small migrator: each component (the platform, then the service) has its own ordered
//! list of migrations, each with an SQLite and a PostgreSQL text, applied once, in a
//! transaction, recorded with a checksum so an edited migration is noticed.

use anyhow::{Context, bail};
use sqlx::Row;

use super::{Backend, Db};

/// One schema change in both dialects.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The platform's own tables, present in every service's database.
pub const PLATFORM: &[Migration] = &[Migration {
    version: 1,
    name: "outbox_inbox_ratelimit_idempotency",
    sqlite: include_str!("../../migrations/sqlite/0001_platform.sql"),
    postgres: include_str!("../../migrations/postgres/0001_platform.sql"),
}];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS kreki_migrations (\
    component TEXT NOT NULL, version BIGINT NOT NULL, name TEXT NOT NULL, \
    checksum TEXT NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (component, version))";

fn checksum(sql: &str) -> String {
    crate::types::sha256_hex(sql.as_bytes())
}

/// Apply what is missing of `migrations` for `component`.
pub async fn run(db: &Db, component: &str, migrations: &[Migration]) -> anyhow::Result<()> {
    sqlx::query(CREATE_TABLE)
        .execute(db.writer())
        .await
        .context("creating the migrations table")?;
    if db.backend() == Backend::Postgres {
        // Several replicas may start at once: one applies, the others wait.
        let mut conn = db.pool().acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(7119)")
            .execute(&mut *conn)
            .await?;
        let res = apply(db, component, migrations).await;
        sqlx::query("SELECT pg_advisory_unlock(7119)")
            .execute(&mut *conn)
            .await?;
        res
    } else {
        apply(db, component, migrations).await
    }
}

async fn apply(db: &Db, component: &str, migrations: &[Migration]) -> anyhow::Result<()> {
    let rows = sqlx::query("SELECT version, checksum FROM kreki_migrations WHERE component = $1")
        .bind(component)
        .fetch_all(db.pool())
        .await?;
    let applied: Vec<(i64, String)> = rows
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    for m in migrations {
        let sql = match db.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let sum = checksum(sql);
        if let Some((_, existing)) = applied.iter().find(|(v, _)| *v == m.version) {
            if *existing != sum {
                bail!(
                    "migration {component}/{} ({}) was changed after it was applied",
                    m.version,
                    m.name
                );
            }
            continue;
        }
        let mut tx = db.begin().await?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("migration {component}/{} ({})", m.version, m.name))?;
        sqlx::query(
            "INSERT INTO kreki_migrations (component, version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(component)
        .bind(m.version)
        .bind(m.name)
        .bind(&sum)
        .bind(crate::time_util::now_micros())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(
            db = db.name(),
            component,
            version = m.version,
            name = m.name,
            "migration applied"
        );
    }
    Ok(())
}
