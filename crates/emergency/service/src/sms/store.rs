//! The `sms_inbound` table: every SMS the gateway delivered, what became of it, and the
//! look-ups that keep carrier retries and repeats from making second cases.

use kreki_platform::storage::Tx;
use sqlx::Row;

/// Whether an SMS was seen before.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time: stored as `received`.
    New,
    /// The same message id again (a carrier retry); nothing was stored.
    Retry { case_id: Option<String> },
    /// The same sender and text within the window made this case; stored.
    Repeat { case_id: String },
}

/// Store an incoming SMS unless its message id is known, and look for an earlier message of
/// the same sender with the same text since `window_from` that made a case.
pub async fn receive(
    tx: &mut Tx,
    message_id: &str,
    sender: &str,
    text_hash: &str,
    text: &str,
    now: i64,
    window_from: i64,
) -> Result<Seen, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO sms_inbound (message_id, sender, text_hash, text, received_at, status) VALUES ($1, $2, $3, $4, $5, 'received') \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(sender)
    .bind(text_hash)
    .bind(text)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        let case_id: Option<String> =
            sqlx::query("SELECT case_id FROM sms_inbound WHERE message_id = $1")
                .bind(message_id)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?;
        return Ok(Seen::Retry { case_id });
    }
    let earlier: Option<String> = sqlx::query(
        "SELECT case_id FROM sms_inbound WHERE sender = $1 AND text_hash = $2 AND received_at >= $3 AND message_id <> $4 AND case_id IS NOT NULL \
         ORDER BY received_at LIMIT 1",
    )
    .bind(sender)
    .bind(text_hash)
    .bind(window_from)
    .bind(message_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| r.try_get(0))
    .transpose()?;
    Ok(match earlier {
        Some(case_id) => Seen::Repeat { case_id },
        None => Seen::New,
    })
}

/// What became of a stored SMS: `duplicate`, `unparsed` (with the reason) or `created`.
pub async fn mark(
    tx: &mut Tx,
    message_id: &str,
    status: &str,
    case_id: Option<&str>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sms_inbound SET status = $1, case_id = $2, error = $3 WHERE message_id = $4",
    )
    .bind(status)
    .bind(case_id)
    .bind(error)
    .bind(message_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
