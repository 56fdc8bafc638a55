//! `[identity]` configuration.

use kreki_platform::config::{ConfigError, Secret};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Lifetime of access tokens (JWT, ES256), seconds.
    pub access_token_ttl_s: u64,
    /// Lifetime of ID tokens, seconds.
    pub id_token_ttl_s: u64,
    /// Lifetime of a refresh-token family (one sign-in), days.
    pub refresh_token_ttl_days: u64,
    /// Lifetime of a login-page session, hours.
    pub session_ttl_hours: u64,
    /// A new signing key is made when the current one is older than this, days.
    pub key_rotation_days: u64,
    /// Failed logins allowed per client IP within `login_window_s` (the org standard: 5 per 15 min).
    pub login_failures_per_ip: u32,
    pub login_window_s: u64,
    /// Argon2id cost of new password hashes (memory KiB, iterations, lanes). Recorded in each
    /// hash, so raising them later re-hashes passwords at their next login.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_lanes: u32,
    /// Registrations (each costs an Argon2 hash) per client IP within `register_window_s`;
    /// generous because carrier-grade NAT puts many phones behind one address.
    pub register_per_ip: u32,
    pub register_window_s: u64,
    /// Registrations per minute on the whole service (a flood from many addresses).
    pub register_per_minute: u32,
    /// Phone one-time codes.
    pub otp_ttl_s: u64,
    pub otp_max_attempts: u32,
    pub otp_resend_cooldown_s: u64,
    pub otp_per_number_per_day: u32,
    pub otp_per_ip_per_day: u32,
    /// Country calling codes a phone code may be sent to (SMS-pumping defence).
    pub otp_allowed_country_codes: Vec<String>,
    /// WebAuthn relying-party id (a domain). Default: the host of the public base URL.
    pub webauthn_rp_id: Option<String>,
    /// Clients registered from configuration (in addition to the built-in public apps).
    pub clients: Vec<ClientSeed>,
    /// The data-encryption key(s) of signing keys and TOTP secrets at rest: base64 of 32
    /// random bytes, several separated by commas (the first encrypts, all decrypt; see
    /// `sealing`). Also `KREKI_IDENTITY__ENCRYPTION_SECRET_FILE`. Without one, a key file is
    /// made in the data directory on the first start (`identity-encryption.key`).
    pub encryption_secret: Option<Secret>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_s: 900,
            id_token_ttl_s: 900,
            refresh_token_ttl_days: 30,
            session_ttl_hours: 24,
            key_rotation_days: 30,
            login_failures_per_ip: 5,
            login_window_s: 900,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_lanes: 1,
            register_per_ip: 10,
            register_window_s: 600,
            register_per_minute: 120,
            otp_ttl_s: 300,
            otp_max_attempts: 3,
            otp_resend_cooldown_s: 60,
            otp_per_number_per_day: 5,
            otp_per_ip_per_day: 20,
            otp_allowed_country_codes: vec!["62".into()],
            webauthn_rp_id: None,
            clients: Vec::new(),
            encryption_secret: None,
        }
    }
}

/// A client from configuration (`[[identity.clients]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSeed {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub confidential: bool,
    /// First-party clients skip the consent page.
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The algorithm of this client's ID tokens: `ES256` (the default) or `RS256`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

impl IdentityConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::new(format!("identity.{key}"), why));
        if !(60..=86_400).contains(&self.access_token_ttl_s) {
            return bad("access_token_ttl_s", "must be between 60 and 86400");
        }
        if !(60..=86_400).contains(&self.id_token_ttl_s) {
            return bad("id_token_ttl_s", "must be between 60 and 86400");
        }
        if self.refresh_token_ttl_days == 0 || self.refresh_token_ttl_days > 365 {
            return bad("refresh_token_ttl_days", "must be between 1 and 365");
        }
        if self.key_rotation_days == 0 {
            return bad("key_rotation_days", "must be at least 1");
        }
        if self.register_per_ip == 0 || self.register_window_s == 0 || self.register_per_minute == 0
        {
            return bad("register_per_ip", "limits and window must be positive");
        }
        if self.login_failures_per_ip == 0 || self.login_window_s == 0 {
            return bad("login_failures_per_ip", "limit and window must be positive");
        }
        if self.argon2_memory_kib < 8 * 1024
            || self.argon2_iterations == 0
            || self.argon2_lanes == 0
        {
            return bad(
                "argon2_memory_kib",
                "at least 8192 KiB, 1 iteration, 1 lane",
            );
        }
        if self.otp_max_attempts == 0 || !(60..=900).contains(&self.otp_ttl_s) {
            return bad("otp_ttl_s", "60..900 s and at least one attempt");
        }
        if self
            .otp_allowed_country_codes
            .iter()
            .any(|c| c.is_empty() || c.len() > 3 || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return bad("otp_allowed_country_codes", "calling codes are 1-3 digits");
        }
        for c in &self.clients {
            if c.client_id.is_empty() || c.client_id.len() > 64 {
                return bad("clients.client_id", "1-64 characters");
            }
            if c.confidential != c.client_secret.is_some() {
                return bad(
                    "clients.client_secret",
                    "confidential clients need a secret, public clients have none",
                );
            }
            if let Some(s) = &c.client_secret
                && s.expose().len() < 32
            {
                return bad("clients.client_secret", "at least 32 characters");
            }
            for g in &c.grant_types {
                if !crate::store::GRANTS.contains(&g.as_str()) {
                    return bad("clients.grant_types", "unknown grant type");
                }
            }
            if c.grant_types.iter().any(|g| g == "client_credentials") && !c.confidential {
                return bad(
                    "clients.grant_types",
                    "client_credentials needs a confidential client",
                );
            }
            if let Some(alg) = &c.id_token_signed_response_alg
                && crate::keys::Alg::parse(alg).is_none()
            {
                return bad("clients.id_token_signed_response_alg", "ES256 or RS256");
            }
        }
        Ok(())
    }
}
