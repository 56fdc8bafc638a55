//! A volunteer's use-cases of presence: going on or off duty, a position update (the
//! fallback of the socket), and the alert self-test.

use std::time::Duration;

use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    ApiError, ApiResult, Msg,
    bus::{Event, outbox},
    time_util::now_micros,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{config::EmergencyConfig, errors::coord_error, geo::LatLng, state::AppState};

/// Self-tests per volunteer per hour.
const TEST_ALERTS_PER_HOUR: u32 = 5;

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

/// Go on duty (at a location) or off duty (the stored location is dropped).
pub fn set_duty(
    st: &AppState,
    volunteer: &str,
    on_duty: bool,
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> ApiResult<PresenceState> {
    if on_duty {
        let at = point(latitude, longitude, &st.config)?;
        if st.demo {
            crate::demo::eligible_on_duty(st, volunteer);
        }
        st.live.locate(volunteer, at, now_micros());
    } else {
        st.live.off_duty(volunteer);
    }
    let dispatchable = st.live.eligibility(volunteer).is_some_and(|e| e.verified);
    Ok(PresenceState {
        on_duty,
        dispatchable,
    })
}

/// A position while on duty.
pub fn locate(st: &AppState, volunteer: &str, latitude: f64, longitude: f64) -> ApiResult<()> {
    let at = point(Some(latitude), Some(longitude), &st.config)?;
    if !st.live.is_on_duty(volunteer) {
        return Err(ApiError::conflict(
            "EMERGENCY_NOT_ON_DUTY",
            Msg::new(
                "Anda tidak sedang bertugas; lokasi tidak disimpan",
                "You are not on duty; the location is not kept",
            ),
        ));
    }
    st.live.locate(volunteer, at, now_micros());
    Ok(())
}

/// Send the volunteer a test alert through the dispatch notification path (outbox → bus →
/// notify → channel); returns the message id.
pub async fn test_alert(st: &AppState, volunteer: &str) -> ApiResult<String> {
    let d = st
        .limiter
        .hit(
            &format!("test-alert:{volunteer}"),
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
        recipient_id: Some(volunteer.to_string()),
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
    tracing::info!(message_id = %id, "alert self-test queued");
    Ok(id)
}
