//! The Emergency Core's store: cases, responders, offers, the timeline. One adapter over the
//! platform's `Db` serves SQLite and PostgreSQL (conformance suite in `tests/`).
//!
//! Every change of a case happens in one transaction that first "touches" the case row (an
//! UPDATE that changes nothing): on PostgreSQL that locks the row, on SQLite it takes the
//! write lock before anything is read, so concurrent changes of one case serialise on both.

use kreki_emergency_contracts::{CaseStatus, EmergencyType, ResponderStatus, Severity};
use kreki_platform::{
    storage::{Db, Tx, idempotency},
    time_util::{now_micros, rfc3339},
};
use serde::Serialize;
use sqlx::{Row, any::AnyRow};

use crate::{
    domain::{CaseState, OfferState, Responder},
    geo::LatLng,
};

/// An offer of a case to a volunteer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OfferRow {
    pub id: String,
    pub case_id: String,
    pub volunteer_id: String,
    pub wave: i64,
    #[schema(value_type = String)]
    #[serde(serialize_with = "ser_offer_state")]
    pub state: OfferState,
    pub distance_m: i64,
    #[serde(skip)]
    pub expires_at_us: i64,
    pub expires_at: String,
}

fn ser_offer_state<S: serde::Serializer>(s: &OfferState, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(offer_state_text(*s))
}

pub fn offer_state_text(s: OfferState) -> &'static str {
    match s {
        OfferState::Open => "open",
        OfferState::Accepted => "accepted",
        OfferState::Declined => "declined",
        OfferState::Expired => "expired",
        OfferState::Withdrawn => "withdrawn",
    }
}

fn offer_state_parse(s: &str) -> OfferState {
    match s {
        "accepted" => OfferState::Accepted,
        "declined" => OfferState::Declined,
        "expired" => OfferState::Expired,
        "withdrawn" => OfferState::Withdrawn,
        _ => OfferState::Open,
    }
}

fn offer_from(r: &AnyRow) -> Result<OfferRow, sqlx::Error> {
    let exp: i64 = r.try_get(6)?;
    Ok(OfferRow {
        id: r.try_get(0)?,
        case_id: r.try_get(1)?,
        volunteer_id: r.try_get(2)?,
        wave: r.try_get(3)?,
        state: offer_state_parse(&r.try_get::<String, _>(4)?),
        distance_m: r.try_get(5)?,
        expires_at_us: exp,
        expires_at: rfc3339(exp),
    })
}

const OFFER_COLUMNS: &str = "id, case_id, volunteer_id, wave, state, distance_m, expires_at";

/// Milestones of a case, set once.
#[derive(Debug, Clone, Copy)]
pub enum Milestone {
    FirstOffer,
    FirstAccept,
    FirstArrival,
}

/// A new case, validated.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub id: String,
    pub severity: Severity,
    pub kind: EmergencyType,
    pub location: LatLng,
    pub accuracy_m: Option<u32>,
    pub description: Option<String>,
    pub caller_account: Option<String>,
    pub caller_phone: Option<String>,
    pub caller_token_hash: String,
    pub handshake_code: String,
    pub accepts_wanted: u32,
    /// `app` or `sms`.
    pub source: &'static str,
}

/// A case as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseRecord {
    pub id: String,
    pub status: CaseStatus,
    pub severity: Severity,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub escalated: bool,
    pub created_at: String,
    #[serde(skip)]
    pub created_at_us: i64,
    #[serde(skip)]
    pub caller_account: Option<String>,
    #[serde(skip)]
    pub caller_phone: Option<String>,
    #[serde(skip)]
    pub caller_token_hash: String,
    #[serde(skip)]
    pub handshake_code: String,
    #[serde(skip)]
    pub accepts_wanted: i64,
    pub responders: Vec<ResponderRecord>,
    pub metrics: CaseMetrics,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResponderRecord {
    pub volunteer_id: String,
    pub status: ResponderStatus,
    pub is_lead: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_minutes: Option<i64>,
    pub accepted_at: String,
}

/// Seconds from the panic to each milestone, once reached.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct CaseMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_first_offer_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_first_accept_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_first_arrival_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub at: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Result of creating a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New,
    /// The same `Idempotency-Key` and body were seen: the stored answer.
    Replay {
        status: u16,
        response: String,
    },
    /// The key was used with another body.
    KeyReuse,
}

fn text<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

const CASE_COLUMNS: &str = "id, status, severity, kind, lat_e6, lng_e6, accuracy_m, description, escalated, created_at, \
     caller_account, caller_phone, caller_token_hash, handshake_code, accepts_wanted, first_offer_at, first_accept_at, first_arrival_at";

/// Append a timeline entry.
pub async fn timeline_add(
    tx: &mut Tx,
    case_id: &str,
    kind: &str,
    actor: Option<&str>,
    data: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO timeline (case_id, at, kind, actor, data) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(case_id)
    .bind(now_micros())
    .bind(kind)
    .bind(actor)
    .bind(data.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

impl Store {
    pub fn new(db: Db) -> Store {
        Store { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Create a case durably (committed before this returns), honouring an idempotency key.
    /// `respond` renders the answer stored with the key.
    pub async fn create(
        &self,
        c: &NewCase,
        idem: Option<(&str, &str)>,
        respond: impl FnOnce() -> (u16, String),
    ) -> Result<Created, sqlx::Error> {
        let mut tx = self.db.begin().await?;
        if let Some((key, hash)) = idem {
            match idempotency::claim(&mut tx, "panic", key, hash).await? {
                idempotency::Claim::New => {}
                idempotency::Claim::Replay { status, response } => {
                    tx.rollback().await?;
                    return Ok(Created::Replay { status, response });
                }
                idempotency::Claim::Mismatch => {
                    tx.rollback().await?;
                    return Ok(Created::KeyReuse);
                }
            }
        }
        Self::insert_case(&mut tx, c).await?;
        if let Some((key, _)) = idem {
            let (status, body) = respond();
            idempotency::complete(&mut tx, "panic", key, status, &body).await?;
        }
        tx.commit().await?;
        Ok(Created::New)
    }

    /// The stored answer of an idempotency key, if the request was completed before.
    pub async fn replay(&self, key: &str, hash: &str) -> Result<Option<Created>, sqlx::Error> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(idempotency::lookup(&mut conn, "panic", key, hash)
            .await?
            .map(|c| match c {
                idempotency::Claim::Replay { status, response } => {
                    Created::Replay { status, response }
                }
                _ => Created::KeyReuse,
            }))
    }

    /// Insert a case and its first timeline entry in the caller's transaction.
    pub async fn insert_case(tx: &mut Tx, c: &NewCase) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let (lat, lng) = c.location.to_e6();
        sqlx::query(
            "INSERT INTO cases (id, status, severity, kind, lat_e6, lng_e6, accuracy_m, description, caller_account, \
             caller_phone, caller_token_hash, handshake_code, escalated, accepts_wanted, source, created_at, updated_at) \
             VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $14)",
        )
        .bind(&c.id)
        .bind(text(&c.severity))
        .bind(c.kind.as_str())
        .bind(i64::from(lat))
        .bind(i64::from(lng))
        .bind(c.accuracy_m.map(i64::from))
        .bind(&c.description)
        .bind(&c.caller_account)
        .bind(&c.caller_phone)
        .bind(&c.caller_token_hash)
        .bind(&c.handshake_code)
        .bind(i64::from(c.accepts_wanted))
        .bind(c.source)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        timeline_add(
            tx,
            &c.id,
            "created",
            c.caller_account.as_deref(),
            &serde_json::json!({ "severity": c.severity, "type": c.kind, "source": c.source }),
        )
        .await?;
        Ok(())
    }

    /// The caller's open case, if they have one (a second tap returns it instead of a new one).
    pub async fn open_case_of(
        &self,
        account: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Option<CaseRecord>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id FROM cases WHERE status IN ('pending', 'assigned', 'responding') \
             AND ((caller_account IS NOT NULL AND caller_account = $1) OR (caller_phone IS NOT NULL AND caller_phone = $2)) \
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(account)
        .bind(phone)
        .fetch_optional(self.db.pool())
        .await?;
        match row {
            Some(r) => self.get(&r.try_get::<String, _>(0)?).await,
            None => Ok(None),
        }
    }

    /// Cases the caller created since `since_micros`.
    pub async fn count_by_caller_since(
        &self,
        account: Option<&str>,
        phone: Option<&str>,
        since_micros: i64,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "SELECT COUNT(*) FROM cases WHERE created_at >= $3 \
             AND ((caller_account IS NOT NULL AND caller_account = $1) OR (caller_phone IS NOT NULL AND caller_phone = $2))",
        )
        .bind(account)
        .bind(phone)
        .bind(since_micros)
        .fetch_one(self.db.pool())
        .await?
        .try_get(0)
    }

    pub async fn get(&self, id: &str) -> Result<Option<CaseRecord>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut case = case_from(&row)?;
        case.responders = self.responders(id).await?;
        Ok(Some(case))
    }

    async fn responders(&self, id: &str) -> Result<Vec<ResponderRecord>, sqlx::Error> {
        sqlx::query("SELECT volunteer_id, status, is_lead, eta_minutes, accepted_at FROM responders WHERE case_id = $1 ORDER BY accepted_at")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(ResponderRecord {
                    volunteer_id: r.try_get(0)?,
                    status: ResponderStatus::parse(&r.try_get::<String, _>(1)?).unwrap_or(ResponderStatus::Accepted),
                    is_lead: r.try_get::<i64, _>(2)? != 0,
                    eta_minutes: r.try_get(3)?,
                    accepted_at: rfc3339(r.try_get(4)?),
                })
            })
            .collect()
    }

    /// How many cases are open (the list of [`Store::active`] stops at 500).
    pub async fn active_count(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM cases WHERE status IN ('pending', 'assigned', 'responding')",
        )
        .fetch_one(self.db.pool())
        .await
    }

    /// Open cases, most severe first, then oldest.
    pub async fn active(&self) -> Result<Vec<CaseRecord>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE status IN ('pending', 'assigned', 'responding') \
             ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END, created_at LIMIT 500"
        ))
        .fetch_all(self.db.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut c = case_from(r)?;
            c.responders = self.responders(&c.id).await?;
            out.push(c);
        }
        Ok(out)
    }

    /// Ops figures: open cases, cases created since `since_us`, and the seconds to the first
    /// accept of those of them that were accepted.
    pub async fn stats_since(&self, since_us: i64) -> Result<(u64, u64, Vec<f64>), sqlx::Error> {
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) FROM cases WHERE status IN ('pending', 'assigned', 'responding')",
        )
        .fetch_one(self.db.pool())
        .await?
        .try_get(0)?;
        let rows =
            sqlx::query("SELECT created_at, first_accept_at FROM cases WHERE created_at >= $1")
                .bind(since_us)
                .fetch_all(self.db.pool())
                .await?;
        let mut accepts = Vec::new();
        for r in &rows {
            let created: i64 = r.try_get(0)?;
            let accepted: Option<i64> = r.try_get(1)?;
            if let Some(a) = accepted {
                accepts.push((a - created).max(0) as f64 / 1e6);
            }
        }
        Ok((u64::try_from(open).unwrap_or(0), rows.len() as u64, accepts))
    }

    pub async fn timeline(&self, id: &str) -> Result<Vec<TimelineEntry>, sqlx::Error> {
        sqlx::query("SELECT at, kind, actor, data FROM timeline WHERE case_id = $1 ORDER BY seq")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(TimelineEntry {
                    at: rfc3339(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    data: serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Lock a case for a change and load its state (`None`: no such case).
    pub async fn lock(&self, tx: &mut Tx, id: &str) -> Result<Option<CaseState>, sqlx::Error> {
        let touched = sqlx::query("UPDATE cases SET updated_at = updated_at WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if touched == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT status, accepts_wanted FROM cases WHERE id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
        let status =
            CaseStatus::parse(&row.try_get::<String, _>(0)?).unwrap_or(CaseStatus::Pending);
        let wanted: i64 = row.try_get(1)?;
        let responders = sqlx::query("SELECT volunteer_id, status, is_lead, eta_minutes FROM responders WHERE case_id = $1 ORDER BY accepted_at")
            .bind(id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| {
                Ok(Responder {
                    volunteer_id: r.try_get(0)?,
                    status: ResponderStatus::parse(&r.try_get::<String, _>(1)?).unwrap_or(ResponderStatus::Accepted),
                    is_lead: r.try_get::<i64, _>(2)? != 0,
                    eta_minutes: r.try_get::<Option<i64>, _>(3)?.and_then(|v| u32::try_from(v).ok()),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(CaseState {
            status,
            responders,
            accepts_wanted: usize::try_from(wanted).unwrap_or(1),
        }))
    }

    /// Write a case's new status (closing it when it is final).
    pub async fn set_status(
        tx: &mut Tx,
        id: &str,
        status: CaseStatus,
        reason: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let closed = (!status.is_open()).then_some(now);
        sqlx::query("UPDATE cases SET status = $1, updated_at = $2, closed_at = COALESCE($3, closed_at), close_reason = COALESCE($4, close_reason) WHERE id = $5")
            .bind(status.as_str())
            .bind(now)
            .bind(closed)
            .bind(reason)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if closed.is_some() {
            Self::coarsen_location(tx, "id = $1", id).await?;
        }
        Ok(())
    }

    /// The closed cases of a signed-in caller who withdrew `emergency_location` keep their
    /// location only to 0.01° (about 1 km): no precise location history beyond the case.
    pub async fn coarsen_closed_locations(tx: &mut Tx, account: &str) -> Result<(), sqlx::Error> {
        Self::coarsen_location(tx, "caller_account = $1 AND closed_at IS NOT NULL", account).await
    }

    async fn coarsen_location(tx: &mut Tx, which: &str, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE cases SET lat_e6 = (lat_e6 / 10000) * 10000, lng_e6 = (lng_e6 / 10000) * 10000, accuracy_m = NULL \
             WHERE {which} AND caller_account IS NOT NULL AND EXISTS (SELECT 1 FROM consents \
             WHERE consents.account_id = cases.caller_account AND consents.purpose = 'emergency_location' AND consents.granted = 0)"
        ))
        .bind(key)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn offers(&self, case_id: &str) -> Result<Vec<OfferRow>, sqlx::Error> {
        let mut conn = self.db.pool().acquire().await?;
        Self::offers_in(&mut conn, case_id).await
    }

    /// The offers of a case (inside the case's transaction when given one).
    pub async fn offers_in(
        conn: &mut sqlx::AnyConnection,
        case_id: &str,
    ) -> Result<Vec<OfferRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE case_id = $1 ORDER BY sent_at"
        ))
        .bind(case_id)
        .fetch_all(conn)
        .await?
        .iter()
        .map(offer_from)
        .collect()
    }

    /// Open offers made to a volunteer, newest first.
    pub async fn offers_of(&self, volunteer: &str) -> Result<Vec<OfferRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE volunteer_id = $1 AND state = 'open' ORDER BY sent_at DESC LIMIT 20"
        ))
        .bind(volunteer)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(offer_from)
        .collect()
    }

    pub async fn offer_state(
        tx: &mut Tx,
        case_id: &str,
        volunteer: &str,
    ) -> Result<Option<OfferState>, sqlx::Error> {
        sqlx::query("SELECT state FROM offers WHERE case_id = $1 AND volunteer_id = $2")
            .bind(case_id)
            .bind(volunteer)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get::<String, _>(0).map(|s| offer_state_parse(&s)))
            .transpose()
    }

    pub async fn set_offer_state(
        tx: &mut Tx,
        case_id: &str,
        volunteer: &str,
        state: OfferState,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE offers SET state = $1, answered_at = $2 WHERE case_id = $3 AND volunteer_id = $4")
            .bind(offer_state_text(state))
            .bind(now_micros())
            .bind(case_id)
            .bind(volunteer)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Offer again to a volunteer whose earlier offer of this case expired, was declined or
    /// withdrawn (Ops re-offer): the row becomes a new open offer.
    pub async fn reopen_offer(tx: &mut Tx, o: &OfferRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE offers SET id = $1, wave = $2, state = 'open', distance_m = $3, sent_at = $4, expires_at = $5, answered_at = NULL \
             WHERE case_id = $6 AND volunteer_id = $7",
        )
        .bind(&o.id)
        .bind(o.wave)
        .bind(o.distance_m)
        .bind(now_micros())
        .bind(o.expires_at_us)
        .bind(&o.case_id)
        .bind(&o.volunteer_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn insert_offer(tx: &mut Tx, o: &OfferRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO offers (id, case_id, volunteer_id, wave, state, distance_m, sent_at, expires_at)              VALUES ($1, $2, $3, $4, 'open', $5, $6, $7)",
        )
        .bind(&o.id)
        .bind(&o.case_id)
        .bind(&o.volunteer_id)
        .bind(o.wave)
        .bind(o.distance_m)
        .bind(now_micros())
        .bind(o.expires_at_us)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Mark open offers of a case whose time is over (`Expired`) or all open ones
    /// (`Withdrawn`), with timeline entries; returns the volunteers concerned.
    pub async fn close_open_offers(
        tx: &mut Tx,
        case_id: &str,
        to: OfferState,
        only_before_us: Option<i64>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let rows = sqlx::query("SELECT volunteer_id FROM offers WHERE case_id = $1 AND state = 'open' AND expires_at <= $2")
            .bind(case_id)
            .bind(only_before_us.unwrap_or(i64::MAX))
            .fetch_all(&mut **tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let v: String = r.try_get(0)?;
            Self::set_offer_state(tx, case_id, &v, to).await?;
            let kind = if to == OfferState::Expired {
                "offer_timed_out"
            } else {
                "offer_withdrawn"
            };
            timeline_add(tx, case_id, kind, Some(&v), &serde_json::json!({})).await?;
            out.push(v);
        }
        Ok(out)
    }

    pub async fn add_responder(
        tx: &mut Tx,
        case_id: &str,
        r: &Responder,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        sqlx::query(
            "INSERT INTO responders (case_id, volunteer_id, status, is_lead, eta_minutes, accepted_at, updated_at)              VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(case_id)
        .bind(&r.volunteer_id)
        .bind(r.status.as_str())
        .bind(i64::from(r.is_lead))
        .bind(r.eta_minutes.map(i64::from))
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn set_responder_status(
        tx: &mut Tx,
        case_id: &str,
        volunteer: &str,
        status: ResponderStatus,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE responders SET status = $1, updated_at = $2 WHERE case_id = $3 AND volunteer_id = $4")
            .bind(status.as_str())
            .bind(now_micros())
            .bind(case_id)
            .bind(volunteer)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Record a milestone's time if it is the first.
    /// Returns whether this was the first time.
    pub async fn milestone(tx: &mut Tx, case_id: &str, m: Milestone) -> Result<bool, sqlx::Error> {
        let col = match m {
            Milestone::FirstOffer => "first_offer_at",
            Milestone::FirstAccept => "first_accept_at",
            Milestone::FirstArrival => "first_arrival_at",
        };
        Ok(sqlx::query(&format!(
            "UPDATE cases SET {col} = $1 WHERE id = $2 AND {col} IS NULL"
        ))
        .bind(now_micros())
        .bind(case_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1)
    }

    /// Set the escalation flag; `false` when it was already set.
    pub async fn mark_escalated(tx: &mut Tx, case_id: &str) -> Result<bool, sqlx::Error> {
        Ok(
            sqlx::query("UPDATE cases SET escalated = 1 WHERE id = $1 AND escalated = 0")
                .bind(case_id)
                .execute(&mut **tx)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Volunteers responding to an open case now (accepted, not resolved): dispatch offers
    /// them no other case.
    pub async fn busy_volunteers(tx: &mut Tx) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query(
            "SELECT DISTINCT r.volunteer_id FROM responders r JOIN cases c ON c.id = r.case_id \
             WHERE c.status IN ('pending', 'assigned', 'responding') AND r.status <> 'resolved'",
        )
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
    }

    /// Ids of open cases (dispatch resumes them at start).
    pub async fn open_case_ids(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query("SELECT id FROM cases WHERE status IN ('pending', 'assigned', 'responding') ORDER BY created_at")
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }
}

fn case_from(row: &AnyRow) -> Result<CaseRecord, sqlx::Error> {
    let created: i64 = row.try_get(9)?;
    let secs = |v: Option<i64>| v.map(|t| (t - created) as f64 / 1e6);
    Ok(CaseRecord {
        id: row.try_get(0)?,
        status: CaseStatus::parse(&row.try_get::<String, _>(1)?).unwrap_or(CaseStatus::Pending),
        severity: parse(&row.try_get::<String, _>(2)?)?,
        kind: parse(&row.try_get::<String, _>(3)?)?,
        latitude: row.try_get::<i64, _>(4)? as f64 / 1e6,
        longitude: row.try_get::<i64, _>(5)? as f64 / 1e6,
        accuracy_m: row.try_get(6)?,
        description: row.try_get(7)?,
        escalated: row.try_get::<i64, _>(8)? != 0,
        created_at: rfc3339(created),
        created_at_us: created,
        caller_account: row.try_get(10)?,
        caller_phone: row.try_get(11)?,
        caller_token_hash: row.try_get(12)?,
        handshake_code: row.try_get(13)?,
        accepts_wanted: row.try_get(14)?,
        responders: Vec::new(),
        metrics: CaseMetrics {
            time_to_first_offer_s: secs(row.try_get(15)?),
            time_to_first_accept_s: secs(row.try_get(16)?),
            time_to_first_arrival_s: secs(row.try_get(17)?),
        },
    })
}
