//! The well-being routes: my history, my due check-ins, my answer.

use axum::extract::{Path, State};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg, auth::Auth, error::ErrorEnvelope, http::ApiJson,
    storage::Db, time_util::now_micros,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::wellbeing::{ANSWERS, Answered, CheckIn, HistoryEntry, answer, due, history};

/// Well-being check-ins are for those who go on duty.
const VOLUNTEER: &str = kreki_platform::auth::perm::PRESENCE_OWN;

/// My cases (the volunteer app's history).
#[utoipa::path(get, path = "/history/mine", tag = "presence",
    responses(
        (status = 200, description = "Cases I responded to, newest first (at most 100)", body = inline(Envelope<Vec<HistoryEntry>>)),
        (status = 403, description = "Volunteers only", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn history_mine(
    State(db): State<Db>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<HistoryEntry>>> {
    p.require(VOLUNTEER)?;
    Ok(Envelope::ok(history(&db, &p.subject).await?))
}

/// My due well-being check-ins.
#[utoipa::path(get, path = "/wellbeing/mine", tag = "presence",
    responses(
        (status = 200, description = "Due, unanswered check-ins, oldest first", body = inline(Envelope<Vec<CheckIn>>)),
        (status = 403, description = "Volunteers only", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn wellbeing_mine(
    State(db): State<Db>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<CheckIn>>> {
    p.require(VOLUNTEER)?;
    Ok(Envelope::ok(due(&db, &p.subject, now_micros()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInAnswer {
    /// `good`, `okay` or `struggling` (the team coordinator follows up on `struggling`).
    pub answer: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Answer the well-being check-in of a case (once).
#[utoipa::path(put, path = "/{id}/wellbeing", tag = "presence",
    params(("id" = String, Path, description = "Case id")),
    request_body = CheckInAnswer,
    responses(
        (status = 204, description = "Answer kept"),
        (status = 404, description = "EMERGENCY_CHECKIN_NOT_FOUND (no check-in of mine for this case)", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CHECKIN_ANSWERED", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_CHECKIN_ANSWER_INVALID, VALIDATION_FAILED (note over 500 characters)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn wellbeing_answer(
    State(db): State<Db>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CheckInAnswer>,
) -> ApiResult<axum::http::StatusCode> {
    p.require(VOLUNTEER)?;
    if !ANSWERS.contains(&req.answer.as_str()) {
        return Err(ApiError::validation(
            "EMERGENCY_CHECKIN_ANSWER_INVALID",
            Msg::new("Jawaban tidak dikenal", "Unknown answer"),
        )
        .details(serde_json::json!({ "allowed": ANSWERS })));
    }
    let note = req.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "Catatan maksimal 500 karakter",
                "The note is at most 500 characters",
            ),
        ));
    }
    match answer(&db, &id, &p.subject, &req.answer, note, now_micros()).await? {
        Answered::Done => {
            tracing::info!(case_id = %id, "well-being check-in answered");
            Ok(axum::http::StatusCode::NO_CONTENT)
        }
        Answered::Already => Err(ApiError::conflict(
            "EMERGENCY_CHECKIN_ANSWERED",
            Msg::new(
                "Anda sudah menjawab; terima kasih",
                "You already answered; thank you",
            ),
        )),
        Answered::NotFound => Err(ApiError::not_found(
            "EMERGENCY_CHECKIN_NOT_FOUND",
            Msg::new(
                "Tidak ada pertanyaan untuk kasus ini",
                "No check-in for this case",
            ),
        )),
    }
}
