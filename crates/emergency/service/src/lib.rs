//! Emergency Core (HELP 119): panic → geo-dispatch → N-to-1 response → resolution, with
//! escalation to PSC 119.
//!
//! In place: the panic endpoint (durable before it answers, idempotent, rate-limited without
//! ever blocking a caller's first panic), cases with their state machine and timeline, the
//! in-memory spatial index of on-duty volunteers, and the volunteers' alert self-test
//! (`POST /api/emergency/v1/presence/test-alert`, which travels the path of an offer to a
//! volunteer without an open socket: outbox → bus → notify → channel).

pub mod config;
pub mod domain;
pub mod geo;
pub mod http;
pub mod store;

use std::sync::Arc;

use kreki_platform::{
    config::{Config, ConfigError},
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::Migration,
};

use crate::config::EmergencyConfig;

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "cases",
    sqlite: include_str!("../migrations/sqlite/0001_cases.sql"),
    postgres: include_str!("../migrations/postgres/0001_cases.sql"),
}];

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

fn check_config(cfg: &Config) -> Result<(), ConfigError> {
    cfg.service_section::<EmergencyConfig>("emergency")?
        .validate()
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let config: EmergencyConfig = ctx.config.service_section("emergency")?;
        config.validate()?;
        let state = http::AppState {
            store: store::Store::new(ctx.db.clone()),
            relay: ctx.relay.clone(),
            limiter: ctx.limiter.clone(),
            config: Arc::new(config),
        };
        let (api, openapi) = http::router(state);
        Ok(Built {
            api,
            openapi,
            pages: axum::Router::new(),
        })
    })
}
