//! Layered configuration: built-in defaults < TOML file < `KREKI_*` environment variables.
//!
//! Unknown keys are rejected with the key's name; secrets live in [`Secret`], which never
//! prints its value; [`Config::validate`] stops a start with the key and the reason.
//! Nested keys in the environment use a double underscore: `KREKI_HTTP__PORT=8200`.
//! Every secret can also come from a file (a mounted Kubernetes Secret, a Docker secret):
//! `KREKI_DATABASE_URL_FILE=/run/secrets/db-url` reads the value from the file (one trailing
//! newline removed). The variables Kubernetes adds for every Service of the namespace
//! (`KREKI_EMERGENCY_PORT=tcp://…`, `KREKI_EMERGENCY_SERVICE_HOST=…`) are not configuration
//! and never stop a start (see [`is_service_link`]).
//! Service sections (`[emergency]`, `[notify]`, ...) are kept raw here and parsed, strictly,
//! by each service with [`Config::service_section`].

use std::{fmt, net::IpAddr, path::PathBuf};

use figment::{
    Figment, Metadata, Profile, Provider,
    providers::{Format, Serialized, Toml},
    value::{Dict, Map, Value},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A secret value (password, client secret, database URL with credentials).
/// `Debug`, `Display` and `Serialize` never show it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself; call only where it is handed to the component that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The site's public base URL (OIDC issuer, links in messages). Default
    /// `http://127.0.0.1:<http.port>`.
    pub public_base_url: Option<String>,
    /// Folder of the embedded databases (`kreki up`): one SQLite file per service.
    pub data_dir: PathBuf,
    /// PostgreSQL URL of this service's own database (`kreki serve`).
    pub database_url: Option<Secret>,
    pub http: HttpConfig,
    pub bus: BusConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    /// Service sections, parsed by each service itself (strictly).
    pub identity: Dict,
    pub emergency: Dict,
    pub volunteers: Dict,
    pub lms: Dict,
    pub bridge: Dict,
    pub notify: Dict,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            public_base_url: None,
            data_dir: PathBuf::from("kreki-data"),
            database_url: None,
            http: HttpConfig::default(),
            bus: BusConfig::default(),
            storage: StorageConfig::default(),
            log: LogConfig::default(),
            auth: AuthConfig::default(),
            identity: Dict::new(),
            emergency: Dict::new(),
            volunteers: Dict::new(),
            lms: Dict::new(),
            bridge: Dict::new(),
            notify: Dict::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub bind: IpAddr,
    /// Port of `kreki up`; `kreki serve` uses the service's own default port unless set.
    pub port: Option<u16>,
    pub body_limit_bytes: usize,
    pub request_timeout_ms: u64,
    pub shutdown_grace_ms: u64,
    /// Requests per minute per client IP on every API route (a floor against floods;
    /// sensitive endpoints have their own stricter limits).
    pub rate_limit_per_minute: u32,
    /// Where rate-limit counters live: `shared` (the service's database, so that replicas
    /// count together; the default of `kreki serve`) or `local` (process memory; always
    /// so in `kreki up`).
    pub rate_limit_store: RateLimitStore,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// With `trust_proxy`: how many proxies in front append to `X-Forwarded-For`; the
    /// client is the entry this many places from the right (entries further left come from
    /// the client and are never trusted).
    pub trusted_proxy_hops: u32,
    /// Address of the metrics listener (`/metrics`, never on the public port). Loopback by
    /// default; a cluster sets the pod's address so that Prometheus can scrape it.
    pub metrics_bind: IpAddr,
    /// Its port. Default: `kreki up` 9119; `kreki serve` 9100 + (service port − 8200)
    /// (identity 9101 … notify 9106); 0 picks a free one.
    pub metrics_port: Option<u16>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: None,
            body_limit_bytes: 256 * 1024,
            request_timeout_ms: 15_000,
            shutdown_grace_ms: 10_000,
            rate_limit_per_minute: 1_200,
            rate_limit_store: RateLimitStore::Shared,
            trust_proxy: false,
            trusted_proxy_hops: 1,
            metrics_bind: IpAddr::from([127, 0, 0, 1]),
            metrics_port: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitStore {
    Shared,
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// NATS URL (`kreki serve`); `kreki up` uses the embedded bus. A secret: it may carry
    /// a user and password or a token (`nats://user:pw@nats:4222`).
    pub url: Option<Secret>,
    /// JetStream stream name.
    pub stream: String,
    /// Subject prefix of every event: `<prefix>.<event type>`.
    pub subject_prefix: String,
    /// How long a delivered event may stay unacknowledged before redelivery.
    pub ack_wait_ms: u64,
    /// Copies of the stream in a JetStream cluster (1 on a single server; 3 in production).
    /// Applied when the stream is created, and to an existing stream at start.
    pub replicas: usize,
    /// Events older than this are dropped by JetStream (seconds; default 7 days, far beyond
    /// any consumer's lag and the inbox's deduplication horizon).
    pub max_age_s: u64,
    /// Size limit of the stream in bytes (oldest events dropped first); none by default.
    pub max_bytes: Option<u64>,
    /// A consumer group with events waiting and none handled for this long is reported as
    /// stuck by `/readyz` (seconds).
    pub consumer_stuck_s: u64,
    /// A bus away this long makes `/readyz` answer 503 (seconds; 0, the default: never, a
    /// bus outage only degrades readiness, since the outbox keeps the events and the panic
    /// path must stay reachable while NATS is down).
    pub unready_after_s: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            url: None,
            stream: "KREKI".into(),
            subject_prefix: "kreki".into(),
            ack_wait_ms: 30_000,
            replicas: 1,
            max_age_s: 7 * 24 * 3600,
            max_bytes: None,
            consumer_stuck_s: 120,
            unready_after_s: 0,
        }
    }
}

/// PostgreSQL connection pool of a service (`kreki serve`; `kreki up`'s SQLite pools are
/// fixed: one writer and four readers per database).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Connections per process. Size it so that replicas × max_connections (plus the
    /// migration job) stays below the server's `max_connections`.
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// A request that waits this long for a connection fails with `STORAGE_UNAVAILABLE`.
    pub acquire_timeout_ms: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            min_connections: 1,
            acquire_timeout_ms: 3_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON, unless standard error is a terminal.
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `kreki=debug,sqlx=warn`, ...
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// JWKS of KREKI ID. Default `<public_base_url>/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
    /// Expected `iss` of access tokens. Default: the public base URL.
    pub issuer: Option<String>,
    /// Expected `aud` of access tokens. Default `kreki` (the audience KREKI ID gives them).
    pub audience: Option<String>,
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Environment variables with the `KREKI_` prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "CONFIG",
    "TEST_DATABASE_URL",
    "TEST_NATS_URL",
    "UPDATE_SNAPSHOTS",
];

impl Config {
    /// Build the layered figment: defaults < file (if given) < environment < overrides.
    pub fn figment(file: Option<&std::path::Path>) -> Figment {
        Self::figment_with_env(file, std::env::vars_os())
    }

    /// [`Config::figment`] over the given environment (tests pass their own).
    pub fn figment_with_env<K, V>(
        file: Option<&std::path::Path>,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Figment
    where
        K: Into<std::ffi::OsString>,
        V: Into<std::ffi::OsString>,
    {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            fig = fig.merge(Toml::file_exact(path));
        }
        fig.merge(EnvLayer::new(vars))
    }

    /// Extract and validate.
    pub fn from_figment(fig: Figment) -> Result<Config, ConfigError> {
        let cfg: Config = fig.extract().map_err(figment_error)?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_base_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.ends_with('/')
                && url.len() > "http://".len();
            if !ok {
                return Err(ConfigError::new(
                    "public_base_url",
                    "must be an absolute http(s) URL without a trailing slash",
                ));
            }
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(ConfigError::new(
                "http.body_limit_bytes",
                "must be at least 1024",
            ));
        }
        if self.http.request_timeout_ms == 0 {
            return Err(ConfigError::new(
                "http.request_timeout_ms",
                "must be positive",
            ));
        }
        if self.http.rate_limit_per_minute == 0 {
            return Err(ConfigError::new(
                "http.rate_limit_per_minute",
                "must be positive",
            ));
        }
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            return Err(ConfigError::new(
                "http.tls_cert",
                "tls_cert and tls_key must be given together",
            ));
        }
        if let Some(url) = &self.bus.url
            && !url
                .expose()
                .split(',')
                .all(|u| u.trim().starts_with("nats://") || u.trim().starts_with("tls://"))
        {
            return Err(ConfigError::new(
                "bus.url",
                "must start with nats:// or tls://",
            ));
        }
        if !(1..=5).contains(&self.bus.replicas) {
            return Err(ConfigError::new(
                "bus.replicas",
                "must be between 1 and 5 (JetStream's limit)",
            ));
        }
        if self.bus.max_age_s == 0 {
            return Err(ConfigError::new("bus.max_age_s", "must be positive"));
        }
        if self
            .bus
            .max_bytes
            .is_some_and(|b| b == 0 || b > i64::MAX as u64)
        {
            return Err(ConfigError::new(
                "bus.max_bytes",
                "must be positive (leave it out for no limit)",
            ));
        }
        if self.storage.max_connections == 0 {
            return Err(ConfigError::new(
                "storage.max_connections",
                "must be positive",
            ));
        }
        if self.storage.min_connections > self.storage.max_connections {
            return Err(ConfigError::new(
                "storage.min_connections",
                "must not exceed storage.max_connections",
            ));
        }
        if self.storage.acquire_timeout_ms == 0 {
            return Err(ConfigError::new(
                "storage.acquire_timeout_ms",
                "must be positive",
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "database_url",
                "must be a postgres:// URL",
            ));
        }
        let subject_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !subject_ok(&self.bus.subject_prefix) {
            return Err(ConfigError::new(
                "bus.subject_prefix",
                "letters, digits, '-' and '_' only",
            ));
        }
        if !subject_ok(&self.bus.stream) {
            return Err(ConfigError::new(
                "bus.stream",
                "letters, digits, '-' and '_' only",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::new("log.level", e.to_string()))?;
        Ok(())
    }

    /// The public base URL (default `http://127.0.0.1:<port>`).
    pub fn base_url(&self, port: u16) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"))
    }

    /// Parse one service's section strictly (unknown keys rejected, keys named as
    /// `<service>.<key>`).
    pub fn service_section<T: DeserializeOwned + Serialize + Default>(
        &self,
        service: &str,
    ) -> Result<T, ConfigError> {
        let dict = match service {
            "identity" => &self.identity,
            "emergency" => &self.emergency,
            "volunteers" => &self.volunteers,
            "lms" => &self.lms,
            "bridge" => &self.bridge,
            "notify" => &self.notify,
            other => return Err(ConfigError::new(other, "unknown service")),
        };
        let fig = Figment::from(Serialized::defaults(T::default()))
            .merge(Serialized::defaults(Value::from(dict.clone())));
        fig.extract::<T>().map_err(|e| {
            let mut err = figment_error(e);
            err.key = if err.key.is_empty() {
                service.to_string()
            } else {
                format!("{service}.{}", err.key)
            };
            err
        })
    }

    /// The effective configuration as TOML, secrets hidden.
    pub fn to_toml_redacted(&self) -> String {
        // Service sections are raw here: hide their secret-looking keys too.
        let mut c = self.clone();
        for d in [
            &mut c.identity,
            &mut c.emergency,
            &mut c.volunteers,
            &mut c.lms,
            &mut c.bridge,
            &mut c.notify,
        ] {
            redact(d);
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

/// Whether a key (one segment, or a dotted path) holds a secret: hidden when printed, and
/// readable from a file with `KREKI_<KEY>_FILE`.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let last = k.rsplit('.').next().unwrap_or(&k);
    k == "bus.url"
        || last == "api_key"
        || last.ends_with("_api_key")
        || ["secret", "password", "token", "private_key", "database_url"]
            .iter()
            .any(|s| last.contains(s))
}

/// The `KREKI_*` environment as a configuration layer.
///
/// - `KREKI_A__B=v` sets `a.b` (values parsed as figment does: numbers, booleans, arrays);
/// - `KREKI_<SECRET KEY>_FILE=/path` sets the secret key from the file's content, one
///   trailing newline removed; an unreadable file stops the start naming the key;
/// - variables that are not configuration are skipped: [`NON_CONFIG_ENV`], `KREKI_TEST_*`,
///   and the service links Kubernetes injects for Services whose names start with `kreki`
///   ([`is_service_link`]) unless the name is a real key.
struct EnvLayer {
    vars: Vec<(String, String)>,
}

impl EnvLayer {
    fn new<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<std::ffi::OsString>,
        V: Into<std::ffi::OsString>,
    {
        let vars = vars
            .into_iter()
            .filter_map(|(k, v)| {
                // Variables that are not Unicode cannot be KREKI configuration.
                let k = k.into().into_string().ok()?;
                let v = v.into().into_string().ok()?;
                k.starts_with("KREKI_").then_some((k, v))
            })
            .collect();
        Self { vars }
    }

    fn entries(&self) -> Result<Vec<(String, Value)>, Box<figment::Error>> {
        let top_level = top_level_keys();
        let mut out: Vec<(String, Value)> = Vec::new();
        let mut from_files: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.vars {
            let Some(rest) = name.strip_prefix("KREKI_") else {
                continue;
            };
            if rest.is_empty()
                || NON_CONFIG_ENV.contains(&rest)
                || rest.to_ascii_uppercase().starts_with("TEST_")
            {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            let first = key.split('.').next().unwrap_or_default();
            if is_service_link(name, value) && !top_level.iter().any(|k| k == first) {
                continue;
            }
            if let Some(secret) = key.strip_suffix("_file")
                && is_secret_key(secret)
            {
                let read = std::fs::read_to_string(value).map_err(|e| {
                    key_error(
                        secret,
                        format!("cannot read the file {value} named by {name}: {e}"),
                    )
                })?;
                let text = read
                    .strip_suffix("\r\n")
                    .or_else(|| read.strip_suffix('\n'))
                    .unwrap_or(&read);
                from_files.push((secret.to_string(), text.to_string()));
                continue;
            }
            let parsed: Value = value
                .parse()
                .unwrap_or_else(|e: std::convert::Infallible| match e {});
            out.push((key, parsed));
        }
        for (key, text) in from_files {
            if out.iter().any(|(k, _)| *k == key) {
                return Err(key_error(
                    &key,
                    format!(
                        "set both directly and from a file (KREKI_{}_FILE); keep one",
                        key.to_ascii_uppercase().replace('.', "__")
                    ),
                ));
            }
            out.push((key, Value::from(text)));
        }
        Ok(out)
    }
}

fn key_error(key: &str, message: String) -> Box<figment::Error> {
    let mut e = figment::Error::from(message);
    e.path = key.split('.').map(str::to_string).collect();
    Box::new(e)
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("KREKI_* environment variable(s)")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut fig = Figment::new();
        for (key, value) in self.entries().map_err(|e| *e)? {
            fig = fig.merge(Serialized::default(&key, value));
        }
        fig.data()
    }
}

/// The top-level keys of [`Config`] (`http`, `bus`, `database_url`, …).
fn top_level_keys() -> Vec<String> {
    match Value::serialize(Config::default()) {
        Ok(Value::Dict(_, d)) => d.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Whether an environment variable is one of the service links Kubernetes adds to every
/// container for every Service of the namespace (unless `enableServiceLinks: false`):
/// for a Service `kreki-emergency` with port 8202,
/// `KREKI_EMERGENCY_SERVICE_HOST=10.0.0.1`, `KREKI_EMERGENCY_SERVICE_PORT[_<NAME>]=8202`,
/// `KREKI_EMERGENCY_PORT=tcp://10.0.0.1:8202`, `KREKI_EMERGENCY_PORT_8202_TCP=tcp://…`,
/// `…_TCP_ADDR=10.0.0.1`, `…_TCP_PORT=8202`, `…_TCP_PROTO=tcp`. Both the name and the
/// value must have the shape, so a mistyped key (`KREKI_HTTP_PORT=8200`) is still refused.
pub fn is_service_link(name: &str, value: &str) -> bool {
    let proto = |s: &str| matches!(s, "TCP" | "UDP" | "SCTP");
    let url = |v: &str| {
        ["tcp://", "udp://", "sctp://"]
            .iter()
            .any(|p| v.starts_with(p))
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ip = |v: &str| v.trim_matches(['[', ']']).parse::<IpAddr>().is_ok();
    if let Some(service) = name.strip_suffix("_SERVICE_HOST") {
        return !service.is_empty() && ip(value);
    }
    if let Some((service, port_name)) = name.rsplit_once("_SERVICE_PORT")
        && !service.is_empty()
        && (port_name.is_empty() || port_name.starts_with('_'))
    {
        return digits(value);
    }
    let parts: Vec<&str> = name.split('_').collect();
    (1..parts.len()).any(|i| {
        if parts[i] != "PORT" || parts[..i].iter().any(|p| p.is_empty()) {
            return false;
        }
        match &parts[i + 1..] {
            [] => url(value),
            [n, p] => digits(n) && proto(p) && url(value),
            [n, p, "ADDR"] => digits(n) && proto(p) && ip(value),
            [n, p, "PORT"] => digits(n) && proto(p) && digits(value),
            [n, p, "PROTO"] => digits(n) && proto(p) && proto(&value.to_ascii_uppercase()),
            _ => false,
        }
    })
}

fn redact(d: &mut Dict) {
    for (k, v) in d.iter_mut() {
        if is_secret_key(k) {
            *v = Value::from("********".to_string());
            continue;
        }
        match v {
            Value::Dict(_, inner) => redact(inner),
            Value::Array(_, items) => {
                for item in items {
                    if let Value::Dict(_, inner) = item {
                        redact(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn figment_error(e: figment::Error) -> ConfigError {
    let key = e.path.join(".");
    let reason = match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            let key = if key.is_empty() || !key.ends_with(field.as_str()) {
                [key.as_str(), field.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                key
            };
            return ConfigError::new(key, "unknown key");
        }
        kind => kind.to_string(),
    };
    ConfigError::new(key, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let cfg = Config::from_figment(Config::figment(None)).expect("defaults");
        assert_eq!(cfg.http.rate_limit_per_minute, 1_200);
    }

    #[test]
    fn secrets_of_service_sections_are_hidden_when_printed() {
        let fig = Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(
            "[bridge.satusehat]\nclient_id = \"visible\"\nclient_secret = \"s3cret-1\"\n\
             [[bridge.psc119.centres]]\nname = \"dki\"\nsecret = \"s3cret-2\"\n\
             [[identity.clients]]\nclient_id = \"partner\"\nclient_secret = \"s3cret-3\"\n",
        ));
        let out = Config::from_figment(fig)
            .expect("config")
            .to_toml_redacted();
        assert!(out.contains("visible") && out.contains("partner"), "{out}");
        assert!(!out.contains("s3cret"), "{out}");
    }

    #[test]
    fn unknown_key_is_named() {
        let fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[http]\nprot = 1\n"));
        let err = Config::from_figment(fig).expect_err("unknown key");
        assert_eq!(err.key, "http.prot", "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("public_base_url = \"ftp://x\"\n"));
        let err = Config::from_figment(fig).expect_err("bad url");
        assert_eq!(err.key, "public_base_url");
        let fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[http]\nport = \"eighty\"\n"));
        let err = Config::from_figment(fig).expect_err("bad port");
        assert_eq!(err.key, "http.port", "{err}");
    }

    #[test]
    fn secrets_never_print() {
        let cfg = Config {
            database_url: Some(Secret::new("postgres://u:hunter2@db/x")),
            ..Config::default()
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(!cfg.to_toml_redacted().contains("hunter2"));
    }

    fn env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_figment(Config::figment_with_env(
            None,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    fn temp_file(content: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("kreki-secret-{}", uuid::Uuid::now_v7()));
        std::fs::write(&path, content).expect("write");
        path
    }

    /// What Kubernetes adds for the Services `kreki-emergency`, `kreki-http` and `kreki`.
    const SERVICE_LINKS: &[(&str, &str)] = &[
        ("KREKI_EMERGENCY_PORT", "tcp://10.0.0.1:8202"),
        ("KREKI_EMERGENCY_PORT_8202_TCP", "tcp://10.0.0.1:8202"),
        ("KREKI_EMERGENCY_PORT_8202_TCP_ADDR", "10.0.0.1"),
        ("KREKI_EMERGENCY_PORT_8202_TCP_PORT", "8202"),
        ("KREKI_EMERGENCY_PORT_8202_TCP_PROTO", "tcp"),
        ("KREKI_EMERGENCY_SERVICE_HOST", "10.0.0.1"),
        ("KREKI_EMERGENCY_SERVICE_PORT", "8202"),
        ("KREKI_EMERGENCY_SERVICE_PORT_HTTP", "8202"),
        ("KREKI_HTTP_PORT", "tcp://[fd00::1]:80"),
        ("KREKI_HTTP_SERVICE_HOST", "fd00::1"),
        ("KREKI_PORT", "tcp://10.0.0.9:9100"),
        ("KREKI_PORT_9100_UDP_PROTO", "udp"),
        ("KREKI_SERVICE_HOST", "10.0.0.9"),
        ("KREKI_SERVICE_PORT_METRICS", "9100"),
    ];

    #[test]
    fn kubernetes_service_links_never_stop_a_start() {
        let mut vars = SERVICE_LINKS.to_vec();
        vars.push(("KREKI_HTTP__PORT", "8202"));
        let cfg = env(&vars).expect("service links are not configuration");
        assert_eq!(cfg.http.port, Some(8202));
        for (name, value) in SERVICE_LINKS {
            assert!(is_service_link(name, value), "{name}={value}");
        }
    }

    #[test]
    fn genuine_unknown_keys_are_still_refused() {
        for (name, value, key) in [
            ("KREKI_HTTP__PROT", "8200", "http.prot"),
            // The shape of a service link's name with another value is a typo.
            ("KREKI_HTTP_PORT", "8200", "http_port"),
            ("KREKI_EMERGENCY_PORT", "8202", "emergency_port"),
            ("KREKI_BUS__URL_FILEE", "/x", "bus.url_filee"),
            // `console_file` is not a secret: `_FILE` is the key's own name, not a file.
            ("KREKI_NOTIFY_FILE", "/x", "notify_file"),
        ] {
            let err = env(&[(name, value)]).expect_err(name);
            assert_eq!(err.key, key, "{name}: {err}");
            assert_eq!(err.reason, "unknown key", "{name}: {err}");
        }
        // A real key that looks like a service link is still a real key.
        let cfg = env(&[("KREKI_NOTIFY__CONSOLE_FILE", "/tmp/c.jsonl")]).expect("plain key");
        assert!(cfg.notify.contains_key("console_file"));
    }

    #[test]
    fn secrets_come_from_files() {
        let db = temp_file("postgres://kreki:from-file@db/kreki\n");
        let nats = temp_file("nats://u:nats-pw@nats:4222");
        let sms = temp_file("sms-key\r\n");
        let cfg = env(&[
            ("KREKI_DATABASE_URL_FILE", db.to_str().expect("path")),
            ("KREKI_BUS__URL_FILE", nats.to_str().expect("path")),
            (
                "KREKI_NOTIFY__SMS__API_KEY_FILE",
                sms.to_str().expect("path"),
            ),
        ])
        .expect("config");
        assert_eq!(
            cfg.database_url.as_ref().map(Secret::expose),
            Some("postgres://kreki:from-file@db/kreki")
        );
        assert_eq!(
            cfg.bus.url.as_ref().map(Secret::expose),
            Some("nats://u:nats-pw@nats:4222")
        );
        let sms_section = cfg
            .notify
            .get("sms")
            .and_then(|v| v.as_dict())
            .expect("sms");
        assert_eq!(
            sms_section.get("api_key").and_then(|v| v.as_str()),
            Some("sms-key")
        );
        let printed = cfg.to_toml_redacted();
        for secret in ["from-file", "nats-pw", "sms-key"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        for p in [db, nats, sms] {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn an_unreadable_secret_file_names_the_key() {
        let err = env(&[(
            "KREKI_IDENTITY__PARTNER__CLIENT_SECRET_FILE",
            "/nonexistent/kreki-secret",
        )])
        .expect_err("missing file");
        assert_eq!(err.key, "identity.partner.client_secret", "{err}");
        assert!(
            err.reason.contains("/nonexistent/kreki-secret")
                && err
                    .reason
                    .contains("KREKI_IDENTITY__PARTNER__CLIENT_SECRET_FILE"),
            "{err}"
        );
        let file = temp_file("postgres://a@b/c");
        let err = env(&[
            ("KREKI_DATABASE_URL", "postgres://x@y/z"),
            ("KREKI_DATABASE_URL_FILE", file.to_str().expect("path")),
        ])
        .expect_err("both");
        assert_eq!(err.key, "database_url", "{err}");
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn pool_and_stream_limits_have_todays_defaults_and_are_checked() {
        let cfg = env(&[]).expect("defaults");
        assert_eq!(cfg.storage.max_connections, 16);
        assert_eq!(cfg.storage.acquire_timeout_ms, 3_000);
        assert_eq!(cfg.bus.replicas, 1);
        assert_eq!(cfg.bus.max_age_s, 604_800);
        assert_eq!(cfg.bus.max_bytes, None);
        let cfg = env(&[
            ("KREKI_STORAGE__MAX_CONNECTIONS", "40"),
            ("KREKI_BUS__REPLICAS", "3"),
            ("KREKI_BUS__MAX_BYTES", "10737418240"),
        ])
        .expect("set");
        assert_eq!(
            (
                cfg.storage.max_connections,
                cfg.bus.replicas,
                cfg.bus.max_bytes
            ),
            (40, 3, Some(10_737_418_240))
        );
        let err = env(&[("KREKI_BUS__REPLICAS", "7")]).expect_err("too many");
        assert_eq!(err.key, "bus.replicas");
        let err = env(&[("KREKI_STORAGE__MAX_CONNECTIONS", "0")]).expect_err("zero");
        assert_eq!(err.key, "storage.max_connections");
    }

    #[test]
    fn the_nats_url_never_prints() {
        let cfg = env(&[("KREKI_BUS__URL", "nats://kreki:nats-s3cret@nats:4222")]).expect("url");
        assert!(!cfg.to_toml_redacted().contains("nats-s3cret"));
        assert!(!format!("{cfg:?}").contains("nats-s3cret"));
    }

    #[test]
    fn service_sections_are_strict() {
        #[derive(Serialize, Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct S {
            radius_m: u32,
        }
        let fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[emergency]\nradius_m = 3000\n"));
        let cfg = Config::from_figment(fig).expect("cfg");
        let s: S = cfg.service_section("emergency").expect("section");
        assert_eq!(s.radius_m, 3000);
        let fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[emergency]\nradius = 3000\n"));
        let cfg = Config::from_figment(fig).expect("cfg");
        let err = cfg.service_section::<S>("emergency").err().expect("strict");
        assert_eq!(err.key, "emergency.radius");
    }
}
