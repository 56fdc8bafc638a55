//! `/api/volunteers/v1`: own profile, documents and verification, weekly schedule, stats;
//! the leaderboard per city; search and verification decisions for leads and Ops.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
};
use base64::Engine;
use kreki_identity_contracts::perm;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, Principal},
    error::{ErrorEnvelope, Meta},
    http::ApiJson,
    storage::Db,
    types::sha256_hex,
};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    areas::{self, outside_area, reviewer_area},
    model::{
        DOCUMENT_KINDS, DOCUMENT_MAX_BYTES, DOCUMENT_TYPES, DOCUMENTS_PER_VOLUNTEER, Decision,
        DecisionInput, DocumentContent, DocumentInput, DocumentMeta, LeaderRow,
        MirroredCertificate, ProfileInput, ProfileView, ReviewView, Schedule, Stats, SubmitInput,
        VerificationState, VolunteerSummary, transition, valid_city, valid_province, valid_skill,
    },
    store::{self, NewDocument, ProfileRow, Search, cert_parse},
};

pub use crate::state::AppState;

/// Who keeps a volunteer profile: those who go on duty (`presence:manage_own`).
const VOLUNTEER: &str = perm::PRESENCE_OWN;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "profile", description = "The signed-in volunteer's profile, documents, verification, schedule and stats"),
    (name = "review", description = "Search and verification by Volunteer Leads (the area an admin set for them) and Ops Admins (everywhere); leads' areas; the access log"),
    (name = "leaderboard", description = "Points per city (display names only)"),
))]
struct ApiDoc;

pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/volunteers/v1",
            OpenApiRouter::new()
                .routes(routes!(get_me, put_me))
                .routes(routes!(put_schedule))
                .routes(routes!(add_document, my_documents))
                .routes(routes!(my_document))
                .routes(routes!(submit))
                .routes(routes!(my_verification))
                .routes(routes!(my_stats))
                .routes(routes!(my_certificates))
                .routes(routes!(leaderboard))
                .routes(routes!(list_volunteers))
                .routes(routes!(get_volunteer))
                .routes(routes!(volunteer_document))
                .routes(routes!(decide))
                .routes(routes!(areas::put_lead_area, areas::get_lead_area))
                .routes(routes!(areas::access_log)),
        )
        .with_state(state)
        .split_for_parts();
    (router, api)
}

fn no_profile() -> ApiError {
    ApiError::not_found(
        "VOLUNTEERS_PROFILE_NOT_FOUND",
        Msg::new("Profil relawan belum dibuat", "No volunteer profile yet"),
    )
}

fn not_found() -> ApiError {
    ApiError::not_found(
        "VOLUNTEERS_NOT_FOUND",
        Msg::new("Relawan tidak ditemukan", "Volunteer not found"),
    )
}

/// A concurrent decision changed the state between reading and writing.
fn changed_meanwhile() -> ApiError {
    ApiError::conflict(
        "VOLUNTEERS_TRANSITION_INVALID",
        Msg::new(
            "Status verifikasi berubah bersamaan; muat ulang dan coba lagi",
            "The verification changed meanwhile; reload and try again",
        ),
    )
}

async fn own_row(db: &Db, id: &str) -> ApiResult<ProfileRow> {
    let mut conn = db.pool().acquire().await?;
    store::profile(&mut conn, id).await?.ok_or_else(no_profile)
}

/// Commit (the relay wakes if eligibility changed) and read the profile back.
async fn finish(
    st: &AppState,
    mut tx: kreki_platform::storage::Tx,
    id: &str,
) -> ApiResult<ProfileRow> {
    store::refresh_eligibility(&mut tx, id).await?;
    tx.commit().await?;
    own_row(&st.db, id).await
}

/// The own profile.
#[utoipa::path(get, path = "/me", tag = "profile",
    responses(
        (status = 200, description = "The profile", body = inline(Envelope<ProfileView>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Not a volunteer account", body = ErrorEnvelope),
        (status = 404, description = "VOLUNTEERS_PROFILE_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn get_me(State(st): State<AppState>, Auth(p): Auth) -> ApiResult<Envelope<ProfileView>> {
    p.require(VOLUNTEER)?;
    Ok(Envelope::ok(own_row(&st.db, &p.subject).await?.view()))
}

/// Create (201) or update (200) the own profile. Verification, certification and schedule
/// are not changed here.
#[utoipa::path(put, path = "/me", tag = "profile",
    request_body = ProfileInput,
    responses(
        (status = 200, description = "Updated", body = inline(Envelope<ProfileView>)),
        (status = 201, description = "Created (verification state `draft`)", body = inline(Envelope<ProfileView>)),
        (status = 403, description = "Not a volunteer account", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_PHONE_INVALID, VOLUNTEERS_AREA_INVALID, VOLUNTEERS_LANGUAGE_INVALID, VOLUNTEERS_SKILL_INVALID, VOLUNTEERS_REGISTRATION_INVALID, VOLUNTEERS_EMERGENCY_CONTACT_INVALID, VALIDATION_FAILED, VALIDATION_UNKNOWN_FIELD", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn put_me(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<ProfileInput>, ApiError>,
) -> ApiResult<Envelope<ProfileView>> {
    p.require(VOLUNTEER)?;
    let ApiJson(input) = body?;
    let profile = input.validate()?;
    let mut tx = st.db.begin().await?;
    let created = store::save_profile(&mut tx, &p.subject, &profile).await?;
    let row = finish(&st, tx, &p.subject).await?;
    tracing::info!(volunteer = %p.subject, created, "volunteer profile saved");
    Ok(if created {
        Envelope::created(row.view())
    } else {
        Envelope::ok(row.view())
    })
}

/// Replace the weekly availability (published with the eligibility).
#[utoipa::path(put, path = "/me/schedule", tag = "profile",
    request_body = Schedule,
    responses(
        (status = 200, description = "Saved", body = inline(Envelope<ProfileView>)),
        (status = 404, description = "VOLUNTEERS_PROFILE_NOT_FOUND", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_SCHEDULE_INVALID", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn put_schedule(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<Schedule>, ApiError>,
) -> ApiResult<Envelope<ProfileView>> {
    p.require(VOLUNTEER)?;
    let ApiJson(input) = body?;
    let schedule = input.validate()?;
    let mut tx = st.db.begin().await?;
    if !store::lock(&mut tx, &p.subject).await? {
        return Err(no_profile());
    }
    store::save_schedule(&mut tx, &p.subject, &schedule).await?;
    Ok(Envelope::ok(finish(&st, tx, &p.subject).await?.view()))
}

fn document_invalid(id: &'static str, en: &'static str, field: &str) -> ApiError {
    ApiError::validation("VOLUNTEERS_DOCUMENT_INVALID", Msg::new(id, en))
        .details(json!({ "field": field }))
}

fn magic_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]),
        _ => false,
    }
}

/// Add a document for verification (KTP, STR, certificate; PDF, JPEG or PNG up to 160 KiB).
#[utoipa::path(post, path = "/me/documents", tag = "profile",
    request_body = DocumentInput,
    responses(
        (status = 201, description = "Stored", body = inline(Envelope<DocumentMeta>)),
        (status = 404, description = "VOLUNTEERS_PROFILE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "VOLUNTEERS_DOCUMENT_LIMIT (10 documents)", body = ErrorEnvelope),
        (status = 413, description = "VOLUNTEERS_DOCUMENT_TOO_LARGE, PAYLOAD_TOO_LARGE", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_DOCUMENT_INVALID (kind, type, name, base64, content not of its type)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn add_document(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<DocumentInput>, ApiError>,
) -> ApiResult<Envelope<DocumentMeta>> {
    p.require(VOLUNTEER)?;
    let ApiJson(d) = body?;
    if !DOCUMENT_KINDS.contains(&d.kind.as_str()) {
        return Err(document_invalid(
            "Jenis dokumen harus ktp, str, certificate atau other",
            "Document kind must be ktp, str, certificate or other",
            "kind",
        ));
    }
    if !DOCUMENT_TYPES.contains(&d.content_type.as_str()) {
        return Err(document_invalid(
            "Format dokumen harus PDF, JPEG atau PNG",
            "Document must be PDF, JPEG or PNG",
            "content_type",
        ));
    }
    let name = d.filename.trim();
    if name.is_empty()
        || name.chars().count() > 120
        || name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(document_invalid(
            "Nama berkas tidak valid",
            "Invalid file name",
            "filename",
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(d.content_base64.as_bytes())
        .map_err(|_| {
            document_invalid(
                "Isi dokumen bukan base64 yang valid",
                "Document content is not valid base64",
                "content_base64",
            )
        })?;
    if bytes.len() > DOCUMENT_MAX_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "VOLUNTEERS_DOCUMENT_TOO_LARGE",
            Msg::new(
                "Dokumen melebihi 160 KiB",
                "The document is larger than 160 KiB",
            ),
        ));
    }
    if !magic_matches(&d.content_type, &bytes) {
        return Err(document_invalid(
            "Isi dokumen tidak sesuai formatnya",
            "The content does not match its type",
            "content_base64",
        ));
    }
    let mut tx = st.db.begin().await?;
    if !store::lock(&mut tx, &p.subject).await? {
        return Err(no_profile());
    }
    if store::count_documents(&mut tx, &p.subject).await? >= DOCUMENTS_PER_VOLUNTEER {
        return Err(ApiError::conflict(
            "VOLUNTEERS_DOCUMENT_LIMIT",
            Msg::new(
                "Paling banyak 10 dokumen per relawan",
                "At most 10 documents per volunteer",
            ),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let sha = sha256_hex(&bytes);
    store::add_document(
        &mut tx,
        &p.subject,
        &NewDocument {
            id: &id,
            kind: &d.kind,
            filename: name,
            content_type: &d.content_type,
            size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: &sha,
            content_base64: &d.content_base64,
        },
    )
    .await?;
    tx.commit().await?;
    let mut conn = st.db.pool().acquire().await?;
    let meta = store::documents(&mut conn, &p.subject)
        .await?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("document vanished")))?;
    Ok(Envelope::created(meta))
}

/// The own documents (metadata).
#[utoipa::path(get, path = "/me/documents", tag = "profile",
    responses(
        (status = 200, description = "Documents", body = inline(Envelope<Vec<DocumentMeta>>)),
        (status = 404, description = "VOLUNTEERS_PROFILE_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn my_documents(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<DocumentMeta>>> {
    p.require(VOLUNTEER)?;
    own_row(&st.db, &p.subject).await?;
    let mut conn = st.db.pool().acquire().await?;
    Ok(Envelope::ok(store::documents(&mut conn, &p.subject).await?))
}

fn no_document() -> ApiError {
    ApiError::not_found(
        "VOLUNTEERS_DOCUMENT_NOT_FOUND",
        Msg::new("Dokumen tidak ditemukan", "Document not found"),
    )
}

/// One own document with its content.
#[utoipa::path(get, path = "/me/documents/{doc_id}", tag = "profile",
    params(("doc_id" = String, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document", body = inline(Envelope<DocumentContent>)),
        (status = 404, description = "VOLUNTEERS_DOCUMENT_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn my_document(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(doc_id): Path<String>,
) -> ApiResult<Envelope<DocumentContent>> {
    p.require(VOLUNTEER)?;
    let mut conn = st.db.pool().acquire().await?;
    store::document(&mut conn, &p.subject, &doc_id)
        .await?
        .map(Envelope::ok)
        .ok_or_else(no_document)
}

async fn review_view(db: &Db, row: ProfileRow) -> ApiResult<ReviewView> {
    let mut conn = db.pool().acquire().await?;
    let documents = store::documents(&mut conn, &row.volunteer_id).await?;
    let history = store::history(&mut conn, &row.volunteer_id).await?;
    Ok(ReviewView {
        profile: row.view(),
        documents,
        history,
    })
}

/// Submit (from `draft`) or resubmit (from `rejected`) the profile and documents for review.
#[utoipa::path(post, path = "/me/submit", tag = "profile",
    request_body = SubmitInput,
    responses(
        (status = 200, description = "Submitted", body = inline(Envelope<ReviewView>)),
        (status = 404, description = "VOLUNTEERS_PROFILE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "VOLUNTEERS_TRANSITION_INVALID (already submitted or verified)", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_DOCUMENTS_MISSING, VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn submit(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<SubmitInput>, ApiError>,
) -> ApiResult<Envelope<ReviewView>> {
    p.require(VOLUNTEER)?;
    let ApiJson(input) = body?;
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "Catatan paling banyak 500 karakter",
                "Note is at most 500 characters",
            ),
        ));
    }
    let mut tx = st.db.begin().await?;
    store::lock(&mut tx, &p.subject).await?;
    let row = store::profile(&mut tx, &p.subject)
        .await?
        .ok_or_else(no_profile)?;
    let action = if row.state == VerificationState::Rejected {
        "resubmit"
    } else {
        "submit"
    };
    let to = transition(row.state, action)?;
    if store::count_documents(&mut tx, &p.subject).await? == 0 {
        return Err(ApiError::validation(
            "VOLUNTEERS_DOCUMENTS_MISSING",
            Msg::new(
                "Unggah minimal satu dokumen sebelum mengajukan verifikasi",
                "Upload at least one document before submitting",
            ),
        ));
    }
    if !store::set_state(&mut tx, &row, action, to, &p.subject, note).await? {
        return Err(changed_meanwhile());
    }
    let row = finish(&st, tx, &p.subject).await?;
    tracing::info!(volunteer = %p.subject, action, "verification submitted");
    Ok(Envelope::ok(review_view(&st.db, row).await?))
}

/// The own verification: state, documents and history.
#[utoipa::path(get, path = "/me/verification", tag = "profile",
    responses(
        (status = 200, description = "Verification", body = inline(Envelope<ReviewView>)),
        (status = 404, description = "VOLUNTEERS_PROFILE_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn my_verification(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<ReviewView>> {
    p.require(VOLUNTEER)?;
    let row = own_row(&st.db, &p.subject).await?;
    Ok(Envelope::ok(review_view(&st.db, row).await?))
}

/// Points, badges and case counts from the Emergency Core's events.
#[utoipa::path(get, path = "/me/stats", tag = "profile",
    responses(
        (status = 200, description = "Stats", body = inline(Envelope<Stats>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn my_stats(State(st): State<AppState>, Auth(p): Auth) -> ApiResult<Envelope<Stats>> {
    p.require(VOLUNTEER)?;
    Ok(Envelope::ok(store::stats(&st.db, &p.subject).await?))
}

/// The certificates mirrored from the LMS (valid, expired, revoked; recertification notices).
#[utoipa::path(get, path = "/me/certificates", tag = "profile",
    responses(
        (status = 200, description = "Certificates, newest expiry first", body = inline(Envelope<Vec<MirroredCertificate>>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn my_certificates(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<MirroredCertificate>>> {
    p.require(VOLUNTEER)?;
    let mut conn = st.db.pool().acquire().await?;
    Ok(Envelope::ok(
        store::certificates(&mut conn, &p.subject).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardParams {
    /// BPS city/regency code (4 digits).
    pub city: Option<String>,
    /// From 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

fn paging(page: Option<&str>, limit: Option<&str>) -> ApiResult<(u32, u32)> {
    let bad = |f: &str| {
        ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "page harus ≥ 1 dan limit 1–100",
                "page must be ≥ 1 and limit 1–100",
            ),
        )
        .details(json!({ "field": f }))
    };
    let page = match page {
        None => 1,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|p| *p >= 1 && *p <= 100_000)
            .ok_or_else(|| bad("page"))?,
    };
    let limit = match limit {
        None => 20,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| bad("limit"))?,
    };
    Ok((page, limit))
}

fn query_error(e: axum::extract::rejection::QueryRejection) -> ApiError {
    let text = e.body_text();
    if text.contains("unknown field") {
        ApiError::validation(
            "VALIDATION_UNKNOWN_FIELD",
            Msg::new(
                "Permintaan berisi parameter yang tidak dikenal",
                "The request has an unknown parameter",
            ),
        )
    } else {
        ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Parameter tidak valid", "Invalid parameters"),
        )
    }
    .details(json!({ "reason": text }))
}

fn area_invalid(field: &str) -> ApiError {
    ApiError::validation(
        "VOLUNTEERS_AREA_INVALID",
        Msg::new(
            "Kode wilayah tidak valid (provinsi 2 digit, kota/kabupaten 4 digit kode BPS)",
            "Invalid area code (BPS: 2-digit province, 4-digit city/regency)",
        ),
    )
    .details(json!({ "field": field }))
}

/// Leaderboard of a city: display names and points only.
#[utoipa::path(get, path = "/leaderboard", tag = "leaderboard",
    params(LeaderboardParams),
    responses(
        (status = 200, description = "Ranked rows with meta {page, limit, total}", body = inline(Envelope<Vec<LeaderRow>>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_AREA_INVALID, VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn leaderboard(
    State(st): State<AppState>,
    Auth(_p): Auth,
    q: Result<Query<LeaderboardParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Envelope<Vec<LeaderRow>>> {
    let Query(q) = q.map_err(query_error)?;
    let city = q
        .city
        .filter(|c| valid_city(c))
        .ok_or_else(|| area_invalid("city"))?;
    let (page, limit) = paging(q.page.as_deref(), q.limit.as_deref())?;
    let (rows, total) = store::leaderboard(&st.db, &city, page, limit).await?;
    Ok(Envelope::ok(rows).paged(Meta { page, limit, total }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// BPS province code (2 digits).
    pub province: Option<String>,
    /// BPS city/regency code (4 digits). A Volunteer Lead sees their own city only.
    pub city: Option<String>,
    /// A skill slug.
    pub skill: Option<String>,
    /// `none`, `basic`, `plus`, `instructor` (valid certificates only).
    pub cert_level: Option<String>,
    /// `draft`, `submitted`, `verified`, `rejected`.
    pub state: Option<String>,
    /// From 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// Search volunteers (leads: own city; Ops: everywhere), paginated.
#[utoipa::path(get, path = "/volunteers", tag = "review",
    params(SearchParams),
    responses(
        (status = 200, description = "Volunteers with meta {page, limit, total}", body = inline(Envelope<Vec<VolunteerSummary>>)),
        (status = 403, description = "AUTH_FORBIDDEN, VOLUNTEERS_OUTSIDE_AREA", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_AREA_INVALID, VOLUNTEERS_SKILL_INVALID, VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn list_volunteers(
    State(st): State<AppState>,
    Auth(p): Auth,
    q: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Envelope<Vec<VolunteerSummary>>> {
    let area = reviewer_area(&st.db, &p).await?;
    let Query(q) = q.map_err(query_error)?;
    if q.province.as_deref().is_some_and(|c| !valid_province(c)) {
        return Err(area_invalid("province"));
    }
    if q.city.as_deref().is_some_and(|c| !valid_city(c)) {
        return Err(area_invalid("city"));
    }
    if q.skill.as_deref().is_some_and(|s| !valid_skill(s)) {
        return Err(ApiError::validation(
            "VOLUNTEERS_SKILL_INVALID",
            Msg::new("Kode keterampilan tidak valid", "Invalid skill slug"),
        ));
    }
    let cert_level = match q.cert_level.as_deref() {
        None => None,
        Some(s) => Some(cert_parse(s).ok_or_else(|| {
            ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new(
                    "cert_level harus none, basic, plus atau instructor",
                    "cert_level must be none, basic, plus or instructor",
                ),
            )
        })?),
    };
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(VerificationState::parse(s).ok_or_else(|| {
            ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new(
                    "state harus draft, submitted, verified atau rejected",
                    "state must be draft, submitted, verified or rejected",
                ),
            )
        })?),
    };
    let (page, limit) = paging(q.page.as_deref(), q.limit.as_deref())?;
    let city = match area {
        None => q.city,
        Some(own) => {
            if q.city.as_deref().is_some_and(|c| c != own)
                || q.province.as_deref().is_some_and(|pr| !own.starts_with(pr))
            {
                return Err(outside_area());
            }
            Some(own)
        }
    };
    let search = Search {
        province: q.province,
        city,
        skill: q.skill,
        cert_level,
        state,
        page,
        limit,
    };
    let (rows, total) = store::search(&st.db, &search).await?;
    Ok(Envelope::ok(rows).paged(Meta { page, limit, total }))
}

/// The reviewed volunteer, after the area check.
async fn reviewable(st: &AppState, p: &Principal, id: &str) -> ApiResult<ProfileRow> {
    let area = reviewer_area(&st.db, p).await?;
    let mut conn = st.db.pool().acquire().await?;
    let row = store::profile(&mut conn, id).await?.ok_or_else(not_found)?;
    if area.is_some_and(|c| c != row.profile.city_code) {
        return Err(outside_area());
    }
    Ok(row)
}

/// A volunteer's profile, documents and verification history (reviewers).
#[utoipa::path(get, path = "/volunteers/{id}", tag = "review",
    params(("id" = String, Path, description = "Volunteer id (KREKI ID subject)")),
    responses(
        (status = 200, description = "The volunteer", body = inline(Envelope<ReviewView>)),
        (status = 403, description = "AUTH_FORBIDDEN, VOLUNTEERS_OUTSIDE_AREA", body = ErrorEnvelope),
        (status = 404, description = "VOLUNTEERS_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn get_volunteer(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<ReviewView>> {
    let row = reviewable(&st, &p, &id).await?;
    Ok(Envelope::ok(review_view(&st.db, row).await?))
}

/// A volunteer's document with its content (reviewers).
#[utoipa::path(get, path = "/volunteers/{id}/documents/{doc_id}", tag = "review",
    params(
        ("id" = String, Path, description = "Volunteer id"),
        ("doc_id" = String, Path, description = "Document id"),
    ),
    responses(
        (status = 200, description = "The document", body = inline(Envelope<DocumentContent>)),
        (status = 403, description = "AUTH_FORBIDDEN, VOLUNTEERS_OUTSIDE_AREA", body = ErrorEnvelope),
        (status = 404, description = "VOLUNTEERS_NOT_FOUND, VOLUNTEERS_DOCUMENT_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn volunteer_document(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path((id, doc_id)): Path<(String, String)>,
) -> ApiResult<Envelope<DocumentContent>> {
    reviewable(&st, &p, &id).await?;
    let mut conn = st.db.pool().acquire().await?;
    let doc = store::document(&mut conn, &id, &doc_id)
        .await?
        .ok_or_else(no_document)?;
    // Every read of a document is recorded before its content leaves (ID cards carry the NIK).
    areas::log_access(&mut conn, &p.subject, &id, areas::DOCUMENT_READ, &doc_id).await?;
    Ok(Envelope::ok(doc))
}

/// Approve or reject (with a reason) a submitted verification; approve again after a change
/// of credentials, or withdraw a verification by rejecting it.
#[utoipa::path(put, path = "/volunteers/{id}/verification", tag = "review",
    params(("id" = String, Path, description = "Volunteer id")),
    request_body = DecisionInput,
    responses(
        (status = 200, description = "Decided", body = inline(Envelope<ReviewView>)),
        (status = 403, description = "AUTH_FORBIDDEN, VOLUNTEERS_OUTSIDE_AREA, VOLUNTEERS_SELF_REVIEW", body = ErrorEnvelope),
        (status = 404, description = "VOLUNTEERS_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "VOLUNTEERS_TRANSITION_INVALID", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_REASON_REQUIRED, VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn decide(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<DecisionInput>, ApiError>,
) -> ApiResult<Envelope<ReviewView>> {
    let row = reviewable(&st, &p, &id).await?;
    if row.volunteer_id == p.subject {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "VOLUNTEERS_SELF_REVIEW",
            Msg::new(
                "Anda tidak dapat meninjau verifikasi Anda sendiri",
                "You cannot review your own verification",
            ),
        ));
    }
    let ApiJson(input) = body?;
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > 500)
        || (input.decision == Decision::Reject && reason.is_none_or(|r| r.chars().count() < 3))
    {
        return Err(ApiError::validation(
            "VOLUNTEERS_REASON_REQUIRED",
            Msg::new(
                "Penolakan memerlukan alasan (3–500 karakter)",
                "A rejection needs a reason (3–500 characters)",
            ),
        ));
    }
    let action = match input.decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    };
    let to = transition(row.state, action)?;
    let mut tx = st.db.begin().await?;
    if !store::set_state(&mut tx, &row, action, to, &p.subject, reason).await? {
        return Err(changed_meanwhile());
    }
    let row = finish(&st, tx, &id).await?;
    tracing::info!(volunteer = %id, reviewer = %p.subject, action, "verification decided");
    Ok(Envelope::ok(review_view(&st.db, row).await?))
}
