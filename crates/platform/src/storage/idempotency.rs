//! Idempotency keys for POSTs that create important things (a retried panic tap must never
//! make two cases). The key is claimed and completed inside the same transaction as the
//! thing it creates, so a crash leaves either both or neither.

use sqlx::{AnyConnection, Row};

use crate::time_util::now_micros;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use of the key: go ahead, then call [`complete`] in the same transaction.
    New,
    /// The same request was completed before: answer with the stored response.
    Replay { status: u16, response: String },
    /// The key was used with a different request body.
    Mismatch,
}

/// Hash of a request body, to tell a true retry from a reused key.
pub fn request_hash(body: &[u8]) -> String {
    crate::types::sha256_hex(body)
}

/// Validate a client-supplied key: 1–128 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

pub async fn claim(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now_micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    let hash: String = row.try_get(0)?;
    if hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    let status: Option<i64> = row.try_get(1)?;
    let response: Option<String> = row.try_get(2)?;
    match (status, response) {
        (Some(s), Some(r)) => Ok(Claim::Replay {
            status: u16::try_from(s).unwrap_or(200),
            response: r,
        }),
        // Claimed and completed happen in one transaction, so a committed claim always
        // has its response; treat the impossible case as a mismatch rather than a new run.
        _ => Ok(Claim::Mismatch),
    }
}

/// Look a key up without claiming it (answer a retry before doing any other work).
pub async fn lookup(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<Claim>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let hash: String = row.try_get(0)?;
    if hash != request_hash {
        return Ok(Some(Claim::Mismatch));
    }
    let status: Option<i64> = row.try_get(1)?;
    let response: Option<String> = row.try_get(2)?;
    Ok(match (status, response) {
        (Some(s), Some(r)) => Some(Claim::Replay {
            status: u16::try_from(s).unwrap_or(200),
            response: r,
        }),
        _ => None,
    })
}

pub async fn complete(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    status: u16,
    response: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $1, response = $2 WHERE scope = $3 AND key = $4",
    )
    .bind(i64::from(status))
    .bind(response)
    .bind(scope)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forget keys older than `before_micros` (retention: 24 h is ample for client retries).
pub async fn prune(conn: &mut AnyConnection, before_micros: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before_micros)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
