//! The AED registry's routes: Ops keep the registry; where AEDs are is public.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, perm},
    error::ErrorEnvelope,
    http::ApiJson,
};
use serde::Deserialize;
use utoipa::ToSchema;

use std::sync::Arc;

use crate::{
    aed::{Aed, AedInput, Registry},
    config::EmergencyConfig,
    errors::{coord_error, radius_invalid},
    geo::LatLng,
};

/// What the AED routes work with: the registry and the service area it must lie in.
#[derive(Clone)]
pub struct Aeds {
    pub aeds: Arc<Registry>,
    pub config: Arc<EmergencyConfig>,
}

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

async fn save_aed(st: &Aeds, id: &str, input: &AedInput) -> ApiResult<Aed> {
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
pub async fn aed_create(
    State(st): State<Aeds>,
    Auth(p): Auth,
    body: Result<ApiJson<AedInput>, ApiError>,
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
pub async fn aed_update(
    State(st): State<Aeds>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<AedInput>, ApiError>,
) -> ApiResult<Envelope<Aed>> {
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
pub async fn aed_delete(
    State(st): State<Aeds>,
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
pub async fn aed_get(State(st): State<Aeds>, Path(id): Path<String>) -> ApiResult<Envelope<Aed>> {
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
pub async fn aed_nearest(
    State(st): State<Aeds>,
    ApiJson(req): ApiJson<NearestAedRequest>,
) -> ApiResult<Envelope<Vec<Aed>>> {
    let at = LatLng::new(req.latitude, req.longitude).map_err(coord_error)?;
    let radius = req.radius_m.unwrap_or(1_000.0);
    if !radius.is_finite() || radius <= 0.0 || radius > 5_000.0 {
        return Err(radius_invalid(5_000));
    }
    let limit = req.limit.unwrap_or(3).clamp(1, 10) as usize;
    Ok(Envelope::ok(st.aeds.nearest(at, radius, limit).await?))
}
