//! The volunteers' presence routes: on/off duty, position, alert self-test.

use axum::{extract::State, http::StatusCode};
use kreki_platform::{
    ApiError, ApiResult, Envelope,
    auth::{Auth, perm},
    error::ErrorEnvelope,
    http::ApiJson,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::presence::duty::{self, Presence, PresenceState};

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
pub async fn test_alert(
    State(st): State<Presence>,
    Auth(p): Auth,
) -> ApiResult<Envelope<TestAlertQueued>> {
    // Only those who receive dispatch alerts test them (the roles with
    // `presence:manage_own`): a test alert makes notify call the person's push endpoints.
    p.require(perm::PRESENCE_OWN)?;
    let message_id = duty::test_alert(&st, &p.subject).await?;
    Ok(Envelope::accepted(TestAlertQueued { message_id }))
}

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

/// Go on or off duty. Locations are kept only while on duty.
#[utoipa::path(put, path = "/presence", tag = "presence",
    request_body = PresenceRequest,
    responses(
        (status = 200, description = "Presence set", body = inline(Envelope<PresenceState>)),
        (status = 403, description = "Volunteers only", body = ErrorEnvelope),
        (status = 422, description = "EMERGENCY_LOCATION_REQUIRED / _INVALID / _OUTSIDE_AREA", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn presence(
    State(st): State<Presence>,
    Auth(p): Auth,
    body: Result<ApiJson<PresenceRequest>, ApiError>,
) -> ApiResult<Envelope<PresenceState>> {
    p.require(perm::PRESENCE_OWN)?;
    let ApiJson(req) = body?;
    duty::set_duty(&st, &p.subject, req.on_duty, req.latitude, req.longitude)
        .map(Envelope::ok)
        .map_err(ApiError::from)
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
pub async fn location(
    State(st): State<Presence>,
    Auth(p): Auth,
    body: Result<ApiJson<LocationRequest>, ApiError>,
) -> ApiResult<StatusCode> {
    p.require(perm::PRESENCE_OWN)?;
    let ApiJson(req) = body?;
    duty::locate(&st, &p.subject, req.latitude, req.longitude)?;
    Ok(StatusCode::NO_CONTENT)
}
