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
    storage::{Db, Tx},
    time_util::{now_micros, rfc3339, to_micros},
};
use serde::Serialize;
use sqlx::{AnyConnection, Row, any::AnyRow};

pub use crate::planner::{Addresses, PushTarget};
use crate::planner::{Plan, RecipientInfo};

mod delivery;
mod messages;
mod queue;
mod recipients;
pub use delivery::blanked;
use delivery::*;

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
