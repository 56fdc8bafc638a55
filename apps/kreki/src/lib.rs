//! Wiring of the `kreki` binary: which adapters each run mode picks, and how services are
//! started and stopped. The same service code runs in both modes.
//!
//! - [`up`]: every service in one process, SQLite file per service under the data
//!   directory, the embedded durable bus, one HTTP port.
//! - [`serve_one`]: one service in its own process on PostgreSQL and NATS JetStream.

pub mod backup;
pub mod routes;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use axum::Router;
use kreki_platform::{
    auth::{Authenticator, HttpJwks},
    bus::{
        Bus,
        local::LocalBus,
        nats::{NatsBus, StreamLimits},
        outbox::Relay,
    },
    config::Config,
    http::{
        middleware::{KitConfig, outer},
        server::{TlsFiles, serve},
    },
    metrics::Metrics,
    service::{
        DemoSettings, Probe, ServiceContext, ServiceDescriptor, drain_tasks, mount, root_router,
    },
    storage::{
        Db, housekeeping,
        ratelimit::{MemoryRateLimiter, RateLimiter, SqlRateLimiter},
    },
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// Every service of the platform, in start order.
pub fn services() -> Vec<ServiceDescriptor> {
    vec![
        kreki_identity::descriptor(),
        kreki_notify::descriptor(),
        kreki_volunteers::descriptor(),
        kreki_lms::descriptor(),
        kreki_bridge::descriptor(),
        kreki_emergency::descriptor(),
    ]
}

pub fn service(name: &str) -> anyhow::Result<ServiceDescriptor> {
    services()
        .into_iter()
        .find(|s| s.name == name)
        .with_context(|| {
            let names: Vec<&str> = services().iter().map(|s| s.name).collect();
            format!("unknown service `{name}`; one of: {}", names.join(", "))
        })
}

/// Check the whole configuration, including every service's section.
pub fn check_config(cfg: &Config) -> anyhow::Result<()> {
    cfg.validate()?;
    for s in services() {
        (s.check_config)(cfg)?;
    }
    Ok(())
}

/// A started platform (or service).
pub struct Running {
    pub addr: SocketAddr,
    /// The metrics listener (`/metrics`, `/api/<segment>/v1/metrics`).
    pub metrics_addr: SocketAddr,
    /// The process's event bus (tests publish other services' events through it).
    pub bus: Arc<dyn Bus>,
    pub base_url: String,
    pub shutdown: CancellationToken,
    pub join: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Request shutdown and wait until everything stopped.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.join.await?
    }
}

async fn bind(cfg: &Config, default_port: u16) -> anyhow::Result<TcpListener> {
    let port = cfg.http.port.unwrap_or(default_port);
    let addr = SocketAddr::new(cfg.http.bind, port);
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another process using the port? set --port)")
    })
}

/// The metrics listener: `http.metrics_bind` (loopback by default), never the public port.
/// Default port: `kreki up` 9119, `kreki serve` 9100 + (service port − 8200); a free one
/// when the public port is chosen freely (`--port 0`).
async fn bind_metrics(cfg: &Config, default_port: u16) -> anyhow::Result<TcpListener> {
    let port = match (cfg.http.metrics_port, cfg.http.port) {
        (Some(p), _) => p,
        (None, Some(0)) => 0,
        (None, _) => default_port,
    };
    let addr = SocketAddr::new(cfg.http.metrics_bind, port);
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr} (set http.metrics_port)"))
}

struct Unit {
    desc: ServiceDescriptor,
    db: Db,
    limiter: Arc<dyn RateLimiter>,
}

/// Open every service's SQLite database and migrate it (`kreki up`, `kreki migrate`).
pub async fn open_embedded(
    cfg: &Config,
    only: Option<&str>,
) -> anyhow::Result<Vec<(ServiceDescriptor, Db)>> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            cfg.data_dir.display()
        )
    })?;
    let mut out = Vec::new();
    for desc in services() {
        if only.is_some_and(|o| o != desc.name) {
            continue;
        }
        let path = cfg.data_dir.join(format!("{}.db", desc.name));
        let db = Db::open_sqlite(&path, desc.name)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        db.migrate(desc.name, desc.migrations)
            .await
            .with_context(|| format!("migrating {}", desc.name))?;
        out.push((desc, db));
    }
    Ok(out)
}

/// Connect one service to its PostgreSQL database and migrate it.
pub async fn open_postgres(cfg: &Config, desc: &ServiceDescriptor) -> anyhow::Result<Db> {
    let Some(url) = &cfg.database_url else {
        bail!(
            "`kreki serve {}` needs a PostgreSQL URL: --database-url or KREKI_DATABASE_URL",
            desc.name
        );
    };
    let db = Db::connect_postgres_with(url.expose(), desc.name, &cfg.storage)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL for {}", desc.name))?;
    db.migrate(desc.name, desc.migrations)
        .await
        .with_context(|| format!("migrating {}", desc.name))?;
    Ok(db)
}

/// `kreki up`: every service in this process.
pub async fn up(cfg: Config, demo: Option<DemoSettings>) -> anyhow::Result<Running> {
    // One `kreki up` per data directory: two would write the same files.
    let lock = backup::lock_install(&cfg.data_dir)?;
    let listener = bind(&cfg, 8119).await?;
    let bus_db = Db::open_sqlite(&cfg.data_dir.join("bus.db"), "bus")
        .await
        .with_context(|| format!("cannot open the embedded bus in {}", cfg.data_dir.display()))?;
    let bus: Arc<dyn Bus> =
        Arc::new(LocalBus::open(bus_db, Duration::from_millis(cfg.bus.ack_wait_ms)).await?);
    let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new());
    let units = open_embedded(&cfg, None)
        .await?
        .into_iter()
        .map(|(desc, db)| Unit {
            desc,
            db,
            limiter: limiter.clone(),
        })
        .collect();
    let metrics_listener = bind_metrics(&cfg, 9119).await?;
    // While it runs, `kreki restore` refuses to replace its files.
    let pid_file = cfg.data_dir.join(backup::PID_FILE);
    std::fs::write(&pid_file, std::process::id().to_string())
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    let mut running = match start(cfg, listener, metrics_listener, units, bus, demo).await {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&pid_file);
            return Err(e);
        }
    };
    let join = running.join;
    running.join = tokio::spawn(async move {
        let outcome = join.await;
        let _ = std::fs::remove_file(&pid_file);
        drop(lock);
        outcome?
    });
    Ok(running)
}

/// `kreki serve <name>`: one service on PostgreSQL and NATS.
pub async fn serve_one(cfg: Config, name: &str) -> anyhow::Result<Running> {
    let desc = service(name)?;
    let Some(bus_url) = cfg.bus.url.clone() else {
        bail!("`kreki serve {name}` needs a NATS URL: --bus-url or KREKI_BUS__URL");
    };
    let db = open_postgres(&cfg, &desc).await?;
    // Started even while NATS is unreachable: the client joins it in the background, events
    // wait in the outbox, readiness says why (the panic path must not depend on the bus).
    let bus: Arc<dyn Bus> = Arc::new(
        NatsBus::start(
            bus_url.expose(),
            &format!("kreki-{name}"),
            &cfg.bus.stream,
            &cfg.bus.subject_prefix,
            Duration::from_millis(cfg.bus.ack_wait_ms),
            StreamLimits::from(&cfg.bus),
        )
        .await
        .context("cannot start the event bus")?,
    );
    let listener = bind(&cfg, desc.default_port).await?;
    let limiter: Arc<dyn RateLimiter> = match cfg.http.rate_limit_store {
        kreki_platform::config::RateLimitStore::Shared => Arc::new(SqlRateLimiter::new(db.clone())),
        kreki_platform::config::RateLimitStore::Local => Arc::new(MemoryRateLimiter::new()),
    };
    let metrics_listener =
        bind_metrics(&cfg, 9100 + desc.default_port.saturating_sub(8200)).await?;
    start(
        cfg,
        listener,
        metrics_listener,
        vec![Unit { desc, db, limiter }],
        bus,
        None,
    )
    .await
}

/// Retention sweeps run this long after start (not amid start-up's writes: on SQLite a
/// concurrent delete makes consumers' transactions retry), then every hour.
const HOUSEKEEPING_FIRST: Duration = Duration::from_secs(300);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3_600);

async fn start(
    cfg: Config,
    listener: TcpListener,
    metrics_listener: TcpListener,
    units: Vec<Unit>,
    bus: Arc<dyn Bus>,
    demo: Option<DemoSettings>,
) -> anyhow::Result<Running> {
    check_config(&cfg)?;
    let addr = listener.local_addr()?;
    let base_url = cfg.base_url(addr.port());
    let cfg = Arc::new(cfg);
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let metrics = Arc::new(Metrics::new());
    let issuer = cfg.auth.issuer.clone().unwrap_or_else(|| base_url.clone());
    let jwks = cfg
        .auth
        .jwks_url
        .clone()
        .unwrap_or_else(|| format!("{base_url}/.well-known/jwks.json"));
    let auth = Arc::new(Authenticator::new(
        issuer,
        cfg.auth.audience.clone(),
        Arc::new(HttpJwks::new(jwks)),
    ));
    // Revocations published by KREKI ID reach this process's bearer check within seconds.
    tasks.spawn(kreki_platform::auth::follow_revocations(
        bus.clone(),
        auth.clone(),
        shutdown.clone(),
    ));
    let mut app = Router::new();
    let mut probes: Vec<Probe> = Vec::new();
    let mut undeclared: Vec<String> = Vec::new();
    let mut served: Vec<(&'static str, &'static [&'static str])> = Vec::new();
    let mut dbs = Vec::new();
    for unit in units {
        let relay = Relay::new(unit.db.clone(), bus.clone());
        let relay_state = relay.state.clone();
        tasks.spawn(relay.run(shutdown.clone()));
        tasks.spawn(housekeeping::run(
            unit.db.clone(),
            unit.desc.name,
            HOUSEKEEPING_FIRST,
            HOUSEKEEPING_EVERY,
            shutdown.clone(),
        ));
        metrics.watch(unit.desc.name, relay_state.clone(), bus.clone());
        metrics.watch_pool(unit.desc.name, unit.db.clone());
        let ctx = ServiceContext {
            name: unit.desc.name,
            config: cfg.clone(),
            base_url: base_url.clone(),
            db: unit.db.clone(),
            bus: bus.clone(),
            relay: relay_state,
            metrics: metrics.clone(),
            auth: auth.clone(),
            limiter: unit.limiter.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            demo,
            health: Arc::new(kreki_platform::health::Health::new(Duration::from_secs(
                cfg.bus.consumer_stuck_s,
            ))),
        };
        probes.push(ctx.probe());
        let built = (unit.desc.build)(ctx.clone())
            .await
            .with_context(|| format!("starting {}", unit.desc.name))?;
        // The one authorisation policy covers every route, or the service does not start.
        let problems = kreki_platform::http::access::check_declarations(
            &built.api.clone().merge(built.pages.clone()),
            unit.desc.routes,
        );
        undeclared.extend(
            problems
                .into_iter()
                .map(|p| format!("{}: {p}", unit.desc.name)),
        );
        served.push((unit.desc.name, unit.desc.segments));
        app = app.merge(mount(
            &unit.desc,
            &ctx,
            built,
            cfg.http.rate_limit_per_minute,
        ));
        dbs.push(unit.db);
    }
    if !undeclared.is_empty() {
        shutdown.cancel();
        bail!(
            "the access declarations do not match the routes:\n  {}",
            undeclared.join("\n  ")
        );
    }
    {
        // The embedded bus forgets what every consumer has passed (JetStream has its limits).
        let bus = bus.clone();
        tasks.spawn(housekeeping::periodically(
            HOUSEKEEPING_FIRST,
            HOUSEKEEPING_EVERY,
            shutdown.clone(),
            move || {
                let bus = bus.clone();
                async move {
                    match bus.prune().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(messages = n, "bus retention sweep"),
                        Err(e) => tracing::warn!(error = %e, "bus retention sweep failed"),
                    }
                }
            },
        ));
    }
    let app = outer(
        app.merge(root_router(probes)),
        KitConfig {
            body_limit_bytes: cfg.http.body_limit_bytes,
            request_timeout: Duration::from_millis(cfg.http.request_timeout_ms),
            trusted_hops: if cfg.http.trust_proxy {
                cfg.http.trusted_proxy_hops
            } else {
                0
            },
            hsts: base_url.starts_with("https://"),
        },
    );
    let tls = match (&cfg.http.tls_cert, &cfg.http.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let grace = Duration::from_millis(cfg.http.shutdown_grace_ms);
    let metrics_addr = metrics_listener.local_addr()?;
    {
        let router = kreki_platform::service::metrics_router(metrics.clone(), &served);
        let sd = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics_listener, router)
                .with_graceful_shutdown(sd.cancelled_owned())
                .await
            {
                tracing::warn!(error = %e, "metrics listener stopped");
            }
        });
    }
    let sd = shutdown.clone();
    let join = tokio::spawn(async move {
        let served = serve(listener, app, sd.clone(), grace, tls).await;
        sd.cancel();
        drain_tasks(&tasks, grace).await;
        for db in dbs {
            db.close().await;
        }
        served
    });
    Ok(Running {
        addr,
        metrics_addr,
        bus,
        base_url,
        shutdown,
        join,
    })
}
