//! LMS: Bantuan Hidup Dasar training. Courses → modules → lessons for the three BHD levels,
//! pre- and post-tests scored on the server, practical sign-off by an instructor, and
//! certificates with gap-free numbers, a PDF with a QR code, a public verification page and
//! an Open Badges 3.0 verifiable credential (VC-JWT, Ed25519, did:key, Bitstring Status List
//! revocation). Publishes `lms.certificate.issued|revoked|expiring` through the outbox;
//! consumes `identity.account.erased` ([`erasure`]).

pub mod access;
pub mod belajar;
pub mod credential;
pub mod domain;
pub mod erasure;
pub mod http;
pub mod pages;
pub mod pdf;
pub mod store;

use std::{sync::Arc, time::Duration};

use axum::routing::get;
use kreki_platform::{
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::{Migration, housekeeping},
    time_util::now_micros,
};

use crate::store::Store;

/// The service's own migrations (the platform's tables are applied before them).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "lms",
        sqlite: include_str!("../migrations/sqlite/0001_lms.sql"),
        postgres: include_str!("../migrations/postgres/0001_lms.sql"),
    },
    Migration {
        version: 2,
        name: "web_sessions",
        sqlite: include_str!("../migrations/sqlite/0002_web_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0002_web_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "certificate_public_ids",
        sqlite: include_str!("../migrations/sqlite/0003_certificate_public_ids.sql"),
        postgres: include_str!("../migrations/postgres/0003_certificate_public_ids.sql"),
    },
    Migration {
        version: 4,
        name: "erasure",
        sqlite: include_str!("../migrations/sqlite/0004_erasure.sql"),
        postgres: include_str!("../migrations/postgres/0004_erasure.sql"),
    },
];

/// The recertification sweep (and the prune of expired page sessions) runs this long after start, then every hour.
const SWEEP_FIRST: Duration = Duration::from_secs(60);
const SWEEP_EVERY: Duration = Duration::from_secs(3_600);

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "lms",
        segments: &["lms"],
        default_port: 8204,
        migrations: MIGRATIONS,
        build,
        check_config,
        routes: access::ROUTES,
    }
}

/// `[lms]` configuration section.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LmsConfig {
    /// Where the `/belajar/` pages find KREKI ID's OpenID Connect endpoints
    /// (`/oauth2/authorize`, `/oauth2/token`); default: the site's public base URL.
    pub idp_url: Option<String>,
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    cfg.service_section::<LmsConfig>("lms").map(|_| ())
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        // The catalogue is seeded at every start (idempotent): a first start and the demo
        // both have the three BHD courses.
        let cfg: LmsConfig = ctx.config.service_section("lms")?;
        let store = Store::open(ctx.db.clone(), ctx.base_url.clone()).await?;
        // `identity.account.erased`: the account's personal data goes, its page sessions end.
        ctx.spawn_consumer(
            "lms-erasure",
            &[kreki_identity_contracts::ACCOUNT_ERASED],
            Arc::new(erasure::ErasureHandler),
        );
        let state = http::AppState {
            store: store.clone(),
        };
        {
            let store = store.clone();
            ctx.tasks.spawn(housekeeping::periodically(
                SWEEP_FIRST,
                SWEEP_EVERY,
                ctx.shutdown.clone(),
                move || {
                    let store = store.clone();
                    async move {
                        if let Err(e) = belajar::prune(store.db(), now_micros()).await {
                            tracing::warn!(error = %e, "session prune failed");
                        }
                        match store.sweep_expiring(now_micros()).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(reminded = n, "recertification reminders"),
                            Err(e) => tracing::warn!(error = %e, "recertification sweep failed"),
                        }
                    }
                },
            ));
        }
        let (api, openapi) = http::router(state.clone());
        let web = belajar::Web::new(
            state.clone(),
            ctx.auth.clone(),
            cfg.idp_url
                .clone()
                .unwrap_or_else(|| ctx.base_url.clone())
                .trim_end_matches('/')
                .to_string(),
        );
        let pages = axum::Router::new()
            .route("/verify/{id}", get(pages::verify))
            .with_state(state)
            .merge(belajar::router(web));
        Ok(Built {
            api,
            openapi,
            verifier: None,
            pages,
        })
    })
}
