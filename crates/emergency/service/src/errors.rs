//! The one place where the Emergency Core's refusals become API errors. The use-cases return
//! an error of their feature ([`CaseError`], [`SmsIntakeError`], [`PresenceError`],
//! [`OpsError`]), which says what went wrong and nothing of HTTP; here each becomes its status,
//! stable code and message in both languages. The case state machine's [`DomainError`] and
//! bad coordinates ([`CoordError`]) are shared by several of them.

use axum::http::StatusCode;
use kreki_platform::{ApiError, Msg};

use crate::{domain::DomainError, geo::CoordError};

/// Why a case use-case (`cases::*`) refused.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// No such case, or not one the actor may see (it does not exist for them).
    #[error("case not found")]
    NotFound,
    #[error("a responder cannot cancel a case")]
    ResponderCannotCancel,
    #[error(transparent)]
    Location(CoordError),
    #[error("accuracy_m is too large")]
    AccuracyTooLarge,
    #[error("the description is too long")]
    DescriptionTooLong,
    #[error("invalid caller phone")]
    CallerPhoneInvalid,
    #[error("a caller phone is required")]
    CallerPhoneRequired,
    #[error("invalid Idempotency-Key")]
    IdempotencyKeyInvalid,
    #[error("the Idempotency-Key was used for another request")]
    IdempotencyKeyReused,
    #[error("too many panics")]
    PanicRateLimited { retry_after_s: u64 },
    #[error("a cancellation needs a reason of at most 500 characters")]
    ReasonInvalid,
    #[error("unknown outcome")]
    OutcomeInvalid { allowed: &'static [&'static str] },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

pub type CaseResult<T> = Result<T, CaseError>;

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::Domain(d) => d.into(),
            CaseError::NotFound => not_found(),
            CaseError::ResponderCannotCancel => ApiError::forbidden(),
            CaseError::Location(c) => coord_error(c),
            CaseError::AccuracyTooLarge => ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new("accuracy_m terlalu besar", "accuracy_m is too large"),
            ),
            CaseError::DescriptionTooLong => ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new(
                    "Keterangan maksimal 1000 karakter",
                    "Description is at most 1000 characters",
                ),
            ),
            CaseError::CallerPhoneInvalid => caller_phone_invalid(),
            CaseError::CallerPhoneRequired => ApiError::validation(
                "EMERGENCY_CALLER_PHONE_REQUIRED",
                Msg::new(
                    "Nomor telepon diperlukan agar relawan dapat menghubungi Anda",
                    "A phone number is needed so responders can call you back",
                ),
            ),
            CaseError::IdempotencyKeyInvalid => ApiError::bad_request(
                "IDEMPOTENCY_KEY_INVALID",
                Msg::new("Idempotency-Key tidak valid", "Invalid Idempotency-Key"),
            ),
            CaseError::IdempotencyKeyReused => ApiError::conflict(
                "IDEMPOTENCY_KEY_REUSED",
                Msg::new(
                    "Idempotency-Key dipakai untuk permintaan lain",
                    "The Idempotency-Key was used for another request",
                ),
            ),
            CaseError::PanicRateLimited { retry_after_s } => panic_rate_limited(retry_after_s),
            CaseError::ReasonInvalid => ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new(
                    "Alasan wajib diisi (maks. 500 karakter)",
                    "A reason is required (at most 500 characters)",
                ),
            ),
            CaseError::OutcomeInvalid { allowed } => ApiError::validation(
                "EMERGENCY_OUTCOME_INVALID",
                Msg::new("Hasil penanganan tidak dikenal", "Unknown outcome"),
            )
            .details(serde_json::json!({ "allowed": allowed })),
            CaseError::Storage(e) => e.into(),
            CaseError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// Why the SMS fallback's use-case (`sms::intake`) refused a message.
#[derive(Debug, thiserror::Error)]
pub enum SmsIntakeError {
    #[error("invalid sender number")]
    SenderInvalid,
    #[error("invalid SMS message")]
    MessageInvalid,
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<SmsIntakeError> for ApiError {
    fn from(e: SmsIntakeError) -> Self {
        match e {
            SmsIntakeError::SenderInvalid => ApiError::validation(
                "EMERGENCY_CALLER_PHONE_INVALID",
                Msg::new("Nomor pengirim tidak valid", "Invalid sender number"),
            ),
            SmsIntakeError::MessageInvalid => ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new("Pesan SMS tidak valid", "Invalid SMS message"),
            ),
            SmsIntakeError::Storage(e) => e.into(),
            SmsIntakeError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// Why a presence use-case (`presence::duty`) refused.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    #[error("a location is needed to go on duty")]
    LocationRequired,
    #[error(transparent)]
    Location(CoordError),
    #[error("not on duty")]
    NotOnDuty,
    #[error("too many self-tests")]
    TooManyTestAlerts { retry_after_s: u64 },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<PresenceError> for ApiError {
    fn from(e: PresenceError) -> Self {
        match e {
            PresenceError::LocationRequired => ApiError::validation(
                "EMERGENCY_LOCATION_REQUIRED",
                Msg::new(
                    "Lokasi diperlukan untuk bertugas",
                    "A location is needed to go on duty",
                ),
            ),
            PresenceError::Location(c) => coord_error(c),
            PresenceError::NotOnDuty => ApiError::conflict(
                "EMERGENCY_NOT_ON_DUTY",
                Msg::new(
                    "Anda tidak sedang bertugas; lokasi tidak disimpan",
                    "You are not on duty; the location is not kept",
                ),
            ),
            PresenceError::TooManyTestAlerts { retry_after_s } => {
                ApiError::rate_limited(retry_after_s)
            }
            PresenceError::Storage(e) => e.into(),
            PresenceError::Internal(e) => ApiError::internal(e),
        }
    }
}

/// Why an Ops console use-case (`ops`) refused.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error("a note of at most 500 characters is required")]
    NoteInvalid,
    #[error("invalid volunteer_id")]
    VolunteerIdInvalid,
    #[error("the case was already escalated")]
    AlreadyEscalated,
    #[error("the volunteer is not on duty")]
    NotOnDuty,
    #[error("the volunteer is not verified")]
    VolunteerNotEligible,
    #[error("the volunteer already responds to the case")]
    AlreadyResponding,
    #[error("the volunteer is considering the offer")]
    AlreadyOffered,
    #[error(transparent)]
    Location(CoordError),
    #[error("invalid radius")]
    RadiusInvalid { max_m: u32 },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
}

impl From<DomainError> for OpsError {
    fn from(e: DomainError) -> Self {
        OpsError::Case(CaseError::Domain(e))
    }
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Case(c) => c.into(),
            OpsError::NoteInvalid => ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new(
                    "Catatan wajib diisi (maks. 500 karakter)",
                    "A note is required (at most 500 characters)",
                ),
            ),
            OpsError::VolunteerIdInvalid => ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new("volunteer_id tidak valid", "Invalid volunteer_id"),
            ),
            OpsError::AlreadyEscalated => ApiError::conflict(
                "EMERGENCY_ALREADY_ESCALATED",
                Msg::new(
                    "Kasus sudah diteruskan ke PSC 119",
                    "The case was already handed to PSC 119",
                ),
            ),
            OpsError::NotOnDuty => not_on_duty(),
            OpsError::VolunteerNotEligible => ApiError::conflict(
                "EMERGENCY_VOLUNTEER_NOT_ELIGIBLE",
                Msg::new(
                    "Relawan belum terverifikasi untuk menerima kasus",
                    "The volunteer is not verified to take cases",
                ),
            ),
            OpsError::AlreadyResponding => ApiError::conflict(
                "EMERGENCY_ALREADY_RESPONDING",
                Msg::new(
                    "Relawan sudah menangani kasus ini",
                    "The volunteer already responds to this case",
                ),
            ),
            OpsError::AlreadyOffered => ApiError::conflict(
                "EMERGENCY_ALREADY_OFFERED",
                Msg::new(
                    "Relawan sedang mempertimbangkan tawaran ini",
                    "The volunteer is already considering this offer",
                ),
            ),
            OpsError::Location(c) => coord_error(c),
            OpsError::RadiusInvalid { max_m } => radius_invalid(max_m),
            OpsError::Storage(e) => e.into(),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let (status, code, msg) = match e {
            DomainError::CaseClosed => (
                StatusCode::CONFLICT,
                "EMERGENCY_CASE_CLOSED",
                Msg::new("Kasus sudah ditutup", "The case is closed"),
            ),
            DomainError::NotOffered => (
                StatusCode::CONFLICT,
                "EMERGENCY_NOT_OFFERED",
                Msg::new(
                    "Anda tidak mendapat tawaran kasus ini",
                    "You were not offered this case",
                ),
            ),
            DomainError::AlreadyAnswered => (
                StatusCode::CONFLICT,
                "EMERGENCY_ALREADY_ANSWERED",
                Msg::new(
                    "Anda sudah menjawab tawaran ini",
                    "You already answered this offer",
                ),
            ),
            DomainError::CaseFull => (
                StatusCode::CONFLICT,
                "EMERGENCY_CASE_FULL",
                Msg::new(
                    "Terima kasih, relawan sudah cukup",
                    "Thank you, enough responders are on their way",
                ),
            ),
            DomainError::NotResponder => (
                StatusCode::FORBIDDEN,
                "EMERGENCY_NOT_RESPONDER",
                Msg::new(
                    "Anda bukan penolong kasus ini",
                    "You are not a responder of this case",
                ),
            ),
            DomainError::StatusBackwards => (
                StatusCode::CONFLICT,
                "EMERGENCY_STATUS_BACKWARDS",
                Msg::new("Status tidak boleh mundur", "A status cannot go back"),
            ),
            DomainError::NotLead => (
                StatusCode::FORBIDDEN,
                "EMERGENCY_NOT_TEAM_LEAD",
                Msg::new(
                    "Hanya ketua tim atau Ops yang dapat menyelesaikan kasus",
                    "Only the team lead or Ops can complete the case",
                ),
            ),
        };
        ApiError::new(status, code, msg)
    }
}

pub fn coord_error(e: CoordError) -> ApiError {
    match e {
        CoordError::OutsideServiceArea => ApiError::validation(
            "EMERGENCY_LOCATION_OUTSIDE_AREA",
            Msg::new(
                "Lokasi di luar wilayah layanan KREKI; hubungi 119",
                "Location outside KREKI's service area; call 119",
            ),
        ),
        _ => ApiError::validation(
            "EMERGENCY_LOCATION_INVALID",
            Msg::new(
                "Koordinat lokasi tidak valid",
                "Invalid location coordinates",
            ),
        ),
    }
}

pub fn not_found() -> ApiError {
    ApiError::not_found(
        "EMERGENCY_CASE_NOT_FOUND",
        Msg::new("Kasus tidak ditemukan", "Case not found"),
    )
}

pub fn panic_rate_limited(retry_after_s: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "EMERGENCY_PANIC_RATE_LIMITED",
        Msg::new(
            "Terlalu banyak permintaan darurat; untuk keadaan darurat hubungi 119",
            "Too many emergency requests; in an emergency call 119",
        ),
    )
    .retry_after(retry_after_s)
}

pub fn caller_phone_invalid() -> ApiError {
    ApiError::validation(
        "EMERGENCY_CALLER_PHONE_INVALID",
        Msg::new("Nomor telepon tidak valid", "Invalid phone number"),
    )
}

pub fn not_on_duty() -> ApiError {
    ApiError::conflict(
        "EMERGENCY_NOT_ON_DUTY",
        Msg::new(
            "Relawan tidak sedang bertugas",
            "The volunteer is not on duty",
        ),
    )
}

pub fn radius_invalid(max_m: u32) -> ApiError {
    ApiError::validation(
        "EMERGENCY_RADIUS_INVALID",
        Msg::new("Radius tidak valid", "Invalid radius"),
    )
    .details(serde_json::json!({ "max_m": max_m }))
}

/// `VALIDATION_FAILED` with the given message.
pub fn invalid(id: &'static str, en: &'static str) -> ApiError {
    ApiError::validation("VALIDATION_FAILED", Msg::new(id, en))
}
