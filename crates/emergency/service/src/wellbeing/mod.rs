//! A responder's own record: the cases they responded to (`GET /history/mine`) and the
//! well-being check-in after a hard case (`GET /wellbeing/mine`, `PUT /{id}/wellbeing`).
//!
//! A case is hard when it was critical, CPR was given, or the patient died. Its completion
//! schedules one check-in per responder, due `[emergency] wellbeing_checkin_after_s` later;
//! the volunteer app asks then and the answer is kept with the case (deleted with it).

pub mod http;

use kreki_platform::{
    storage::{Db, Tx},
    time_util::rfc3339,
};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

/// Answers of a check-in.
pub const ANSWERS: &[&str] = &["good", "okay", "struggling"];

/// Whether a completed case asks its responders how they are.
pub fn is_hard(
    severity: kreki_emergency_contracts::Severity,
    outcome: &str,
    clinical: &kreki_emergency_contracts::ClinicalRecord,
) -> bool {
    severity == kreki_emergency_contracts::Severity::Critical
        || outcome == "deceased"
        || clinical.interventions.cpr
}

/// Schedule the check-ins of a completed case (inside the completion's transaction).
pub async fn schedule(
    tx: &mut Tx,
    case_id: &str,
    responders: &[String],
    due_at: i64,
) -> Result<(), sqlx::Error> {
    for v in responders {
        sqlx::query(
            "INSERT INTO wellbeing_checkins (case_id, volunteer_id, due_at) VALUES ($1, $2, $3) \
             ON CONFLICT (case_id, volunteer_id) DO NOTHING",
        )
        .bind(case_id)
        .bind(v)
        .bind(due_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckIn {
    pub case_id: String,
    /// RFC 3339.
    pub due_at: String,
    #[serde(rename = "type")]
    pub kind: kreki_emergency_contracts::EmergencyType,
    /// `good`, `okay` or `struggling` once answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
}

/// Due, unanswered check-ins of a volunteer, oldest first.
pub async fn due(db: &Db, volunteer: &str, now: i64) -> Result<Vec<CheckIn>, sqlx::Error> {
    sqlx::query(
        "SELECT w.case_id, w.due_at, c.kind FROM wellbeing_checkins w JOIN cases c ON c.id = w.case_id \
         WHERE w.volunteer_id = $1 AND w.answered_at IS NULL AND w.due_at <= $2 ORDER BY w.due_at LIMIT 20",
    )
    .bind(volunteer)
    .bind(now)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        let kind: String = r.try_get(2)?;
        Ok(CheckIn {
            case_id: r.try_get(0)?,
            due_at: rfc3339(r.try_get(1)?),
            kind: parse_kind(&kind),
            answer: None,
            answered_at: None,
        })
    })
    .collect()
}

fn parse_kind(s: &str) -> kreki_emergency_contracts::EmergencyType {
    kreki_emergency_contracts::EmergencyType::ALL
        .iter()
        .copied()
        .find(|k| k.as_str() == s)
        .unwrap_or(kreki_emergency_contracts::EmergencyType::Other)
}

/// What answering did.
#[derive(Debug, PartialEq, Eq)]
pub enum Answered {
    Done,
    NotFound,
    Already,
}

/// Record an answer (once).
pub async fn answer(
    db: &Db,
    case_id: &str,
    volunteer: &str,
    answer: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Answered, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE wellbeing_checkins SET answer = $1, note = $2, answered_at = $3 \
         WHERE case_id = $4 AND volunteer_id = $5 AND answered_at IS NULL",
    )
    .bind(answer)
    .bind(note)
    .bind(now)
    .bind(case_id)
    .bind(volunteer)
    .execute(db.writer())
    .await?
    .rows_affected();
    if done == 1 {
        return Ok(Answered::Done);
    }
    let exists =
        sqlx::query("SELECT 1 FROM wellbeing_checkins WHERE case_id = $1 AND volunteer_id = $2")
            .bind(case_id)
            .bind(volunteer)
            .fetch_optional(db.pool())
            .await?;
    Ok(if exists.is_some() {
        Answered::Already
    } else {
        Answered::NotFound
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub case_id: String,
    #[serde(rename = "type")]
    pub kind: kreki_emergency_contracts::EmergencyType,
    pub severity: kreki_emergency_contracts::Severity,
    pub case_status: kreki_emergency_contracts::CaseStatus,
    /// The outcome given at completion (or the cancellation reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// This volunteer's last status and role.
    pub my_status: kreki_emergency_contracts::ResponderStatus,
    pub is_lead: bool,
    pub accepted_at: String,
}

/// The cases a volunteer responded to, newest first.
pub async fn history(db: &Db, volunteer: &str) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    use kreki_emergency_contracts::{CaseStatus, ResponderStatus, Severity};
    sqlx::query(
        "SELECT c.id, c.kind, c.severity, c.status, c.close_reason, r.status, r.is_lead, r.accepted_at \
         FROM responders r JOIN cases c ON c.id = r.case_id WHERE r.volunteer_id = $1 \
         ORDER BY r.accepted_at DESC LIMIT 100",
    )
    .bind(volunteer)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        let (kind, sev, status, mine): (String, String, String, String) =
            (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(5)?);
        let lead: i64 = r.try_get(6)?;
        Ok(HistoryEntry {
            case_id: r.try_get(0)?,
            kind: parse_kind(&kind),
            severity: match sev.as_str() {
                "critical" => Severity::Critical,
                "urgent" => Severity::Urgent,
                _ => Severity::Normal,
            },
            case_status: CaseStatus::parse(&status).unwrap_or(CaseStatus::Pending),
            outcome: r.try_get(4)?,
            my_status: ResponderStatus::parse(&mine).unwrap_or(ResponderStatus::Accepted),
            is_lead: lead != 0,
            accepted_at: rfc3339(r.try_get(7)?),
        })
    })
    .collect()
}
