//! Integration bridge: SATUSEHAT (FHIR R4) and PSC 119.
//!
//! SATUSEHAT: `emergency.case.completed` becomes a job in a durable queue; the sender
//! looks up the patient (and practitioner) by NIK and creates the Encounter with its vital
//! sign Observations and working-diagnosis Condition, under the error policy of
//! [`satusehat::worker`]; every exchange is kept in the transaction log that operators
//! inspect and replay at `/api/satusehat/v1`.
//!
//! PSC 119: `emergency.case.escalated` becomes a hand-off to the configured centres
//! ([`psc119`]); their signed callbacks at `/api/psc119/v1/callbacks` are published as
//! `bridge.psc119.status` for the case timeline.

pub mod access;
pub mod clock;
pub mod fhir;
pub mod http;
pub mod metrics;
pub mod nik;
pub mod psc119;
pub mod satusehat;

use std::sync::Arc;

use async_trait::async_trait;
use kreki_emergency_contracts::{CASE_COMPLETED, CASE_ESCALATED, CaseCompleted, CaseEscalated};
use kreki_identity_contracts::{CONSENT_CHANGED, ConsentChanged};
use kreki_platform::{
    bus::{
        Event,
        consumer::{AfterCommit, HandleError, Handler},
    },
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::{Migration, Tx},
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    clock::{Clock, SystemClock},
    satusehat::{SatusehatConfig, client::Client, sim::SatusehatSim, store::Store, worker::Worker},
};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "satusehat",
        sqlite: include_str!("../migrations/sqlite/0001_satusehat.sql"),
        postgres: include_str!("../migrations/postgres/0001_satusehat.sql"),
    },
    Migration {
        version: 2,
        name: "psc119",
        sqlite: include_str!("../migrations/sqlite/0002_psc119.sql"),
        postgres: include_str!("../migrations/postgres/0002_psc119.sql"),
    },
    Migration {
        version: 3,
        name: "psc119_recipients",
        sqlite: include_str!("../migrations/sqlite/0003_psc119_recipients.sql"),
        postgres: include_str!("../migrations/postgres/0003_psc119_recipients.sql"),
    },
    Migration {
        version: 4,
        name: "access_log",
        sqlite: include_str!("../migrations/sqlite/0004_access_log.sql"),
        postgres: include_str!("../migrations/postgres/0004_access_log.sql"),
    },
    Migration {
        version: 5,
        name: "consents",
        sqlite: include_str!("../migrations/sqlite/0005_consents.sql"),
        postgres: include_str!("../migrations/postgres/0005_consents.sql"),
    },
];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "bridge",
        segments: &["satusehat", "psc119"],
        default_port: 8205,
        migrations: MIGRATIONS,
        build,
        check_config,
        routes: access::ROUTES,
    }
}

/// `[bridge]` configuration section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    pub satusehat: SatusehatConfig,
    pub psc119: psc119::Psc119Config,
    /// SATUSEHAT exchanges of settled jobs are deleted after this many days (0: kept).
    pub log_retention_days: u32,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            satusehat: SatusehatConfig::default(),
            psc119: psc119::Psc119Config::default(),
            log_retention_days: 730,
        }
    }
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    let c: BridgeConfig = cfg.service_section("bridge")?;
    let s = &c.satusehat;
    let any = !s.organization_id.is_empty() || !s.client_id.is_empty() || s.client_secret.is_some();
    if any && !s.configured() {
        return Err(kreki_platform::config::ConfigError::new(
            "bridge.satusehat",
            "organization_id, client_id and client_secret go together",
        ));
    }
    c.psc119
        .check()
        .map_err(|e| kreki_platform::config::ConfigError::new("bridge.psc119", e))?;
    if let Some(n) = &s.practitioner_nik
        && nik::Nik::parse(n).is_err()
    {
        return Err(kreki_platform::config::ConfigError::new(
            "bridge.satusehat.practitioner_nik",
            "not a valid NIK",
        ));
    }
    Ok(())
}

/// Records completed cases for SATUSEHAT.
pub struct CompletedHandler {
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
}

#[async_trait]
impl Handler for CompletedHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let case: CaseCompleted = event.decode()?;
        let st = Store::enqueue(tx, &case, self.clock.now_micros()).await?;
        tracing::info!(case_id = %case.case_id, state = st.unwrap_or("duplicate"), "completed case recorded for SATUSEHAT");
        let wake = self.wake.clone();
        after.then(move || wake.notify_one());
        Ok(())
    }
}

/// Keeps the callers' `health_data_sharing` decisions (`identity.consent.changed`); a
/// withdrawal holds their unsent jobs for Ops review.
pub struct ConsentHandler {
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl Handler for ConsentHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let c: ConsentChanged = event.decode()?;
        if c.purpose != kreki_identity_contracts::consent::HEALTH_DATA_SHARING {
            return Ok(());
        }
        let held = Store::consent(
            tx,
            &c.account_id,
            &c.purpose,
            c.granted,
            c.at,
            self.clock.now_micros(),
        )
        .await?;
        if held > 0 {
            tracing::info!(
                jobs = held,
                "SATUSEHAT sends held: health_data_sharing withdrawn"
            );
        }
        Ok(())
    }
}

/// Hands escalated cases to PSC 119.
pub struct EscalatedHandler {
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
}

#[async_trait]
impl Handler for EscalatedHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let e: CaseEscalated = event.decode()?;
        let new = psc119::store::Store::enqueue(tx, &e, self.clock.now_micros()).await?;
        tracing::info!(case_id = %e.case_id, priority = e.severity.psc119_priority(), new, "escalation recorded for PSC 119");
        let wake = self.wake.clone();
        after.then(move || wake.notify_one());
        Ok(())
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let cfg: BridgeConfig = ctx.config.service_section("bridge")?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let bridge_metrics = metrics::BridgeMetrics::register(&ctx.metrics);
        let store = Store::new(ctx.db.clone());
        let wake = Arc::new(Notify::new());
        let mut pages = axum::Router::new();
        let mut sat = cfg.satusehat.clone();
        let mut psc = cfg.psc119.clone();
        if ctx.demo.is_some() {
            pages = pages
                .merge(SatusehatSim::new().router())
                .merge(psc119::sim::Psc119Sim::new(true).router());
            if !sat.configured() {
                sat = SatusehatConfig::simulator(&ctx.base_url);
            }
            if psc.centres.is_empty() {
                psc = psc119::Psc119Config::simulator(&ctx.base_url);
            }
        }
        let psc_wake = Arc::new(Notify::new());
        ctx.spawn_consumer(
            "bridge-psc119",
            &[CASE_ESCALATED],
            Arc::new(EscalatedHandler {
                clock: clock.clone(),
                wake: psc_wake.clone(),
            }),
        );
        let psc_store = psc119::store::Store::new(ctx.db.clone());
        let http_client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        if psc.centres.is_empty() {
            tracing::warn!(
                "no PSC 119 centre configured ([[bridge.psc119.centres]]); escalations raise the Ops alarm"
            );
        }
        let psc_worker = psc119::worker::Worker {
            store: psc_store.clone(),
            adapters: psc119::adapters(&psc, &http_client),
            clock: clock.clone(),
            ack_timeout_secs: i64::from(psc.ack_timeout_secs.max(1)),
            resends: i64::from(psc.resends),
            callback_url: format!(
                "{}/api/psc119/v1/callbacks",
                ctx.base_url.trim_end_matches('/')
            ),
            wake: psc_wake,
            metrics: bridge_metrics.clone(),
        };
        ctx.tasks.spawn(psc_worker.run(ctx.shutdown.clone()));
        let secrets = psc
            .centres
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.secret.clone()?)))
            .collect();
        ctx.spawn_consumer(
            "bridge-consents",
            &[CONSENT_CHANGED],
            Arc::new(ConsentHandler {
                clock: clock.clone(),
            }),
        );
        ctx.spawn_consumer(
            "bridge-satusehat",
            &[CASE_COMPLETED],
            Arc::new(CompletedHandler {
                clock: clock.clone(),
                wake: wake.clone(),
            }),
        );
        if sat.configured() {
            let client = Client::new(
                &sat.root(),
                &sat.client_id,
                sat.client_secret
                    .clone()
                    .unwrap_or_else(|| kreki_platform::config::Secret::new("")),
                std::time::Duration::from_secs(u64::from(sat.timeout_secs.max(1))),
                clock.clone(),
            )?;
            let worker = Worker {
                store: store.clone(),
                client: Arc::new(client),
                settings: sat.settings(),
                wake: wake.clone(),
                metrics: bridge_metrics.clone(),
            };
            ctx.tasks.spawn(worker.run(ctx.shutdown.clone()));
        } else {
            tracing::warn!(
                "SATUSEHAT is not configured ([bridge.satusehat]); completed cases wait in the queue"
            );
        }
        if cfg.log_retention_days > 0 {
            let (store, cancel) = (store.clone(), ctx.shutdown.clone());
            let keep = i64::from(cfg.log_retention_days) * 86_400 * 1_000_000;
            let clock = clock.clone();
            // After start-up's writes, then hourly (as the platform's own sweeps).
            ctx.tasks.spawn(kreki_platform::storage::housekeeping::periodically(
                std::time::Duration::from_secs(300),
                std::time::Duration::from_secs(3_600),
                cancel,
                move || {
                    let (store, before) = (store.clone(), clock.now_micros() - keep);
                    async move {
                        match store.prune(before).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(exchanges = n, "SATUSEHAT log retention sweep"),
                            Err(e) => tracing::warn!(error = %e, "SATUSEHAT log retention sweep failed"),
                        }
                    }
                },
            ));
        }
        let (api, openapi) = http::router(http::AppState {
            store,
            clock,
            wake,
            psc: http::PscState {
                store: psc_store,
                secrets: Arc::new(secrets),
                tolerance_secs: i64::from(psc.callback_tolerance_secs.max(1)),
            },
        });
        Ok(Built {
            api,
            openapi,
            verifier: None,
            pages: pages.merge(http::pages()),
        })
    })
}

/// `kreki sim satusehat|psc119`: one simulator on its own port until `shutdown`.
pub async fn run_simulator(
    system: &str,
    addr: std::net::SocketAddr,
    auto_ack: bool,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let router = match system {
        "satusehat" => SatusehatSim::new().router(),
        "psc119" => psc119::sim::Psc119Sim::new(auto_ack).router(),
        other => anyhow::bail!("unknown simulator {other:?}: satusehat or psc119"),
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let at = listener.local_addr()?;
    match system {
        "satusehat" => println!(
            "Simulator SATUSEHAT — listening on http://{at} (console /sim/satusehat/; client_id {}, client_secret {}, organization {}; base_url = http://{at}/sim/satusehat)",
            satusehat::sim::SIM_CLIENT_ID,
            satusehat::sim::SIM_CLIENT_SECRET,
            satusehat::sim::SIM_ORG_ID
        ),
        _ => println!(
            "Simulator PSC 119 — listening on http://{at} (console /sim/psc119/; webhook http://{at}/sim/psc119/webhook, centre {}, secret {}{})",
            psc119::sim::SIM_CENTRE,
            psc119::sim::SIM_SECRET,
            if auto_ack { ", auto-ack" } else { "" }
        ),
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use figment::{
        Figment,
        providers::{Format, Serialized, Toml},
    };
    use kreki_platform::config::Config;

    fn cfg(toml: &str) -> Result<(), kreki_platform::config::ConfigError> {
        let fig = Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml));
        super::check_config(&Config::from_figment(fig).unwrap())
    }

    #[test]
    fn configuration_is_checked_strictly() {
        cfg("").unwrap();
        cfg(r#"[bridge.satusehat]
environment = "production"
organization_id = "100000"
client_id = "abc"
client_secret = "s3cret"
practitioner_nik = "7209061211900001"
[[bridge.psc119.centres]]
name = "dki"
url = "https://psc119.example/hook"
secret = "x"
[[bridge.psc119.centres]]
name = "dki-sms"
kind = "sms"
phone = "0812-1111-2222"
"#)
        .unwrap();
        let e = cfg("[bridge.satusehat]\nclient_id = \"abc\"\n").unwrap_err();
        assert_eq!(e.key, "bridge.satusehat");
        let e = cfg("[bridge.satusehat]\nclient_secrt = \"x\"\n").unwrap_err();
        assert!(e.key.starts_with("bridge"), "{e:?}");
        let e = cfg("[bridge.satusehat]\nenvironment = \"moon\"\n").unwrap_err();
        assert!(e.key.starts_with("bridge"), "{e:?}");
        let e = cfg("[[bridge.psc119.centres]]\nname = \"a\"\nurl = \"https://x\"\n").unwrap_err();
        assert_eq!(e.key, "bridge.psc119");
        let e = cfg("[[bridge.psc119.centres]]\nname = \"a\"\nkind = \"sms\"\nphone = \"12\"\n")
            .unwrap_err();
        assert_eq!(e.key, "bridge.psc119");
        let e = cfg("[bridge.satusehat]\norganization_id = \"1\"\nclient_id = \"a\"\nclient_secret = \"b\"\npractitioner_nik = \"123\"\n").unwrap_err();
        assert_eq!(e.key, "bridge.satusehat.practitioner_nik");
    }

    #[test]
    fn secrets_never_print() {
        let s = super::SatusehatConfig {
            client_secret: Some(kreki_platform::config::Secret::new("top-secret")),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("top-secret"));
        assert!(!serde_json::to_string(&s).unwrap().contains("top-secret"));
    }
}
