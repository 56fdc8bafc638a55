//! KREKI ID alone over real HTTP (port 0) on SQLite, through the same descriptor, `mount`
//! and outer stack as `kreki up` / `kreki serve`. KREKI ID is its own token issuer, so the
//! service context is built here rather than by `kreki_platform::testkit::Harness` (whose
//! issuer is a test signer): the public base URL can be `http://localhost:<port>` (passkeys
//! need a host name) and `X-Forwarded-For` can be trusted (attacks from many addresses). The
//! outbox relay is not started: the tests read what a request wrote (`notify.message.requested`,
//! `identity.account.*`) from the outbox table.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kreki_platform::{
    auth::{Authenticator, StaticJwks},
    bus::{Bus, local::LocalBus, outbox::RelayState},
    config::Config,
    http::middleware::{KitConfig, outer},
    metrics::Metrics,
    service::{DemoSettings, DemoSim, ServiceContext, mount},
    storage::{Db, ratelimit::MemoryRateLimiter},
    testkit::{DbGuard, TempDir, TestSigner, sqlite_db},
};
use serde_json::{Value, json};
use sqlx::Row;
use tokio::net::TcpListener;

pub const CC_SECRET: &str = "partner-secret-0123456789abcdefghijklmnopqrstuvwxyz";

pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub db: Db,
    ctx: ServiceContext,
    opts: Options,
    cfg: Config,
    dir: TempDir,
    _db: DbGuard,
}

/// How to start KREKI ID.
#[derive(Default, Clone, Copy)]
pub struct Options {
    /// Seed the demo accounts (`kreki up --demo`).
    pub demo: bool,
    /// Serve as `http://localhost:<port>` (WebAuthn needs a host name, not an address).
    pub localhost: bool,
    /// Register the partner clients of the OIDC tests (`partner-psc`, `third-party`).
    pub partner_clients: bool,
    /// Announce the public base URL as `https://localhost:<port>` (a TLS proxy in front);
    /// the tests still talk plain HTTP to the listener (`App::url`).
    pub https: bool,
}

/// KREKI ID with cheap Argon2 and the partner clients (as the old `kreki up` tests had).
pub async fn start(demo: bool) -> App {
    start_with(demo, |_| {}).await
}

/// [`start`] with more settings.
pub async fn start_with(demo: bool, more: impl FnOnce(&mut Config)) -> App {
    start_opts(
        Options {
            demo,
            partner_clients: true,
            ..Options::default()
        },
        more,
    )
    .await
}

/// On `http://localhost:<port>`, without extra clients (passkeys).
pub async fn start_localhost() -> App {
    start_opts(
        Options {
            localhost: true,
            ..Options::default()
        },
        |_| {},
    )
    .await
}

pub async fn start_opts(opts: Options, more: impl FnOnce(&mut Config)) -> App {
    let mut cfg = Config::default();
    let id = &mut cfg.identity;
    id.insert("argon2_memory_kib".into(), 8192.into());
    id.insert("argon2_iterations".into(), 1.into());
    if opts.partner_clients {
        let clients = figment::value::Value::serialize(json!([{
            "client_id": "partner-psc",
            "name": "PSC 119 partner",
            "client_secret": CC_SECRET,
            "confidential": true,
            "grant_types": ["client_credentials"],
            "scopes": ["bridge.callback"],
        }, {
            "client_id": "third-party",
            "name": "Aplikasi Mitra",
            "client_secret": CC_SECRET,
            "confidential": true,
            "redirect_uris": ["http://127.0.0.1:9/cb"],
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "profile", "email"],
        }]))
        .unwrap();
        id.insert("clients".into(), clients);
    }
    more(&mut cfg);
    let (db, guard) = sqlite_db("identity", kreki_identity::MIGRATIONS).await;
    let dir = TempDir::new();
    // The data-encryption key file of `kreki up` goes here.
    cfg.data_dir = dir.path().to_path_buf();
    serve(opts, cfg, db, guard, dir).await
}

/// KREKI ID on `db` and the data directory `dir` (a start, or a restart on the same data).
async fn serve(opts: Options, cfg: Config, db: Db, guard: DbGuard, dir: TempDir) -> App {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = if opts.localhost {
        format!("http://localhost:{port}")
    } else {
        format!("http://127.0.0.1:{port}")
    };
    let base_url = if opts.https {
        format!("https://localhost:{port}")
    } else {
        url.clone()
    };
    // Tokens of other issuers are never accepted here; KREKI ID checks its own.
    let signer = TestSigner::new("unused");
    let auth = Arc::new(Authenticator::new(
        "https://other.test",
        None,
        Arc::new(StaticJwks(signer.jwks())),
    ));
    let bus_db = Db::open_sqlite(&dir.path().join(format!("bus-{port}.db")), "bus")
        .await
        .unwrap();
    let bus: Arc<dyn Bus> = Arc::new(
        LocalBus::open(bus_db, Duration::from_secs(30))
            .await
            .unwrap(),
    );
    let trusted_hops = if cfg.http.trust_proxy {
        cfg.http.trusted_proxy_hops
    } else {
        0
    };
    let per_minute = cfg.http.rate_limit_per_minute;
    let health = Arc::new(kreki_platform::health::Health::new(Duration::from_secs(
        cfg.bus.consumer_stuck_s,
    )));
    let ctx = ServiceContext {
        name: "identity",
        config: Arc::new(cfg.clone()),
        base_url,
        db: db.clone(),
        bus: bus.clone(),
        relay: Arc::new(RelayState::default()),
        metrics: Arc::new(Metrics::new()),
        auth,
        limiter: Arc::new(MemoryRateLimiter::new()),
        shutdown: Default::default(),
        tasks: Default::default(),
        demo: opts.demo.then_some(DemoSettings { sim: DemoSim::Off }),
        health,
    };
    let desc = kreki_identity::descriptor();
    let built = (desc.build)(ctx.clone()).await.unwrap();
    let app = outer(
        mount(&desc, &ctx, built, per_minute),
        KitConfig {
            body_limit_bytes: 4 << 20,
            request_timeout: Duration::from_secs(30),
            trusted_hops,
            hsts: false,
        },
    );
    let cancel = ctx.shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
    });
    App {
        url,
        client: reqwest::Client::new(),
        db,
        ctx,
        opts,
        cfg,
        dir,
        _db: guard,
    }
}

impl App {
    /// Stop this instance and start another on the same database and data directory (a new
    /// port, so a new issuer URL; the keys and secrets are the stored ones).
    pub async fn restart(self) -> App {
        self.ctx.shutdown.cancel();
        serve(self.opts, self.cfg, self.db, self._db, self.dir).await
    }

    /// The data directory (`kreki up`'s, where the key file is made).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn stop(self) {
        self.ctx.shutdown.cancel();
        self.db.close().await;
    }

    /// Events in the outbox, oldest first: (subject, data).
    pub async fn events(&self) -> Vec<(String, Value)> {
        sqlx::query("SELECT subject, body FROM outbox ORDER BY seq")
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let body: String = r.get(1);
                let v: Value = serde_json::from_str(&body).unwrap();
                (r.get::<String, _>(0), v["data"].clone())
            })
            .collect()
    }

    /// Messages of a template requested from notify, oldest first: (address, the message's
    /// variables as JSON text: name, link, code ...).
    pub async fn messages(&self, template: &str) -> Vec<(String, String)> {
        self.events()
            .await
            .into_iter()
            .filter(|(s, d)| s == "notify.message.requested" && d["template"] == template)
            .map(|(_, d)| {
                (
                    d["address"].as_str().unwrap_or_default().to_string(),
                    d["vars"].to_string(),
                )
            })
            .collect()
    }

    /// Every message requested from notify, oldest first: (template, address, variables).
    pub async fn all_messages(&self) -> Vec<(String, String, Value)> {
        self.events()
            .await
            .into_iter()
            .filter(|(s, _)| s == "notify.message.requested")
            .map(|(_, d)| {
                (
                    d["template"].as_str().unwrap_or_default().to_string(),
                    d["address"].as_str().unwrap_or_default().to_string(),
                    d["vars"].clone(),
                )
            })
            .collect()
    }
}
