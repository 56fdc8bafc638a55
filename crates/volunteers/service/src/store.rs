//! The volunteers store: profiles, verification history, documents, mirrored certificates,
//! case credits and badges. One adapter over the platform's [`Db`] serves SQLite and
//! PostgreSQL. Every change that alters what the Emergency Core must know goes through
//! [`refresh_eligibility`] in the same transaction, which publishes
//! `volunteers.eligibility.changed` through the outbox when (and only when) it changed.

use kreki_platform::{
    bus::{Event, outbox},
    storage::Db,
    time_util::{now_micros, rfc3339},
};
use kreki_volunteers_contracts::{CertLevel, ELIGIBILITY_CHANGED, EligibilityChanged};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::model::{
    Background, Badge, CaseCounts, Certification, DocumentContent, DocumentMeta, EligibilityView,
    EmergencyContact, HistoryEntry, LeaderRow, MirroredCertificate, Profile, ProfileView, Schedule,
    Stats, VerificationState, VolunteerSummary,
};

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

/// A new document (metadata and validated content).
pub struct NewDocument<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub content_base64: &'a str,
}

pub async fn add_document(
    conn: &mut AnyConnection,
    volunteer: &str,
    d: &NewDocument<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO documents (id, volunteer_id, kind, filename, content_type, size_bytes, sha256, content, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(d.id)
    .bind(volunteer)
    .bind(d.kind)
    .bind(d.filename)
    .bind(d.content_type)
    .bind(d.size_bytes)
    .bind(d.sha256)
    .bind(d.content_base64)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

fn document_meta(r: &AnyRow) -> Result<DocumentMeta, sqlx::Error> {
    Ok(DocumentMeta {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        filename: r.try_get(2)?,
        content_type: r.try_get(3)?,
        size_bytes: r.try_get(4)?,
        sha256: r.try_get(5)?,
        created_at: rfc3339(r.try_get(6)?),
    })
}

pub async fn documents(
    conn: &mut AnyConnection,
    volunteer: &str,
) -> Result<Vec<DocumentMeta>, sqlx::Error> {
    sqlx::query(
        "SELECT id, kind, filename, content_type, size_bytes, sha256, created_at FROM documents \
         WHERE volunteer_id = $1 ORDER BY created_at, id",
    )
    .bind(volunteer)
    .fetch_all(conn)
    .await?
    .iter()
    .map(document_meta)
    .collect()
}

pub async fn document(
    conn: &mut AnyConnection,
    volunteer: &str,
    id: &str,
) -> Result<Option<DocumentContent>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT id, kind, filename, content_type, size_bytes, sha256, created_at, content FROM documents \
         WHERE volunteer_id = $1 AND id = $2",
    )
    .bind(volunteer)
    .bind(id)
    .fetch_optional(conn)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(DocumentContent {
        meta: document_meta(&r)?,
        content_base64: r.try_get(7)?,
    }))
}

pub async fn count_documents(
    conn: &mut AnyConnection,
    volunteer: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) FROM documents WHERE volunteer_id = $1")
        .bind(volunteer)
        .fetch_one(conn)
        .await?
        .try_get(0)
}

/// Publish `volunteers.eligibility.changed` (version + 1) if what the row implies differs
/// from what was last published. Returns whether an event was written.
pub async fn refresh_eligibility(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let Some(row) = profile(&mut *conn, id).await? else {
        return Ok(false);
    };
    let unversioned = json_text(&row.eligibility_event(0))?;
    if row.eligibility.as_deref() == Some(unversioned.as_str()) {
        return Ok(false);
    }
    let version = row.eligibility_version + 1;
    sqlx::query(
        "UPDATE profiles SET eligibility = $2, eligibility_version = $3 WHERE volunteer_id = $1",
    )
    .bind(id)
    .bind(&unversioned)
    .bind(version)
    .execute(&mut *conn)
    .await?;
    let event = Event::new(SOURCE, ELIGIBILITY_CHANGED, &row.eligibility_event(version))
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    outbox::enqueue(conn, &event).await?;
    Ok(true)
}

/// Record a certificate event's effect (`issued` → valid, `revoked` → revoked).
pub async fn save_certificate(
    conn: &mut AnyConnection,
    certificate_id: &str,
    holder: &str,
    level: CertLevel,
    valid_until: i64,
    status: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    // A revocation is final: a late or replayed `issued` never revives a revoked certificate.
    sqlx::query(
        "INSERT INTO certificates (certificate_id, volunteer_id, level, valid_until, status, reason, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (certificate_id) DO UPDATE SET \
         level = excluded.level, valid_until = excluded.valid_until, status = excluded.status, \
         reason = excluded.reason, updated_at = excluded.updated_at WHERE certificates.status <> 'revoked'",
    )
    .bind(certificate_id)
    .bind(holder)
    .bind(cert_text(level))
    .bind(valid_until)
    .bind(status)
    .bind(reason)
    .bind(now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Record an `expiring` notice (changes nothing else).
pub async fn note_expiring(
    conn: &mut AnyConnection,
    certificate_id: &str,
    holder: &str,
    level: CertLevel,
    valid_until: i64,
) -> Result<(), sqlx::Error> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO certificates (certificate_id, volunteer_id, level, valid_until, status, expiring_noted_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'valid', $5, $5) ON CONFLICT (certificate_id) DO UPDATE SET \
         expiring_noted_at = excluded.expiring_noted_at",
    )
    .bind(certificate_id)
    .bind(holder)
    .bind(cert_text(level))
    .bind(valid_until)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Put the best valid certificate (highest level, then latest expiry) on the profile.
pub async fn recompute_certification(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(), sqlx::Error> {
    let now = now_micros();
    let rows = sqlx::query(
        "SELECT certificate_id, level, valid_until FROM certificates \
         WHERE volunteer_id = $1 AND status = 'valid' AND valid_until > $2",
    )
    .bind(id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut best: Option<(CertLevel, i64, String)> = None;
    for r in &rows {
        let level: String = r.try_get(1)?;
        let Some(level) = cert_parse(&level) else {
            continue;
        };
        let until: i64 = r.try_get(2)?;
        let cert: String = r.try_get(0)?;
        if best
            .as_ref()
            .is_none_or(|(l, u, _)| (level, until) > (*l, *u))
        {
            best = Some((level, until, cert));
        }
    }
    let (level, until, cert) = match best {
        Some((l, u, c)) => (l, Some(u), Some(c)),
        None => (CertLevel::None, None, None),
    };
    sqlx::query(
        "UPDATE profiles SET cert_level = $2, cert_valid_until = $3, cert_id = $4 WHERE volunteer_id = $1",
    )
    .bind(id)
    .bind(cert_text(level))
    .bind(until)
    .bind(cert)
    .execute(conn)
    .await?;
    Ok(())
}

/// The certificates mirrored for a volunteer, newest expiry first.
pub async fn certificates(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Vec<MirroredCertificate>, sqlx::Error> {
    let now = now_micros();
    sqlx::query(
        "SELECT certificate_id, level, valid_until, status, reason, expiring_noted_at FROM certificates \
         WHERE volunteer_id = $1 ORDER BY valid_until DESC, certificate_id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        let level: String = r.try_get(1)?;
        let until: i64 = r.try_get(2)?;
        let status: String = r.try_get(3)?;
        Ok(MirroredCertificate {
            certificate_id: r.try_get(0)?,
            level: cert_parse(&level).unwrap_or(CertLevel::None),
            valid_until: rfc3339(until),
            status: if status == "valid" && until <= now {
                "expired".into()
            } else {
                status
            },
            revocation_reason: r.try_get(4)?,
            expiring_notice_at: r.try_get::<Option<i64>, _>(5)?.map(rfc3339),
        })
    })
    .collect()
}

/// Points per kind of case credit.
pub fn points_for(kind: &str) -> i64 {
    match kind {
        "accepted" => 10,
        "arrived" => 20,
        "resolved" => 30,
        "completed" => 20,
        "lead" => 10,
        _ => 0,
    }
}

/// Credit a volunteer once per case and kind, and award the badges it earns.
pub async fn credit(
    conn: &mut AnyConnection,
    volunteer: &str,
    case_id: &str,
    kind: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_micros();
    let added = sqlx::query(
        "INSERT INTO case_credits (volunteer_id, case_id, kind, points, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (volunteer_id, case_id, kind) DO NOTHING",
    )
    .bind(volunteer)
    .bind(case_id)
    .bind(kind)
    .bind(points_for(kind))
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !added {
        return Ok(false);
    }
    let badge = match kind {
        "accepted" => Some("first_response"),
        "arrived" => Some("first_arrival"),
        "resolved" => Some("first_resolved"),
        "lead" => Some("team_lead"),
        "completed" => {
            let n: i64 = sqlx::query(
                "SELECT COUNT(*) FROM case_credits WHERE volunteer_id = $1 AND kind = 'completed'",
            )
            .bind(volunteer)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
            (n >= 10).then_some("ten_completed")
        }
        _ => None,
    };
    if let Some(code) = badge {
        sqlx::query(
            "INSERT INTO badges (volunteer_id, code, awarded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (volunteer_id, code) DO NOTHING",
        )
        .bind(volunteer)
        .bind(code)
        .bind(now)
        .execute(conn)
        .await?;
    }
    Ok(true)
}

pub async fn stats(db: &Db, volunteer: &str) -> Result<Stats, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, COUNT(*), CAST(SUM(points) AS BIGINT) FROM case_credits WHERE volunteer_id = $1 GROUP BY kind",
    )
    .bind(volunteer)
    .fetch_all(db.pool())
    .await?;
    let mut cases = CaseCounts::default();
    let mut points = 0i64;
    for r in &rows {
        let kind: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        let p: i64 = r.try_get(2)?;
        points += p;
        match kind.as_str() {
            "accepted" => cases.accepted = n,
            "arrived" => cases.arrived = n,
            "resolved" => cases.resolved = n,
            "completed" => cases.completed = n,
            _ => {}
        }
    }
    let badges = sqlx::query(
        "SELECT code, awarded_at FROM badges WHERE volunteer_id = $1 ORDER BY awarded_at, code",
    )
    .bind(volunteer)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(Badge {
            code: r.try_get(0)?,
            awarded_at: rfc3339(r.try_get(1)?),
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Stats {
        points,
        badges,
        cases,
    })
}

pub async fn leaderboard(
    db: &Db,
    city: &str,
    page: u32,
    limit: u32,
) -> Result<(Vec<LeaderRow>, u64), sqlx::Error> {
    let total: i64 = sqlx::query(
        "SELECT COUNT(DISTINCT p.volunteer_id) FROM profiles p JOIN case_credits c ON c.volunteer_id = p.volunteer_id \
         WHERE p.city_code = $1",
    )
    .bind(city)
    .fetch_one(db.pool())
    .await?
    .try_get(0)?;
    let offset = i64::from(page.saturating_sub(1)) * i64::from(limit);
    let rows = sqlx::query(&format!(
        "SELECT p.display_name, CAST(SUM(c.points) AS BIGINT) AS pts, \
         (SELECT COUNT(*) FROM badges b WHERE b.volunteer_id = p.volunteer_id) AS nb \
         FROM profiles p JOIN case_credits c ON c.volunteer_id = p.volunteer_id WHERE p.city_code = $1 \
         GROUP BY p.volunteer_id, p.display_name ORDER BY pts DESC, p.display_name, p.volunteer_id \
         LIMIT {limit} OFFSET {offset}"
    ))
    .bind(city)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        out.push(LeaderRow {
            rank: u64::try_from(offset).unwrap_or(0) + i as u64 + 1,
            display_name: r.try_get(0)?,
            points: r.try_get(1)?,
            badges: r.try_get(2)?,
        });
    }
    Ok((out, u64::try_from(total).unwrap_or(0)))
}

/// Filters of the leads' and Ops' search (all validated by the handler).
#[derive(Debug, Default, Clone)]
pub struct Search {
    pub province: Option<String>,
    pub city: Option<String>,
    pub skill: Option<String>,
    pub cert_level: Option<CertLevel>,
    pub state: Option<VerificationState>,
    pub page: u32,
    pub limit: u32,
}

enum Bind {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

pub async fn search(db: &Db, s: &Search) -> Result<(Vec<VolunteerSummary>, u64), sqlx::Error> {
    let now = now_micros();
    let mut cond: Vec<String> = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let next = |b: Bind, binds: &mut Vec<Bind>| {
        binds.push(b);
        format!("${}", binds.len())
    };
    if let Some(p) = &s.province {
        let n = next(Bind::Text(p.clone()), &mut binds);
        cond.push(format!("province_code = {n}"));
    }
    if let Some(c) = &s.city {
        let n = next(Bind::Text(c.clone()), &mut binds);
        cond.push(format!("city_code = {n}"));
    }
    if let Some(k) = &s.skill {
        // Skills are slugs ([a-z0-9_]); `_` is escaped so it matches only itself.
        let pattern = format!("%\"{}\"%", k.replace('_', "\\_"));
        let n = next(Bind::Text(pattern), &mut binds);
        cond.push(format!("skills LIKE {n} ESCAPE '\\'"));
    }
    match s.cert_level {
        None => {}
        Some(CertLevel::None) => {
            let n = next(Bind::Int(now), &mut binds);
            cond.push(format!(
                "(cert_level = 'none' OR cert_valid_until IS NULL OR cert_valid_until <= {n})"
            ));
        }
        Some(l) => {
            let a = next(Bind::Text(cert_text(l).into()), &mut binds);
            let b = next(Bind::Int(now), &mut binds);
            cond.push(format!("cert_level = {a} AND cert_valid_until > {b}"));
        }
    }
    if let Some(st) = s.state {
        let n = next(Bind::Text(st.as_str().into()), &mut binds);
        cond.push(format!("state = {n}"));
    }
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    };
    let count_sql = format!("SELECT COUNT(*) FROM profiles{filter}");
    let total: i64 = bind_all(sqlx::query(&count_sql), &binds)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let offset = i64::from(s.page.saturating_sub(1)) * i64::from(s.limit);
    let page_sql = format!(
        "SELECT {PROFILE_COLS} FROM profiles{filter} ORDER BY display_name, volunteer_id LIMIT {} OFFSET {offset}",
        s.limit
    );
    let rows = bind_all(sqlx::query(&page_sql), &binds)
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let p = profile_row(r)?;
        let valid = p.cert_valid_until.is_some_and(|u| u > now);
        out.push(VolunteerSummary {
            health_professional: p.health_professional(),
            volunteer_id: p.volunteer_id,
            display_name: p.profile.display_name,
            province_code: p.profile.province_code,
            city_code: p.profile.city_code,
            skills: p.profile.skills,
            background: p.profile.background,
            verification_state: p.state,
            cert_level: if valid { p.cert_level } else { CertLevel::None },
            cert_valid_until: if valid {
                p.cert_valid_until.map(rfc3339)
            } else {
                None
            },
        });
    }
    Ok((out, u64::try_from(total).unwrap_or(0)))
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
