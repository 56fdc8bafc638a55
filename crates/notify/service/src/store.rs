//! The notification store: the durable priority queue and each message's history.
//! One adapter over the platform's [`Db`] serves SQLite and PostgreSQL; the conformance
//! suite in `tests/` runs the same cases on both.

use kreki_notify_contracts::{
    Channel, DeliveryState, Language, MessageRequested, MessageStatus, Priority, Recipient,
    Template,
};
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Backend, Db},
    time_util::{now_micros, rfc3339, to_micros},
};
use serde::Serialize;
use sqlx::{AnyConnection, Row, any::AnyRow};

pub const SOURCE: &str = "notify";

/// How long a claimed message is leased to the sender before it may be claimed again
/// (a crash between claim and result leaves it to be retried after this).
pub const LEASE_MICROS: i64 = 60_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New,
    /// A message with the same dedup key exists; nothing was added.
    Duplicate {
        existing_id: String,
    },
}

/// A message taken from the queue for sending.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    pub dedup_key: String,
    pub recipient: Recipient,
    pub template: Template,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub language: Language,
    pub priority: Priority,
    pub channels: Vec<Channel>,
    pub correlation_id: Option<String>,
    pub expires_at: Option<i64>,
    pub attempts: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: String,
    pub dedup_key: String,
    pub template: String,
    pub priority: String,
    pub status: String,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub created_at: String,
    pub history: Vec<HistoryEntry>,
}

fn enum_text<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn enum_parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Add a request to the queue inside the caller's transaction (idempotent by dedup key).
    /// `expires_at` must already be validated.
    pub async fn enqueue(
        conn: &mut AnyConnection,
        req: &MessageRequested,
        expires_at: Option<i64>,
    ) -> Result<Enqueued, sqlx::Error> {
        let (kind, to) = match req.recipient() {
            Some(Recipient::Account(a)) => ("account", a),
            Some(Recipient::Address(a)) => ("address", a),
            None => {
                return Err(sqlx::Error::Protocol(
                    "message without exactly one recipient".into(),
                ));
            }
        };
        let now = now_micros();
        let inserted = sqlx::query(
            "INSERT INTO messages (id, dedup_key, recipient_kind, recipient, template, vars, language, priority, \
             channels, status, correlation_id, expires_at, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', $10, $11, 0, $12, $12, $12) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&req.id)
        .bind(&req.dedup_key)
        .bind(kind)
        .bind(&to)
        .bind(enum_text(&req.template))
        .bind(serde_json::to_string(&req.vars).unwrap_or_else(|_| "{}".into()))
        .bind(req.language.map(|l| enum_text(&l)))
        .bind(req.priority.rank())
        .bind(serde_json::to_string(&req.channels).unwrap_or_else(|_| "[]".into()))
        .bind(&req.correlation_id)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            let existing: String =
                sqlx::query("SELECT id FROM messages WHERE dedup_key = $1 OR id = $2")
                    .bind(&req.dedup_key)
                    .bind(&req.id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
            return Ok(Enqueued::Duplicate {
                existing_id: existing,
            });
        }
        history(conn, &req.id, now, "queued", None, None).await?;
        Ok(Enqueued::New)
    }

    /// Take up to `limit` due messages, most urgent first, and record the attempt before
    /// anything is sent.
    pub async fn claim_due(&self, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT id, dedup_key, recipient_kind, recipient, template, vars, language, priority, channels, \
             correlation_id, expires_at, attempts FROM messages \
             WHERE status IN ('queued', 'sending') AND next_attempt_at <= $1 \
             ORDER BY priority, next_attempt_at LIMIT {limit}{lock}"
        ))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let q = queued(&row)?;
            sqlx::query(
                "UPDATE messages SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(now + LEASE_MICROS)
            .bind(now)
            .bind(&q.id)
            .execute(&mut *tx)
            .await?;
            out.push(Queued {
                attempts: q.attempts + 1,
                ..q
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Record a final or intermediate outcome; final ones publish `notify.message.status`.
    pub async fn record(
        &self,
        m: &Queued,
        state: DeliveryState,
        channel: Option<Channel>,
        detail: Option<String>,
        retry_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        let status = match (state, retry_at) {
            (_, Some(_)) => "queued".to_string(),
            (s, None) => enum_text(&s),
        };
        sqlx::query(
            "UPDATE messages SET status = $1, next_attempt_at = $2, updated_at = $3, last_error = $4 WHERE id = $5",
        )
        .bind(&status)
        .bind(retry_at.unwrap_or(now))
        .bind(now)
        .bind(if retry_at.is_some() { detail.clone() } else { None })
        .bind(&m.id)
        .execute(&mut *tx)
        .await?;
        let channel_text = channel.map(|c| enum_text(&c));
        let hist_status = if retry_at.is_some() {
            "retry".to_string()
        } else {
            status.clone()
        };
        history(
            &mut tx,
            &m.id,
            now,
            &hist_status,
            channel_text.as_deref(),
            detail.as_deref(),
        )
        .await?;
        if retry_at.is_none() {
            let ev = MessageStatus {
                id: m.id.clone(),
                dedup_key: m.dedup_key.clone(),
                status: state,
                channel,
                at: rfc3339(now),
                detail,
                correlation_id: m.correlation_id.clone(),
            };
            let mut event = Event::new(SOURCE, kreki_notify_contracts::MESSAGE_STATUS, &ev)
                .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            if let Some(c) = &m.correlation_id {
                event = event.correlated(c.clone());
            }
            outbox::enqueue(&mut tx, &event).await?;
        }
        tx.commit().await
    }

    pub async fn get(&self, id: &str) -> Result<Option<MessageView>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT id, dedup_key, template, priority, status, attempts, correlation_id, created_at FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let hist = sqlx::query("SELECT at, status, channel, detail FROM message_events WHERE message_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?
            .into_iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: rfc3339(r.try_get(0)?),
                    status: r.try_get(1)?,
                    channel: r.try_get(2)?,
                    detail: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let priority = Priority::from_rank(row.try_get(3)?);
        Ok(Some(MessageView {
            id: row.try_get(0)?,
            dedup_key: row.try_get(1)?,
            template: row.try_get(2)?,
            priority: enum_text(&priority),
            status: row.try_get(4)?,
            attempts: row.try_get(5)?,
            correlation_id: row.try_get(6)?,
            created_at: rfc3339(row.try_get(7)?),
            history: hist,
        }))
    }

    /// Messages waiting to be sent.
    pub async fn backlog(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')")
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)
    }
}

async fn history(
    conn: &mut AnyConnection,
    id: &str,
    at: i64,
    status: &str,
    channel: Option<&str>,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO message_events (message_id, at, status, channel, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(at)
        .bind(status)
        .bind(channel)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

fn queued(row: &AnyRow) -> Result<Queued, sqlx::Error> {
    let kind: String = row.try_get(2)?;
    let to: String = row.try_get(3)?;
    let template: String = row.try_get(4)?;
    let vars: String = row.try_get(5)?;
    let language: Option<String> = row.try_get(6)?;
    let rank: i64 = row.try_get(7)?;
    let channels: String = row.try_get(8)?;
    Ok(Queued {
        id: row.try_get(0)?,
        dedup_key: row.try_get(1)?,
        recipient: if kind == "account" {
            Recipient::Account(to)
        } else {
            Recipient::Address(to)
        },
        template: enum_parse(&template)?,
        vars: serde_json::from_str(&vars).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        language: language
            .as_deref()
            .map(enum_parse)
            .transpose()?
            .unwrap_or_default(),
        priority: Priority::from_rank(rank),
        channels: serde_json::from_str(&channels).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        correlation_id: row.try_get(9)?,
        expires_at: row.try_get(10)?,
        attempts: row.try_get(11)?,
    })
}

/// Parse an RFC 3339 expiry into Unix microseconds.
pub fn parse_expiry(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(to_micros)
}
