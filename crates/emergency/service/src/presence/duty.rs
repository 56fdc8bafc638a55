//! A volunteer's use-cases of presence: going on or off duty, a position update (the
//! fallback of the socket), and the alert self-test.

use std::{sync::Arc, time::Duration};

use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    bus::{
        Event,
        outbox::{self, RelayState},
    },
    storage::{Db, ratelimit::RateLimiter},
    time_util::now_micros,
};
use kreki_volunteers_contracts::CertLevel;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    config::EmergencyConfig,
    errors::PresenceError,
    geo::LatLng,
    presence::{Eligibility, Live},
};

/// What the presence use-cases work with: the live index, the self-test's limit and outbox,
/// the configuration. Built from the service's state for each request (`state.rs`).
#[derive(Clone)]
pub struct Presence {
    pub live: Arc<Live>,
    pub db: Db,
    pub relay: Arc<RelayState>,
    pub limiter: Arc<dyn RateLimiter>,
    pub config: Arc<EmergencyConfig>,
    /// `kreki up --demo`: volunteer accounts without an eligibility record yet are made
    /// dispatchable when they go on duty (see [`demo_eligible_on_duty`]).
    pub demo: bool,
}

/// Self-tests per volunteer per hour.
const TEST_ALERTS_PER_HOUR: u32 = 5;

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceState {
    pub on_duty: bool,
    /// Whether the volunteer may be offered cases (verified, eligibility known).
    pub dispatchable: bool,
}

fn point(
    lat: Option<f64>,
    lng: Option<f64>,
    cfg: &EmergencyConfig,
) -> Result<LatLng, PresenceError> {
    match (lat, lng) {
        (Some(a), Some(b)) => LatLng::new(a, b)
            .and_then(|p| cfg.service_area.check(p))
            .map_err(PresenceError::Location),
        _ => Err(PresenceError::LocationRequired),
    }
}

/// Go on duty (at a location) or off duty (the stored location is dropped).
pub fn set_duty(
    st: &Presence,
    volunteer: &str,
    on_duty: bool,
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Result<PresenceState, PresenceError> {
    if on_duty {
        let at = point(latitude, longitude, &st.config)?;
        if st.demo {
            demo_eligible_on_duty(&st.live, volunteer);
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
pub fn locate(
    st: &Presence,
    volunteer: &str,
    latitude: f64,
    longitude: f64,
) -> Result<(), PresenceError> {
    let at = point(Some(latitude), Some(longitude), &st.config)?;
    if !st.live.is_on_duty(volunteer) {
        return Err(PresenceError::NotOnDuty);
    }
    st.live.locate(volunteer, at, now_micros());
    Ok(())
}

/// Send the volunteer a test alert through the dispatch notification path (outbox → bus →
/// notify → channel); returns the message id.
pub async fn test_alert(st: &Presence, volunteer: &str) -> Result<String, PresenceError> {
    let d = st
        .limiter
        .hit(
            &format!("test-alert:{volunteer}"),
            TEST_ALERTS_PER_HOUR,
            Duration::from_secs(3600),
        )
        .await?;
    if !d.allowed {
        return Err(PresenceError::TooManyTestAlerts {
            retry_after_s: d.reset_after_s,
        });
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
    let event = Event::new("emergency", MESSAGE_REQUESTED, &req)
        .map_err(|e| PresenceError::Internal(e.into()))?;
    let mut tx = st.db.begin().await?;
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    tracing::info!(message_id = %id, "alert self-test queued");
    Ok(id)
}

/// The demo's volunteer accounts (KREKI ID's `relawan@` and `ketua@demo.kreki.id`) have no
/// volunteers-service record that would send their eligibility: with `--demo`, a volunteer
/// account going on duty without an eligibility copy is taken as verified with a valid BHD
/// Plus certificate (version 0, so any real eligibility event replaces it).
pub fn demo_eligible_on_duty(live: &Live, volunteer: &str) {
    if live.eligibility(volunteer).is_some() {
        return;
    }
    let valid = now_micros() + 2 * 365 * 86_400 * 1_000_000;
    live.set_eligibility(
        volunteer,
        Eligibility {
            verified: true,
            cert_level: CertLevel::Plus,
            cert_valid_until: Some(valid),
            health_professional: false,
            version: 0,
        },
    );
    tracing::info!("demo: volunteer account made dispatchable");
}
