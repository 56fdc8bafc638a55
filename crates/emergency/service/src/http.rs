//! `/api/emergency/v1`: panic, case, cancel, timeline, active cases, alert self-test.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{FromRequestParts, Path, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use base64::Engine;
use kreki_emergency_contracts::{EmergencyType, Severity};
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, Principal, bearer, perm, verify_with_router_authenticator},
    bus::{Event, outbox, outbox::RelayState},
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
    storage::{idempotency, ratelimit::RateLimiter},
    time_util::{now_micros, rfc3339},
    types::PhoneE164,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    config::EmergencyConfig,
    domain::{DomainError, handshake_code},
    geo::{CoordError, LatLng},
    store::{CaseRecord, Created, NewCase, Store, TimelineEntry, timeline_add},
};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub live: Arc<crate::presence::Live>,
    pub dispatcher: Arc<crate::dispatch::Dispatcher>,
    pub aeds: Arc<crate::aed::Registry>,
    pub relay: Arc<RelayState>,
    pub limiter: Arc<dyn RateLimiter>,
    /// The per-address ceiling of panics, in this process's memory (a second's window).
    pub panic_ceiling: Arc<kreki_platform::storage::ratelimit::MemoryRateLimiter>,
    pub config: Arc<EmergencyConfig>,
    /// `kreki up --demo`: volunteer accounts without an eligibility record yet are made
    /// dispatchable when they go on duty (see `demo::eligible_on_duty`).
    pub demo: bool,
}

/// Self-tests per volunteer per hour.
const TEST_ALERTS_PER_HOUR: u32 = 5;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "cases", description = "Panic, cases and their timeline"),
    (name = "presence", description = "Volunteer presence and alert self-test"),
    (name = "aeds", description = "AED registry and the nearest AEDs"),
    (name = "live", description = "Live WebSocket channels"),
))]
struct ApiDoc;

pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/emergency/v1",
            OpenApiRouter::new()
                .routes(routes!(panic))
                .routes(routes!(active))
                .routes(routes!(stats))
                .routes(routes!(crate::outbox_alarm::outbox_alarm))
                .routes(routes!(ops_escalate))
                .routes(routes!(ops_offer))
                .routes(routes!(crate::wellbeing::history_mine))
                .routes(routes!(crate::wellbeing::wellbeing_mine))
                .routes(routes!(crate::wellbeing::wellbeing_answer))
                .routes(routes!(get_case))
                .routes(routes!(cancel))
                .routes(routes!(timeline))
                .routes(routes!(test_alert))
                .routes(routes!(presence))
                .routes(routes!(location))
                .routes(routes!(offers_mine))
                .routes(routes!(respond))
                .routes(routes!(status))
                .routes(routes!(complete))
                .routes(routes!(sms_inbound))
                .routes(routes!(nearby))
                .routes(routes!(aed_create))
                .routes(routes!(aed_update, aed_delete, aed_get))
                .routes(routes!(aed_nearest))
                .routes(routes!(crate::ws::ws_ticket))
                .routes(routes!(crate::ws::ws)),
        )
        .with_state(state)
        .split_for_parts()
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

fn coord_error(e: CoordError) -> ApiError {
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

fn not_found() -> ApiError {
    ApiError::not_found(
        "EMERGENCY_CASE_NOT_FOUND",
        Msg::new("Kasus tidak ditemukan", "Case not found"),
    )
}

/// Who acts on a case: a signed-in account, or an anonymous caller with the case's token.
pub enum CaseActor {
    User(Principal),
    Caller { token_hash: String },
}

pub fn token_hash(token: &str) -> String {
    kreki_platform::types::sha256_hex(token.as_bytes())
}

impl<S: Send + Sync> FromRequestParts<S> for CaseActor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = bearer(parts)?
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_MISSING"))?
            .to_string();
        if token.starts_with("ct_") {
            return Ok(CaseActor::Caller {
                token_hash: token_hash(&token),
            });
        }
        Ok(CaseActor::User(
            verify_with_router_authenticator(parts, &token).await?,
        ))
    }
}

/// How an actor relates to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    Caller,
    Responder,
    Ops,
}

fn relation(case: &CaseRecord, actor: &CaseActor) -> Option<Relation> {
    match actor {
        CaseActor::Caller { token_hash } => {
            (*token_hash == case.caller_token_hash).then_some(Relation::Caller)
        }
        CaseActor::User(p) => {
            if p.can(perm::CASE_READ_ALL) {
                Some(Relation::Ops)
            } else if case.caller_account.as_deref() == Some(p.subject.as_str()) {
                Some(Relation::Caller)
            } else if case.responders.iter().any(|r| r.volunteer_id == p.subject) {
                Some(Relation::Responder)
            } else {
                None
            }
        }
    }
}

async fn load_for(st: &AppState, id: &str, actor: &CaseActor) -> ApiResult<(CaseRecord, Relation)> {
    let case = st.store.get(id).await?.ok_or_else(not_found)?;
    // Someone unrelated learns nothing, not even that the case exists.
    let rel = relation(&case, actor).ok_or_else(not_found)?;
    Ok((case, rel))
}

/// `POST /panic` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PanicRequest {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<u32>,
    pub severity: Severity,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Required when not signed in: the callback number (E.164; Indonesian forms accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_phone: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PanicCreated {
    pub id: String,
    pub status: String,
    /// Case-scoped bearer token of an anonymous caller (read, cancel, socket). Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_token: Option<String>,
    /// Shown to the caller; given to a responder only after they accept.
    pub handshake_code: String,
    pub created_at: String,
    /// True when the signed-in caller already had an open case: it is returned instead.
    #[serde(default)]
    pub existing: bool,
}

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
async fn panic(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    parts_auth: OptionalPrincipal,
    ApiJson(req): ApiJson<PanicRequest>,
) -> ApiResult<Response> {
    let principal = parts_auth.0;
    let location = LatLng::new(req.latitude, req.longitude)
        .and_then(|p| st.config.service_area.check(p))
        .map_err(coord_error)?;
    if req.accuracy_m.is_some_and(|a| a > 100_000) {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("accuracy_m terlalu besar", "accuracy_m is too large"),
        ));
    }
    let description = req
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1_000)
    {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "Keterangan maksimal 1000 karakter",
                "Description is at most 1000 characters",
            ),
        ));
    }
    let phone = match &req.caller_phone {
        Some(p) => Some(PhoneE164::parse(p).map_err(|_| {
            ApiError::validation(
                "EMERGENCY_CALLER_PHONE_INVALID",
                Msg::new("Nomor telepon tidak valid", "Invalid phone number"),
            )
        })?),
        None => None,
    };
    if principal.is_none() && phone.is_none() {
        return Err(ApiError::validation(
            "EMERGENCY_CALLER_PHONE_REQUIRED",
            Msg::new(
                "Nomor telepon diperlukan agar relawan dapat menghubungi Anda",
                "A phone number is needed so responders can call you back",
            ),
        ));
    }
    let idem = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| idempotency::valid_key(k))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "IDEMPOTENCY_KEY_INVALID",
                        Msg::new("Idempotency-Key tidak valid", "Invalid Idempotency-Key"),
                    )
                })?;
            // The key is per caller: two people cannot collide on a key.
            let scope = principal
                .as_ref()
                .map(|p| p.subject.clone())
                .or_else(|| phone.as_ref().map(|p| p.as_str().to_string()))
                .unwrap_or_default();
            Some((
                format!("{scope}:{key}"),
                idempotency::request_hash(&serde_json::to_vec(&req).unwrap_or_default()),
            ))
        }
    };
    let account = principal.as_ref().map(|p| p.subject.clone());
    let phone_text = phone.as_ref().map(|p| p.as_str().to_string());
    // A retry is answered before anything else (limits included).
    if let Some((key, hash)) = &idem
        && let Some(earlier) = st.store.replay(key, hash).await?
    {
        return created_response(
            earlier,
            "",
            Envelope::created(&PanicCreated::default()),
            &st,
        );
    }

    // A signed-in caller with an open case gets that case back.
    if account.is_some()
        && let Some(open) = st.store.open_case_of(account.as_deref(), None).await?
    {
        return Ok(Envelope::ok(PanicCreated {
            id: open.id,
            status: open.status.as_str().into(),
            caller_token: None,
            handshake_code: open.handshake_code,
            created_at: open.created_at,
            existing: true,
        })
        .into_response());
    }
    // One address: a ceiling per second, high enough for a carrier's NAT on an earthquake
    // day; the general per-IP request limit does not apply to panics.
    let d = st
        .panic_ceiling
        .hit(
            &format!("panic:addr:{ip}"),
            st.config.panics_per_address_per_second,
            Duration::from_secs(1),
        )
        .await?;
    if !d.allowed {
        return Err(panic_rate_limited(d.reset_after_s));
    }
    // Limits per caller never block a caller's first panic.
    let recent = st
        .store
        .count_by_caller_since(
            account.as_deref(),
            phone_text.as_deref(),
            now_micros() - 3_600_000_000,
        )
        .await?;
    if recent > 0 {
        let who = account
            .clone()
            .or_else(|| phone_text.clone())
            .unwrap_or_default();
        let d = st
            .limiter
            .hit(
                &format!("panic:caller:{who}"),
                5,
                Duration::from_secs(3_600),
            )
            .await?;
        if !d.allowed {
            return Err(panic_rate_limited(d.reset_after_s));
        }
    }

    let id = uuid::Uuid::now_v7().to_string();
    let token = (principal.is_none()).then(|| {
        let bytes: [u8; 32] = rand::random();
        format!(
            "ct_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    });
    let code = handshake_code();
    let new = NewCase {
        id: id.clone(),
        severity: req.severity,
        kind: req.kind,
        location,
        accuracy_m: req.accuracy_m,
        description,
        caller_account: account,
        caller_phone: phone_text,
        caller_token_hash: token.as_deref().map(token_hash).unwrap_or_default(),
        handshake_code: code.clone(),
        accepts_wanted: st.config.accepts_wanted,
        source: "app",
    };
    let created = PanicCreated {
        id: id.clone(),
        status: "pending".into(),
        caller_token: token,
        handshake_code: code,
        created_at: rfc3339(now_micros()),
        existing: false,
    };
    let body = Envelope::created(&created);
    let outcome = st
        .store
        .create(
            &new,
            idem.as_ref().map(|(k, h)| (k.as_str(), h.as_str())),
            || (201, serde_json::to_string(&body).unwrap_or_default()),
        )
        .await?;
    created_response(outcome, &id, body, &st)
}

fn created_response(
    outcome: Created,
    id: &str,
    body: Envelope<&PanicCreated>,
    st: &AppState,
) -> ApiResult<Response> {
    match outcome {
        Created::New => {
            tracing::info!(case_id = %id, "panic received");
            st.dispatcher.start(id.to_string());
            Ok(body.into_response())
        }
        Created::Replay { status, response } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                response,
            )
                .into_response())
        }
        Created::KeyReuse => Err(ApiError::conflict(
            "IDEMPOTENCY_KEY_REUSED",
            Msg::new(
                "Idempotency-Key dipakai untuk permintaan lain",
                "The Idempotency-Key was used for another request",
            ),
        )),
    }
}

/// A signed-in caller, if a JWT was sent (panics may be anonymous).
pub struct OptionalPrincipal(pub Option<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalPrincipal {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match bearer(parts)? {
            None => Ok(OptionalPrincipal(None)),
            Some(t) => Ok(OptionalPrincipal(Some(
                verify_with_router_authenticator(parts, t).await?,
            ))),
        }
    }
}

/// A case as its caller, responders and Ops see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: CaseRecord,
    /// For the caller, accepted responders and Ops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_code: Option<String>,
    /// The nearest AEDs to the patient (within 1 km).
    pub aeds: Vec<crate::aed::Aed>,
}

async fn view(st: &AppState, case: CaseRecord) -> ApiResult<CaseView> {
    let at = LatLng::new(case.latitude, case.longitude).map_err(coord_error)?;
    let aeds = st.aeds.nearest(at, 1_000.0, 3).await?;
    let code = case.handshake_code.clone();
    Ok(CaseView {
        case,
        handshake_code: Some(code),
        aeds,
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
async fn get_case(
    State(st): State<AppState>,
    actor: CaseActor,
    Path(id): Path<String>,
) -> ApiResult<Envelope<CaseView>> {
    let (case, _rel) = load_for(&st, &id, &actor).await?;
    Ok(Envelope::ok(view(&st, case).await?))
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
async fn cancel(
    State(st): State<AppState>,
    actor: CaseActor,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CancelRequest>,
) -> ApiResult<Envelope<CaseView>> {
    let (_, rel) = load_for(&st, &id, &actor).await?;
    if rel == Relation::Responder {
        return Err(ApiError::forbidden());
    }
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "Alasan wajib diisi (maks. 500 karakter)",
                "A reason is required (at most 500 characters)",
            ),
        ));
    }
    let who = match &actor {
        CaseActor::User(p) => Some(p.subject.clone()),
        CaseActor::Caller { .. } => None,
    };
    let mut tx = st.store.db().begin().await?;
    let mut state = st.store.lock(&mut tx, &id).await?.ok_or_else(not_found)?;
    state.cancel()?;
    Store::set_status(&mut tx, &id, state.status, Some(reason)).await?;
    timeline_add(&mut tx, &id, "cancelled", who.as_deref(), &serde_json::json!({ "reason": reason, "by": if rel == Relation::Ops { "ops" } else { "caller" } })).await?;
    tx.commit().await?;
    let case = st.store.get(&id).await?.ok_or_else(not_found)?;
    Ok(Envelope::ok(view(&st, case).await?))
}

/// Every step of a case, timestamped.
#[utoipa::path(get, path = "/{id}/timeline", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    responses(
        (status = 200, description = "The timeline, oldest first", body = inline(Envelope<Vec<TimelineEntry>>)),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn timeline(
    State(st): State<AppState>,
    actor: CaseActor,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Vec<TimelineEntry>>> {
    load_for(&st, &id, &actor).await?;
    Ok(Envelope::ok(st.store.timeline(&id).await?))
}

/// Open cases, most severe and oldest first (Ops).
#[utoipa::path(get, path = "/active", tag = "cases",
    responses(
        (status = 200, description = "Open cases", body = inline(Envelope<Vec<CaseRecord>>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn active(State(st): State<AppState>, Auth(p): Auth) -> ApiResult<Envelope<Vec<CaseRecord>>> {
    p.require(perm::CASE_READ_ALL)?;
    let cases = st.store.active().await?;
    let total = u64::try_from(st.store.active_count().await?).unwrap_or(0);
    Ok(Envelope::ok(cases).paged(kreki_platform::error::Meta {
        page: 1,
        limit: 500,
        total,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpsStats {
    /// Cases pending, assigned or responding now.
    pub open_cases: u64,
    /// Cases created today (Asia/Jakarta, UTC+7).
    pub cases_today: u64,
    /// Median seconds from the panic to the first accept over today's accepted cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_first_accept_s_today: Option<f64>,
    /// Start of "today" (RFC 3339).
    pub since: String,
}

/// The Ops console's metrics strip: open cases, median time to the first accept today.
#[utoipa::path(get, path = "/stats", tag = "cases",
    responses(
        (status = 200, description = "Figures", body = inline(Envelope<OpsStats>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn stats(State(st): State<AppState>, Auth(p): Auth) -> ApiResult<Envelope<OpsStats>> {
    p.require(perm::CASE_READ_ALL)?;
    // Midnight in Jakarta (WIB, UTC+7, no daylight saving).
    const WIB_US: i64 = 7 * 3_600 * 1_000_000;
    const DAY_US: i64 = 86_400 * 1_000_000;
    let now = now_micros();
    let since = (now + WIB_US).div_euclid(DAY_US) * DAY_US - WIB_US;
    let (open_cases, today, mut accepts) = st.store.stats_since(since).await?;
    accepts.sort_by(f64::total_cmp);
    let median = match accepts.len() {
        0 => None,
        n if n % 2 == 1 => Some(accepts[n / 2]),
        n => Some((accepts[n / 2 - 1] + accepts[n / 2]) / 2.0),
    };
    Ok(Envelope::ok(OpsStats {
        open_cases,
        cases_today: today,
        median_first_accept_s_today: median,
        since: rfc3339(since),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// Why the dispatcher hands the case to PSC 119 (kept in the timeline).
    pub note: String,
}

/// Ops hands a case to PSC 119 now (`CaseEscalated` with reason `ops`).
#[utoipa::path(put, path = "/{id}/escalate", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = EscalateRequest,
    responses(
        (status = 200, description = "Escalated", body = inline(Envelope<CaseView>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CASE_CLOSED, EMERGENCY_ALREADY_ESCALATED", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED (note empty or over 500 characters)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn ops_escalate(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EscalateRequest>,
) -> ApiResult<Envelope<CaseView>> {
    p.require(perm::CASE_MANAGE)?;
    let note = req.note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "Catatan wajib diisi (maks. 500 karakter)",
                "A note is required (at most 500 characters)",
            ),
        ));
    }
    let case = st.store.get(&id).await?.ok_or_else(not_found)?;
    if !case.status.is_open() {
        return Err(DomainError::CaseClosed.into());
    }
    let mut tx = st.store.db().begin().await?;
    // Serialises with the dispatcher's own escalation of this case.
    st.store.lock(&mut tx, &id).await?.ok_or_else(not_found)?;
    if !crate::dispatch::escalate(&mut tx, &case, "ops", Some(&p.subject)).await? {
        return Err(ApiError::conflict(
            "EMERGENCY_ALREADY_ESCALATED",
            Msg::new(
                "Kasus sudah diteruskan ke PSC 119",
                "The case was already handed to PSC 119",
            ),
        ));
    }
    timeline_add(
        &mut tx,
        &id,
        "ops_note",
        Some(&p.subject),
        &serde_json::json!({ "note": note }),
    )
    .await?;
    tx.commit().await?;
    st.relay.poke();
    st.dispatcher.changed(&id);
    let case = st.store.get(&id).await?.ok_or_else(not_found)?;
    Ok(Envelope::ok(view(&st, case).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsOfferRequest {
    /// The volunteer to offer the case to (their KREKI ID account id).
    pub volunteer_id: String,
}

/// Ops offers a case to a named on-duty volunteer (manual assign, or a re-offer after an
/// expired or declined offer). The volunteer still accepts or declines.
#[utoipa::path(put, path = "/{id}/offer", tag = "cases",
    params(("id" = String, Path, description = "Case id")),
    request_body = OpsOfferRequest,
    responses(
        (status = 200, description = "Offer sent (socket, or notify when the app is closed)", body = inline(Envelope<crate::store::OfferRow>)),
        (status = 403, description = "Ops only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_CASE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "EMERGENCY_CASE_CLOSED, EMERGENCY_CASE_FULL, EMERGENCY_NOT_ON_DUTY, EMERGENCY_VOLUNTEER_NOT_ELIGIBLE, EMERGENCY_ALREADY_OFFERED, EMERGENCY_ALREADY_RESPONDING", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn ops_offer(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<OpsOfferRequest>,
) -> ApiResult<Envelope<crate::store::OfferRow>> {
    use crate::domain::OfferState;
    use kreki_emergency_contracts::socket::ServerMsg;
    p.require(perm::CASE_MANAGE)?;
    let vol = req.volunteer_id.trim().to_string();
    if vol.is_empty() || vol.len() > 100 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("volunteer_id tidak valid", "Invalid volunteer_id"),
        ));
    }
    let case = st.store.get(&id).await?.ok_or_else(not_found)?;
    if !case.status.is_open() {
        return Err(DomainError::CaseClosed.into());
    }
    let Some((lat, lng)) = st
        .live
        .is_on_duty(&vol)
        .then(|| st.live.nearby_of(&vol))
        .flatten()
    else {
        return Err(ApiError::conflict(
            "EMERGENCY_NOT_ON_DUTY",
            Msg::new(
                "Relawan tidak sedang bertugas",
                "The volunteer is not on duty",
            ),
        ));
    };
    if !st.live.eligibility(&vol).is_some_and(|e| e.verified) {
        return Err(ApiError::conflict(
            "EMERGENCY_VOLUNTEER_NOT_ELIGIBLE",
            Msg::new(
                "Relawan belum terverifikasi untuk menerima kasus",
                "The volunteer is not verified to take cases",
            ),
        ));
    }
    let distance_m =
        crate::geo::haversine_m(case.latitude, case.longitude, lat, lng).round() as i64;
    let mut tx = st.store.db().begin().await?;
    let state = st.store.lock(&mut tx, &id).await?.ok_or_else(not_found)?;
    if !state.status.is_open() {
        return Err(DomainError::CaseClosed.into());
    }
    if state.responder(&vol).is_some() {
        return Err(ApiError::conflict(
            "EMERGENCY_ALREADY_RESPONDING",
            Msg::new(
                "Relawan sudah menangani kasus ini",
                "The volunteer already responds to this case",
            ),
        ));
    }
    if state.responders.len() >= state.accepts_wanted {
        return Err(DomainError::CaseFull.into());
    }
    let earlier = Store::offer_state(&mut tx, &id, &vol).await?;
    if earlier == Some(OfferState::Open) {
        return Err(ApiError::conflict(
            "EMERGENCY_ALREADY_OFFERED",
            Msg::new(
                "Relawan sedang mempertimbangkan tawaran ini",
                "The volunteer is already considering this offer",
            ),
        ));
    }
    let wave = Store::offers_in(&mut tx, &id)
        .await?
        .iter()
        .map(|o| o.wave)
        .max()
        .unwrap_or(0);
    let expires = now_micros() + i64::from(st.config.offer_timeout_s) * 1_000_000;
    let offer = crate::store::OfferRow {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: id.clone(),
        volunteer_id: vol.clone(),
        wave,
        state: OfferState::Open,
        distance_m,
        expires_at_us: expires,
        expires_at: rfc3339(expires),
    };
    if earlier.is_some() {
        Store::reopen_offer(&mut tx, &offer).await?;
    } else {
        Store::insert_offer(&mut tx, &offer).await?;
    }
    let socket = st.dispatcher.hub.volunteer_connected(&vol);
    timeline_add(
        &mut tx,
        &id,
        "ops_offer",
        Some(&p.subject),
        &serde_json::json!({ "volunteer_id": vol, "distance_m": distance_m, "again": earlier.is_some(),
            "via": if socket { "socket" } else { "notify" } }),
    )
    .await?;
    if !socket {
        st.dispatcher.notify_offer(&mut tx, &case, &offer).await?;
    }
    tx.commit().await?;
    st.relay.poke();
    if socket {
        st.dispatcher.hub.to_volunteer(
            &vol,
            &ServerMsg::Offer {
                offer_id: offer.id.clone(),
                case_id: id.clone(),
                severity: case.severity,
                kind: case.kind,
                latitude: case.latitude,
                longitude: case.longitude,
                distance_m,
                expires_at: offer.expires_at.clone(),
                description: case.description.clone(),
            },
        );
    }
    st.dispatcher.changed(&id);
    Ok(Envelope::ok(offer))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestAlertQueued {
    /// Id of the notification message (look for it on the device).
    pub message_id: String,
}

/// Send myself a test alert through the dispatch notification path.
#[utoipa::path(post, path = "/presence/test-alert", tag = "presence",
    responses(
        (status = 202, description = "Test alert queued", body = inline(Envelope<TestAlertQueued>)),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Volunteers only (AUTH_FORBIDDEN)", body = ErrorEnvelope),
        (status = 429, description = "Too many self-tests (RATE_LIMITED)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn test_alert(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<TestAlertQueued>> {
    // Only those who receive dispatch alerts test them (the roles with
    // `presence:manage_own`): a test alert makes notify call the person's push endpoints.
    p.require(perm::PRESENCE_OWN)?;
    let d = st
        .limiter
        .hit(
            &format!("test-alert:{}", p.subject),
            TEST_ALERTS_PER_HOUR,
            Duration::from_secs(3600),
        )
        .await?;
    if !d.allowed {
        return Err(ApiError::rate_limited(d.reset_after_s));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let req = MessageRequested {
        id: id.clone(),
        dedup_key: format!("test-alert:{id}"),
        recipient_id: Some(p.subject.clone()),
        address: None,
        template: Template::TestAlert,
        vars: serde_json::Map::new(),
        language: None,
        priority: Priority::High,
        channels: Vec::new(),
        expires_at: None,
        correlation_id: None,
        attachments: Vec::new(),
    };
    let event = Event::new("emergency", MESSAGE_REQUESTED, &req).map_err(ApiError::internal)?;
    let mut tx = st.store.db().begin().await?;
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    st.relay.poke();
    tracing::info!(message_id = %id, "alert self-test queued");
    Ok(Envelope::accepted(TestAlertQueued { message_id: id }))
}

// ---------------------------------------------------------------------------------------
// Volunteers: presence, offers, answers, statuses, completion.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    pub on_duty: bool,
    /// Required when going on duty.
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceState {
    pub on_duty: bool,
    /// Whether the volunteer may be offered cases (verified, eligibility known).
    pub dispatchable: bool,
}

fn point(lat: Option<f64>, lng: Option<f64>, cfg: &EmergencyConfig) -> ApiResult<LatLng> {
    match (lat, lng) {
        (Some(a), Some(b)) => LatLng::new(a, b)
            .and_then(|p| cfg.service_area.check(p))
            .map_err(coord_error),
        _ => Err(ApiError::validation(
            "EMERGENCY_LOCATION_REQUIRED",
            Msg::new(
                "Lokasi diperlukan untuk bertugas",
                "A location is needed to go on duty",
            ),
        )),
    }
}

/// Go on or off duty. Locations are kept only while on duty.
#[utoipa::path(put, path = "/presence", tag = "presence",
    request_body = PresenceRequest,
    responses(
        (status = 200, description = "Presence set", body = inline(Envelope<PresenceState>)),
        (status = 403, description = "Volunteers only", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_LOCATION_REQUIRED / _INVALID / _OUTSIDE_AREA", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn presence(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<PresenceRequest>, ApiError>,
) -> ApiResult<Envelope<PresenceState>> {
    p.require(perm::PRESENCE_OWN)?;
    let ApiJson(req) = body?;
    if req.on_duty {
        let at = point(req.latitude, req.longitude, &st.config)?;
        if st.demo {
            crate::demo::eligible_on_duty(&st, &p.subject);
        }
        st.live.locate(&p.subject, at, now_micros());
    } else {
        st.live.off_duty(&p.subject);
    }
    let dispatchable = st.live.eligibility(&p.subject).is_some_and(|e| e.verified);
    Ok(Envelope::ok(PresenceState {
        on_duty: req.on_duty,
        dispatchable,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub accuracy_m: Option<u32>,
}

/// Location update while on duty (the fallback of the app's socket).
#[utoipa::path(put, path = "/presence/location", tag = "presence",
    request_body = LocationRequest,
    responses(
        (status = 204, description = "Stored in the live index"),
        (status = 409, description = "EMERGENCY_NOT_ON_DUTY: locations are not kept off duty", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn location(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<LocationRequest>, ApiError>,
) -> ApiResult<StatusCode> {
    p.require(perm::PRESENCE_OWN)?;
    let ApiJson(req) = body?;
    let at = point(Some(req.latitude), Some(req.longitude), &st.config)?;
    if !st.live.is_on_duty(&p.subject) {
        return Err(ApiError::conflict(
            "EMERGENCY_NOT_ON_DUTY",
            Msg::new(
                "Anda tidak sedang bertugas; lokasi tidak disimpan",
                "You are not on duty; the location is not kept",
            ),
        ));
    }
    st.live.locate(&p.subject, at, now_micros());
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyOffer {
    #[serde(flatten)]
    pub offer: crate::store::OfferRow,
    pub severity: Severity,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The nearest AEDs to the patient: pick one up on the way.
    pub aeds: Vec<crate::aed::Aed>,
}

/// My open offers (the app opened from an alert reads this).
#[utoipa::path(get, path = "/offers/mine", tag = "cases",
    responses((status = 200, description = "Open offers, newest first", body = inline(Envelope<Vec<MyOffer>>))),
    security(("bearer" = [])))]
async fn offers_mine(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<MyOffer>>> {
    let mut out = Vec::new();
    for offer in st.store.offers_of(&p.subject).await? {
        if let Some(c) = st.store.get(&offer.case_id).await?
            && c.status.is_open()
        {
            let at = LatLng::new(c.latitude, c.longitude).map_err(coord_error)?;
            out.push(MyOffer {
                aeds: st.aeds.nearest(at, 1_000.0, 3).await?,
                offer,
                severity: c.severity,
                kind: c.kind,
                latitude: c.latitude,
                longitude: c.longitude,
                description: c.description,
            });
        }
    }
    Ok(Envelope::ok(out))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RespondAction {
    Accept,
    Reject,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondRequest {
    pub action: RespondAction,
    #[serde(default)]
    pub eta_minutes: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RespondResult {
    /// `lead`, `member` or `declined`.
    pub role: String,
    /// Revealed only after accepting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseRecord>,
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
async fn respond(
    State(st): State<AppState>,
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
}

/// Accept or decline (HTTP and the demo simulator).
pub async fn answer(
    st: &AppState,
    id: &str,
    volunteer: &str,
    action: RespondAction,
    eta_minutes: Option<u32>,
) -> ApiResult<RespondResult> {
    let mut tx = st.store.db().begin().await?;
    let mut state = st.store.lock(&mut tx, id).await?.ok_or_else(not_found)?;
    let offer = Store::offer_state(&mut tx, id, volunteer).await?;
    let mut first_accept = false;
    let result = match action {
        RespondAction::Reject => {
            state.decline(offer)?;
            Store::set_offer_state(&mut tx, id, volunteer, crate::domain::OfferState::Declined)
                .await?;
            timeline_add(
                &mut tx,
                id,
                "offer_declined",
                Some(volunteer),
                &serde_json::json!({}),
            )
            .await?;
            None
        }
        RespondAction::Accept => {
            let accepted = state.accept(volunteer, offer, eta_minutes)?;
            Store::set_offer_state(&mut tx, id, volunteer, crate::domain::OfferState::Accepted)
                .await?;
            let me = state
                .responder(volunteer)
                .cloned()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("responder missing")))?;
            Store::add_responder(&mut tx, id, &me).await?;
            Store::set_status(&mut tx, id, state.status, None).await?;
            first_accept =
                Store::milestone(&mut tx, id, crate::store::Milestone::FirstAccept).await?;
            timeline_add(
                &mut tx,
                id,
                "accepted",
                Some(volunteer),
                &serde_json::json!({ "lead": accepted.is_lead, "eta_minutes": eta_minutes }),
            )
            .await?;
            crate::responder_events::publish(
                &mut tx,
                id,
                volunteer,
                kreki_emergency_contracts::ResponderStatus::Accepted,
            )
            .await?;
            Some(accepted)
        }
    };
    tx.commit().await?;
    st.relay.poke();
    st.dispatcher.changed(id);
    match result {
        None => Ok(RespondResult {
            role: "declined".into(),
            handshake_code: None,
            case: None,
        }),
        Some(a) => {
            let case = st.store.get(id).await?.ok_or_else(not_found)?;
            if first_accept && let Some(sec) = case.metrics.time_to_first_accept_s {
                st.dispatcher
                    .observe(crate::store::Milestone::FirstAccept, case.severity, sec);
            }
            Ok(RespondResult {
                role: if a.is_lead { "lead" } else { "member" }.into(),
                handshake_code: Some(case.handshake_code.clone()),
                case: Some(case),
            })
        }
    }
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
async fn status(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Envelope<CaseView>> {
    report_status(&st, &id, &p.subject, req.status, req.reason)
        .await
        .map(Envelope::ok)
}

/// A responder's new status (HTTP and the demo simulator).
pub async fn report_status(
    st: &AppState,
    id: &str,
    volunteer: &str,
    status: kreki_emergency_contracts::ResponderStatus,
    reason: Option<String>,
) -> ApiResult<CaseView> {
    use kreki_emergency_contracts::ResponderStatus;
    let case = st.store.get(id).await?.ok_or_else(not_found)?;
    let mut tx = st.store.db().begin().await?;
    let mut state = st.store.lock(&mut tx, id).await?.ok_or_else(not_found)?;
    state.set_status(volunteer, status)?;
    Store::set_responder_status(&mut tx, id, volunteer, status).await?;
    Store::set_status(&mut tx, id, state.status, None).await?;
    let first_arrival = status >= ResponderStatus::Arrived
        && Store::milestone(&mut tx, id, crate::store::Milestone::FirstArrival).await?;
    timeline_add(
        &mut tx,
        id,
        &format!("status_{}", status.as_str()),
        Some(volunteer),
        &serde_json::json!({ "reason": reason }),
    )
    .await?;
    crate::responder_events::publish(&mut tx, id, volunteer, status).await?;
    if first_arrival {
        st.dispatcher.observe(
            crate::store::Milestone::FirstArrival,
            case.severity,
            (now_micros() - case.created_at_us) as f64 / 1e6,
        );
    }
    if status == ResponderStatus::Escalating {
        crate::dispatch::escalate(&mut tx, &case, "responder_escalating", Some(volunteer)).await?;
    }
    tx.commit().await?;
    st.relay.poke();
    st.dispatcher.changed(id);
    let case = st.store.get(id).await?.ok_or_else(not_found)?;
    view(st, case).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// `recovered_on_scene`, `transported`, `referred`, `deceased`, `no_patient`, `other`.
    pub outcome: String,
    #[serde(default)]
    pub hospital_referral: Option<String>,
    #[serde(default)]
    pub clinical: kreki_emergency_contracts::ClinicalRecord,
}

const OUTCOMES: &[&str] = &[
    "recovered_on_scene",
    "transported",
    "referred",
    "deceased",
    "no_patient",
    "other",
];

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
async fn complete(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CompleteRequest>,
) -> ApiResult<Envelope<CaseView>> {
    let by_ops = p.can(perm::CASE_MANAGE);
    complete_case(&st, &id, &p.subject, by_ops, req)
        .await
        .map(Envelope::ok)
}

/// Complete a case (HTTP and the demo simulator).
pub async fn complete_case(
    st: &AppState,
    id: &str,
    by: &str,
    by_ops: bool,
    req: CompleteRequest,
) -> ApiResult<CaseView> {
    use kreki_emergency_contracts::{CASE_COMPLETED, CaseCompleted};
    if !OUTCOMES.contains(&req.outcome.as_str()) {
        return Err(ApiError::validation(
            "EMERGENCY_OUTCOME_INVALID",
            Msg::new("Hasil penanganan tidak dikenal", "Unknown outcome"),
        )
        .details(serde_json::json!({ "allowed": OUTCOMES })));
    }
    let case = st.store.get(id).await?.ok_or_else(not_found)?;
    if !by_ops && !case.responders.iter().any(|r| r.volunteer_id == by) {
        return Err(not_found());
    }
    let mut tx = st.store.db().begin().await?;
    let mut state = st.store.lock(&mut tx, id).await?.ok_or_else(not_found)?;
    state.complete(by, by_ops)?;
    Store::set_status(&mut tx, id, state.status, Some(&req.outcome)).await?;
    let now = now_micros();
    let ev = CaseCompleted {
        case_id: id.to_string(),
        severity: case.severity,
        kind: case.kind,
        latitude: case.latitude,
        longitude: case.longitude,
        created_at: case.created_at.clone(),
        first_arrival_at: case
            .metrics
            .time_to_first_arrival_s
            .map(|s| rfc3339(case.created_at_us + (s * 1e6) as i64)),
        completed_at: rfc3339(now),
        outcome: req.outcome.clone(),
        hospital_referral: req.hospital_referral.clone(),
        clinical: req.clinical.clone(),
        responders: case
            .responders
            .iter()
            .map(|r| r.volunteer_id.clone())
            .collect(),
    };
    let event = Event::new("emergency", CASE_COMPLETED, &ev)
        .map_err(ApiError::internal)?
        .correlated(id.to_string());
    outbox::enqueue(&mut tx, &event).await?;
    if crate::wellbeing::is_hard(case.severity, &req.outcome, &req.clinical) {
        let due = now + i64::from(st.config.wellbeing_checkin_after_s) * 1_000_000;
        crate::wellbeing::schedule(&mut tx, id, &ev.responders, due).await?;
    }
    timeline_add(&mut tx, id, "completed", Some(by), &serde_json::json!({ "outcome": req.outcome, "hospital_referral": req.hospital_referral, "by": if by_ops { "ops" } else { "lead" } })).await?;
    tx.commit().await?;
    st.relay.poke();
    st.dispatcher.changed(id);
    let case = st.store.get(id).await?.ok_or_else(not_found)?;
    view(st, case).await
}

// ---------------------------------------------------------------------------------------
// SMS fallback and Ops look-ups.

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsInbound {
    /// Sender's number (the callback number).
    pub from: String,
    pub text: String,
    /// The gateway's message id (carrier retries repeat it).
    pub message_id: String,
    /// RFC 3339.
    pub received_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsResult {
    /// `created`, `duplicate` or `unparsed` (a help reply was sent; kept for an operator).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

/// Inbound `DARURAT` SMS from the gateway (HMAC-signed).
#[utoipa::path(post, path = "/sms/inbound", tag = "cases",
    request_body = SmsInbound,
    params(("X-Kreki-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body with the shared key>")),
    responses(
        (status = 200, description = "Handled: created, duplicate (carrier retry) or unparsed (help reply sent)", body = inline(Envelope<SmsResult>)),
        (status = 401, description = "EMERGENCY_SMS_SIGNATURE_INVALID", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_SMS_NOT_CONFIGURED: no SMS gateway is configured, so there is no such webhook", body = ErrorEnvelope),
    ))]
async fn sms_inbound(
    State(st): State<AppState>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult<Envelope<SmsResult>> {
    let Some(secret) = &st.config.sms_webhook_secret else {
        // Not a passing outage: the webhook does not exist on this install.
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "EMERGENCY_SMS_NOT_CONFIGURED",
            Msg::new(
                "Jalur SMS belum dikonfigurasi",
                "The SMS channel is not configured",
            ),
        ));
    };
    let sig = headers
        .get("x-kreki-signature")
        .and_then(|v| v.to_str().ok());
    if !kreki_platform::signature::verify(secret.expose().as_bytes(), &[&raw], sig) {
        tracing::warn!("SMS webhook with a bad signature refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "EMERGENCY_SMS_SIGNATURE_INVALID",
            Msg::new("Tanda tangan tidak valid", "Invalid signature"),
        ));
    }
    let msg: SmsInbound = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Isi pesan SMS tidak valid", "Invalid SMS payload"),
        )
        .details(serde_json::json!({ "reason": e.to_string() }))
    })?;
    let from = PhoneE164::parse(&msg.from).map_err(|_| {
        ApiError::validation(
            "EMERGENCY_CALLER_PHONE_INVALID",
            Msg::new("Nomor pengirim tidak valid", "Invalid sender number"),
        )
    })?;
    if msg.message_id.is_empty() || msg.message_id.len() > 128 || msg.text.len() > 2_000 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Pesan SMS tidak valid", "Invalid SMS message"),
        ));
    }
    let normalized = msg
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    let text_hash = token_hash(&normalized);
    let now = now_micros();
    let mut tx = st.store.db().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO sms_inbound (message_id, sender, text_hash, text, received_at, status) VALUES ($1, $2, $3, $4, $5, 'received') \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&msg.message_id)
    .bind(from.as_str())
    .bind(&text_hash)
    .bind(&msg.text)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    use sqlx::Row;
    if inserted == 0 {
        let case_id: Option<String> =
            sqlx::query("SELECT case_id FROM sms_inbound WHERE message_id = $1")
                .bind(&msg.message_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        tx.rollback().await?;
        return Ok(Envelope::ok(SmsResult {
            status: "duplicate".into(),
            case_id,
        }));
    }
    let window = now - i64::from(st.config.sms_duplicate_window_s) * 1_000_000;
    let earlier: Option<String> = sqlx::query(
        "SELECT case_id FROM sms_inbound WHERE sender = $1 AND text_hash = $2 AND received_at >= $3 AND message_id <> $4 AND case_id IS NOT NULL \
         ORDER BY received_at LIMIT 1",
    )
    .bind(from.as_str())
    .bind(&text_hash)
    .bind(window)
    .bind(&msg.message_id)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.try_get(0))
    .transpose()?;
    let mark = |status: &'static str, case: Option<String>, error: Option<String>| {
        sqlx::query(
            "UPDATE sms_inbound SET status = $1, case_id = $2, error = $3 WHERE message_id = $4",
        )
        .bind(status)
        .bind(case)
        .bind(error)
        .bind(msg.message_id.clone())
    };
    if let Some(case_id) = earlier {
        mark("duplicate", Some(case_id.clone()), None)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(Envelope::ok(SmsResult {
            status: "duplicate".into(),
            case_id: Some(case_id),
        }));
    }
    let parsed = crate::sms::parse(&msg.text)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            LatLng::new(p.latitude, p.longitude)
                .and_then(|l| st.config.service_area.check(l))
                .map(|l| (p, l))
                .map_err(|e| e.to_string())
        });
    match parsed {
        Err(reason) => {
            mark("unparsed", None, Some(reason))
                .execute(&mut *tx)
                .await?;
            let help = MessageRequested {
                id: uuid::Uuid::now_v7().to_string(),
                dedup_key: format!("sms-help:{}", msg.message_id),
                recipient_id: None,
                address: Some(from.as_str().to_string()),
                template: Template::SmsHelpReply,
                vars: serde_json::Map::new(),
                language: None,
                priority: Priority::High,
                channels: vec![kreki_notify_contracts::Channel::Sms],
                expires_at: None,
                correlation_id: None,
                attachments: Vec::new(),
            };
            let event =
                Event::new("emergency", MESSAGE_REQUESTED, &help).map_err(ApiError::internal)?;
            outbox::enqueue(&mut tx, &event).await?;
            tx.commit().await?;
            st.relay.poke();
            tracing::info!(sender = %from.masked(), "unreadable DARURAT SMS; help reply sent");
            Ok(Envelope::ok(SmsResult {
                status: "unparsed".into(),
                case_id: None,
            }))
        }
        Ok((p, location)) => {
            let id = uuid::Uuid::now_v7().to_string();
            let new = NewCase {
                id: id.clone(),
                // Someone who texts DARURAT cannot say how bad it is: treat it as critical.
                severity: Severity::Critical,
                kind: p.kind,
                location,
                accuracy_m: None,
                description: p.description.clone(),
                caller_account: None,
                caller_phone: Some(from.as_str().to_string()),
                caller_token_hash: String::new(),
                handshake_code: handshake_code(),
                accepts_wanted: st.config.accepts_wanted,
                source: "sms",
            };
            Store::insert_case(&mut tx, &new).await?;
            timeline_add(
                &mut tx,
                &id,
                "sms_received",
                None,
                &serde_json::json!({ "member": p.member, "message_id": msg.message_id }),
            )
            .await?;
            mark("created", Some(id.clone()), None)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            st.dispatcher.start(id.clone());
            Ok(Envelope::ok(SmsResult {
                status: "created".into(),
                case_id: Some(id),
            }))
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NearbyQuery {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres (default 3000).
    pub radius: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyVolunteer {
    pub volunteer_id: String,
    pub distance_m: f64,
    pub location_age_s: u32,
    pub dispatchable: bool,
    /// Where they are (the console's map of responders moving).
    pub latitude: f64,
    pub longitude: f64,
}

/// On-duty volunteers near a point (Ops).
#[utoipa::path(get, path = "/nearby", tag = "cases",
    params(NearbyQuery),
    responses(
        (status = 200, description = "Nearest first (at most 200)", body = inline(Envelope<Vec<NearbyVolunteer>>)),
        (status = 403, description = "Ops only", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_RADIUS_INVALID, EMERGENCY_LOCATION_INVALID", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn nearby(
    State(st): State<AppState>,
    Auth(p): Auth,
    axum::extract::Query(q): axum::extract::Query<NearbyQuery>,
) -> ApiResult<Envelope<Vec<NearbyVolunteer>>> {
    p.require(perm::VOLUNTEER_NEARBY)?;
    let center = LatLng::new(q.latitude, q.longitude).map_err(coord_error)?;
    let radius = q.radius.unwrap_or(3_000.0);
    if !radius.is_finite() || radius <= 0.0 || radius > f64::from(st.config.max_nearby_radius_m) {
        return Err(ApiError::validation(
            "EMERGENCY_RADIUS_INVALID",
            Msg::new("Radius tidak valid", "Invalid radius"),
        )
        .details(serde_json::json!({ "max_m": st.config.max_nearby_radius_m })));
    }
    let list = st
        .live
        .nearby(center, radius, 200)
        .into_iter()
        .filter_map(|c| {
            let (latitude, longitude) = st.live.nearby_of(&c.volunteer_id)?;
            Some(NearbyVolunteer {
                dispatchable: st
                    .live
                    .eligibility(&c.volunteer_id)
                    .is_some_and(|e| e.verified),
                volunteer_id: c.volunteer_id,
                distance_m: (c.distance_m * 10.0).round() / 10.0,
                location_age_s: c.location_age_s,
                latitude,
                longitude,
            })
        })
        .collect();
    Ok(Envelope::ok(list))
}

// ---------------------------------------------------------------------------------------
// AED registry.

fn aed_invalid(field: &str) -> ApiError {
    ApiError::validation(
        "EMERGENCY_AED_INVALID",
        Msg::new("Data AED tidak valid", "Invalid AED data"),
    )
    .details(serde_json::json!({ "field": field }))
}

fn aed_not_found() -> ApiError {
    ApiError::not_found(
        "EMERGENCY_AED_NOT_FOUND",
        Msg::new("AED tidak ditemukan", "AED not found"),
    )
}

async fn save_aed(
    st: &AppState,
    id: &str,
    input: &crate::aed::AedInput,
) -> ApiResult<crate::aed::Aed> {
    if let Some(f) = input.problem() {
        return Err(aed_invalid(f));
    }
    let at = LatLng::new(input.latitude, input.longitude)
        .and_then(|p| st.config.service_area.check(p))
        .map_err(coord_error)?;
    Ok(st.aeds.save(id, input, at, true).await?)
}

/// Register an AED (Ops).
#[utoipa::path(post, path = "/aeds", tag = "aeds",
    request_body = crate::aed::AedInput,
    responses(
        (status = 201, description = "Registered", body = inline(Envelope<crate::aed::Aed>)),
        (status = 403, description = "Ops only", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_AED_INVALID, EMERGENCY_LOCATION_*", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn aed_create(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<crate::aed::AedInput>, ApiError>,
) -> ApiResult<Response> {
    p.require(perm::AED_MANAGE)?;
    let ApiJson(input) = body?;
    let aed = save_aed(&st, &uuid::Uuid::now_v7().to_string(), &input).await?;
    Ok(Envelope::created(aed).into_response())
}

/// Replace an AED's data (Ops; idempotent).
#[utoipa::path(put, path = "/aeds/{aed_id}", tag = "aeds",
    params(("aed_id" = String, Path, description = "AED id")),
    request_body = crate::aed::AedInput,
    responses(
        (status = 200, description = "Updated", body = inline(Envelope<crate::aed::Aed>)),
        (status = 404, description = "EMERGENCY_AED_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn aed_update(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<crate::aed::AedInput>, ApiError>,
) -> ApiResult<Envelope<crate::aed::Aed>> {
    p.require(perm::AED_MANAGE)?;
    let ApiJson(input) = body?;
    st.aeds.get(&id).await?.ok_or_else(aed_not_found)?;
    Ok(Envelope::ok(save_aed(&st, &id, &input).await?))
}

/// Take an AED out of service (Ops).
#[utoipa::path(delete, path = "/aeds/{aed_id}", tag = "aeds",
    params(("aed_id" = String, Path, description = "AED id")),
    responses((status = 200, description = "Out of service"), (status = 404, description = "EMERGENCY_AED_NOT_FOUND", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn aed_delete(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<serde_json::Value>> {
    p.require(perm::AED_MANAGE)?;
    if !st.aeds.deactivate(&id).await? {
        return Err(aed_not_found());
    }
    Ok(Envelope::ok(
        serde_json::json!({ "id": id, "active": false }),
    ))
}

/// One AED (public).
#[utoipa::path(get, path = "/aeds/{aed_id}", tag = "aeds",
    params(("aed_id" = String, Path, description = "AED id")),
    responses((status = 200, description = "The AED", body = inline(Envelope<crate::aed::Aed>)), (status = 404, description = "EMERGENCY_AED_NOT_FOUND", body = ErrorEnvelope)))]
async fn aed_get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<crate::aed::Aed>> {
    Ok(Envelope::ok(
        st.aeds.get(&id).await?.ok_or_else(aed_not_found)?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NearestAedRequest {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres, at most 5000 (default 1000).
    #[serde(default)]
    pub radius_m: Option<f64>,
    /// At most 10 (default 3).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The nearest AEDs to a location (public; the location travels in the body, not the URL).
#[utoipa::path(post, path = "/aeds/nearest", tag = "aeds",
    request_body = NearestAedRequest,
    responses(
        (status = 200, description = "Open ones first, then by distance", body = inline(Envelope<Vec<crate::aed::Aed>>)),
        (status = 422, description = "EMERGENCY_LOCATION_INVALID, EMERGENCY_RADIUS_INVALID", body = ErrorEnvelope),
    ))]
async fn aed_nearest(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<NearestAedRequest>,
) -> ApiResult<Envelope<Vec<crate::aed::Aed>>> {
    let at = LatLng::new(req.latitude, req.longitude).map_err(coord_error)?;
    let radius = req.radius_m.unwrap_or(1_000.0);
    if !radius.is_finite() || radius <= 0.0 || radius > 5_000.0 {
        return Err(ApiError::validation(
            "EMERGENCY_RADIUS_INVALID",
            Msg::new("Radius tidak valid", "Invalid radius"),
        )
        .details(serde_json::json!({ "max_m": 5000 })));
    }
    let limit = req.limit.unwrap_or(3).clamp(1, 10) as usize;
    Ok(Envelope::ok(st.aeds.nearest(at, radius, limit).await?))
}

fn panic_rate_limited(retry_after_s: u64) -> ApiError {
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
