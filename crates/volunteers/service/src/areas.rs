//! Where a reviewer may act, and who looked at what.
//!
//! - A Volunteer Lead reviews volunteers of the area (BPS city code) that an admin set for
//!   them (`PUT /leads/{id}/area`, permission `lead_area:assign`), never of the city in their
//!   own, self-edited profile. Callers with `area:any` (Ops Admins) review everywhere.
//! - Every read of a volunteer's documents (ID cards carry the NIK) and every change of a
//!   lead's area is written to `access_log`, readable by auditors (`audit:read`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use kreki_identity_contracts::perm;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, Principal},
    error::ErrorEnvelope,
    http::ApiJson,
    storage::Db,
    time_util::{now_micros, rfc3339},
};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{model::valid_city, state::AppState};

/// What was accessed, in `access_log.action`.
pub const DOCUMENT_READ: &str = "document_read";
pub const AREA_SET: &str = "lead_area_set";

/// The area a reviewer acts in: `None` for everywhere, else one city code. 403 for callers
/// without `volunteer:verify`, and for a lead whose area no admin has set yet.
pub async fn reviewer_area(db: &Db, p: &Principal) -> ApiResult<Option<String>> {
    p.require(perm::VOLUNTEER_VERIFY)?;
    if p.can(perm::AREA_ANY) {
        return Ok(None);
    }
    lead_area(db, &p.subject)
        .await?
        .map(Some)
        .ok_or_else(outside_area)
}

pub fn outside_area() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "VOLUNTEERS_OUTSIDE_AREA",
        Msg::new(
            "Ketua relawan hanya dapat meninjau relawan di wilayah yang ditetapkan admin untuknya",
            "A Volunteer Lead reviews volunteers of the area an admin set for them only",
        ),
    )
}

/// The area an admin set for a lead.
pub async fn lead_area(db: &Db, lead: &str) -> Result<Option<String>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    sqlx::query("SELECT city_code FROM lead_areas WHERE lead_id = $1")
        .bind(lead)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

/// Record one access (in the caller's transaction, or on its own connection).
pub async fn log_access(
    conn: &mut AnyConnection,
    actor: &str,
    subject: &str,
    action: &str,
    details: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO access_log (id, at, actor, subject_id, action, details) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now_micros())
    .bind(actor)
    .bind(subject)
    .bind(action)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// A lead's area.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaInput {
    /// BPS city/regency code (4 digits).
    pub city_code: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadArea {
    pub lead_id: String,
    pub city_code: String,
    /// Who set it (KREKI ID subject of the admin).
    pub set_by: String,
    /// RFC 3339.
    pub set_at: String,
}

/// One recorded access.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessEntry {
    /// RFC 3339.
    pub at: String,
    /// KREKI ID subject of who accessed.
    pub actor: String,
    /// `document_read`, `lead_area_set`.
    pub action: String,
    pub details: String,
}

fn area_not_set() -> ApiError {
    ApiError::not_found(
        "VOLUNTEERS_AREA_NOT_SET",
        Msg::new(
            "Wilayah ketua relawan ini belum ditetapkan",
            "No area has been set for this Volunteer Lead",
        ),
    )
}

/// Set the area in which a Volunteer Lead reviews volunteers (admins only; audited).
#[utoipa::path(put, path = "/leads/{id}/area", tag = "review",
    params(("id" = String, Path, description = "The lead's KREKI ID subject")),
    request_body = AreaInput,
    responses(
        (status = 200, description = "Set", body = inline(Envelope<LeadArea>)),
        (status = 401, description = "AUTH_TOKEN_*", body = ErrorEnvelope),
        (status = 403, description = "AUTH_FORBIDDEN (needs lead_area:assign)", body = ErrorEnvelope),
        (status = 422, description = "VOLUNTEERS_AREA_INVALID, VALIDATION_UNKNOWN_FIELD", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn put_lead_area(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<AreaInput>, ApiError>,
) -> ApiResult<Envelope<LeadArea>> {
    p.require(perm::LEAD_AREA_ASSIGN)?;
    let ApiJson(input) = body?;
    if !valid_city(&input.city_code) || id.is_empty() || id.len() > 100 {
        return Err(ApiError::validation(
            "VOLUNTEERS_AREA_INVALID",
            Msg::new(
                "Kode kota/kabupaten harus 4 digit kode BPS",
                "The city code must be a 4-digit BPS code",
            ),
        ));
    }
    let now = now_micros();
    let mut tx = st.db.begin().await?;
    sqlx::query(
        "INSERT INTO lead_areas (lead_id, city_code, set_by, set_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (lead_id) DO UPDATE SET city_code = $2, set_by = $3, set_at = $4",
    )
    .bind(&id)
    .bind(&input.city_code)
    .bind(&p.subject)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    log_access(&mut tx, &p.subject, &id, AREA_SET, &input.city_code).await?;
    tx.commit().await?;
    tracing::info!(lead = %id, by = %p.subject, city = %input.city_code, "lead area set");
    Ok(Envelope::ok(LeadArea {
        lead_id: id,
        city_code: input.city_code,
        set_by: p.subject,
        set_at: rfc3339(now),
    }))
}

/// The area of a Volunteer Lead (admins, and the lead themself).
#[utoipa::path(get, path = "/leads/{id}/area", tag = "review",
    params(("id" = String, Path, description = "The lead's KREKI ID subject")),
    responses(
        (status = 200, description = "The area", body = inline(Envelope<LeadArea>)),
        (status = 401, description = "AUTH_TOKEN_*", body = ErrorEnvelope),
        (status = 403, description = "AUTH_FORBIDDEN", body = ErrorEnvelope),
        (status = 404, description = "VOLUNTEERS_AREA_NOT_SET", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn get_lead_area(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<LeadArea>> {
    // Scope check "own": a lead reads their own area.
    if id != p.subject {
        p.require(perm::LEAD_AREA_ASSIGN)?;
    }
    let mut conn = st.db.pool().acquire().await?;
    let row = sqlx::query("SELECT city_code, set_by, set_at FROM lead_areas WHERE lead_id = $1")
        .bind(&id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(area_not_set)?;
    Ok(Envelope::ok(LeadArea {
        lead_id: id,
        city_code: row.try_get(0)?,
        set_by: row.try_get(1)?,
        set_at: rfc3339(row.try_get(2)?),
    }))
}

/// Who read a volunteer's documents or changed a lead's area, newest first (auditors).
#[utoipa::path(get, path = "/volunteers/{id}/access-log", tag = "review",
    params(("id" = String, Path, description = "Volunteer (or lead) id")),
    responses(
        (status = 200, description = "Recorded accesses, newest first (at most 500)", body = inline(Envelope<Vec<AccessEntry>>)),
        (status = 401, description = "AUTH_TOKEN_*", body = ErrorEnvelope),
        (status = 403, description = "AUTH_FORBIDDEN (needs audit:read)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn access_log(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Vec<AccessEntry>>> {
    p.require(perm::AUDIT_READ)?;
    let mut conn = st.db.pool().acquire().await?;
    let rows = sqlx::query(
        "SELECT at, actor, action, details FROM access_log WHERE subject_id = $1 \
         ORDER BY at DESC, id DESC LIMIT 500",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let out = rows
        .iter()
        .map(|r| {
            Ok(AccessEntry {
                at: rfc3339(r.try_get(0)?),
                actor: r.try_get(1)?,
                action: r.try_get(2)?,
                details: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Envelope::ok(out))
}
