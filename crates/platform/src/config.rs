//! Layered configuration: built-in defaults < TOML file < `KREKI_*` environment variables.
//!
//! Unknown keys are rejected with the key's name; secrets live in [`Secret`], which never
//! prints its value; [`Config::validate`] stops a start with the key and the reason.
//! Nested keys in the environment use a double underscore: `KREKI_HTTP__PORT=8200`.
//! Service sections (`[emergency]`, `[notify]`, ...) are kept raw here and parsed, strictly,
//! by each service with [`Config::service_section`].

use std::{fmt, net::IpAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
    value::{Dict, Value},
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
    /// NATS URL (`kreki serve`); `kreki up` uses the embedded bus.
    pub url: Option<String>,
    /// JetStream stream name.
    pub stream: String,
    /// Subject prefix of every event: `<prefix>.<event type>`.
    pub subject_prefix: String,
    /// How long a delivered event may stay unacknowledged before redelivery.
    pub ack_wait_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            url: None,
            stream: "KREKI".into(),
            subject_prefix: "kreki".into(),
            ack_wait_ms: 30_000,
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
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            fig = fig.merge(Toml::file_exact(path));
        }
        fig.merge(
            Env::prefixed("KREKI_")
                .ignore(NON_CONFIG_ENV)
                .filter(|k| !k.as_str().to_ascii_uppercase().starts_with("TEST_"))
                .split("__"),
        )
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
            && !(url.starts_with("nats://") || url.starts_with("tls://"))
        {
            return Err(ConfigError::new(
                "bus.url",
                "must start with nats:// or tls://",
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

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "private_key", "database_url"]
        .iter()
        .any(|s| k.contains(s))
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
