//! PSC 119 hand-offs, their log and the callbacks received (deduplicated by id).

use kreki_bridge_contracts::{PSC119_STATUS, Psc119Status};
use kreki_emergency_contracts::CaseEscalated;
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Db, Tx, lease::Claim},
    time_util::rfc3339,
};
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::Callback;

/// A claimed hand-off is not looked at again for this long.
pub const LEASE_MICROS: i64 = 60_000_000;

pub mod state {
    /// Sent (or being sent); waiting for an acknowledgement.
    pub const PENDING: &str = "pending";
    pub const ACKNOWLEDGED: &str = "acknowledged";
    /// No centre acknowledged: Ops must call PSC 119.
    pub const ALARM: &str = "alarm";
}

#[derive(Debug, Clone)]
pub struct Due {
    pub case_id: String,
    pub record: CaseEscalated,
    pub centre_index: i64,
    pub sends: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntry {
    pub at: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandoffView {
    pub case_id: String,
    pub state: String,
    pub centre_index: i64,
    pub sends: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    pub log: Vec<LogEntry>,
}

/// What a callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    New,
    Duplicate,
    UnknownCase,
    /// The case was never handed to the calling centre: it may not report on it.
    NotHandedToCentre,
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

pub async fn log(
    conn: &mut AnyConnection,
    case_id: &str,
    at: i64,
    kind: &str,
    centre: Option<&str>,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO psc119_log (case_id, at, kind, centre, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(case_id)
    .bind(at)
    .bind(kind)
    .bind(centre)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Put `bridge.psc119.status` in the outbox.
pub async fn publish(
    conn: &mut Tx,
    case_id: &str,
    status: &str,
    at: String,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let ev = Psc119Status {
        case_id: case_id.to_string(),
        status: status.to_string(),
        at,
        details,
    };
    let e = Event::new("bridge", PSC119_STATUS, &ev)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?
        .correlated(case_id.to_string());
    outbox::enqueue(conn, &e).await
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db }
    }
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A new escalation (in the consumer's transaction); `false` when already handed off.
    pub async fn enqueue(
        conn: &mut AnyConnection,
        e: &CaseEscalated,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let record = serde_json::to_string(e).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let n = sqlx::query(
            "INSERT INTO psc119_handoffs (case_id, record, state, centre_index, sends, next_check_at, created_at, updated_at) \
             VALUES ($1, $2, 'pending', 0, 0, $3, $3, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&e.case_id)
        .bind(record)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n > 0 {
            log(conn, &e.case_id, now, "escalated", None, Some(&e.reason)).await?;
        }
        Ok(n > 0)
    }

    /// The hand-off is about to go to `centre`: from now on that centre may report on the
    /// case (recorded before the send, so an acknowledgement that overtakes the send's
    /// record is not refused).
    pub async fn handing_to(
        &self,
        case_id: &str,
        centre: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO psc119_recipients (case_id, centre, first_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(case_id)
        .bind(centre)
        .bind(now)
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    /// Due hand-offs, leased for a minute (one statement: write first).
    pub async fn claim_due(&self, now: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
        let claim = Claim {
            table: "psc119_handoffs",
            key: "case_id",
            set: "next_check_at = $1",
            due: "state = 'pending' AND next_check_at <= $2",
            order_by: "next_check_at",
            limit,
            returning: "case_id, record, centre_index, sends",
        };
        let rows = sqlx::query(&claim.sql(self.db.backend()))
            .bind(now + LEASE_MICROS)
            .bind(now)
            .fetch_all(self.db.writer())
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let record: String = r.try_get(1)?;
            out.push(Due {
                case_id: r.try_get(0)?,
                record: serde_json::from_str(&record)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                centre_index: r.try_get(2)?,
                sends: r.try_get(3)?,
            });
        }
        Ok(out)
    }

    /// A send (successful or not) to centre `centre_index`, with the events it causes.
    #[allow(clippy::too_many_arguments)]
    pub async fn sent(
        &self,
        case_id: &str,
        centre_index: i64,
        sends: i64,
        next_check_at: i64,
        now: i64,
        centre: &str,
        error: Option<&str>,
        events: &[Event],
        status: Option<serde_json::Value>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let n = sqlx::query(
            "UPDATE psc119_handoffs SET centre_index = $1, sends = $2, next_check_at = $3, last_error = $4, updated_at = $5 \
             WHERE case_id = $6 AND state = 'pending'",
        )
        .bind(centre_index)
        .bind(sends)
        .bind(next_check_at)
        .bind(error)
        .bind(now)
        .bind(case_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let kind = if error.is_some() {
            "send_failed"
        } else {
            "sent"
        };
        log(&mut tx, case_id, now, kind, Some(centre), error).await?;
        // Acknowledged meanwhile (the centre answered before this commit): the hand-off
        // itself still happened and goes into the timeline, but nothing more is sent.
        if n > 0 {
            for e in events {
                outbox::enqueue(&mut tx, e).await?;
            }
        }
        if let Some(details) = status {
            publish(&mut tx, case_id, "handed_off", rfc3339(now), details).await?;
        }
        tx.commit().await
    }

    /// No centre acknowledged: raise the alarm (Ops sees `psc119_failed` on the case).
    pub async fn alarm(&self, case_id: &str, now: i64, tried: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        let n = sqlx::query(
            "UPDATE psc119_handoffs SET state = 'alarm', updated_at = $1 WHERE case_id = $2 AND state = 'pending'",
        )
        .bind(now)
        .bind(case_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n > 0 {
            log(
                &mut tx,
                case_id,
                now,
                "alarm",
                None,
                Some("no centre acknowledged"),
            )
            .await?;
            publish(
                &mut tx,
                case_id,
                "failed",
                rfc3339(now),
                serde_json::json!({ "reason": "no_acknowledgement", "centres_tried": tried, "alarm": true }),
            )
            .await?;
        }
        tx.commit().await
    }

    /// A verified callback: recorded once, published once; only from a centre the case was
    /// handed to.
    pub async fn callback(
        &self,
        cb: &Callback,
        centre: &str,
        now: i64,
    ) -> Result<Received, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        // Write first (SQLite refuses a read-then-write upgrade under a concurrent writer).
        let n = sqlx::query(
            "INSERT INTO psc119_callbacks (callback_id, case_id, centre, status, at, received_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM psc119_recipients WHERE case_id = $2 AND centre = $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&cb.callback_id)
        .bind(&cb.case_id)
        .bind(centre)
        .bind(&cb.status)
        .bind(&cb.at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            let handed =
                sqlx::query("SELECT 1 FROM psc119_recipients WHERE case_id = $1 AND centre = $2")
                    .bind(&cb.case_id)
                    .bind(centre)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            let known = handed
                || sqlx::query("SELECT 1 FROM psc119_handoffs WHERE case_id = $1")
                    .bind(&cb.case_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            tx.commit().await?;
            return Ok(match (handed, known) {
                (true, _) => Received::Duplicate,
                (false, true) => Received::NotHandedToCentre,
                (false, false) => Received::UnknownCase,
            });
        }
        // Any status from a centre means it has the case.
        sqlx::query(
            "UPDATE psc119_handoffs SET state = 'acknowledged', acknowledged_by = COALESCE(acknowledged_by, $1), updated_at = $2 \
             WHERE case_id = $3 AND state IN ('pending', 'alarm')",
        )
        .bind(centre)
        .bind(now)
        .bind(&cb.case_id)
        .execute(&mut *tx)
        .await?;
        log(
            &mut tx,
            &cb.case_id,
            now,
            &format!("callback_{}", cb.status),
            Some(centre),
            None,
        )
        .await?;
        let mut details = serde_json::json!({ "centre": centre });
        if let (Some(d), serde_json::Value::Object(extra)) = (details.as_object_mut(), &cb.details)
        {
            for (k, v) in extra {
                d.entry(k.clone()).or_insert(v.clone());
            }
        }
        publish(&mut tx, &cb.case_id, &cb.status, cb.at.clone(), details).await?;
        tx.commit().await?;
        Ok(Received::New)
    }

    pub async fn get(&self, case_id: &str) -> Result<Option<HandoffView>, sqlx::Error> {
        let Some(r) = sqlx::query(
            "SELECT case_id, state, centre_index, sends, acknowledged_by FROM psc119_handoffs WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let log = sqlx::query(
            "SELECT at, kind, centre, detail FROM psc119_log WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|l| {
            Ok(LogEntry {
                at: rfc3339(l.try_get(0)?),
                kind: l.try_get(1)?,
                centre: l.try_get(2)?,
                detail: l.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(HandoffView {
            case_id: r.try_get(0)?,
            state: r.try_get(1)?,
            centre_index: r.try_get(2)?,
            sends: r.try_get(3)?,
            acknowledged_by: r.try_get(4)?,
            log,
        }))
    }
}
