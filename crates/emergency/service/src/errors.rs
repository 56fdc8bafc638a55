//! The one place where the Emergency Core's refusals become API errors: the case state
//! machine's [`DomainError`], bad coordinates, and the stable codes the use-cases share.

use axum::http::StatusCode;
use kreki_platform::{ApiError, Msg};

use crate::{domain::DomainError, geo::CoordError};

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
