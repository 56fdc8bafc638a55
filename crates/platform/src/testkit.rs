//! Test helpers shared by every crate's tests (feature `testkit`): a private PostgreSQL
//! database and NATS stream per test, a TCP proxy that a test can cut to simulate an outage,
//! signing keys and tokens, and JSON snapshots.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod browser;

use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, JwkSet},
};
use p256::pkcs8::EncodePrivateKey;
use sqlx::{ConnectOptions, Connection, Executor};
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinHandle,
};

/// PostgreSQL server of the tests.
pub fn pg_url() -> String {
    std::env::var("KREKI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// NATS server of the tests.
pub fn nats_url() -> String {
    std::env::var("KREKI_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// In CI a missing server is a failure; elsewhere the test says loudly that it is skipped.
pub fn server_missing(what: &str, err: &dyn std::fmt::Display) -> Option<()> {
    if std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
    {
        panic!("{what} is required in CI but unavailable: {err}");
    }
    eprintln!("SKIPPED: {what} unavailable ({err}); set up the server or run in CI");
    None
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A database of its own for one test, dropped afterwards.
pub struct TestPg {
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestPg {
    /// `None` (with a loud skip) only outside CI when the server is missing.
    pub async fn create() -> Option<TestPg> {
        let admin_url = pg_url();
        let mut conn = match sqlx::postgres::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => return server_missing("PostgreSQL", &e).map(|_| unreachable!()),
        };
        let name = unique("kreki_test");
        // Concurrent CREATE DATABASE on one server can fail with "source database
        // template1 is being accessed by other users": try again a few times.
        let mut tries = 0;
        loop {
            match conn
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
            {
                Ok(_) => break,
                Err(e) if tries < 20 && e.to_string().contains("being accessed by other users") => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100 + 50 * tries)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
        let _ = conn.close().await;
        let opts: sqlx::postgres::PgConnectOptions = admin_url.parse().expect("url");
        let url = opts.database(&name).to_url_lossy().to_string();
        Some(TestPg {
            url,
            name,
            admin_url,
        })
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::postgres::PgConnection::connect(&admin).await {
                        let _ = c
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// A stream name and subject prefix of its own for one test.
pub struct TestNats {
    pub url: String,
    pub stream: String,
    pub prefix: String,
}

impl TestNats {
    pub async fn create() -> Option<TestNats> {
        let url = nats_url();
        match async_nats::connect(&url).await {
            Ok(c) => drop(c),
            Err(e) => return server_missing("NATS", &e).map(|_| unreachable!()),
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        Some(TestNats {
            url,
            stream: format!("KREKI_TEST_{id}"),
            prefix: format!("t{id}"),
        })
    }

    /// Remove the stream (call at the end of the test).
    pub async fn cleanup(&self) {
        if let Ok(c) = async_nats::connect(&self.url).await {
            let js = async_nats::jetstream::new(c);
            let _ = js.delete_stream(&self.stream).await;
        }
    }
}

/// A TCP proxy between a service and a server, which the test can cut and restore.
pub struct CutProxy {
    pub addr: SocketAddr,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl CutProxy {
    pub async fn start(upstream: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (c2, k2) = (cut.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if c2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(upstream).await {
                        let _ = copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                k2.lock().await.push(h);
            }
        });
        CutProxy {
            addr,
            cut,
            conns,
            accept,
        }
    }

    /// Drop every open connection and refuse new ones.
    pub async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for h in self.conns.lock().await.drain(..) {
            h.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Resolve `host:port` of a URL like `postgres://user@127.0.0.1:5432/db`.
pub fn url_addr(url: &str) -> SocketAddr {
    let after = url.split("://").nth(1).expect("scheme");
    let hostport = after.split('/').next().expect("host");
    let hostport = hostport.rsplit('@').next().expect("host");
    std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .expect("resolve")
        .next()
        .expect("address")
}

/// Replace `host:port` of a URL with `addr`.
pub fn url_via(url: &str, addr: SocketAddr) -> String {
    let (scheme, after) = url.split_once("://").expect("scheme");
    let (hostpart, rest) = after.split_once('/').map_or((after, ""), |(h, r)| (h, r));
    let userinfo = hostpart
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!("/{rest}")
    };
    format!("{scheme}://{userinfo}{addr}{rest}")
}

/// An ES256 signing key for tests, with its public JWK.
pub struct TestSigner {
    pub kid: String,
    key: EncodingKey,
    pem: String,
    pub jwk: Jwk,
}

impl TestSigner {
    pub fn new(kid: &str) -> TestSigner {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let pem = secret.to_pkcs8_pem(Default::default()).expect("pem");
        let key = EncodingKey::from_ec_pem(pem.as_bytes()).expect("key");
        let mut jwk: Jwk = serde_json::from_str(&secret.public_key().to_jwk_string()).expect("jwk");
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.key_algorithm = Some(jsonwebtoken::jwk::KeyAlgorithm::ES256);
        TestSigner {
            kid: kid.to_string(),
            key,
            pem: pem.to_string(),
            jwk,
        }
    }

    /// The private key (PKCS#8 PEM), for tests that build unusual headers themselves.
    pub fn private_pem(&self) -> Vec<u8> {
        self.pem.as_bytes().to_vec()
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// Sign arbitrary claims as an access token (`typ: at+jwt`).
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        self.sign_typed(crate::auth::ACCESS_TOKEN_TYP, claims)
    }

    /// Sign arbitrary claims with the given JOSE `typ` (e.g. `JWT` for an ID token).
    pub fn sign_typed(&self, typ: &str, claims: &serde_json::Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        h.typ = Some(typ.to_string());
        jsonwebtoken::encode(&h, claims, &self.key).expect("sign")
    }

    /// A valid access token for `sub` with `roles`, issued by `issuer`, valid 10 minutes.
    pub fn token(&self, issuer: &str, sub: &str, roles: &[&str]) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.sign(&serde_json::json!({
            "iss": issuer, "sub": sub, "roles": roles, "iat": now, "exp": now + 600,
            "aud": crate::auth::DEFAULT_AUDIENCE, "client_id": "kreki-test",
            "jti": uuid::Uuid::new_v4().to_string(),
        }))
    }

    /// An OpenID Connect ID token for `sub` with `roles`, addressed to `client_id` (it must
    /// never open an API).
    pub fn id_token(&self, issuer: &str, sub: &str, roles: &[&str], client_id: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.sign_typed(
            "JWT",
            &serde_json::json!({
                "iss": issuer, "sub": sub, "roles": roles, "iat": now, "exp": now + 600,
                "aud": client_id, "auth_time": now, "amr": ["pwd"],
            }),
        )
    }
}

/// Serve a JWKS on an ephemeral port; returns its URL.
pub async fn serve_jwks(set: JwkSet) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            let set = set.clone();
            async move { axum::Json(set) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/.well-known/jwks.json")
}

/// Compare `actual` with the committed snapshot at `path`; with `KREKI_UPDATE_SNAPSHOTS=1`
/// write it instead. The failure message says how to accept an intended change.
pub fn assert_json_snapshot(path: &Path, actual: &serde_json::Value) {
    let rendered = format!("{}\n", serde_json::to_string_pretty(actual).expect("json"));
    if std::env::var("KREKI_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &rendered).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        expected == rendered,
        "snapshot {} differs from the code's contract.\nIf the change is intended, run with KREKI_UPDATE_SNAPSHOTS=1 and commit the file.\n--- expected\n{expected}\n--- actual\n{rendered}",
        path.display()
    );
}

/// Wait until `f` returns true, or panic after `timeout`.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A temporary folder removed at drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("kreki-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What keeps a test database alive.
pub enum DbGuard {
    Sqlite(TempDir),
    Postgres(TestPg),
}

/// A migrated SQLite database of its own for one test.
pub async fn sqlite_db(
    component: &str,
    migrations: &[crate::storage::Migration],
) -> (crate::storage::Db, DbGuard) {
    let dir = TempDir::new();
    let db = crate::storage::Db::open_sqlite(&dir.path().join("test.db"), component)
        .await
        .expect("open sqlite");
    db.migrate(component, migrations).await.expect("migrate");
    (db, DbGuard::Sqlite(dir))
}

/// A migrated PostgreSQL database of its own for one test (`None`: loud skip outside CI).
pub async fn pg_db(
    component: &str,
    migrations: &[crate::storage::Migration],
) -> Option<(crate::storage::Db, DbGuard)> {
    let pg = TestPg::create().await?;
    let db = crate::storage::Db::connect_postgres(&pg.url, component)
        .await
        .expect("connect postgres");
    db.migrate(component, migrations).await.expect("migrate");
    Some((db, DbGuard::Postgres(pg)))
}

/// Define a test module running `$body(db)` against SQLite and PostgreSQL.
#[macro_export]
macro_rules! storage_conformance {
    ($name:ident, $component:expr, $migrations:expr, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _guard) = $crate::testkit::sqlite_db($component, $migrations).await;
                $body(db.clone()).await;
                db.close().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some((db, _guard)) = $crate::testkit::pg_db($component, $migrations).await
                else {
                    return;
                };
                $body(db.clone()).await;
                db.close().await;
            }
        }
    };
}

/// Issuer of the tokens a [`Harness`] signs.
pub const HARNESS_ISSUER: &str = "https://kreki.test";

/// One service over real HTTP on port 0, with the same `mount` and outer stack as `kreki up`
/// and `kreki serve`: a test signer as token issuer, an embedded bus of its own, no outbox
/// relay (tests read the events a request wrote from the outbox table, or publish what
/// other services would on [`Harness::bus`]). Two steps, so that a service with build
/// options of its own can be built from [`Harness::ctx`]:
/// `let mut h = Harness::new("lms", db, config).await; h.serve(&desc, (desc.build)(h.ctx.clone()).await?);`
pub struct Harness {
    pub url: String,
    pub client: reqwest::Client,
    pub signer: TestSigner,
    pub bus: Arc<dyn crate::bus::Bus>,
    pub ctx: crate::service::ServiceContext,
    pub dir: TempDir,
    listener: Option<TcpListener>,
}

impl Harness {
    pub async fn new(
        name: &'static str,
        db: crate::storage::Db,
        config: crate::config::Config,
    ) -> Harness {
        let dir = TempDir::new();
        let signer = TestSigner::new("test-key");
        let auth = Arc::new(crate::auth::Authenticator::new(
            HARNESS_ISSUER,
            None,
            Arc::new(crate::auth::StaticJwks(signer.jwks())),
        ));
        let bus_db = crate::storage::Db::open_sqlite(&dir.path().join("bus.db"), "bus")
            .await
            .expect("bus db");
        let bus: Arc<dyn crate::bus::Bus> = Arc::new(
            crate::bus::local::LocalBus::open(bus_db, Duration::from_secs(30))
                .await
                .expect("bus"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let health = Arc::new(crate::health::Health::new(Duration::from_secs(
            config.bus.consumer_stuck_s,
        )));
        let ctx = crate::service::ServiceContext {
            name,
            config: Arc::new(config),
            base_url: url.clone(),
            db,
            bus: bus.clone(),
            relay: Arc::new(crate::bus::outbox::RelayState::default()),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            auth,
            limiter: Arc::new(crate::storage::ratelimit::MemoryRateLimiter::new()),
            shutdown: tokio_util::sync::CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            demo: None,
            health,
        };
        Harness {
            url,
            client: reqwest::Client::new(),
            signer,
            bus,
            ctx,
            dir,
            listener: Some(listener),
        }
    }

    /// Serve what the service built (once), with a general per-IP request limit no test
    /// reaches.
    pub fn serve(
        &mut self,
        desc: &crate::service::ServiceDescriptor,
        built: crate::service::Built,
    ) {
        self.serve_limited(desc, built, 100_000);
    }

    /// [`Harness::serve`] with the general per-IP request limit at `per_minute`
    /// (`http.rate_limit_per_minute`), for tests of the limit and of the routes exempt from it.
    pub fn serve_limited(
        &mut self,
        desc: &crate::service::ServiceDescriptor,
        built: crate::service::Built,
        per_minute: u32,
    ) {
        let Some(listener) = self.listener.take() else {
            panic!("served already");
        };
        let app = crate::http::middleware::outer(
            crate::service::mount(desc, &self.ctx, built, per_minute),
            crate::http::middleware::KitConfig {
                body_limit_bytes: 4 << 20,
                request_timeout: Duration::from_secs(30),
                trusted_hops: 0,
                hsts: false,
            },
        );
        let cancel = self.ctx.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(cancel.cancelled_owned())
            .await;
        });
    }

    /// A valid access token of this harness's issuer.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.signer.token(HARNESS_ISSUER, sub, roles)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

/// A JSON API client for a service's tests: `call` answers the status and the body as JSON
/// (`Null` when it is not JSON). A test's app type can `Deref` to it.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    /// The API's base, e.g. `http://127.0.0.1:PORT/api/volunteers/v1`.
    pub base: String,
}

impl Api {
    pub fn new(client: reqwest::Client, base: impl Into<String>) -> Self {
        Self {
            client,
            base: base.into(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }
}
