//! The case routes: each handler parses, authorises and calls one use-case.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, perm},
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    actor::{CaseActor, OptionalPrincipal},
    cases::{
        Cases,
        complete::{CompleteRequest, complete_case},
        intake::{self, Panic, PanicCreated, PanicOutcome, PanicRequest},
        respond::{MyOffer, RespondAction, RespondResult, answer, my_offers},
        status::{cancel as cancel_case, report_status},
        view::{CaseView, case_for, timeline_for},
    },
    store::{CaseRecord, TimelineEntry},
};

/// Press the panic button.
#[utoipa::path(post, path = "/panic", tag = "cases",
    request_body = PanicRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried tap with the same key never makes a second case")),
    responses(
        (status = 201, description = "Case created and durably stored", body = inline(Envelope<PanicCreated>)),
        (status = 200, description = "The signed-in caller's open case (existing = true), or the stored answer of a retried key", body = inline(Envelope<PanicCreated>)),
        (status = 422, description = "EMERGENCY_LOCATION_INVALID, EMERGENCY_LOCATION_OUTSIDE_AREA, EMERGENCY_CALLER_PHONE_REQUIRED, EMERGENCY_CALLER_PHONE_INVALID, VALIDATION_*", body = ErrorEnvelope),
        (status = 409, description = "IDEMPOTENCY_KEY_REUSED", body = ErrorEnvelope),
        (status = 429, description = "EMERGENCY_PANIC_RATE_LIMITED, with Retry-After: over the per-address ceiling (emergency.panics_per_address_per_second, default 120 a second), or a repeat caller's sixth panic within the hour (never a first panic); the general per-IP request limit does not apply to panics", body = ErrorEnvelope),
    ))]
pub async fn panic(
    State(st): State<Cases>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    parts_auth: OptionalPrincipal,
    ApiJson(req): ApiJson<PanicRequest>,
) -> ApiResult<Response> {
    let panic = Panic {
        principal: parts_auth.0,
        ip,
        // An unreadable header is an invalid key (the use-case says so after the body).
        idempotency_key: headers
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap_or_default().to_string()),
        request: req,
    };
    Ok(match intake::panic(&st, panic).await? {
        PanicOutcome::Created(c) => Envelope::created(&c).into_response(),
        PanicOutcome::Existing(c) => Envelope::ok(c).into_response(),
        PanicOutcome::Replay { status, response } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            response,
        )
            .into_response(),
    })
}

/// One case (caller with its token or account, its responders, Ops).
#[utoipa::path(get, path = "/{id}", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    responses(
        (status = 200, description = "The case", body = inline(Envelope<CaseView>)),
        (status = 401, description = "No token", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND (also for cases of others)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn get_case(
    State(st): State<Cases>,
    actor: CaseActor,
    Path(id): Path<String>,
) -> ApiResult<Envelope<CaseView>> {
    case_for(&st, &id, &actor)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: String,
}

/// Cancel a case (the caller, or Ops).
#[utoipa::path(put, path = "/{id}/cancel", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled", body = inline(Envelope<CaseView>)),
        (status = 403, description = "Responders cannot cancel (AUTH_FORBIDDEN)", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CASE_CLOSED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn cancel(
    State(st): State<Cases>,
    actor: CaseActor,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CancelRequest>,
) -> ApiResult<Envelope<CaseView>> {
    cancel_case(&st, &id, &actor, &req.reason)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

/// Every step of a case, timestamped.
#[utoipa::path(get, path = "/{id}/timeline", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    responses(
        (status = 200, description = "The timeline, oldest first", body = inline(Envelope<Vec<TimelineEntry>>)),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn timeline(
    State(st): State<Cases>,
    actor: CaseActor,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Vec<TimelineEntry>>> {
    timeline_for(&st, &id, &actor)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

/// Open cases, most severe and oldest first (Ops).
#[utoipa::path(get, path = "/active", tag = "cases",
    responses(
        (status = 200, description = "Open cases", body = inline(Envelope<Vec<CaseRecord>>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn active(
    State(st): State<Cases>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<CaseRecord>>> {
    p.require(perm::CASE_READ_ALL)?;
    let cases = st.store.active().await?;
    let total = u64::try_from(st.store.active_count().await?).unwrap_or(0);
    Ok(Envelope::ok(cases).paged(kreki_platform::error::Meta {
        page: 1,
        limit: 500,
        total,
    }))
}

/// My open offers (the app opened from an alert reads this).
#[utoipa::path(get, path = "/offers/mine", tag = "cases",
    responses((status = 200, description = "Open offers, newest first", body = inline(Envelope<Vec<MyOffer>>))),
    security(("bearer" = [])))]
pub async fn offers_mine(
    State(st): State<Cases>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<MyOffer>>> {
    my_offers(&st, &p.subject)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondRequest {
    pub action: RespondAction,
    #[serde(default)]
    pub eta_minutes: Option<u32>,
}

/// Accept or decline an offer. N-to-1: the first accept is the team lead.
#[utoipa::path(put, path = "/{id}/respond", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = RespondRequest,
    responses(
        (status = 200, description = "Answer recorded", body = inline(Envelope<RespondResult>)),
        (status = 409, description = "EMERGENCY_NOT_OFFERED, EMERGENCY_ALREADY_ANSWERED, EMERGENCY_CASE_FULL (not needed), EMERGENCY_CASE_CLOSED", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn respond(
    State(st): State<Cases>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RespondRequest>,
) -> ApiResult<Envelope<RespondResult>> {
    p.require(perm::CASE_RESPOND)?;
    if req.eta_minutes.is_some_and(|m| m > 600) {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("eta_minutes terlalu besar", "eta_minutes is too large"),
        ));
    }
    answer(&st, &id, &p.subject, req.action, req.eta_minutes)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: kreki_emergency_contracts::ResponderStatus,
    /// With `escalating`: why PSC 119 is needed.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A responder's status: arrived, intervention, escalating (hands the case to PSC 119),
/// resolved. Skips forward, never back.
#[utoipa::path(put, path = "/{id}/status", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "Status recorded", body = inline(Envelope<CaseView>)),
        (status = 409, description = "EMERGENCY_STATUS_BACKWARDS, EMERGENCY_CASE_CLOSED", body = ErrorEnvelope),
        (status = 403, description = "EMERGENCY_NOT_RESPONDER", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn status(
    State(st): State<Cases>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Envelope<CaseView>> {
    report_status(&st, &id, &p.subject, req.status, req.reason)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}

/// Complete the case (team lead or Ops) with the outcome and the clinical record.
#[utoipa::path(put, path = "/{id}/complete", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = CompleteRequest,
    responses(
        (status = 200, description = "Completed; the record goes to the bridge", body = inline(Envelope<CaseView>)),
        (status = 403, description = "EMERGENCY_NOT_TEAM_LEAD", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CASE_CLOSED", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_OUTCOME_INVALID, VALIDATION_*", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn complete(
    State(st): State<Cases>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Envelope<CaseView>> {
    let by_ops = p.can(perm::CASE_MANAGE);
    complete_case(&st, &id, &p.subject, by_ops, req)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}
