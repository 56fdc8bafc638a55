//! Request and response bodies of `/api/volunteers/v1` and their validation. Every check
//! answers with a stable code; nothing here logs personal data.

use std::collections::BTreeSet;

use kreki_platform::{ApiError, Msg, types::PhoneE164};
use kreki_volunteers_contracts::CertLevel;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// Professional background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Background {
    Lay,
    Nurse,
    Doctor,
    Midwife,
    Paramedic,
    Other,
}

impl Background {
    pub fn as_str(self) -> &'static str {
        match self {
            Background::Lay => "lay",
            Background::Nurse => "nurse",
            Background::Doctor => "doctor",
            Background::Midwife => "midwife",
            Background::Paramedic => "paramedic",
            Background::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Background> {
        [
            Background::Lay,
            Background::Nurse,
            Background::Doctor,
            Background::Midwife,
            Background::Paramedic,
            Background::Other,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
    }
    /// A health profession (with a registration number it makes a verified volunteer a
    /// health professional for dispatch).
    pub fn is_health_profession(self) -> bool {
        matches!(
            self,
            Background::Nurse | Background::Doctor | Background::Midwife | Background::Paramedic
        )
    }
}

/// Verification state: `draft → submitted → verified | rejected`, `rejected → submitted`
/// (resubmitted), `verified → rejected` (verification withdrawn), `verified → verified`
/// (credentials re-approved after a change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationState {
    Draft,
    Submitted,
    Verified,
    Rejected,
}

impl VerificationState {
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationState::Draft => "draft",
            VerificationState::Submitted => "submitted",
            VerificationState::Verified => "verified",
            VerificationState::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<VerificationState> {
        [
            VerificationState::Draft,
            VerificationState::Submitted,
            VerificationState::Verified,
            VerificationState::Rejected,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// What can happen to a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// The next state, or 409 `VOLUNTEERS_TRANSITION_INVALID`.
pub fn transition(from: VerificationState, action: &str) -> Result<VerificationState, ApiError> {
    use VerificationState::*;
    let to = match (from, action) {
        (Draft, "submit") | (Rejected, "resubmit") => Some(Submitted),
        (Submitted | Verified, "approve") => Some(Verified),
        (Submitted | Verified, "reject") => Some(Rejected),
        _ => None,
    };
    to.ok_or_else(|| {
        ApiError::conflict(
            "VOLUNTEERS_TRANSITION_INVALID",
            Msg::new(
                "Perubahan status verifikasi ini tidak diizinkan",
                "This verification change is not allowed in the current state",
            ),
        )
        .details(json!({ "state": from.as_str(), "action": action }))
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContact {
    pub name: String,
    pub phone: String,
    #[serde(default)]
    pub relationship: Option<String>,
}

/// `PUT /me`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// Name shown to teams and on the leaderboard.
    pub display_name: String,
    /// Indonesian or international number; stored as E.164.
    pub phone: String,
    /// BPS province code, 2 digits (e.g. `31` DKI Jakarta).
    pub province_code: String,
    /// BPS city/regency code, 4 digits starting with the province code (e.g. `3171`).
    pub city_code: String,
    /// ISO 639 codes (`id`, `en`, `jv`, …).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Skill slugs (`cpr`, `aed`, `first_aid`, …).
    #[serde(default)]
    pub skills: Vec<String>,
    pub background: Background,
    /// STR (Surat Tanda Registrasi) of a health professional.
    #[serde(default)]
    pub registration_number: Option<String>,
    pub emergency_contact: EmergencyContact,
    /// Consent to share the live location while on duty (the time of consent is recorded).
    pub location_consent: bool,
}

/// A validated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub display_name: String,
    pub phone: String,
    pub province_code: String,
    pub city_code: String,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub background: Background,
    pub registration_number: Option<String>,
    pub emergency_contact: EmergencyContact,
    pub location_consent: bool,
}

fn invalid(code: &'static str, id: &'static str, en: &'static str, field: &str) -> ApiError {
    ApiError::validation(code, Msg::new(id, en)).details(json!({ "field": field }))
}

fn clean_name(s: &str, field: &str, max: usize) -> Result<String, ApiError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(
            "VALIDATION_FAILED",
            "Nama kosong, terlalu panjang atau berisi karakter tidak sah",
            "Name is empty, too long or has control characters",
            field,
        ));
    }
    Ok(t.to_string())
}

fn phone(s: &str, field: &str) -> Result<String, ApiError> {
    PhoneE164::parse(s)
        .map(|p| p.as_str().to_string())
        .map_err(|_| {
            invalid(
                "VOLUNTEERS_PHONE_INVALID",
                "Nomor telepon tidak valid",
                "Invalid phone number",
                field,
            )
        })
}

/// BPS province codes run from 11 (Aceh) to 96 (Papua Barat Daya).
pub fn valid_province(code: &str) -> bool {
    code.len() == 2
        && code.bytes().all(|b| b.is_ascii_digit())
        && code.parse::<u8>().is_ok_and(|n| (11..=96).contains(&n))
}

/// A BPS regency/city code: 4 digits, the first two the province's.
pub fn valid_city(code: &str) -> bool {
    code.len() == 4
        && code.bytes().all(|b| b.is_ascii_digit())
        && valid_province(&code[..2])
        && &code[2..] != "00"
}

/// A skill slug: lower-case letters, digits and `_`, 2 to 40 characters.
pub fn valid_skill(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

fn area_error() -> ApiError {
    invalid(
        "VOLUNTEERS_AREA_INVALID",
        "Kode wilayah tidak valid (provinsi 2 digit, kota/kabupaten 4 digit kode BPS)",
        "Invalid area code (BPS: 2-digit province, 4-digit city/regency)",
        "city_code",
    )
}

impl ProfileInput {
    pub fn validate(self) -> Result<Profile, ApiError> {
        let display_name = clean_name(&self.display_name, "display_name", 80)?;
        let phone_e164 = phone(&self.phone, "phone")?;
        if !valid_province(&self.province_code) {
            return Err(area_error().details(json!({ "field": "province_code" })));
        }
        if !valid_city(&self.city_code) || !self.city_code.starts_with(&self.province_code) {
            return Err(area_error());
        }
        let mut languages = BTreeSet::new();
        for l in &self.languages {
            let l = l.trim().to_ascii_lowercase();
            if !(2..=3).contains(&l.len()) || !l.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(invalid(
                    "VOLUNTEERS_LANGUAGE_INVALID",
                    "Kode bahasa harus ISO 639 (mis. id, en, jv)",
                    "Language codes must be ISO 639 (e.g. id, en, jv)",
                    "languages",
                ));
            }
            languages.insert(l);
        }
        if languages.len() > 10 {
            return Err(invalid(
                "VOLUNTEERS_LANGUAGE_INVALID",
                "Paling banyak 10 bahasa",
                "At most 10 languages",
                "languages",
            ));
        }
        let mut skills = BTreeSet::new();
        for s in &self.skills {
            let s = s.trim().to_ascii_lowercase();
            if !valid_skill(&s) {
                return Err(invalid(
                    "VOLUNTEERS_SKILL_INVALID",
                    "Keterampilan harus berupa kode huruf kecil (mis. cpr, first_aid)",
                    "Skills must be lower-case slugs (e.g. cpr, first_aid)",
                    "skills",
                ));
            }
            skills.insert(s);
        }
        if skills.len() > 30 {
            return Err(invalid(
                "VOLUNTEERS_SKILL_INVALID",
                "Paling banyak 30 keterampilan",
                "At most 30 skills",
                "skills",
            ));
        }
        let registration_number = match self.registration_number.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => {
                if !(4..=40).contains(&r.len())
                    || !r
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'/'))
                {
                    return Err(invalid(
                        "VOLUNTEERS_REGISTRATION_INVALID",
                        "Nomor STR tidak valid",
                        "Invalid registration number (STR)",
                        "registration_number",
                    ));
                }
                Some(r.to_ascii_uppercase())
            }
        };
        let contact = EmergencyContact {
            name: clean_name(&self.emergency_contact.name, "emergency_contact.name", 80)?,
            phone: phone(&self.emergency_contact.phone, "emergency_contact.phone")?,
            relationship: match self.emergency_contact.relationship.as_deref() {
                None => None,
                Some(r) if r.trim().is_empty() => None,
                Some(r) => Some(clean_name(r, "emergency_contact.relationship", 40)?),
            },
        };
        if contact.phone == phone_e164 {
            return Err(invalid(
                "VOLUNTEERS_EMERGENCY_CONTACT_INVALID",
                "Kontak darurat harus nomor orang lain",
                "The emergency contact must be someone else's number",
                "emergency_contact.phone",
            ));
        }
        Ok(Profile {
            display_name,
            phone: phone_e164,
            province_code: self.province_code,
            city_code: self.city_code,
            languages: languages.into_iter().collect(),
            skills: skills.into_iter().collect(),
            background: self.background,
            registration_number,
            emergency_contact: contact,
            location_consent: self.location_consent,
        })
    }
}

/// The certification mirrored from the LMS.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Certification {
    pub level: CertLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
}

/// A certificate as mirrored from the LMS events.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirroredCertificate {
    pub certificate_id: String,
    pub level: CertLevel,
    pub valid_until: String,
    /// `valid`, `expired` or `revoked`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    /// When the LMS said the recertification window opened (`lms.certificate.expiring`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiring_notice_at: Option<String>,
}

/// What the Emergency Core was last told.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EligibilityView {
    /// Verified volunteers are dispatchable (when on duty).
    pub verified: bool,
    pub health_professional: bool,
    pub version: i64,
}

/// A volunteer's profile (own view and reviewers' view).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProfileView {
    pub volunteer_id: String,
    pub display_name: String,
    pub phone: String,
    pub province_code: String,
    pub city_code: String,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub background: Background,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    pub emergency_contact: EmergencyContact,
    pub location_consent: bool,
    /// When consent was given (RFC 3339); absent without consent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_consent_at: Option<String>,
    pub verification_state: VerificationState,
    #[schema(value_type = Object)]
    pub schedule: serde_json::Value,
    pub certification: Certification,
    pub eligibility: EligibilityView,
    pub created_at: String,
    pub updated_at: String,
}

/// One step of the verification history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// `submit`, `resubmit`, `approve`, `reject`.
    pub action: String,
    pub from_state: VerificationState,
    pub to_state: VerificationState,
    /// KREKI ID subject of who did it.
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: String,
}

/// A document's metadata (content only through its own endpoint).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentMeta {
    pub id: String,
    /// `ktp`, `str`, `certificate`, `other`.
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: String,
}

/// A document with its content (base64).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentContent {
    #[serde(flatten)]
    pub meta: DocumentMeta,
    pub content_base64: String,
}

/// `POST /me/documents`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    /// `ktp`, `str`, `certificate`, `other`.
    pub kind: String,
    pub filename: String,
    /// `application/pdf`, `image/jpeg` or `image/png`.
    pub content_type: String,
    /// At most 160 KiB once decoded.
    pub content_base64: String,
}

pub const DOCUMENT_KINDS: &[&str] = &["ktp", "str", "certificate", "other"];
pub const DOCUMENT_TYPES: &[&str] = &["application/pdf", "image/jpeg", "image/png"];
pub const DOCUMENT_MAX_BYTES: usize = 160 * 1024;
pub const DOCUMENTS_PER_VOLUNTEER: i64 = 10;

/// Own view with the verification detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    pub profile: ProfileView,
    pub documents: Vec<DocumentMeta>,
    pub history: Vec<HistoryEntry>,
}

/// `POST /me/submit`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitInput {
    /// A note for the reviewer.
    #[serde(default)]
    pub note: Option<String>,
}

/// `PUT /volunteers/{id}/verification`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    pub decision: Decision,
    /// Required to reject (3–500 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One weekly slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// `mon` … `sun`.
    pub day: String,
    /// `HH:MM` local time.
    pub start: String,
    /// `HH:MM` (`24:00` allowed), after `start`.
    pub end: String,
}

/// `PUT /me/schedule`: weekly hours in a local time zone of Indonesia.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// `Asia/Jakarta` (WIB), `Asia/Makassar` (WITA) or `Asia/Jayapura` (WIT).
    pub timezone: String,
    pub slots: Vec<Slot>,
}

pub const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const ZONES: &[&str] = &["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"];

fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

impl Schedule {
    /// Validated and put in order (by day, then start).
    pub fn validate(mut self) -> Result<Schedule, ApiError> {
        let bad = |id: &'static str, en: &'static str| {
            ApiError::validation("VOLUNTEERS_SCHEDULE_INVALID", Msg::new(id, en))
        };
        if !ZONES.contains(&self.timezone.as_str()) {
            return Err(bad(
                "Zona waktu harus Asia/Jakarta, Asia/Makassar atau Asia/Jayapura",
                "Time zone must be Asia/Jakarta, Asia/Makassar or Asia/Jayapura",
            ));
        }
        if self.slots.len() > 50 {
            return Err(bad("Paling banyak 50 slot", "At most 50 slots"));
        }
        let mut spans = Vec::with_capacity(self.slots.len());
        for (i, s) in self.slots.iter().enumerate() {
            let day = DAYS.iter().position(|d| *d == s.day);
            let (start, end) = (minutes(&s.start), minutes(&s.end));
            match (day, start, end) {
                (Some(d), Some(a), Some(b)) if a < b && a < 24 * 60 => spans.push((d, a, b)),
                _ => {
                    return Err(bad(
                        "Slot tidak valid: hari mon–sun, jam HH:MM, mulai sebelum selesai",
                        "Invalid slot: day mon–sun, times HH:MM, start before end",
                    )
                    .details(json!({ "slot": i })));
                }
            }
        }
        let mut order: Vec<usize> = (0..spans.len()).collect();
        order.sort_by_key(|&i| (spans[i].0, spans[i].1));
        for w in order.windows(2) {
            let (a, b) = (spans[w[0]], spans[w[1]]);
            if a.0 == b.0 && b.1 < a.2 {
                return Err(bad("Slot saling tumpang tindih", "Slots overlap")
                    .details(json!({ "slot": w[1] })));
            }
        }
        self.slots = order.into_iter().map(|i| self.slots[i].clone()).collect();
        Ok(self)
    }
}

/// `GET /me/stats`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stats {
    pub points: i64,
    pub badges: Vec<Badge>,
    pub cases: CaseCounts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Badge {
    /// `first_response`, `first_arrival`, `first_resolved`, `team_lead`, `ten_completed`.
    pub code: String,
    pub awarded_at: String,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CaseCounts {
    pub accepted: i64,
    pub arrived: i64,
    pub resolved: i64,
    pub completed: i64,
}

/// A leaderboard row: no personal data beyond the display name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeaderRow {
    pub rank: u64,
    pub display_name: String,
    pub points: i64,
    pub badges: i64,
}

/// A row of the leads' and Ops' search.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VolunteerSummary {
    pub volunteer_id: String,
    pub display_name: String,
    pub province_code: String,
    pub city_code: String,
    pub skills: Vec<String>,
    pub background: Background,
    pub verification_state: VerificationState,
    /// The valid certificate's level (`none` when expired or absent).
    pub cert_level: CertLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_valid_until: Option<String>,
    pub health_professional: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        use VerificationState::*;
        assert_eq!(transition(Draft, "submit").ok(), Some(Submitted));
        assert_eq!(transition(Rejected, "resubmit").ok(), Some(Submitted));
        assert_eq!(transition(Submitted, "approve").ok(), Some(Verified));
        assert_eq!(transition(Verified, "reject").ok(), Some(Rejected));
        assert!(transition(Draft, "approve").is_err());
        assert!(transition(Rejected, "approve").is_err());
        assert!(transition(Submitted, "submit").is_err());
        assert!(transition(Verified, "submit").is_err());
    }

    #[test]
    fn areas_and_schedule() {
        assert!(valid_city("3171") && valid_province("31"));
        assert!(!valid_city("3100") && !valid_city("0171") && !valid_city("317"));
        assert!(!valid_province("10") && !valid_province("97"));
        let s = Schedule {
            timezone: "Asia/Jakarta".into(),
            slots: vec![
                Slot {
                    day: "tue".into(),
                    start: "18:00".into(),
                    end: "24:00".into(),
                },
                Slot {
                    day: "mon".into(),
                    start: "08:00".into(),
                    end: "12:00".into(),
                },
            ],
        }
        .validate()
        .unwrap();
        assert_eq!(s.slots[0].day, "mon");
        let overlap = Schedule {
            timezone: "Asia/Jakarta".into(),
            slots: vec![
                Slot {
                    day: "mon".into(),
                    start: "08:00".into(),
                    end: "12:00".into(),
                },
                Slot {
                    day: "mon".into(),
                    start: "11:00".into(),
                    end: "13:00".into(),
                },
            ],
        };
        assert!(overlap.validate().is_err());
    }
}
