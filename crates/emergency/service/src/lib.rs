//! Emergency Core (HELP 119).
//!
//! Foundation state: the service runs in both modes with its own database and its
//! operational endpoints, and offers volunteers the alert self-test
//! (`POST /api/emergency/v1/presence/test-alert`): before going on duty a volunteer checks
//! that dispatch alerts reach their device. The request travels the same path as a real
//! offer to a volunteer without an open socket: outbox → bus → notify → channel.

pub mod domain;
pub mod geo;

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::State};
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    ApiError, ApiResult, Envelope,
    auth::Auth,
    bus::{Event, outbox},
    error::ErrorEnvelope,
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::{Db, Migration, ratelimit::RateLimiter},
};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub const MIGRATIONS: &[Migration] = &[];

/// Self-tests per volunteer per hour.
const TEST_ALERTS_PER_HOUR: u32 = 5;

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "emergency",
        segments: &["emergency"],
        default_port: 8202,
        migrations: MIGRATIONS,
        build,
        check_config,
    }
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    kreki_platform::service::no_config_section(cfg, "emergency")
}

#[derive(Clone)]
struct AppState {
    db: Db,
    relay: Arc<kreki_platform::bus::outbox::RelayState>,
    limiter: Arc<dyn RateLimiter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestAlertQueued {
    /// Id of the notification message (look for it on the device).
    pub message_id: String,
}

#[derive(OpenApi)]
#[openapi(tags((name = "presence", description = "Volunteer presence and alert self-test")))]
struct ApiDoc;

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let state = AppState {
            db: ctx.db.clone(),
            relay: ctx.relay.clone(),
            limiter: ctx.limiter.clone(),
        };
        let (api, openapi): (Router, _) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .nest(
                "/api/emergency/v1",
                OpenApiRouter::new().routes(routes!(test_alert)),
            )
            .with_state(state)
            .split_for_parts();
        Ok(Built {
            api,
            openapi,
            pages: Router::new(),
        })
    })
}

/// Send myself a test alert through the dispatch notification path.
#[utoipa::path(post, path = "/presence/test-alert", tag = "presence",
    responses(
        (status = 202, description = "Test alert queued", body = inline(Envelope<TestAlertQueued>)),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 429, description = "Too many self-tests (RATE_LIMITED)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn test_alert(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<TestAlertQueued>> {
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
    };
    let event = Event::new("emergency", MESSAGE_REQUESTED, &req).map_err(ApiError::internal)?;
    let mut tx = st.db.begin().await?;
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    st.relay.poke();
    tracing::info!(message_id = %id, "alert self-test queued");
    Ok(Envelope::accepted(TestAlertQueued { message_id: id }))
}
