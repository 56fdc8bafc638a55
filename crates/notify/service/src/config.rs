//! `[notify]` configuration: which channels exist, their providers' URLs and credentials,
//! their concurrency and rate limits, and the fallback time of critical messages.

use std::path::PathBuf;

use kreki_platform::config::Secret;
use serde::{Deserialize, Serialize};

/// When the console channel (JSON lines to a file or standard output) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleMode {
    /// Only in the demo (`kreki up --demo`); never in a deployment that did not ask for it.
    #[default]
    Auto,
    /// Always, as the last channel of every message (development, tests).
    On,
    /// Never.
    Off,
}

/// What the console channel prints of a message's secret variables (one-time codes, links
/// with a token: [`kreki_notify_contracts::Template::secret_vars`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsoleSecrets {
    /// Masked (`******`): the console is a log.
    #[default]
    Mask,
    /// In clear: tests and local development that sign in with codes read from the console.
    Show,
}

/// Per channel: parallel sends and the provider's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Sends in flight at once.
    pub concurrency: usize,
    /// Sends per second (0 = unlimited).
    pub per_second: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            concurrency: 8,
            per_second: 0.0,
        }
    }
}

/// Web Push (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    pub enabled: bool,
    /// VAPID `sub`: a `mailto:` or `https:` contact for push services. Default: the public
    /// base URL.
    pub subject: Option<String>,
    /// VAPID private key: PKCS#8 DER, base64url. Default: one generated at first start and
    /// kept in the service's database.
    pub vapid_private_key: Option<Secret>,
    /// Time-to-live at the push service when the message has no expiry.
    pub ttl_s: u64,
    /// Hosts of the push services subscriptions may point to: a host matches an entry when
    /// it is the entry or ends with `.` + the entry (a leading `*.` is allowed).
    pub allowed_hosts: Vec<String>,
    /// Tests and local development only: also admit endpoints on this machine (`http` or
    /// `https`, any port, loopback hosts and allowed hosts that resolve to loopback).
    pub allow_loopback: bool,
    pub limits: Limits,
}

/// The push services of the browsers: FCM (Chrome, Edge on Android, Opera), Mozilla
/// (Firefox), Apple (Safari), Microsoft (WNS, Edge on Windows).
pub fn default_push_hosts() -> Vec<String> {
    [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "push.services.mozilla.com",
        "web.push.apple.com",
        "*.notify.windows.com",
    ]
    .into_iter()
    .map(str::to_string)
    .collect()
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            subject: None,
            vapid_private_key: None,
            ttl_s: 3_600,
            allowed_hosts: default_push_hosts(),
            allow_loopback: false,
            limits: Limits {
                concurrency: 16,
                per_second: 0.0,
            },
        }
    }
}

/// Firebase Cloud Messaging HTTP v1 with a service account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcmConfig {
    pub project_id: String,
    /// The service account's JSON key file (`client_email`, `private_key`, `token_uri`).
    pub service_account_file: PathBuf,
    #[serde(default = "default_fcm_base")]
    pub base_url: String,
    #[serde(default)]
    pub limits: Limits,
}

fn default_fcm_base() -> String {
    "https://fcm.googleapis.com".into()
}

/// WhatsApp Business Cloud API: approved template messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappConfig {
    /// Graph API base with version.
    #[serde(default = "default_wa_base")]
    pub base_url: String,
    pub phone_number_id: String,
    pub access_token: Secret,
    /// App secret: checks `X-Hub-Signature-256` of status webhooks.
    pub app_secret: Secret,
    /// Token the webhook's verification request must echo.
    #[serde(default)]
    pub verify_token: Option<Secret>,
    /// Prefix of the approved template names (`<prefix><template>`, e.g. `kreki_otp_code`).
    #[serde(default = "default_wa_prefix")]
    pub template_prefix: String,
    #[serde(default)]
    pub limits: Limits,
}

fn default_wa_base() -> String {
    "https://graph.facebook.com/v21.0".into()
}

fn default_wa_prefix() -> String {
    "kreki_".into()
}

/// A generic HTTP SMS gateway (see docs/notify.md for the wire format).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// `POST` endpoint that accepts a message.
    pub url: String,
    pub api_key: Secret,
    /// Sender id or number shown to the recipient.
    #[serde(default = "default_sender")]
    pub sender: String,
    /// Shared secret of the delivery-receipt webhook's HMAC signature (over
    /// `"<X-Kreki-Timestamp>.<body>"`).
    pub webhook_secret: Secret,
    /// A receipt whose signed timestamp is further than this from now is refused (a replay).
    #[serde(default = "default_webhook_tolerance")]
    pub webhook_tolerance_s: u32,
    /// The gateway drops a second message with the same `reference` (so re-sending after a
    /// crash cannot duplicate).
    #[serde(default = "yes")]
    pub gateway_dedups_reference: bool,
    /// Numbers the gateway may send to (E.164 prefixes; default Indonesian mobiles).
    #[serde(default = "default_prefixes")]
    pub allowed_prefixes: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
}

fn default_webhook_tolerance() -> u32 {
    kreki_platform::signature::DEFAULT_TOLERANCE_S
}

fn default_sender() -> String {
    "KREKI".into()
}

fn default_prefixes() -> Vec<String> {
    vec!["+628".into()]
}

fn yes() -> bool {
    true
}

/// E-mail over SMTP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port` (STARTTLS when offered, required with `?tls=required`),
    /// `smtps://host:port` (TLS), or `smtp://host:port?tls=none` (tests, local relay).
    pub smtp_url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// `From:` mailbox, e.g. `KREKI <noreply@kreki.or.id>`.
    pub from: String,
    #[serde(default)]
    pub limits: Limits,
}

/// `[notify]` configuration section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Console channel: append messages as JSON lines to this file (default: standard output).
    pub console_file: Option<PathBuf>,
    pub console: ConsoleMode,
    /// Secret variables on the console: masked unless `show`.
    pub console_secrets: ConsoleSecrets,
    /// A message that may still move on to its next channel after it was sent (SMS or
    /// WhatsApp with a later channel: a failed receipt moves it on) keeps its secret
    /// variables this long after the send; then they are blanked. Messages that are
    /// delivered, failed, expired or suppressed, or sent with nothing left to try, have
    /// them blanked at once.
    pub secrets_kept_s: u64,
    /// A critical message not delivered or acknowledged within this time goes out on the
    /// next channel of its plan.
    pub fallback_after_s: u64,
    /// Attempts on one channel before a transiently failing message moves on (or fails).
    pub max_attempts: i64,
    /// Per-request time limit of provider calls.
    pub provider_timeout_ms: u64,
    pub push: PushConfig,
    pub fcm: Option<FcmConfig>,
    pub whatsapp: Option<WhatsappConfig>,
    pub sms: Option<SmsConfig>,
    pub email: Option<EmailConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            console_file: None,
            console: ConsoleMode::Auto,
            console_secrets: ConsoleSecrets::Mask,
            secrets_kept_s: 900,
            fallback_after_s: 15,
            max_attempts: 8,
            provider_timeout_ms: 10_000,
            push: PushConfig::default(),
            fcm: None,
            whatsapp: None,
            sms: None,
            email: None,
        }
    }
}

impl NotifyConfig {
    /// Whether the console channel takes part (`auto`: only in the demo).
    pub fn console_enabled(&self, demo: bool) -> bool {
        match self.console {
            ConsoleMode::On => true,
            ConsoleMode::Off => false,
            ConsoleMode::Auto => demo,
        }
    }
}
