//! The notification store: the durable priority queue (one lane per channel), each
//! message's deliveries and history, the recipient directory, push subscriptions and the
//! VAPID key. One adapter over the platform's [`Db`] serves SQLite and PostgreSQL; the
//! conformance suite in `tests/` runs the same cases on both.
//!
//! Every transaction starts with its write (SQLite: no snapshot upgrade can fail).

use kreki_identity_contracts::AccountChanged;
use kreki_notify_contracts::{
    Attachment, Channel, DeliveryState, Language, MessageRequested, MessageStatus, Priority,
    Recipient, Template,
};
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Backend, Db},
    time_util::{now_micros, rfc3339, to_micros},
};
use serde::Serialize;
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::planner::{Plan, RecipientInfo};

pub const SOURCE: &str = "notify";

/// How long a claimed message is leased to the sender before it may be claimed again
/// (a crash between claim and result leaves it to be retried after this), by default.
/// The service uses the provider time limit plus 5 s: no send outlives its lease.
pub const LEASE_MICROS: i64 = 60_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New,
    /// A message with the same dedup key exists; nothing was added.
    Duplicate {
        existing_id: String,
    },
}

/// A message taken from the queue for sending on its current channel.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    pub dedup_key: String,
    pub recipient: Recipient,
    pub template: Template,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub language: Language,
    pub priority: Priority,
    pub plan: Vec<Channel>,
    pub step: i64,
    pub channel: Channel,
    pub correlation_id: Option<String>,
    pub expires_at: Option<i64>,
    /// Attempts on the current channel, this one included.
    pub attempts: i64,
    pub attachments: Vec<Attachment>,
    pub created_at: i64,
    /// The recipient's addresses as read by the transaction that leased the message to
    /// this process (express hand-over): sent without looking them up again. `None`: the
    /// sender reads the directory at send time.
    pub addresses: Option<Box<Addresses>>,
}

/// An account's addresses on every channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub push: Vec<PushTarget>,
}

impl Queued {
    /// This message on this channel: the provider reference, the same on every retry.
    pub fn reference(&self) -> String {
        format!("{}.{}", self.id, self.step)
    }

    pub fn has_next(&self) -> bool {
        usize::try_from(self.step + 1).is_ok_and(|s| s < self.plan.len())
    }
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_ref: Option<String>,
        delivered: bool,
    },
    /// Try the same channel again at this time.
    Retry {
        at: i64,
        detail: String,
    },
    /// This channel cannot deliver it: next channel of the plan, or failed.
    Failed {
        detail: String,
    },
    Expired,
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
pub struct DeliveryView {
    pub channel: String,
    pub step: i64,
    pub attempts: i64,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
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
    /// The channel it is on (or ended on).
    pub channel: String,
    /// Channels in order: later ones are fallbacks.
    pub plan: Vec<String>,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// `account:<id>`, the raw address masked, or `erased` (its account was erased).
    pub recipient: String,
    pub created_at: String,
    pub history: Vec<HistoryEntry>,
    pub deliveries: Vec<DeliveryView>,
}

/// Filter of the operator's search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub recipient_id: Option<String>,
    pub address: Option<String>,
    pub correlation_id: Option<String>,
    pub status: Option<String>,
    pub page: i64,
    pub limit: i64,
}

/// A push target of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub id: String,
    /// `webpush` or `fcm`.
    pub kind: String,
    pub endpoint: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
}

/// A recipient's own settings (`GET/PUT /preferences`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub quiet: Option<(i64, i64)>,
    pub utc_offset_min: i64,
    pub opt_out: Vec<String>,
}

pub fn enum_text<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn enum_parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn json_parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A claim: the message is `sending`, leased until `$1` (`$2` is now).
const LEASE_SET: &str = "status = 'sending', attempts = attempts + 1, step_attempts = step_attempts + 1, \
     next_attempt_at = $1, updated_at = $2";

/// The claimed rows, most urgent first, each with its attempt recorded as `sending`.
async fn start_attempts(
    conn: &mut AnyConnection,
    rows: &[AnyRow],
    now: i64,
) -> Result<Vec<Queued>, sqlx::Error> {
    let mut out = rows.iter().map(queued).collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|q| q.priority.rank());
    for q in &out {
        sqlx::query(
            "INSERT INTO deliveries (id, message_id, channel, step, attempts, status, started_at, updated_at, detail) \
             VALUES ($1, $2, $3, $4, $5, 'sending', $6, $6, NULL) \
             ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, status = 'sending', updated_at = excluded.updated_at, \
             detail = CASE WHEN deliveries.status = 'sending' THEN 'resent after an interrupted attempt' ELSE deliveries.detail END",
        )
        .bind(q.reference())
        .bind(&q.id)
        .bind(enum_text(&q.channel))
        .bind(q.step)
        .bind(q.attempts)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(out)
}

const MESSAGE_COLUMNS: &str = "id, dedup_key, recipient_kind, recipient, template, vars, language, priority, plan, step, \
     channel, correlation_id, expires_at, step_attempts, attachments, created_at";

/// How long a sent message that may still move on keeps its secret variables, by default.
pub const SECRETS_KEPT_MICROS: i64 = 900_000_000;

#[derive(Clone)]
pub struct Store {
    db: Db,
    lease_us: i64,
    secrets_kept_us: i64,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            lease_us: LEASE_MICROS,
            secrets_kept_us: SECRETS_KEPT_MICROS,
        }
    }

    /// The same store with another lease time of claimed messages.
    pub fn with_lease(db: Db, lease: std::time::Duration) -> Self {
        Self {
            lease_us: i64::try_from(lease.as_micros()).unwrap_or(LEASE_MICROS),
            ..Self::new(db)
        }
    }

    /// The same store keeping the secrets of a sent message that may still move on to its
    /// next channel this long (then they are blanked).
    pub fn keeping_secrets(mut self, kept: std::time::Duration) -> Self {
        self.secrets_kept_us = i64::try_from(kept.as_micros()).unwrap_or(SECRETS_KEPT_MICROS);
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// How long a claimed message stays with its sender (µs).
    pub fn lease_us(&self) -> i64 {
        self.lease_us
    }

    /// Add a request to the queue inside the caller's transaction (idempotent by dedup key
    /// and id). It is written first (SQLite: a transaction that starts with its write never
    /// fails to upgrade) and invisible to the sender until [`Store::apply_plan`] in the same
    /// transaction. `expires_at` must be validated.
    pub async fn insert(
        conn: &mut AnyConnection,
        req: &MessageRequested,
        expires_at: Option<i64>,
    ) -> Result<Enqueued, sqlx::Error> {
        let (kind, to) = match req.recipient() {
            Some(Recipient::Account(a)) => ("account", a),
            // Phones in E.164 (as the directory and the search have them).
            Some(Recipient::Address(a)) => (
                "address",
                if a.contains('@') {
                    a
                } else {
                    kreki_platform::types::PhoneE164::parse(&a)
                        .map(|p| p.as_str().to_string())
                        .unwrap_or(a)
                },
            ),
            None => {
                return Err(sqlx::Error::Protocol(
                    "message without exactly one recipient".into(),
                ));
            }
        };
        let now = now_micros();
        let inserted = sqlx::query(
            "INSERT INTO messages (id, dedup_key, recipient_kind, recipient, template, vars, language, priority, \
             channels, status, correlation_id, expires_at, attempts, next_attempt_at, created_at, updated_at, \
             plan, step, channel, step_attempts, attachments) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, 'planning', $9, $10, 0, $11, $11, $11, '[]', 0, 'console', 0, $12) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&req.id)
        .bind(&req.dedup_key)
        .bind(kind)
        .bind(&to)
        .bind(enum_text(&req.template))
        .bind(json_text(&req.vars))
        .bind(req.priority.rank())
        .bind(json_text(&req.channels))
        .bind(&req.correlation_id)
        .bind(expires_at)
        .bind(now)
        .bind(json_text(&req.attachments))
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
        Ok(Enqueued::New)
    }

    /// Give a just inserted message its channel plan: queued on its first channel, or
    /// ended (nothing reaches the recipient, or opted out) with its status event.
    pub async fn apply_plan(
        conn: &mut AnyConnection,
        req: &MessageRequested,
        plan: &Plan,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let first = plan.channels.first().copied().unwrap_or(Channel::Console);
        let (status, final_detail) = match (&plan.suppressed, plan.channels.is_empty()) {
            (Some(why), _) => ("suppressed", Some((*why).to_string())),
            (None, true) => (
                "failed",
                Some("no channel reaches the recipient".to_string()),
            ),
            (None, false) => ("queued", None),
        };
        sqlx::query(
            "UPDATE messages SET status = $1, plan = $2, channel = $3, language = $4, next_attempt_at = $5, \
             last_error = $6 WHERE id = $7 AND status = 'planning'",
        )
        .bind(status)
        .bind(json_text(&plan.channels))
        .bind(enum_text(&first))
        .bind(enum_text(&plan.language))
        .bind(plan.not_before)
        .bind(final_detail.clone())
        .bind(&req.id)
        .execute(&mut *conn)
        .await?;
        history(conn, &req.id, now, "queued", Some(&enum_text(&first)), None).await?;
        if let Some(detail) = final_detail {
            blank_secrets(conn, &req.id, req.template, &req.vars).await?;
            history(conn, &req.id, now, status, None, Some(&detail)).await?;
            let state = if status == "failed" {
                DeliveryState::Failed
            } else {
                DeliveryState::Suppressed
            };
            publish_status(
                conn,
                &req.id,
                &req.dedup_key,
                &req.correlation_id,
                state,
                None,
                Some(detail),
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Take up to `limit` due messages of one channel, most urgent first, and record the
    /// attempt (message leased, delivery row `sending`) before anything is sent.
    pub async fn claim(&self, channel: Channel, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
        self.claim_up_to(channel, limit, Priority::Low).await
    }

    /// [`Store::claim`] of messages at least as urgent as `most`.
    pub async fn claim_up_to(
        &self,
        channel: Channel,
        limit: i64,
        most: Priority,
    ) -> Result<Vec<Queued>, sqlx::Error> {
        let now = now_micros();
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.db.begin_relaxed().await?;
        let rows = sqlx::query(&format!(
            "UPDATE messages SET {LEASE_SET} \
             WHERE id IN (SELECT id FROM messages WHERE channel = $3 AND status = 'queued' \
             AND priority <= $4 AND next_attempt_at <= $2 ORDER BY priority, next_attempt_at LIMIT {limit}{lock}) \
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(now + self.lease_us)
        .bind(now)
        .bind(enum_text(&channel))
        .bind(most.rank())
        .fetch_all(&mut *tx)
        .await?;
        let out = start_attempts(&mut tx, &rows, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Lease one just queued message to this process inside the transaction that queued
    /// it, for a hand-over in memory after the commit ([`crate::worker::Lanes`]): the
    /// attempt is recorded before anything is sent, as with [`Store::claim`].
    pub async fn claim_one(
        conn: &mut AnyConnection,
        id: &str,
        lease_us: i64,
    ) -> Result<Option<Queued>, sqlx::Error> {
        let now = now_micros();
        let rows = sqlx::query(&format!(
            "UPDATE messages SET {LEASE_SET} \
             WHERE id = $3 AND status = 'queued' AND next_attempt_at <= $2 RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(now + lease_us)
        .bind(now)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(start_attempts(conn, &rows, now).await?.pop())
    }

    /// Record what became of a send. Returns the channel the message moved on to, if any.
    pub async fn record(
        &self,
        m: &Queued,
        outcome: &Outcome,
        fallback_after_us: i64,
    ) -> Result<Option<Channel>, sqlx::Error> {
        let mut r = self
            .record_many(&[(m.clone(), outcome.clone())], fallback_after_us)
            .await?;
        Ok(r.pop().flatten())
    }

    /// Record many outcomes in one transaction (one commit for a burst of sends).
    pub async fn record_many(
        &self,
        outcomes: &[(Queued, Outcome)],
        fallback_after_us: i64,
    ) -> Result<Vec<Option<Channel>>, sqlx::Error> {
        let mut tx = self.db.begin_relaxed().await?;
        let mut moved = Vec::with_capacity(outcomes.len());
        for (m, outcome) in outcomes {
            moved.push(
                record_in(&mut tx, m, outcome, fallback_after_us, self.secrets_kept_us).await?,
            );
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Messages whose lease ended while `sending` (their sender died): queued again, on
    /// the same channel and step. Returns the channels that got work.
    pub async fn reclaim_expired(&self) -> Result<Vec<Channel>, sqlx::Error> {
        let now = now_micros();
        let rows = sqlx::query(
            "UPDATE messages SET status = 'queued', updated_at = $1 WHERE status = 'sending' AND next_attempt_at <= $1 \
             RETURNING channel",
        )
        .bind(now)
        .fetch_all(self.db.writer())
        .await?;
        let mut lanes: Vec<Channel> = Vec::new();
        for r in rows {
            let c: String = r.try_get(0)?;
            if let Ok(c) = enum_parse::<Channel>(&c)
                && !lanes.contains(&c)
            {
                lanes.push(c);
            }
        }
        Ok(lanes)
    }

    /// Critical messages sent but neither delivered nor acknowledged in time: on to the
    /// next channel. Returns the channels that got work.
    pub async fn fallbacks_due(&self, limit: i64) -> Result<Vec<Channel>, sqlx::Error> {
        let now = now_micros();
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.db.begin().await?;
        // Write first: take the due rows by clearing their fallback time.
        let rows = sqlx::query(&format!(
            "UPDATE messages SET fallback_at = NULL, updated_at = $1 WHERE id IN \
             (SELECT id FROM messages WHERE status = 'sent' AND fallback_at <= $1 LIMIT {limit}{lock}) \
             RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut lanes = Vec::new();
        for row in &rows {
            let m = queued(row)?;
            if m.expires_at.is_some_and(|e| e <= now) {
                blank_secrets(&mut tx, &m.id, m.template, &m.vars).await?;
                continue;
            }
            sqlx::query("UPDATE deliveries SET detail = 'no delivery receipt in time', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(m.reference())
                .execute(&mut *tx)
                .await?;
            if let Some(c) =
                next_step(&mut tx, &m, now, "not delivered in time: falling back").await?
            {
                lanes.push(c);
            }
        }
        tx.commit().await?;
        Ok(lanes)
    }

    /// Sent messages whose secrets were kept for a possible next channel, and the time is
    /// up: their secret variables are blanked. Returns how many.
    pub async fn blank_kept_secrets(&self, limit: i64) -> Result<usize, sqlx::Error> {
        let now = now_micros();
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.db.begin_relaxed().await?;
        // Write first: take the due rows by clearing their time.
        let rows = sqlx::query(&format!(
            "UPDATE messages SET secrets_until = NULL WHERE id IN \
             (SELECT id FROM messages WHERE secrets_until <= $1 AND status NOT IN ('queued', 'sending') \
             AND fallback_at IS NULL LIMIT {limit}{lock}) RETURNING id, template, vars"
        ))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: String = r.try_get(0)?;
            let template: String = r.try_get(1)?;
            let vars: String = r.try_get(2)?;
            blank_secrets(&mut tx, &id, enum_parse(&template)?, &json_parse(&vars)?).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// A provider's receipt (`delivered`, `read`, `failed`) for one of our sends, by the
    /// provider's reference. `None`: no such send. Returns the lane that got work, if any.
    pub async fn receipt(
        &self,
        channel: Channel,
        provider_ref: &str,
        state: &str,
        detail: Option<&str>,
    ) -> Result<Option<Option<Channel>>, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        // Write first: touch the delivery.
        let Some(row) = sqlx::query(
            "UPDATE deliveries SET updated_at = $1 WHERE channel = $2 AND (provider_ref = $3 OR id = $3) \
             RETURNING id, message_id, status",
        )
        .bind(now)
        .bind(enum_text(&channel))
        .bind(provider_ref)
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let delivery_id: String = row.try_get(0)?;
        let message_id: String = row.try_get(1)?;
        let current: String = row.try_get(2)?;
        let channel_text = enum_text(&channel);
        let mut moved = None;
        match state {
            "delivered" | "read" => {
                // Receipts may arrive twice or out of order: `read` after `delivered` is
                // recorded, nothing goes backwards.
                if current != "read" && !(current == "delivered" && state == "delivered") {
                    sqlx::query("UPDATE deliveries SET status = $1, detail = $2 WHERE id = $3")
                        .bind(state)
                        .bind(detail)
                        .bind(&delivery_id)
                        .execute(&mut *tx)
                        .await?;
                    history(
                        &mut tx,
                        &message_id,
                        now,
                        state,
                        Some(&channel_text),
                        detail,
                    )
                    .await?;
                }
                let changed = sqlx::query(
                    "UPDATE messages SET status = 'delivered', delivered_at = $1, fallback_at = NULL, updated_at = $1 \
                     WHERE id = $2 AND status IN ('sent', 'sending', 'queued')",
                )
                .bind(now)
                .bind(&message_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed > 0
                    && let Some(m) = fetch_message(&mut tx, &message_id).await?
                {
                    blank_secrets(&mut tx, &m.id, m.template, &m.vars).await?;
                    publish_status(
                        &mut tx,
                        &m.id,
                        &m.dedup_key,
                        &m.correlation_id,
                        DeliveryState::Delivered,
                        Some(channel),
                        detail.map(str::to_string),
                        now,
                    )
                    .await?;
                }
            }
            "failed" | "undeliverable" | "expired" | "rejected" => {
                if current != "failed" {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'failed', detail = $1 WHERE id = $2",
                    )
                    .bind(detail.unwrap_or(state))
                    .bind(&delivery_id)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(m) = fetch_message(&mut tx, &message_id).await?
                        && m.reference() == delivery_id
                        && is_status(&mut tx, &m.id, "sent").await?
                    {
                        moved = next_step(
                            &mut tx,
                            &m,
                            now,
                            &format!("receipt: {}", detail.unwrap_or(state)),
                        )
                        .await?;
                    }
                }
            }
            _ => {
                history(
                    &mut tx,
                    &message_id,
                    now,
                    state,
                    Some(&channel_text),
                    detail,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(moved))
    }

    /// The recipient acknowledges a message (the app showed it). `false`: not theirs.
    pub async fn acknowledge(&self, id: &str, account: &str) -> Result<bool, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE messages SET status = 'delivered', delivered_at = $1, fallback_at = NULL, updated_at = $1 \
             WHERE id = $2 AND recipient_kind = 'account' AND recipient = $3 AND status IN ('sent', 'sending', 'queued')",
        )
        .bind(now)
        .bind(id)
        .bind(account)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let Some(m) = fetch_message(&mut tx, id).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        if m.recipient != Recipient::Account(account.to_string()) {
            tx.rollback().await?;
            return Ok(false);
        }
        if changed > 0 {
            blank_secrets(&mut tx, id, m.template, &m.vars).await?;
            history(
                &mut tx,
                id,
                now,
                "acknowledged",
                Some(&enum_text(&m.channel)),
                None,
            )
            .await?;
            publish_status(
                &mut tx,
                id,
                &m.dedup_key,
                &m.correlation_id,
                DeliveryState::Delivered,
                Some(m.channel),
                Some("acknowledged by the recipient".into()),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get(&self, id: &str) -> Result<Option<MessageView>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT id, dedup_key, template, priority, status, attempts, correlation_id, created_at, channel, plan, \
             recipient_kind, recipient FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let history = sqlx::query(
            "SELECT at, status, channel, detail FROM message_events WHERE message_id = $1 ORDER BY seq",
        )
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
        let deliveries = sqlx::query(
            "SELECT channel, step, attempts, status, provider_ref, started_at, sent_at, detail FROM deliveries \
             WHERE message_id = $1 ORDER BY step",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| {
            Ok(DeliveryView {
                channel: r.try_get(0)?,
                step: r.try_get(1)?,
                attempts: r.try_get(2)?,
                status: r.try_get(3)?,
                provider_ref: r.try_get(4)?,
                started_at: rfc3339(r.try_get(5)?),
                sent_at: r.try_get::<Option<i64>, _>(6)?.map(rfc3339),
                detail: r.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        view(&row, history, deliveries).map(Some)
    }

    /// Operators' search (newest first) and the total number of matches.
    pub async fn search(&self, s: &Search) -> Result<(Vec<MessageView>, i64), sqlx::Error> {
        let mut cond = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        if let Some(r) = &s.recipient_id {
            binds.push(r.clone());
            cond.push(format!(
                "(recipient_kind = 'account' AND recipient = ${})",
                binds.len()
            ));
        }
        if let Some(a) = &s.address {
            binds.push(a.clone());
            cond.push(format!(
                "(recipient_kind = 'address' AND recipient = ${})",
                binds.len()
            ));
        }
        if let Some(c) = &s.correlation_id {
            binds.push(c.clone());
            cond.push(format!("correlation_id = ${}", binds.len()));
        }
        if let Some(st) = &s.status {
            binds.push(st.clone());
            cond.push(format!("status = ${}", binds.len()));
        }
        let filter = if cond.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", cond.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM messages{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total = count.fetch_one(self.db.pool()).await?;
        let sql = format!(
            "SELECT id FROM messages{filter} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
            s.limit,
            (s.page - 1).max(0) * s.limit
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for b in &binds {
            q = q.bind(b.clone());
        }
        let ids = q.fetch_all(self.db.pool()).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = self.get(&id).await? {
                out.push(v);
            }
        }
        Ok((out, total))
    }

    /// Messages waiting to be sent.
    pub async fn backlog(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')")
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)
    }

    // ---- recipient directory -------------------------------------------------------

    /// Keep an account's addresses and language from KREKI ID (newer versions only).
    pub async fn upsert_recipient(
        conn: &mut AnyConnection,
        a: &AccountChanged,
    ) -> Result<(), sqlx::Error> {
        let channels: Vec<Channel> = a
            .notification_channels
            .iter()
            .filter_map(|c| enum_parse::<Channel>(c).ok())
            .collect();
        sqlx::query(
            "INSERT INTO recipients (account_id, email, phone, language, channels, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id) DO UPDATE SET email = excluded.email, phone = excluded.phone, \
             language = excluded.language, channels = excluded.channels, version = excluded.version, \
             updated_at = excluded.updated_at WHERE recipients.version < excluded.version",
        )
        .bind(&a.account_id)
        .bind(&a.email)
        .bind(&a.phone)
        .bind(&a.language)
        .bind(json_text(&channels))
        .bind(a.version)
        .bind(now_micros())
        .execute(&mut *conn)
        .await?;
        // Every address it ever had, older versions' too: erasure finds what was sent to
        // them as raw addresses.
        for address in [a.email.as_deref().map(str::to_lowercase), a.phone.clone()]
            .into_iter()
            .flatten()
        {
            sqlx::query(
                "INSERT INTO recipient_addresses (account_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&a.account_id)
            .bind(address)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Forget an account: its directory entry, the addresses it had, its push targets and
    /// preferences; its messages lose their variables, attachments and provider details,
    /// and the messages sent to one of its addresses as a raw address (a code to its phone,
    /// a reset link to its e-mail) their recipient too (`erased`). Ids, templates, states
    /// and times stay for the statistics. A message still waiting is not sent.
    pub async fn erase_recipient(
        conn: &mut AnyConnection,
        account: &str,
    ) -> Result<(), sqlx::Error> {
        // Its addresses: the current ones and every one it had before.
        let mut addresses: Vec<String> = Vec::new();
        for r in sqlx::query("DELETE FROM recipients WHERE account_id = $1 RETURNING email, phone")
            .bind(account)
            .fetch_all(&mut *conn)
            .await?
        {
            let email: Option<String> = r.try_get(0)?;
            let phone: Option<String> = r.try_get(1)?;
            addresses.extend(email.map(|e| e.to_lowercase()));
            addresses.extend(phone);
        }
        for r in
            sqlx::query("DELETE FROM recipient_addresses WHERE account_id = $1 RETURNING address")
                .bind(account)
                .fetch_all(&mut *conn)
                .await?
        {
            addresses.push(r.try_get(0)?);
        }
        addresses.sort();
        addresses.dedup();
        sqlx::query("DELETE FROM push_subscriptions WHERE account_id = $1")
            .bind(account)
            .execute(&mut *conn)
            .await?;
        const DETAILS: [&str; 2] = [
            "UPDATE message_events SET detail = NULL WHERE message_id IN (SELECT id FROM messages WHERE {})",
            "UPDATE deliveries SET detail = NULL WHERE message_id IN (SELECT id FROM messages WHERE {})",
        ];
        const FORGET: &str = "vars = '{}', attachments = '[]', last_error = NULL, secrets_until = NULL, \
             status = CASE WHEN status IN ('queued', 'sending') THEN 'failed' ELSE status END";
        let of_account = "recipient_kind = 'account' AND recipient = $1";
        for sql in DETAILS {
            sqlx::query(&sql.replace("{}", of_account))
                .bind(account)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(&format!("UPDATE messages SET {FORGET} WHERE {of_account}"))
            .bind(account)
            .execute(&mut *conn)
            .await?;
        // E-mail addresses in any case (`Putri@…` is `putri@…`).
        let to_address = "recipient_kind = 'address' AND lower(recipient) = $1";
        for address in &addresses {
            for sql in DETAILS {
                sqlx::query(&sql.replace("{}", to_address))
                    .bind(address)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(&format!(
                "UPDATE messages SET {FORGET}, recipient_kind = 'erased', recipient = 'erased' WHERE {to_address}"
            ))
            .bind(address)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// What the planner needs to know of an account.
    pub async fn recipient_info(
        conn: &mut AnyConnection,
        account: &str,
    ) -> Result<Option<RecipientInfo>, sqlx::Error> {
        let push = push_targets(&mut *conn, account).await?;
        let Some(r) = sqlx::query(
            "SELECT email, phone, language, channels, quiet_start, quiet_end, utc_offset_min, opt_out \
             FROM recipients WHERE account_id = $1",
        )
        .bind(account)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok((!push.is_empty()).then(|| RecipientInfo {
                addresses: Addresses {
                    push,
                    ..Default::default()
                },
                utc_offset_min: 420,
                ..Default::default()
            }));
        };
        let language: String = r.try_get(2)?;
        let channels: String = r.try_get(3)?;
        let qs: Option<i64> = r.try_get(4)?;
        let qe: Option<i64> = r.try_get(5)?;
        let opt_out: String = r.try_get(7)?;
        Ok(Some(RecipientInfo {
            addresses: Addresses {
                email: r.try_get(0)?,
                phone: r.try_get(1)?,
                push,
            },
            language: enum_parse(&language).ok(),
            channels: json_parse(&channels).unwrap_or_default(),
            quiet: qs.zip(qe),
            utc_offset_min: r.try_get(6)?,
            opt_out: json_parse(&opt_out).unwrap_or_default(),
        }))
    }

    /// The addresses of an account (send time: the latest directory entry).
    pub async fn addresses(
        &self,
        account: &str,
    ) -> Result<(Option<String>, Option<String>), sqlx::Error> {
        let row = sqlx::query("SELECT email, phone FROM recipients WHERE account_id = $1")
            .bind(account)
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok((r.try_get(0)?, r.try_get(1)?)),
            None => Ok((None, None)),
        }
    }

    pub async fn preferences(&self, account: &str) -> Result<Preferences, sqlx::Error> {
        let row = sqlx::query("SELECT quiet_start, quiet_end, utc_offset_min, opt_out FROM recipients WHERE account_id = $1")
            .bind(account)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(r) = row else {
            return Ok(Preferences {
                utc_offset_min: 420,
                ..Default::default()
            });
        };
        let qs: Option<i64> = r.try_get(0)?;
        let qe: Option<i64> = r.try_get(1)?;
        let opt_out: String = r.try_get(3)?;
        Ok(Preferences {
            quiet: qs.zip(qe),
            utc_offset_min: r.try_get(2)?,
            opt_out: json_parse(&opt_out).unwrap_or_default(),
        })
    }

    pub async fn set_preferences(&self, account: &str, p: &Preferences) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO recipients (account_id, language, quiet_start, quiet_end, utc_offset_min, opt_out, version, updated_at) \
             VALUES ($1, 'id', $2, $3, $4, $5, 0, $6) \
             ON CONFLICT (account_id) DO UPDATE SET quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, \
             utc_offset_min = excluded.utc_offset_min, opt_out = excluded.opt_out, updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(p.quiet.map(|q| q.0))
        .bind(p.quiet.map(|q| q.1))
        .bind(p.utc_offset_min)
        .bind(json_text(&p.opt_out))
        .bind(now_micros())
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    // ---- push targets --------------------------------------------------------------

    /// Add (or move to this account) a push target; returns its id.
    pub async fn add_push_target(
        &self,
        account: &str,
        kind: &str,
        endpoint: &str,
        p256dh: Option<&str>,
        auth: Option<&str>,
    ) -> Result<String, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let row = sqlx::query(
            "INSERT INTO push_subscriptions (id, account_id, kind, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (endpoint) DO UPDATE SET account_id = excluded.account_id, kind = excluded.kind, \
             p256dh = excluded.p256dh, auth = excluded.auth RETURNING id",
        )
        .bind(&id)
        .bind(account)
        .bind(kind)
        .bind(endpoint)
        .bind(p256dh)
        .bind(auth)
        .bind(now_micros())
        .fetch_one(self.db.writer())
        .await?;
        row.try_get(0)
    }

    /// Remove a push target of this account (`false`: none such).
    pub async fn remove_push_target(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<bool, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM push_subscriptions WHERE account_id = $1 AND endpoint = $2")
                .bind(account)
                .bind(endpoint)
                .execute(self.db.writer())
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// A target the push service says is gone (404/410).
    pub async fn drop_push_target(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    pub async fn push_targets(&self, account: &str) -> Result<Vec<PushTarget>, sqlx::Error> {
        push_targets(self.db.pool(), account).await
    }

    /// A named key of the service, made by `make` at first use (the same on every
    /// replica: the first writer wins).
    pub async fn key(
        &self,
        name: &str,
        make: impl FnOnce() -> Option<String>,
    ) -> Result<Option<String>, sqlx::Error> {
        if let Some(r) = sqlx::query("SELECT value FROM notify_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
        {
            return Ok(Some(r.try_get(0)?));
        }
        let Some(value) = make() else {
            return Ok(None);
        };
        sqlx::query("INSERT INTO notify_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(&value)
            .bind(now_micros())
            .execute(self.db.writer())
            .await?;
        let r = sqlx::query("SELECT value FROM notify_keys WHERE name = $1")
            .bind(name)
            .fetch_one(self.db.pool())
            .await?;
        Ok(Some(r.try_get(0)?))
    }
}

/// One outcome, inside the caller's transaction.
async fn record_in(
    tx: &mut AnyConnection,
    m: &Queued,
    outcome: &Outcome,
    fallback_after_us: i64,
    secrets_kept_us: i64,
) -> Result<Option<Channel>, sqlx::Error> {
    let now = now_micros();
    let channel_text = enum_text(&m.channel);
    let mut moved = None;
    match outcome {
        Outcome::Sent {
            provider_ref,
            delivered,
        } => {
            let state = if *delivered { "delivered" } else { "sent" };
            let fallback = (m.priority == Priority::Critical && !delivered && m.has_next())
                .then_some(now + fallback_after_us);
            sqlx::query(
                    "UPDATE messages SET status = $1, fallback_at = $2, delivered_at = $3, updated_at = $4, last_error = NULL \
                     WHERE id = $5 AND status = 'sending'",
                )
                .bind(state)
                .bind(fallback)
                .bind(delivered.then_some(now))
                .bind(now)
                .bind(&m.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                    "UPDATE deliveries SET status = $1, provider_ref = $2, sent_at = $3, updated_at = $3 WHERE id = $4",
                )
                .bind(state)
                .bind(provider_ref)
                .bind(now)
                .bind(m.reference())
                .execute(&mut *tx)
                .await?;
            history(
                &mut *tx,
                &m.id,
                now,
                state,
                Some(&channel_text),
                provider_ref.as_deref(),
            )
            .await?;
            if !m.template.secret_vars().is_empty() {
                // A failed receipt moves an SMS or WhatsApp message on to its next channel,
                // and a critical one moves on without a receipt: they keep their secrets a
                // while. Everything else is done with them.
                let may_move_on = fallback.is_some()
                    || (!delivered
                        && m.has_next()
                        && matches!(m.channel, Channel::Sms | Channel::Whatsapp));
                if may_move_on {
                    sqlx::query("UPDATE messages SET secrets_until = $1 WHERE id = $2")
                        .bind(now + secrets_kept_us.max(fallback_after_us))
                        .bind(&m.id)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    blank_secrets(&mut *tx, &m.id, m.template, &m.vars).await?;
                }
            }
            let s = if *delivered {
                DeliveryState::Delivered
            } else {
                DeliveryState::Sent
            };
            publish_status(
                &mut *tx,
                &m.id,
                &m.dedup_key,
                &m.correlation_id,
                s,
                Some(m.channel),
                None,
                now,
            )
            .await?;
        }
        Outcome::Retry { at, detail } => {
            sqlx::query(
                    "UPDATE messages SET status = 'queued', next_attempt_at = $1, updated_at = $2, last_error = $3 WHERE id = $4",
                )
                .bind(at)
                .bind(now)
                .bind(detail)
                .bind(&m.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE deliveries SET status = 'retry', detail = $1, updated_at = $2 WHERE id = $3")
                    .bind(detail)
                    .bind(now)
                    .bind(m.reference())
                    .execute(&mut *tx)
                    .await?;
            history(
                &mut *tx,
                &m.id,
                now,
                "retry",
                Some(&channel_text),
                Some(detail),
            )
            .await?;
        }
        Outcome::Failed { detail } => {
            sqlx::query("UPDATE deliveries SET status = 'failed', detail = $1, updated_at = $2 WHERE id = $3")
                    .bind(detail)
                    .bind(now)
                    .bind(m.reference())
                    .execute(&mut *tx)
                    .await?;
            moved = next_step(&mut *tx, m, now, detail).await?;
        }
        Outcome::Expired => {
            finish(
                &mut *tx,
                m,
                now,
                "expired",
                DeliveryState::Expired,
                "expired before sending",
            )
            .await?;
        }
    }
    Ok(moved)
}

async fn is_status(conn: &mut AnyConnection, id: &str, status: &str) -> Result<bool, sqlx::Error> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(s.as_deref() == Some(status))
}

async fn fetch_message(conn: &mut AnyConnection, id: &str) -> Result<Option<Queued>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(queued)
    .transpose()
}

/// Move a message to the next channel of its plan, or end it as failed.
async fn next_step(
    conn: &mut AnyConnection,
    m: &Queued,
    now: i64,
    detail: &str,
) -> Result<Option<Channel>, sqlx::Error> {
    if secrets_blanked(m.template, &m.vars) {
        let why = format!("{detail}; not sent again: its secret variables were erased");
        finish(conn, m, now, "failed", DeliveryState::Failed, &why).await?;
        return Ok(None);
    }
    let next = usize::try_from(m.step + 1)
        .ok()
        .and_then(|s| m.plan.get(s))
        .copied();
    match next {
        Some(c) => {
            sqlx::query(
                "UPDATE messages SET status = 'queued', step = step + 1, channel = $1, step_attempts = 0, \
                 next_attempt_at = $2, fallback_at = NULL, updated_at = $2, last_error = $3 WHERE id = $4",
            )
            .bind(enum_text(&c))
            .bind(now)
            .bind(detail)
            .bind(&m.id)
            .execute(&mut *conn)
            .await?;
            history(
                conn,
                &m.id,
                now,
                "fallback",
                Some(&enum_text(&c)),
                Some(detail),
            )
            .await?;
            Ok(Some(c))
        }
        None => {
            finish(conn, m, now, "failed", DeliveryState::Failed, detail).await?;
            Ok(None)
        }
    }
}

async fn finish(
    conn: &mut AnyConnection,
    m: &Queued,
    now: i64,
    status: &str,
    state: DeliveryState,
    detail: &str,
) -> Result<(), sqlx::Error> {
    blank_secrets(conn, &m.id, m.template, &m.vars).await?;
    sqlx::query("UPDATE messages SET status = $1, fallback_at = NULL, updated_at = $2, last_error = $3 WHERE id = $4")
        .bind(status)
        .bind(now)
        .bind(detail)
        .bind(&m.id)
        .execute(&mut *conn)
        .await?;
    history(
        conn,
        &m.id,
        now,
        status,
        Some(&enum_text(&m.channel)),
        Some(detail),
    )
    .await?;
    publish_status(
        conn,
        &m.id,
        &m.dedup_key,
        &m.correlation_id,
        state,
        Some(m.channel),
        Some(detail.to_string()),
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn publish_status(
    conn: &mut AnyConnection,
    id: &str,
    dedup_key: &str,
    correlation_id: &Option<String>,
    status: DeliveryState,
    channel: Option<Channel>,
    detail: Option<String>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let ev = MessageStatus {
        id: id.to_string(),
        dedup_key: dedup_key.to_string(),
        status,
        channel,
        at: rfc3339(now),
        detail,
        correlation_id: correlation_id.clone(),
    };
    let mut event = Event::new(SOURCE, kreki_notify_contracts::MESSAGE_STATUS, &ev)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    if let Some(c) = correlation_id {
        event = event.correlated(c.clone());
    }
    outbox::enqueue(conn, &event).await
}

/// The variables with the template's secrets blanked (`""`); `None`: nothing to blank.
pub fn blanked(
    template: Template,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let blank = serde_json::Value::String(String::new());
    let secret = template.secret_vars();
    if !secret
        .iter()
        .any(|k| vars.get(*k).is_some_and(|v| *v != blank))
    {
        return None;
    }
    let mut out = vars.clone();
    for k in secret {
        if let Some(v) = out.get_mut(*k) {
            *v = blank.clone();
        }
    }
    Some(out)
}

/// Were this message's secrets blanked already?
fn secrets_blanked(template: Template, vars: &serde_json::Map<String, serde_json::Value>) -> bool {
    template
        .secret_vars()
        .iter()
        .any(|k| vars.get(*k).and_then(|v| v.as_str()) == Some(""))
}

/// Blank a message's secret variables (codes, links with a token) in the database.
async fn blank_secrets(
    conn: &mut AnyConnection,
    id: &str,
    template: Template,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), sqlx::Error> {
    if let Some(vars) = blanked(template, vars) {
        sqlx::query("UPDATE messages SET vars = $1, secrets_until = NULL WHERE id = $2")
            .bind(json_text(&vars))
            .bind(id)
            .execute(conn)
            .await?;
    }
    Ok(())
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

/// An account's push targets, oldest first.
async fn push_targets<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    account: &str,
) -> Result<Vec<PushTarget>, sqlx::Error> {
    sqlx::query(
        "SELECT id, kind, endpoint, p256dh, auth FROM push_subscriptions WHERE account_id = $1 ORDER BY created_at",
    )
    .bind(account)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        Ok(PushTarget {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            endpoint: r.try_get(2)?,
            p256dh: r.try_get(3)?,
            auth: r.try_get(4)?,
        })
    })
    .collect()
}

fn queued(row: &AnyRow) -> Result<Queued, sqlx::Error> {
    let kind: String = row.try_get(2)?;
    let to: String = row.try_get(3)?;
    let template: String = row.try_get(4)?;
    let vars: String = row.try_get(5)?;
    let language: Option<String> = row.try_get(6)?;
    let rank: i64 = row.try_get(7)?;
    let plan: String = row.try_get(8)?;
    let channel: String = row.try_get(10)?;
    let attachments: String = row.try_get(14)?;
    Ok(Queued {
        id: row.try_get(0)?,
        dedup_key: row.try_get(1)?,
        recipient: if kind == "account" {
            Recipient::Account(to)
        } else {
            Recipient::Address(to)
        },
        template: enum_parse(&template)?,
        vars: json_parse(&vars)?,
        language: language
            .as_deref()
            .map(enum_parse)
            .transpose()?
            .unwrap_or_default(),
        priority: Priority::from_rank(rank),
        plan: json_parse(&plan)?,
        step: row.try_get(9)?,
        channel: enum_parse(&channel)?,
        correlation_id: row.try_get(11)?,
        expires_at: row.try_get(12)?,
        attempts: row.try_get(13)?,
        attachments: json_parse(&attachments)?,
        created_at: row.try_get(15)?,
        addresses: None,
    })
}

fn view(
    row: &AnyRow,
    history: Vec<HistoryEntry>,
    deliveries: Vec<DeliveryView>,
) -> Result<MessageView, sqlx::Error> {
    let plan: String = row.try_get(9)?;
    let plan: Vec<String> = json_parse(&plan)?;
    let kind: String = row.try_get(10)?;
    let to: String = row.try_get(11)?;
    let recipient = if kind == "account" {
        format!("account:{to}")
    } else if kind == "erased" {
        "erased".to_string()
    } else if to.contains('@') {
        kreki_platform::telemetry::mask_email(&to)
    } else {
        kreki_platform::telemetry::mask_phone(&to)
    };
    Ok(MessageView {
        id: row.try_get(0)?,
        dedup_key: row.try_get(1)?,
        template: row.try_get(2)?,
        priority: enum_text(&Priority::from_rank(row.try_get(3)?)),
        status: row.try_get(4)?,
        attempts: row.try_get(5)?,
        correlation_id: row.try_get(6)?,
        created_at: rfc3339(row.try_get(7)?),
        channel: row.try_get(8)?,
        plan,
        recipient,
        history,
        deliveries,
    })
}

/// Parse an RFC 3339 expiry into Unix microseconds.
pub fn parse_expiry(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(to_micros)
}
