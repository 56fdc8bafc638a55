//! The `Channel` port and its adapters: Web Push, FCM HTTP v1, WhatsApp Business Cloud API,
//! an HTTP SMS gateway, SMTP e-mail, and the console/file channel of the demo. The worker
//! knows only the port; each adapter speaks its provider's real protocol.

pub mod console;
pub mod email;
pub mod fcm;
pub mod sms;
pub mod webpush;
pub mod whatsapp;

use std::time::Duration;

use async_trait::async_trait;
use kreki_notify_contracts::{Attachment, Channel as ChannelKind, Language, Priority, Template};
use serde::Serialize;

pub use console::ConsoleChannel;

/// Where one send goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Address {
    /// A phone number (E.164), an e-mail address, or (console) the recipient's label.
    Text(String),
    /// A browser's push subscription.
    WebPush {
        endpoint: String,
        p256dh: String,
        auth: String,
    },
    /// An FCM registration token.
    Fcm(String),
}

/// A message ready for a channel.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Message id: apps drop duplicates by it.
    pub id: String,
    /// This message on this channel, the same on every retry: providers that deduplicate
    /// by a client reference get it.
    pub reference: String,
    pub to: Address,
    pub priority: Priority,
    pub template: Template,
    pub language: Language,
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Push title / e-mail subject.
    pub title: String,
    pub body: String,
    /// The GSM-7 SMS form of the body.
    pub sms: String,
    pub correlation_id: Option<String>,
    pub attachments: Vec<Attachment>,
    /// How long the message is worth delivering (until its expiry).
    pub ttl: Duration,
}

/// The provider took the message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The provider's id of the message (receipts refer to it).
    pub provider_ref: Option<String>,
    /// The provider confirmed delivery already (console, SMTP's final accept is not that).
    pub delivered: bool,
}

impl Sent {
    pub fn with_ref(r: impl Into<String>) -> Self {
        Sent {
            provider_ref: Some(r.into()),
            delivered: false,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// Try again later (provider down, timeout, 5xx).
    #[error("transient: {0}")]
    Transient(String),
    /// The provider asks us to slow down (429): the channel pauses for this long.
    #[error("rate limited: {detail}")]
    RateLimited {
        detail: String,
        retry_after: Duration,
    },
    /// Never succeeds (invalid address, unsubscribed, rejected content).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The address no longer exists (push subscription expired: 404/410); it is removed.
    #[error("gone: {0}")]
    Gone(String),
}

#[async_trait]
pub trait Channel: Send + Sync + 'static {
    fn kind(&self) -> ChannelKind;
    /// Send one message to one address.
    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError>;
}

/// `Retry-After` in seconds (the HTTP-date form is rare with these providers: 30 s then).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.clamp(1, 3_600)))
        .unwrap_or(Duration::from_secs(30))
}

/// The usual mapping of an unsuccessful provider answer.
pub fn classify(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> SendError {
    let detail = format!("HTTP {}: {}", status.as_u16(), short(body));
    match status.as_u16() {
        429 => SendError::RateLimited {
            detail,
            retry_after: retry_after(headers),
        },
        408 | 425 | 500..=599 => SendError::Transient(detail),
        // Our credentials: an operator fixes them; meanwhile retry with backoff.
        401 | 403 => SendError::Transient(detail),
        404 | 410 => SendError::Gone(detail),
        _ => SendError::Permanent(detail),
    }
}

/// A network-level failure (connection refused, timeout, reset).
pub fn network(e: &reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    SendError::Transient(kind.to_string())
}

/// The first 300 characters of a provider's answer, for the message's history.
pub fn short(body: &str) -> String {
    body.chars().take(300).collect()
}

/// The HTTP client of the provider adapters (rustls, time limit, no redirects).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    client_builder(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// [`http_client`]'s settings. Redirects are never followed: a provider answers where it
/// was called, and a push endpoint (chosen by a browser) must not lead the service anywhere
/// else.
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kreki-notify/", env!("CARGO_PKG_VERSION")))
}
