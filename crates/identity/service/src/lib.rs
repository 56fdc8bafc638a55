//! KREKI ID: identity service and OpenID Connect provider.
//!
//! Foundation state: the service runs in both modes with its own database (the platform's
//! outbox, inbox, rate-limit and idempotency tables) and its operational endpoints
//! (health, readiness, metrics, OpenAPI); its features arrive with their issues.

use kreki_platform::{
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::Migration,
};

/// The service's own migrations (the platform's tables are applied before them).
pub const MIGRATIONS: &[Migration] = &[];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "identity",
        segments: &["auth"],
        default_port: 8201,
        migrations: MIGRATIONS,
        build,
        check_config,
    }
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    kreki_platform::service::no_config_section(cfg, "identity")
}

fn build(_ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move { Ok(Built::operational_only()) })
}
