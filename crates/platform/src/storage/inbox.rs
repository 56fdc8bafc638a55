//! Consumer-side deduplication: delivery is at least once, handling is once per consumer.

use sqlx::AnyConnection;

use crate::time_util::now_micros;

/// Record that `consumer` handles `event_id`, inside the handler's transaction.
/// Returns `false` when it was handled before (the delivery is a duplicate).
pub async fn claim(
    conn: &mut AnyConnection,
    consumer: &str,
    event_id: &str,
    subject: &str,
    outcome: &str,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO inbox (consumer, event_id, subject, handled_at, outcome) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (consumer, event_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .bind(subject)
    .bind(now_micros())
    .bind(outcome)
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Forget inbox rows older than `older_than_micros` (the bus's redelivery horizon is far
/// shorter, so nothing that can still be redelivered is forgotten).
pub async fn prune(conn: &mut AnyConnection, older_than_micros: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM inbox WHERE handled_at < $1")
        .bind(older_than_micros)
        .execute(conn)
        .await?
        .rows_affected())
}
