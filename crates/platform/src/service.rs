//! How a service plugs into the `kreki` binary: a [`ServiceDescriptor`] says its name, URL
//! segments, port and migrations, and builds its routes from a [`ServiceContext`] (its own
//! database, the bus, the authenticator, metrics, shutdown). The same descriptor runs inside
//! `kreki up` (all services, one process) and `kreki serve <name>` (one process).

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use axum::{
    Extension, Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;
use serde_json::json;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use utoipa::openapi::OpenApi;

use crate::{
    auth::Authenticator,
    bus::{
        Bus,
        consumer::{Consumer, Handler},
        outbox::RelayState,
    },
    config::Config,
    error::{ApiError, Msg},
    health::{Condition, Health, Level},
    http::middleware::service_layers,
    metrics::Metrics,
    storage::{Db, Migration, ratelimit::RateLimiter},
};

/// What a running service is given.
#[derive(Clone)]
pub struct ServiceContext {
    pub name: &'static str,
    pub config: Arc<Config>,
    /// The site's public base URL.
    pub base_url: String,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub relay: Arc<RelayState>,
    pub metrics: Arc<Metrics>,
    pub auth: Arc<Authenticator>,
    pub limiter: Arc<dyn RateLimiter>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    /// Set by `kreki up --demo`: seed demo data and run simulators.
    pub demo: Option<DemoSettings>,
    /// What readiness reports beyond storage and bus: stuck consumers, the service's own
    /// conditions ([`Health::register`]).
    pub health: Arc<Health>,
}

/// What the demo simulators do (`--demo-sim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DemoSim {
    /// Simulated volunteers stay still and never answer offers.
    Off,
    /// They move around and stay on duty, but never answer offers.
    Move,
    /// They move and accept offers.
    #[default]
    AutoAccept,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DemoSettings {
    pub sim: DemoSim,
}

impl ServiceContext {
    /// Run a durable consumer group for `subjects` with `handler` until shutdown.
    pub fn spawn_consumer(&self, group: &str, subjects: &[&str], handler: Arc<dyn Handler>) {
        let consumer = Consumer {
            service: self.name,
            group: group.to_string(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            db: self.db.clone(),
            bus: self.bus.clone(),
            metrics: self.metrics.clone(),
            health: Some(self.health.clone()),
        };
        self.tasks
            .spawn(consumer.run(handler, self.shutdown.clone()));
    }

    /// Run a background task until shutdown.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.shutdown.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = fut => {}
            }
        });
    }

    pub fn probe(&self) -> Probe {
        Probe {
            name: self.name,
            db: self.db.clone(),
            bus: self.bus.clone(),
            relay: self.relay.clone(),
            health: self.health.clone(),
            bus_unready_after: match self.config.bus.unready_after_s {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
        }
    }
}

/// A service's routes and contract.
pub struct Built {
    /// API routes at their full paths (`/api/<segment>/v1/...`).
    pub api: Router,
    pub openapi: OpenApi,
    /// Pages and other non-API paths of the site that this service serves.
    pub pages: Router,
    /// Who checks the bearer tokens of its declared routes: the process's [`Authenticator`]
    /// (`None`), or the service's own (KREKI ID verifies its tokens with its keys and its
    /// revocation list).
    pub verifier: Option<Arc<dyn crate::auth::BearerVerifier>>,
}

impl Built {
    /// A service with no API of its own yet (only the operational endpoints `mount` adds).
    pub fn operational_only() -> Built {
        Built {
            api: Router::new(),
            openapi: utoipa::openapi::OpenApiBuilder::new().build(),
            pages: Router::new(),
            verifier: None,
        }
    }
}

pub type BuildFuture = Pin<Box<dyn Future<Output = anyhow::Result<Built>> + Send>>;

/// A service as the binary sees it.
pub struct ServiceDescriptor {
    /// `kreki serve` name and crate folder.
    pub name: &'static str,
    /// API segments: `/api/<segment>/v1`. The first is the primary one.
    pub segments: &'static [&'static str],
    /// Port in `kreki serve` mode.
    pub default_port: u16,
    pub migrations: &'static [Migration],
    pub build: fn(ServiceContext) -> BuildFuture,
    /// Validate the service's configuration section (`kreki config check`, start-up).
    pub check_config: fn(&Config) -> Result<(), crate::config::ConfigError>,
    /// How each of its routes (API and pages) is opened: the one authorisation policy
    /// (`http::access`), enforced by `mount` and listed at `/api/<segment>/v1/permissions`.
    pub routes: &'static [crate::http::access::RouteAccess],
}

/// `check_config` of a service without a configuration section of its own: the section
/// must be empty.
pub fn no_config_section(cfg: &Config, name: &str) -> Result<(), crate::config::ConfigError> {
    #[derive(serde::Serialize, serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    cfg.service_section::<Empty>(name).map(|_| ())
}

/// Readiness of one service.
#[derive(Clone)]
pub struct Probe {
    pub name: &'static str,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub relay: Arc<RelayState>,
    pub health: Arc<Health>,
    /// A bus away this long makes the service unavailable (`bus.unready_after_s`; `None`:
    /// a bus outage only degrades, since the outbox holds the events).
    pub bus_unready_after: Option<Duration>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub service: String,
    /// `ready`, `degraded` (serving, with reasons: bus away and events waiting in the
    /// outbox, a stuck consumer) or `unavailable` (503).
    pub status: String,
    pub storage: String,
    pub bus: String,
    pub outbox_pending: i64,
    /// Why the status is not `ready`, one entry per cause.
    pub reasons: Vec<Condition>,
}

impl Probe {
    pub async fn check(&self) -> Readiness {
        let storage_ok = self.db.ping().await.is_ok();
        let connected = self.bus.is_connected();
        let relay_failing = self
            .relay
            .degraded
            .load(std::sync::atomic::Ordering::Relaxed);
        let bus_ok = connected && !relay_failing;
        let outbox_pending = self
            .relay
            .pending
            .load(std::sync::atomic::Ordering::Relaxed);
        let mut reasons = Vec::new();
        if !storage_ok {
            reasons.push(Condition {
                component: "storage".into(),
                level: Level::Unavailable,
                reason: "the service's database does not answer".into(),
            });
        }
        if let Some(away) = self.health.bus_seen(bus_ok) {
            let what = if connected {
                "the bus does not take events"
            } else {
                "the bus is disconnected"
            };
            let unavailable = self.bus_unready_after.is_some_and(|limit| away >= limit);
            reasons.push(Condition {
                component: "bus".into(),
                level: if unavailable {
                    Level::Unavailable
                } else {
                    Level::Degraded
                },
                reason: format!(
                    "{what} ({} bus) for {} s; {outbox_pending} events wait in the outbox",
                    self.bus.kind(),
                    away.as_secs()
                ),
            });
        }
        reasons.extend(self.health.conditions());
        let status = match reasons.iter().map(|r| r.level).max() {
            None => "ready",
            Some(Level::Degraded) => "degraded",
            Some(Level::Unavailable) => "unavailable",
        };
        Readiness {
            service: self.name.to_string(),
            status: status.into(),
            storage: if storage_ok { "ok" } else { "unavailable" }.into(),
            bus: if bus_ok { "ok" } else { "degraded" }.into(),
            outbox_pending,
            reasons,
        }
    }
}

fn readiness_response(checks: Vec<Readiness>) -> Response {
    let ready = checks.iter().all(|c| c.status != "unavailable");
    if ready {
        crate::Envelope::ok(json!({ "status": if checks.iter().all(|c| c.status == "ready") { "ready" } else { "degraded" }, "services": checks })).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NOT_READY",
            Msg::new("Layanan belum siap", "Service not ready"),
        )
        .details(json!({ "services": checks }))
        .into_response()
    }
}

fn health_response(names: &[&'static str]) -> Response {
    Json(json!({ "status": "ok", "services": names })).into_response()
}

fn metrics_response(metrics: &Metrics, service: Option<&str>) -> Response {
    let mut res = metrics.render(service).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}

/// Assemble a service's router: its API and pages, its health, readiness, metrics,
/// OpenAPI document and docs UI under each of its segments, its per-service layers.
pub fn mount(
    desc: &ServiceDescriptor,
    ctx: &ServiceContext,
    built: Built,
    per_minute: u32,
) -> Router {
    let mut openapi = built.openapi;
    openapi.info.title = format!("KREKI {} API", desc.name);
    openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
    for seg in desc.segments {
        add_operational_paths(&mut openapi, &format!("/api/{seg}/v1"));
    }
    openapi
        .components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            utoipa::openapi::security::SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::new()
                    .scheme(utoipa::openapi::security::HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token issued by KREKI ID"))
                    .build(),
            ),
        );
    crate::http::access::document_platform_answers(&mut openapi, desc.routes);
    let probe = Arc::new(ctx.probe());
    let name = desc.name;
    let verifier: Arc<dyn crate::auth::BearerVerifier> = match built.verifier {
        Some(v) => v,
        None => ctx.auth.clone(),
    };
    let mut router =
        crate::http::access::guard(built.api.merge(built.pages), desc.routes, verifier);
    let table: Arc<Vec<crate::http::access::RouteView>> =
        Arc::new(desc.routes.iter().map(Into::into).collect());
    for seg in desc.segments {
        let base = format!("/api/{seg}/v1");
        let t = table.clone();
        let own = Router::new()
            .route(
                &format!("{base}/permissions"),
                get(move || async move { crate::Envelope::ok((*t).clone()) }),
            )
            .route(
                &format!("{base}/healthz"),
                get(move || async move { health_response(&[name]) }),
            )
            .route(
                &format!("{base}/readyz"),
                get(|State(p): State<Arc<Probe>>| async move {
                    readiness_response(vec![p.check().await])
                }),
            )
            .with_state(probe.clone());
        let docs: Router = utoipa_swagger_ui::SwaggerUi::new(format!("{base}/docs"))
            .url(format!("{base}/openapi.json"), openapi.clone())
            .into();
        let docs = docs.layer(axum::middleware::map_response(|mut res: Response| async move {
            res.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
                ),
            );
            res
        }));
        router = router.merge(own).merge(docs);
    }
    let router = router.layer(Extension(ctx.auth.clone()));
    let own_limits = desc
        .routes
        .iter()
        .filter(|r| r.own_rate_limit)
        .map(|r| (r.method, r.path))
        .collect();
    service_layers(
        router,
        name,
        ctx.metrics.clone(),
        ctx.limiter.clone(),
        per_minute,
        own_limits,
    )
}

/// The root endpoints of a process: `/healthz`, `/readyz` over all its services (metrics
/// are on their own listener: [`metrics_router`]).
pub fn root_router(probes: Vec<Probe>) -> Router {
    let names: Vec<&'static str> = probes.iter().map(|p| p.name).collect();
    let probes = Arc::new(probes);
    Router::new()
        .route(
            "/healthz",
            get(move || async move { health_response(&names) }),
        )
        .route(
            "/readyz",
            get(move || {
                let probes = probes.clone();
                async move {
                    let checks = futures::future::join_all(probes.iter().map(Probe::check)).await;
                    readiness_response(checks)
                }
            }),
        )
}

/// The metrics listener of a process (`http.metrics_bind`, never the public port):
/// `/metrics` over all its services and `/api/<segment>/v1/metrics` per service.
pub fn metrics_router(
    metrics: Arc<Metrics>,
    services: &[(&'static str, &'static [&'static str])],
) -> Router {
    let m = metrics.clone();
    let mut r = Router::new().route(
        "/metrics",
        get(move || async move { metrics_response(&m, None) }),
    );
    for (name, segments) in services {
        for seg in *segments {
            let m = metrics.clone();
            let name: &'static str = name;
            r = r.route(
                &format!("/api/{seg}/v1/metrics"),
                get(move || async move { metrics_response(&m, Some(name)) }),
            );
        }
    }
    r
}

/// Wait for a service's background tasks after shutdown was requested.
pub async fn drain_tasks(tasks: &TaskTracker, grace: Duration) {
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("background tasks did not stop within the grace period");
    }
}

fn add_operational_paths(openapi: &mut OpenApi, base: &str) {
    use utoipa::openapi::{
        ResponseBuilder,
        path::{HttpMethod, OperationBuilder},
    };
    let op = |summary: &str, ok: &str, tag: &str| {
        OperationBuilder::new()
            .summary(Some(summary))
            .tag(tag)
            .response("200", ResponseBuilder::new().description(ok).build())
            .build()
    };
    let ready = OperationBuilder::new()
        .summary(Some(
            "Readiness: own storage answers (bus outage shows as degraded, still ready)",
        ))
        .tag("operations")
        .response(
            "200",
            ResponseBuilder::new()
                .description("Ready or degraded")
                .build(),
        )
        .response(
            "503",
            ResponseBuilder::new()
                .description("Storage unavailable (NOT_READY)")
                .build(),
        )
        .build();
    openapi.paths.add_path_operation(
        format!("{base}/healthz"),
        vec![HttpMethod::Get],
        op("Liveness", "Alive", "operations"),
    );
    openapi
        .paths
        .add_path_operation(format!("{base}/readyz"), vec![HttpMethod::Get], ready);
    openapi.paths.add_path_operation(
        format!("{base}/permissions"),
        vec![HttpMethod::Get],
        op(
            "The authorisation policy of every route of this service: its permission of the matrix (or why it is public) and the scope check of its use-case",
            "Envelope of routes: method, path, permission, public, scope, case_token",
            "operations",
        ),
    );
}
