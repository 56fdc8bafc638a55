//! The volunteers store: profiles, verification history, documents, mirrored certificates,
//! case credits and badges. One adapter over the platform's [`Db`] serves SQLite and
//! PostgreSQL. Every change that alters what the Emergency Core must know goes through
//! [`refresh_eligibility`] in the same transaction, which publishes
//! `volunteers.eligibility.changed` through the outbox when (and only when) it changed.

use kreki_platform::{
    bus::{Event, outbox},
    storage::{Db, Tx},
    time_util::{now_micros, rfc3339},
};
use kreki_volunteers_contracts::{CertLevel, ELIGIBILITY_CHANGED, EligibilityChanged};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::model::{
    Background, Badge, CaseCounts, Certification, DocumentContent, DocumentMeta, EligibilityView,
    EmergencyContact, HistoryEntry, LeaderRow, MirroredCertificate, Profile, ProfileView, Schedule,
    Stats, VerificationState, VolunteerSummary,
};

mod documents;
pub use documents::*;
mod certification;
pub use certification::*;
mod credits;
pub use credits::*;
mod search;
pub use search::*;

pub const SOURCE: &str = "volunteers";

const PROFILE_COLS: &str = "volunteer_id, display_name, phone, province_code, city_code, languages, skills, \
    background, registration_number, emergency_contact, location_consent, location_consent_at, state, \
    verified_background, verified_registration, verified_at, schedule, cert_level, cert_valid_until, cert_id, \
    eligibility, eligibility_version, created_at, updated_at";

fn decode_err(e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

fn json_text<T: serde::Serialize>(v: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(v).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

pub fn cert_text(l: CertLevel) -> &'static str {
    match l {
        CertLevel::None => "none",
        CertLevel::Basic => "basic",
        CertLevel::Plus => "plus",
        CertLevel::Instructor => "instructor",
    }
}

pub fn cert_parse(s: &str) -> Option<CertLevel> {
    [
        CertLevel::None,
        CertLevel::Basic,
        CertLevel::Plus,
        CertLevel::Instructor,
    ]
    .into_iter()
    .find(|l| cert_text(*l) == s)
}

/// A profile row as stored.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    pub volunteer_id: String,
    pub profile: Profile,
    pub location_consent_at: Option<i64>,
    pub state: VerificationState,
    pub verified_background: Option<String>,
    pub verified_registration: Option<String>,
    pub schedule: serde_json::Value,
    pub cert_level: CertLevel,
    pub cert_valid_until: Option<i64>,
    pub cert_id: Option<String>,
    pub eligibility: Option<String>,
    pub eligibility_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProfileRow {
    /// Health professional for dispatch: verified, with a health-profession background and a
    /// registration number, both as the reviewer approved them.
    pub fn health_professional(&self) -> bool {
        self.state == VerificationState::Verified
            && self.profile.background.is_health_profession()
            && self.profile.registration_number.is_some()
            && self.verified_background.as_deref() == Some(self.profile.background.as_str())
            && self.verified_registration == self.profile.registration_number
    }

    /// The eligibility event (without its version) this row implies.
    pub fn eligibility_event(&self, version: i64) -> EligibilityChanged {
        EligibilityChanged {
            volunteer_id: self.volunteer_id.clone(),
            verified: self.state == VerificationState::Verified,
            cert_level: self.cert_level,
            cert_valid_until: self.cert_valid_until.map(rfc3339),
            health_professional: self.health_professional(),
            skills: self.profile.skills.clone(),
            schedule: self.schedule.clone(),
            version,
        }
    }

    pub fn view(&self) -> ProfileView {
        ProfileView {
            volunteer_id: self.volunteer_id.clone(),
            display_name: self.profile.display_name.clone(),
            phone: self.profile.phone.clone(),
            province_code: self.profile.province_code.clone(),
            city_code: self.profile.city_code.clone(),
            languages: self.profile.languages.clone(),
            skills: self.profile.skills.clone(),
            background: self.profile.background,
            registration_number: self.profile.registration_number.clone(),
            emergency_contact: self.profile.emergency_contact.clone(),
            location_consent: self.profile.location_consent,
            location_consent_at: self.location_consent_at.map(rfc3339),
            verification_state: self.state,
            schedule: self.schedule.clone(),
            certification: Certification {
                level: self.cert_level,
                valid_until: self.cert_valid_until.map(rfc3339),
                certificate_id: self.cert_id.clone(),
            },
            eligibility: EligibilityView {
                verified: self.state == VerificationState::Verified,
                health_professional: self.health_professional(),
                version: self.eligibility_version,
            },
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

fn profile_row(r: &AnyRow) -> Result<ProfileRow, sqlx::Error> {
    let languages: String = r.try_get(5)?;
    let skills: String = r.try_get(6)?;
    let background: String = r.try_get(7)?;
    let contact: String = r.try_get(9)?;
    let state: String = r.try_get(12)?;
    let schedule: String = r.try_get(16)?;
    let cert: String = r.try_get(17)?;
    Ok(ProfileRow {
        volunteer_id: r.try_get(0)?,
        profile: Profile {
            display_name: r.try_get(1)?,
            phone: r.try_get(2)?,
            province_code: r.try_get(3)?,
            city_code: r.try_get(4)?,
            languages: serde_json::from_str(&languages).map_err(decode_err)?,
            skills: serde_json::from_str(&skills).map_err(decode_err)?,
            background: Background::parse(&background)
                .ok_or_else(|| sqlx::Error::Protocol(format!("unknown background {background}")))?,
            registration_number: r.try_get(8)?,
            emergency_contact: serde_json::from_str::<EmergencyContact>(&contact)
                .map_err(decode_err)?,
            location_consent: r.try_get::<i64, _>(10)? != 0,
        },
        location_consent_at: r.try_get(11)?,
        state: VerificationState::parse(&state)
            .ok_or_else(|| sqlx::Error::Protocol(format!("unknown state {state}")))?,
        verified_background: r.try_get(13)?,
        verified_registration: r.try_get(14)?,
        schedule: serde_json::from_str(&schedule).map_err(decode_err)?,
        cert_level: cert_parse(&cert).unwrap_or(CertLevel::None),
        cert_valid_until: r.try_get(18)?,
        cert_id: r.try_get(19)?,
        eligibility: r.try_get(20)?,
        eligibility_version: r.try_get(21)?,
        created_at: r.try_get(22)?,
        updated_at: r.try_get(23)?,
    })
}

/// Start a write transaction on a volunteer's row: a write comes first, so SQLite takes the
/// write lock before anything is read (no busy upgrade from reader to writer) and PostgreSQL
/// locks the row. Returns whether the profile exists.
pub async fn lock(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE profiles SET updated_at = updated_at WHERE volunteer_id = $1")
            .bind(id)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Read a profile (inside a transaction or on the pool).
pub async fn profile(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<ProfileRow>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {PROFILE_COLS} FROM profiles WHERE volunteer_id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(profile_row)
    .transpose()
}

/// Create or replace the volunteer-editable part of a profile. Returns `true` when created.
pub async fn save_profile(
    conn: &mut AnyConnection,
    id: &str,
    p: &Profile,
) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    lock(&mut *conn, id).await?;
    let existing = profile(&mut *conn, id).await?;
    // Consent time: kept while consent stays given, set when given anew, cleared when withdrawn.
    let consent_at = match (&existing, p.location_consent) {
        (_, false) => None,
        (Some(e), true) if e.profile.location_consent => e.location_consent_at,
        (_, true) => Some(now),
    };
    let languages = json_text(&p.languages)?;
    let skills = json_text(&p.skills)?;
    let contact = json_text(&p.emergency_contact)?;
    match existing {
        None => {
            sqlx::query(
                "INSERT INTO profiles (volunteer_id, display_name, phone, province_code, city_code, languages, skills, \
                 background, registration_number, emergency_contact, location_consent, location_consent_at, state, \
                 schedule, cert_level, eligibility_version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'draft', '{}', 'none', 0, $13, $13)",
            )
            .bind(id)
            .bind(&p.display_name)
            .bind(&p.phone)
            .bind(&p.province_code)
            .bind(&p.city_code)
            .bind(languages)
            .bind(skills)
            .bind(p.background.as_str())
            .bind(&p.registration_number)
            .bind(contact)
            .bind(i64::from(p.location_consent))
            .bind(consent_at)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            // Certificates may have arrived before the profile.
            recompute_certification(&mut *conn, id).await?;
            Ok(true)
        }
        Some(_) => {
            sqlx::query(
                "UPDATE profiles SET display_name = $2, phone = $3, province_code = $4, city_code = $5, languages = $6, \
                 skills = $7, background = $8, registration_number = $9, emergency_contact = $10, location_consent = $11, \
                 location_consent_at = $12, updated_at = $13 WHERE volunteer_id = $1",
            )
            .bind(id)
            .bind(&p.display_name)
            .bind(&p.phone)
            .bind(&p.province_code)
            .bind(&p.city_code)
            .bind(languages)
            .bind(skills)
            .bind(p.background.as_str())
            .bind(&p.registration_number)
            .bind(contact)
            .bind(i64::from(p.location_consent))
            .bind(consent_at)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(false)
        }
    }
}

pub async fn save_schedule(
    conn: &mut AnyConnection,
    id: &str,
    s: &Schedule,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE profiles SET schedule = $2, updated_at = $3 WHERE volunteer_id = $1")
        .bind(id)
        .bind(json_text(s)?)
        .bind(now_micros())
        .execute(conn)
        .await?;
    Ok(())
}

/// Move the verification from the row's state to `to` and record the step. A verification
/// freezes the professional background and registration number the reviewer saw. Returns
/// `false` (nothing written) when the state changed meanwhile (a concurrent decision).
pub async fn set_state(
    conn: &mut AnyConnection,
    row: &ProfileRow,
    action: &str,
    to: VerificationState,
    actor: &str,
    reason: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    let changed = if to == VerificationState::Verified {
        sqlx::query(
            "UPDATE profiles SET state = $2, verified_background = $3, verified_registration = $4, verified_at = $5, \
             updated_at = $5 WHERE volunteer_id = $1 AND state = $6",
        )
        .bind(&row.volunteer_id)
        .bind(to.as_str())
        .bind(row.profile.background.as_str())
        .bind(&row.profile.registration_number)
        .bind(now)
        .bind(row.state.as_str())
        .execute(&mut *conn)
        .await?
    } else {
        sqlx::query(
            "UPDATE profiles SET state = $2, updated_at = $3 WHERE volunteer_id = $1 AND state = $4",
        )
        .bind(&row.volunteer_id)
        .bind(to.as_str())
        .bind(now)
        .bind(row.state.as_str())
        .execute(&mut *conn)
        .await?
    }
    .rows_affected();
    if changed != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO verification_history (volunteer_id, action, from_state, to_state, actor, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.volunteer_id)
    .bind(action)
    .bind(row.state.as_str())
    .bind(to.as_str())
    .bind(actor)
    .bind(reason)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(true)
}

pub async fn history(conn: &mut AnyConnection, id: &str) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    sqlx::query(
        "SELECT action, from_state, to_state, actor, reason, at FROM verification_history \
         WHERE volunteer_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        let from: String = r.try_get(1)?;
        let to: String = r.try_get(2)?;
        Ok(HistoryEntry {
            action: r.try_get(0)?,
            from_state: VerificationState::parse(&from).unwrap_or(VerificationState::Draft),
            to_state: VerificationState::parse(&to).unwrap_or(VerificationState::Draft),
            actor: r.try_get(3)?,
            reason: r.try_get(4)?,
            at: rfc3339(r.try_get(5)?),
        })
    })
    .collect()
}

/// Erase everything held about a volunteer (`identity.account.erased`).
pub async fn erase(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    for table in [
        "documents",
        "verification_history",
        "certificates",
        "case_credits",
        "badges",
        "profiles",
    ] {
        sqlx::query(&format!("DELETE FROM {table} WHERE volunteer_id = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    // A lead's area goes with the account; the access log keeps only pseudonymous ids (kept
    // for its audit retention).
    sqlx::query("DELETE FROM lead_areas WHERE lead_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
