//! Emergency Core (HELP 119): panic → geo-dispatch → N-to-1 response → resolution, with
//! escalation to PSC 119.
//!
//! In place: the panic endpoint (durable before it answers, idempotent, rate-limited without
//! ever blocking a caller's first panic), cases with their state machine and timeline, the
//! in-memory spatial index of on-duty volunteers, and the volunteers' alert self-test
//! (`POST /api/emergency/v1/presence/test-alert`, which travels the path of an offer to a
//! volunteer without an open socket: outbox → bus → notify → channel).

pub mod access;
pub mod actor;
pub mod aed;
pub mod cases;
pub mod config;
pub mod consumers;
pub mod demo;
pub mod dispatch;
pub mod domain;
pub mod errors;
pub mod geo;
pub mod http;
pub mod hub;
pub mod ops;
pub mod outbox_alarm;
pub mod presence;
pub mod responder_events;
pub mod retention;
pub mod sms;
pub mod state;
pub mod store;
pub mod sync;
pub mod web;
pub mod wellbeing;
pub mod ws;

use std::sync::Arc;

use kreki_bridge_contracts::PSC119_STATUS;
use kreki_platform::{
    config::{Config, ConfigError},
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::Migration,
};
use kreki_volunteers_contracts::ELIGIBILITY_CHANGED;

use crate::config::EmergencyConfig;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "cases",
        sqlite: include_str!("../migrations/sqlite/0001_cases.sql"),
        postgres: include_str!("../migrations/postgres/0001_cases.sql"),
    },
    Migration {
        version: 2,
        name: "presence_eligibility",
        sqlite: include_str!("../migrations/sqlite/0002_presence.sql"),
        postgres: include_str!("../migrations/postgres/0002_presence.sql"),
    },
    Migration {
        version: 3,
        name: "sms_inbound",
        sqlite: include_str!("../migrations/sqlite/0003_sms.sql"),
        postgres: include_str!("../migrations/postgres/0003_sms.sql"),
    },
    Migration {
        version: 4,
        name: "aeds",
        sqlite: include_str!("../migrations/sqlite/0004_aeds.sql"),
        postgres: include_str!("../migrations/postgres/0004_aeds.sql"),
    },
    Migration {
        version: 5,
        name: "ws_tickets",
        sqlite: include_str!("../migrations/sqlite/0005_ws_tickets.sql"),
        postgres: include_str!("../migrations/postgres/0005_ws_tickets.sql"),
    },
    Migration {
        version: 6,
        name: "dispatch_leases",
        sqlite: include_str!("../migrations/sqlite/0006_leases.sql"),
        postgres: include_str!("../migrations/postgres/0006_leases.sql"),
    },
    Migration {
        version: 7,
        name: "wellbeing_checkins",
        sqlite: include_str!("../migrations/sqlite/0007_wellbeing.sql"),
        postgres: include_str!("../migrations/postgres/0007_wellbeing.sql"),
    },
    Migration {
        version: 8,
        name: "consents",
        sqlite: include_str!("../migrations/sqlite/0008_consents.sql"),
        postgres: include_str!("../migrations/postgres/0008_consents.sql"),
    },
];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "emergency",
        segments: &["emergency"],
        default_port: 8202,
        migrations: MIGRATIONS,
        build,
        check_config,
        routes: access::ROUTES,
    }
}

fn check_config(cfg: &Config) -> Result<(), ConfigError> {
    cfg.service_section::<EmergencyConfig>("emergency")?
        .validate()
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let config = Arc::new(ctx.config.service_section::<EmergencyConfig>("emergency")?);
        config.validate()?;
        let store = store::Store::new(ctx.db.clone());
        // The live index is rebuilt from the last known locations and eligibility copy.
        let live = Arc::new(presence::Live::new());
        let (located, eligible) = live.load(&ctx.db).await?;
        tracing::info!(located, eligible, "live presence restored");
        {
            let (live, db) = (live.clone(), ctx.db.clone());
            ctx.spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    if let Err(e) = live.flush(&db).await {
                        tracing::warn!(error = %e, "cannot write presence snapshot; will retry");
                    }
                }
            });
        }
        {
            // Moved positions reach the queries' snapshot within this interval.
            let live = live.clone();
            ctx.spawn(async move {
                let mut tick = tokio::time::interval(presence::PUBLISH_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    live.publish_pending();
                }
            });
        }
        ctx.spawn_consumer(
            "emergency-eligibility",
            &[ELIGIBILITY_CHANGED],
            Arc::new(consumers::EligibilityHandler { live: live.clone() }),
        );
        ctx.spawn_consumer(
            "emergency-psc119",
            &[PSC119_STATUS],
            Arc::new(consumers::Psc119Handler),
        );
        ctx.spawn_consumer(
            "emergency-consents",
            &[kreki_identity_contracts::CONSENT_CHANGED],
            Arc::new(consumers::ConsentHandler),
        );
        let mut dispatcher = dispatch::Dispatcher::new(
            store.clone(),
            live.clone(),
            config.clone(),
            ctx.base_url.clone(),
            ctx.shutdown.clone(),
        );
        dispatcher.timings = Some(dispatch::Timings::new(&ctx.metrics));
        let dispatcher = Arc::new(dispatcher);
        if ctx.bus.kind() != "embedded" {
            // Other replicas may run: share positions and socket messages with them.
            ctx.spawn(sync::run(
                ctx.bus.clone(),
                dispatcher.replica().to_string(),
                live.clone(),
                dispatcher.hub.clone(),
            ));
        }
        // Open cases resume their dispatch from the stored state; the sweep also picks up
        // cases whose owner (another replica) stopped renewing its lease.
        for id in store.open_case_ids().await? {
            dispatcher.start(id);
        }
        {
            let d = dispatcher.clone();
            ctx.spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                    d.sweep().await;
                }
            });
        }
        {
            // Retention (data architecture): cases 10 years after closing, raw SMS 2 years;
            // first a few minutes after start (not amid start-up's writes), then hourly.
            let (store, config) = (store.clone(), config.clone());
            ctx.spawn(kreki_platform::storage::housekeeping::periodically(
                std::time::Duration::from_secs(300),
                std::time::Duration::from_secs(3_600),
                ctx.shutdown.clone(),
                move || {
                    let (store, config) = (store.clone(), config.clone());
                    async move {
                        let now = kreki_platform::time_util::now_micros();
                        let days = |d: u32| i64::from(d) * 86_400 * 1_000_000;
                        match store
                            .prune(
                                now - days(config.case_retention_days),
                                now - days(config.sms_retention_days),
                                now,
                            )
                            .await
                        {
                            Ok(p) if p != retention::Pruned::default() => tracing::info!(
                                cases = p.cases,
                                sms = p.sms,
                                tickets = p.tickets,
                                "emergency retention sweep"
                            ),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "emergency retention sweep failed")
                            }
                        }
                    }
                },
            ));
        }
        let aeds = Arc::new(aed::Registry::load(ctx.db.clone()).await?);
        let state = state::AppState {
            aeds,
            store,
            live,
            dispatcher,
            relay: ctx.relay.clone(),
            limiter: ctx.limiter.clone(),
            panic_ceiling: Arc::new(kreki_platform::storage::ratelimit::MemoryRateLimiter::new()),
            config: config.clone(),
            demo: ctx.demo.is_some(),
        };
        if let Some(demo) = ctx.demo {
            demo::seed(&state).await?;
            let st = state.clone();
            ctx.spawn(demo::simulate(st, demo.sim));
        }
        let web_source = web::WebSource::from_config(&config.web_dir);
        web::log_source(&web_source);
        {
            let source = web_source.clone();
            ctx.health.register(move || web::readiness(&source));
        }
        let (api, openapi) = http::router(state);
        Ok(Built {
            api,
            openapi,
            verifier: None,
            pages: web::router(
                web_source,
                web::AppConfig {
                    map_tile_url: config.map_tile_url.clone(),
                    sms_number: config.sms_number.clone(),
                },
            ),
        })
    })
}
