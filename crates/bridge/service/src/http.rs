//! `/api/satusehat/v1`: the transaction log for operators (Ops Admin, System Admin): list,
//! inspect, replay one or many, discard, complete an unidentified patient's NIK.
//! `/admin/bridge/`: a static page that calls this API with the operator's token.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, perm},
    config::Secret,
    error::ErrorEnvelope,
    error::Meta,
    http::ApiJson,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    clock::Clock,
    nik::Nik,
    satusehat::store::{AccessEntry, JobDetail, JobSummary, Store, access, state},
};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    pub psc: PscState,
}

/// What the PSC 119 callbacks need.
#[derive(Clone)]
pub struct PscState {
    pub store: crate::psc119::store::Store,
    /// Centre name → shared secret.
    pub secrets: Arc<HashMap<String, Secret>>,
    pub tolerance_secs: i64,
}

#[derive(OpenApi)]
#[openapi(tags(
    (name = "satusehat", description = "SATUSEHAT transaction log: jobs, exchanges, replay"),
    (name = "psc119", description = "PSC 119 hand-offs and the centres' signed status callbacks")
))]
struct ApiDoc;

pub fn router(st: AppState) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/satusehat/v1",
            OpenApiRouter::new()
                .routes(routes!(list_jobs))
                .routes(routes!(get_job))
                .routes(routes!(replay_one))
                .routes(routes!(replay_many))
                .routes(routes!(discard))
                .routes(routes!(set_patient))
                .routes(routes!(access_log)),
        )
        .nest(
            "/api/psc119/v1",
            OpenApiRouter::new()
                .routes(routes!(callback))
                .routes(routes!(get_handoff)),
        )
        .with_state(st)
        .split_for_parts()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `queued`, `sending`, `sent`, `needs_fix`, `unidentified`, `patient_not_found`,
    /// `dead`, `discarded`.
    pub state: Option<String>,
    /// 1-based.
    pub page: Option<u32>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

fn not_found() -> ApiError {
    ApiError::not_found(
        "BRIDGE_JOB_NOT_FOUND",
        Msg::new(
            "Kasus tidak ada di log SATUSEHAT",
            "Case not in the SATUSEHAT log",
        ),
    )
}

fn bad_state() -> ApiError {
    ApiError::validation(
        "BRIDGE_STATE_INVALID",
        Msg::new("Status tidak dikenal", "Unknown state"),
    )
    .details(serde_json::json!({ "allowed": state::ALL }))
}

/// Jobs, most recently changed first (no patient data).
#[utoipa::path(get, path = "/jobs", tag = "satusehat", params(ListQuery),
    responses(
        (status = 200, description = "Jobs", body = inline(Envelope<Vec<JobSummary>>)),
        (status = 400, description = "Bad query (VALIDATION_FAILED)", body = ErrorEnvelope),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Needs ops_admin or system_admin", body = ErrorEnvelope),
        (status = 422, description = "Unknown state (BRIDGE_STATE_INVALID)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn list_jobs(
    State(st): State<AppState>,
    Auth(p): Auth,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Envelope<Vec<JobSummary>>> {
    p.require(perm::BRIDGE_READ)?;
    let Query(q) = q.map_err(|_| {
        ApiError::bad_request(
            "VALIDATION_FAILED",
            Msg::new("Parameter tidak valid", "Invalid query parameters"),
        )
    })?;
    if let Some(s) = &q.state
        && !state::ALL.contains(&s.as_str())
    {
        return Err(bad_state());
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let (items, total) = st
        .store
        .list(
            q.state.as_deref(),
            i64::from(limit),
            i64::from(page - 1) * i64::from(limit),
        )
        .await?;
    Ok(Envelope::ok(items).paged(Meta {
        page,
        limit,
        total: u64::try_from(total).unwrap_or(0),
    }))
}

/// One job with every exchange (requests and answers as sent, redacted; the NIK masked).
/// Health data: only with `health_record:read` (Ops Admins), and every read is written to
/// the access log (`GET /access-log`) before the job is answered.
#[utoipa::path(get, path = "/jobs/{case_id}", tag = "satusehat",
    params(("case_id" = String, Path, description = "Emergency case id")),
    responses(
        (status = 200, description = "The job and its exchanges (the read is logged)", body = inline(Envelope<JobDetail>)),
        (status = 403, description = "Needs health_record:read (Ops Admins)", body = ErrorEnvelope),
        (status = 404, description = "Unknown case (BRIDGE_JOB_NOT_FOUND)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn get_job(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(case_id): Path<String>,
) -> ApiResult<Envelope<JobDetail>> {
    p.require(perm::HEALTH_RECORD_READ)?;
    let job = st.store.get(&case_id).await?.ok_or_else(not_found)?;
    st.store
        .log_access(
            &p.subject,
            &case_id,
            access::JOB_READ,
            st.clock.now_micros(),
        )
        .await?;
    Ok(Envelope::ok(job))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// Only the reads of this case.
    pub case_id: Option<String>,
    /// 1-based.
    pub page: Option<u32>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// Who read which job's health data, and when (newest first). Auditors (`audit:read`).
#[utoipa::path(get, path = "/access-log", tag = "satusehat", params(AccessQuery),
    responses(
        (status = 200, description = "Recorded reads, newest first", body = inline(Envelope<Vec<AccessEntry>>)),
        (status = 400, description = "Bad query (VALIDATION_FAILED)", body = ErrorEnvelope),
        (status = 403, description = "Needs audit:read", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn access_log(
    State(st): State<AppState>,
    Auth(p): Auth,
    q: Result<Query<AccessQuery>, QueryRejection>,
) -> ApiResult<Envelope<Vec<AccessEntry>>> {
    p.require(perm::AUDIT_READ)?;
    let Query(q) = q.map_err(|_| {
        ApiError::bad_request(
            "VALIDATION_FAILED",
            Msg::new("Parameter tidak valid", "Invalid query parameters"),
        )
    })?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let (items, total) = st
        .store
        .access_log(
            q.case_id.as_deref(),
            i64::from(limit),
            i64::from(page - 1) * i64::from(limit),
        )
        .await?;
    Ok(Envelope::ok(items).paged(Meta {
        page,
        limit,
        total: u64::try_from(total).unwrap_or(0),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Case ids queued again.
    pub queued: Vec<String>,
    /// Case ids left alone (unknown, being sent, already queued, or without a NIK).
    pub skipped: Vec<String>,
}

async fn replay(st: &AppState, ids: Vec<String>) -> Result<Replayed, ApiError> {
    let queued = st.store.replay(&ids, st.clock.now_micros()).await?;
    st.wake.notify_one();
    let skipped = ids.into_iter().filter(|i| !queued.contains(i)).collect();
    Ok(Replayed { queued, skipped })
}

/// Send one job again (sends are conditional creates: no duplicate Encounter). A job held
/// because the caller withdrew `health_data_sharing` is sent only this way, one by one, and
/// the decision is written to the access log (`consent_override`).
#[utoipa::path(post, path = "/jobs/{case_id}/replay", tag = "satusehat",
    params(("case_id" = String, Path, description = "Emergency case id")),
    responses(
        (status = 202, description = "Queued", body = inline(Envelope<Replayed>)),
        (status = 403, description = "Needs ops_admin or system_admin", body = ErrorEnvelope),
        (status = 404, description = "Unknown case (BRIDGE_JOB_NOT_FOUND)", body = ErrorEnvelope),
        (status = 409, description = "Not replayable now: being sent or queued (BRIDGE_JOB_BUSY), or without a NIK (BRIDGE_PATIENT_UNIDENTIFIED)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn replay_one(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(case_id): Path<String>,
) -> ApiResult<Envelope<Replayed>> {
    p.require(perm::BRIDGE_MANAGE)?;
    let Some(current) = st.store.state_of(&case_id).await? else {
        return Err(not_found());
    };
    if current == state::UNIDENTIFIED {
        return Err(ApiError::conflict(
            "BRIDGE_PATIENT_UNIDENTIFIED",
            Msg::new(
                "Lengkapi NIK pasien dulu (PUT …/patient)",
                "Complete the patient's NIK first (PUT …/patient)",
            ),
        ));
    }
    if current == state::CONSENT_WITHDRAWN {
        // The operator decided that the report is due despite the withdrawn consent: on
        // record, with who and when.
        let now = st.clock.now_micros();
        st.store
            .log_access(&p.subject, &case_id, access::CONSENT_OVERRIDE, now)
            .await?;
        st.store.release_held(&case_id, now).await?;
        st.wake.notify_one();
        return Ok(Envelope::accepted(Replayed {
            queued: vec![case_id],
            skipped: Vec::new(),
        }));
    }
    let r = replay(&st, vec![case_id]).await?;
    if r.queued.is_empty() {
        return Err(ApiError::conflict(
            "BRIDGE_JOB_BUSY",
            Msg::new(
                "Kasus sedang antre atau dikirim",
                "The case is queued or being sent",
            ),
        ));
    }
    Ok(Envelope::accepted(r))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayMany {
    /// These case ids (at most 500)…
    #[serde(default)]
    pub case_ids: Vec<String>,
    /// …or every job in this state (`dead`, `needs_fix`, `patient_not_found`).
    #[serde(default)]
    pub state: Option<String>,
}

/// Send many jobs again: a list of case ids, or all jobs in a state (e.g. every dead letter).
#[utoipa::path(post, path = "/jobs/replay", tag = "satusehat", request_body = ReplayMany,
    responses(
        (status = 202, description = "Queued", body = inline(Envelope<Replayed>)),
        (status = 403, description = "Needs ops_admin or system_admin", body = ErrorEnvelope),
        (status = 422, description = "Neither or both of case_ids and state, too many ids, or a state that cannot be replayed (VALIDATION_FAILED, BRIDGE_STATE_INVALID)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn replay_many(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<ReplayMany>, ApiError>,
) -> ApiResult<Envelope<Replayed>> {
    p.require(perm::BRIDGE_MANAGE)?;
    let ApiJson(b) = body?;
    let ids = match (b.case_ids.is_empty(), b.state) {
        (false, None) if b.case_ids.len() <= 500 => b.case_ids,
        (true, Some(s)) => {
            if ![state::DEAD, state::NEEDS_FIX, state::PATIENT_NOT_FOUND].contains(&s.as_str()) {
                return Err(bad_state());
            }
            st.store.ids_in(&s, 500).await?
        }
        _ => {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new(
                    "Berikan case_ids (maks. 500) atau state",
                    "Give case_ids (at most 500) or state",
                ),
            ));
        }
    };
    Ok(Envelope::accepted(replay(&st, ids).await?))
}

/// Give up on a dead letter, a refused job or an unidentified patient.
#[utoipa::path(post, path = "/jobs/{case_id}/discard", tag = "satusehat",
    params(("case_id" = String, Path, description = "Emergency case id")),
    responses(
        (status = 200, description = "Discarded", body = inline(Envelope<JobSummary>)),
        (status = 403, description = "Needs ops_admin or system_admin", body = ErrorEnvelope),
        (status = 404, description = "Unknown case (BRIDGE_JOB_NOT_FOUND)", body = ErrorEnvelope),
        (status = 409, description = "Only dead, refused, not-found or unidentified jobs (BRIDGE_JOB_NOT_DISCARDABLE)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn discard(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(case_id): Path<String>,
) -> ApiResult<Envelope<JobSummary>> {
    p.require(perm::BRIDGE_MANAGE)?;
    if st.store.state_of(&case_id).await?.is_none() {
        return Err(not_found());
    }
    if !st.store.discard(&case_id, st.clock.now_micros()).await? {
        return Err(ApiError::conflict(
            "BRIDGE_JOB_NOT_DISCARDABLE",
            Msg::new(
                "Hanya kasus gagal atau tanpa identitas yang dapat dibuang",
                "Only failed or unidentified jobs can be discarded",
            ),
        ));
    }
    let job = st.store.get(&case_id).await?.ok_or_else(not_found)?;
    Ok(Envelope::ok(job.summary))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientBody {
    /// 16-digit NIK.
    pub nik: String,
}

/// Complete (or correct) the patient's NIK and queue the job at once.
#[utoipa::path(put, path = "/jobs/{case_id}/patient", tag = "satusehat", request_body = PatientBody,
    params(("case_id" = String, Path, description = "Emergency case id")),
    responses(
        (status = 202, description = "NIK stored (masked in the answer), job queued; the exchanges only for holders of health_record:read (the read is logged), else empty", body = inline(Envelope<JobDetail>)),
        (status = 403, description = "Needs ops_admin or system_admin", body = ErrorEnvelope),
        (status = 404, description = "Unknown case (BRIDGE_JOB_NOT_FOUND)", body = ErrorEnvelope),
        (status = 409, description = "The job is queued, being sent or sent (BRIDGE_JOB_BUSY)", body = ErrorEnvelope),
        (status = 422, description = "Not a valid NIK (BRIDGE_NIK_INVALID, details.reason)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn set_patient(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(case_id): Path<String>,
    body: Result<ApiJson<PatientBody>, ApiError>,
) -> ApiResult<Envelope<JobDetail>> {
    p.require(perm::BRIDGE_MANAGE)?;
    let ApiJson(b) = body?;
    let nik = Nik::parse(&b.nik).map_err(|e| {
        ApiError::validation(
            "BRIDGE_NIK_INVALID",
            Msg::new("NIK tidak valid", "Invalid NIK"),
        )
        .details(serde_json::json!({ "reason": e.code() }))
    })?;
    if st.store.state_of(&case_id).await?.is_none() {
        return Err(not_found());
    }
    if !st
        .store
        .set_nik(&case_id, &nik, st.clock.now_micros())
        .await?
    {
        return Err(ApiError::conflict(
            "BRIDGE_JOB_BUSY",
            Msg::new(
                "Kasus sedang antre, dikirim atau sudah terkirim",
                "The case is queued, being sent or sent",
            ),
        ));
    }
    st.wake.notify_one();
    let mut job = st.store.get(&case_id).await?.ok_or_else(not_found)?;
    if p.can(perm::HEALTH_RECORD_READ) {
        st.store
            .log_access(
                &p.subject,
                &case_id,
                access::PATIENT_SET,
                st.clock.now_micros(),
            )
            .await?;
    } else {
        job.exchanges.clear();
    }
    Ok(Envelope::with_status(
        axum::http::StatusCode::ACCEPTED,
        Msg::new("NIK disimpan, kasus diantrekan", "NIK stored, case queued"),
        job,
    ))
}

/// `/admin/bridge/`: a static shell (no server-side session); it asks for the operator's
/// KREKI ID access token, keeps it in the tab's memory only and calls the API above.
pub fn pages() -> Router {
    Router::new()
        .route("/admin/bridge/", get(admin_page))
        .route("/admin/bridge/app.js", get(admin_js))
}

fn csp(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    r
}

async fn admin_page() -> Response {
    csp(Html(include_str!("../pages/admin-bridge.html")).into_response())
}

async fn admin_js() -> Response {
    csp((
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../pages/admin-bridge.js"),
    )
        .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackAccepted {
    /// `true` when this callback id was received before (nothing changed).
    pub duplicate: bool,
}

fn bad_signature(code: &'static str, centre: &str, why: &str) -> ApiError {
    let centre: String = centre.chars().take(40).collect();
    tracing::warn!(centre = %centre, reason = why, "PSC 119 callback refused (signature)");
    ApiError::unauthorized(code)
}

/// A centre's status callback, signed like the hand-offs: headers `x-kreki-centre`,
/// `x-kreki-timestamp` (Unix seconds) and `x-kreki-signature: sha256=<hex HMAC-SHA256 of
/// "<timestamp>.<body>">` with the centre's shared secret. A centre reports only on cases
/// handed to it. A repeated `callback_id` is acknowledged without effect.
#[utoipa::path(post, path = "/callbacks", tag = "psc119", request_body = crate::psc119::Callback,
    params(
        ("x-kreki-centre" = String, Header, description = "Configured centre name"),
        ("x-kreki-timestamp" = i64, Header, description = "Unix seconds"),
        ("x-kreki-signature" = String, Header, description = "sha256=<hex>"),
    ),
    responses(
        (status = 200, description = "A replay of a callback already received", body = inline(Envelope<CallbackAccepted>)),
        (status = 202, description = "Recorded and published to the case timeline", body = inline(Envelope<CallbackAccepted>)),
        (status = 401, description = "Unknown centre or bad signature (BRIDGE_SIGNATURE_INVALID), timestamp too old or new (BRIDGE_SIGNATURE_EXPIRED)", body = ErrorEnvelope),
        (status = 403, description = "The case was not handed to this centre (BRIDGE_CENTRE_NOT_HANDED_OFF): a centre reports only on its own hand-offs", body = ErrorEnvelope),
        (status = 404, description = "No hand-off for this case (BRIDGE_HANDOFF_NOT_FOUND)", body = ErrorEnvelope),
        (status = 422, description = "Malformed callback (VALIDATION_FAILED, BRIDGE_STATUS_INVALID)", body = ErrorEnvelope),
    ))]
async fn callback(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    use crate::psc119::{
        CALLBACK_STATUSES, CENTRE_HEADER, Callback, SIGNATURE_HEADER, TIMESTAMP_HEADER,
        store::Received, verify,
    };
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let centre = h(CENTRE_HEADER);
    let Some(secret) = st.psc.secrets.get(&centre) else {
        return Err(bad_signature(
            "BRIDGE_SIGNATURE_INVALID",
            &centre,
            "unknown centre",
        ));
    };
    let Ok(ts) = h(TIMESTAMP_HEADER).parse::<i64>() else {
        return Err(bad_signature(
            "BRIDGE_SIGNATURE_INVALID",
            &centre,
            "no timestamp",
        ));
    };
    if !verify(secret.expose(), ts, &body, &h(SIGNATURE_HEADER)) {
        return Err(bad_signature(
            "BRIDGE_SIGNATURE_INVALID",
            &centre,
            "signature mismatch",
        ));
    }
    let now = st.clock.now_micros();
    if (now / 1_000_000 - ts).abs() > st.psc.tolerance_secs {
        return Err(bad_signature(
            "BRIDGE_SIGNATURE_EXPIRED",
            &centre,
            "timestamp outside tolerance",
        ));
    }
    let cb: Callback = serde_json::from_slice(&body).map_err(|_| {
        ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Callback tidak valid", "Malformed callback"),
        )
    })?;
    let at_ok =
        time::OffsetDateTime::parse(&cb.at, &time::format_description::well_known::Rfc3339).is_ok();
    if cb.callback_id.is_empty() || cb.callback_id.len() > 100 || cb.case_id.is_empty() || !at_ok {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "callback_id, case_id atau at tidak valid",
                "Invalid callback_id, case_id or at",
            ),
        ));
    }
    if !CALLBACK_STATUSES.contains(&cb.status.as_str()) {
        return Err(ApiError::validation(
            "BRIDGE_STATUS_INVALID",
            Msg::new("Status tidak dikenal", "Unknown status"),
        )
        .details(serde_json::json!({ "allowed": CALLBACK_STATUSES })));
    }
    match st.psc.store.callback(&cb, &centre, now).await? {
        Received::UnknownCase => Err(ApiError::not_found(
            "BRIDGE_HANDOFF_NOT_FOUND",
            Msg::new(
                "Tidak ada serah terima untuk kasus ini",
                "No hand-off for this case",
            ),
        )),
        Received::NotHandedToCentre => {
            tracing::warn!(centre = %centre, "PSC 119 callback for a case not handed to this centre refused");
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "BRIDGE_CENTRE_NOT_HANDED_OFF",
                Msg::new(
                    "Kasus ini tidak diserahkan ke pusat ini",
                    "This case was not handed to this centre",
                ),
            ))
        }
        Received::Duplicate => {
            Ok(Envelope::ok(CallbackAccepted { duplicate: true }).into_response())
        }
        Received::New => {
            Ok(Envelope::accepted(CallbackAccepted { duplicate: false }).into_response())
        }
    }
}

/// A hand-off with its log (sends, callbacks, alarm).
#[utoipa::path(get, path = "/handoffs/{case_id}", tag = "psc119",
    params(("case_id" = String, Path, description = "Emergency case id")),
    responses(
        (status = 200, description = "The hand-off", body = inline(Envelope<crate::psc119::store::HandoffView>)),
        (status = 403, description = "Needs ops_admin or system_admin", body = ErrorEnvelope),
        (status = 404, description = "No hand-off for this case (BRIDGE_HANDOFF_NOT_FOUND)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn get_handoff(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(case_id): Path<String>,
) -> ApiResult<Envelope<crate::psc119::store::HandoffView>> {
    p.require(perm::BRIDGE_READ)?;
    st.psc
        .store
        .get(&case_id)
        .await?
        .map(Envelope::ok)
        .ok_or_else(|| {
            ApiError::not_found(
                "BRIDGE_HANDOFF_NOT_FOUND",
                Msg::new(
                    "Tidak ada serah terima untuk kasus ini",
                    "No hand-off for this case",
                ),
            )
        })
}
