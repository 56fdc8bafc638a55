//! PSC 119 (regional ambulance dispatch centres). No national API exists and centres
//! differ, so the bridge talks to them through the [`Psc119Adapter`] port: a generic
//! HTTP/JSON webhook (HMAC-SHA256-signed, with a timestamp) and an SMS fallback through
//! notify. A hand-off waits for an acknowledgement; without one it is sent again, then to
//! the next configured centre, and finally raised to Ops as an alarm (`failed` in the case
//! timeline). Centres report back with signed status callbacks.

pub mod sim;
pub mod store;
pub mod worker;

use async_trait::async_trait;
use kreki_emergency_contracts::CaseEscalated;
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{bus::Event, config::Secret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const SIGNATURE_HEADER: &str = "x-kreki-signature";
pub const TIMESTAMP_HEADER: &str = "x-kreki-timestamp";
pub const CENTRE_HEADER: &str = "x-kreki-centre";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CentreKind {
    #[default]
    Webhook,
    Sms,
}

/// `[[bridge.psc119.centres]]`, in order of preference.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CentreConfig {
    /// Short name; callbacks name their centre with it (`x-kreki-centre`).
    pub name: String,
    pub kind: CentreKind,
    /// Webhook URL.
    pub url: Option<String>,
    /// Shared secret of the HMAC signatures (both directions).
    pub secret: Option<Secret>,
    /// SMS number of the centre (E.164).
    pub phone: Option<String>,
}

/// `[bridge.psc119]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Psc119Config {
    pub centres: Vec<CentreConfig>,
    /// How long a centre has to acknowledge a hand-off.
    pub ack_timeout_secs: u32,
    /// Sends to the same centre after the first before moving on.
    pub resends: u32,
    /// Callbacks older or newer than this are refused (replay protection).
    pub callback_tolerance_secs: u32,
}

impl Default for Psc119Config {
    fn default() -> Self {
        Psc119Config {
            centres: Vec::new(),
            ack_timeout_secs: 120,
            resends: 1,
            callback_tolerance_secs: 300,
        }
    }
}

impl Psc119Config {
    pub fn check(&self) -> Result<(), String> {
        for (i, c) in self.centres.iter().enumerate() {
            if c.name.is_empty() || self.centres.iter().filter(|o| o.name == c.name).count() > 1 {
                return Err(format!("centres[{i}].name must be unique and non-empty"));
            }
            match c.kind {
                CentreKind::Webhook if c.url.is_none() || c.secret.is_none() => {
                    return Err(format!(
                        "centres[{i}]: a webhook centre needs url and secret"
                    ));
                }
                CentreKind::Sms
                    if c.phone
                        .as_deref()
                        .and_then(|p| kreki_platform::types::PhoneE164::parse(p).ok())
                        .is_none() =>
                {
                    return Err(format!("centres[{i}]: an SMS centre needs a valid phone"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The demo: the PSC 119 simulator, then an SMS fallback.
    pub fn simulator(base_url: &str) -> Self {
        Psc119Config {
            centres: vec![
                CentreConfig {
                    name: sim::SIM_CENTRE.into(),
                    kind: CentreKind::Webhook,
                    url: Some(format!(
                        "{}/sim/psc119/webhook",
                        base_url.trim_end_matches('/')
                    )),
                    secret: Some(Secret::new(sim::SIM_SECRET)),
                    phone: None,
                },
                CentreConfig {
                    name: "psc119-sms".into(),
                    kind: CentreKind::Sms,
                    url: None,
                    secret: None,
                    phone: Some("+6281100000119".into()),
                },
            ],
            ack_timeout_secs: 60,
            ..Default::default()
        }
    }
}

/// What a centre receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Handoff {
    pub case_id: String,
    /// `P1` (critical, SEV-1), `P2`, `P3`.
    pub priority: String,
    pub sev: String,
    pub severity: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub responders_on_scene: u32,
    pub reason: String,
    pub escalated_at: String,
    /// 1 for the first send to this centre.
    pub attempt: u32,
    /// Where the centre posts its signed status callbacks.
    pub callback_url: String,
}

impl Handoff {
    pub fn from_event(e: &CaseEscalated, attempt: u32, callback_url: &str) -> Handoff {
        Handoff {
            case_id: e.case_id.clone(),
            priority: e.severity.psc119_priority().into(),
            sev: e.severity.sev().into(),
            severity: serde_json::to_value(e.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            latitude: e.latitude,
            longitude: e.longitude,
            caller_phone: e.caller_phone.clone(),
            notes: e.description.clone(),
            responders_on_scene: e.responders,
            reason: e.reason.clone(),
            escalated_at: e.at.clone(),
            attempt,
            callback_url: callback_url.to_string(),
        }
    }
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    kreki_platform::signature::sign(secret.as_bytes(), &[ts.as_bytes(), b".", body])
}

/// Constant-time check of a signature made by [`sign`].
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let ts = timestamp.to_string();
    kreki_platform::signature::verify(
        secret.as_bytes(),
        &[ts.as_bytes(), b".", body],
        Some(signature),
    )
}

/// A hand-off went out (or an event to put in the outbox for it).
#[derive(Debug)]
pub enum Sent {
    /// The centre's webhook answered this status.
    Http(u16),
    /// The hand-off travels as this event (SMS through notify).
    Event(Box<Event>),
}

/// The port every centre adapter implements.
#[async_trait]
pub trait Psc119Adapter: Send + Sync {
    fn name(&self) -> &str;
    fn channel(&self) -> &'static str;
    async fn hand_off(&self, h: &Handoff, now_secs: i64) -> Result<Sent, String>;
}

/// Generic HTTP/JSON webhook with a signed body.
pub struct WebhookAdapter {
    pub name: String,
    pub url: String,
    pub secret: Secret,
    pub http: reqwest::Client,
}

#[async_trait]
impl Psc119Adapter for WebhookAdapter {
    fn name(&self) -> &str {
        &self.name
    }
    fn channel(&self) -> &'static str {
        "webhook"
    }
    async fn hand_off(&self, h: &Handoff, now_secs: i64) -> Result<Sent, String> {
        let body = serde_json::to_vec(h).map_err(|e| e.to_string())?;
        let res = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, now_secs.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(self.secret.expose(), now_secs, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timeout".to_string()
                } else {
                    "connection failed".to_string()
                }
            })?;
        let status = res.status().as_u16();
        if res.status().is_success() {
            Ok(Sent::Http(status))
        } else {
            Err(format!("webhook answered {status}"))
        }
    }
}

/// SMS to the centre's number through notify (`notify.message.requested`).
pub struct SmsAdapter {
    pub name: String,
    pub phone: String,
}

#[async_trait]
impl Psc119Adapter for SmsAdapter {
    fn name(&self) -> &str {
        &self.name
    }
    fn channel(&self) -> &'static str {
        "sms"
    }
    async fn hand_off(&self, h: &Handoff, _now_secs: i64) -> Result<Sent, String> {
        // The escalation template says "case <id> (<severity>) escalated to PSC 119"; the
        // severity slot carries priority, place, caller and notes for the dispatcher.
        let mut what = format!(
            "{} {} {}, lok {:.5},{:.5}",
            h.priority, h.sev, h.kind, h.latitude, h.longitude
        );
        if let Some(p) = &h.caller_phone {
            what.push_str(&format!(", telp {p}"));
        }
        if let Some(n) = &h.notes {
            what.push_str(&format!(", {}", n.chars().take(80).collect::<String>()));
        }
        let mut vars = serde_json::Map::new();
        vars.insert("case_id".into(), h.case_id.clone().into());
        vars.insert("severity".into(), what.into());
        let req = MessageRequested {
            id: uuid::Uuid::now_v7().to_string(),
            dedup_key: format!("psc119:{}:{}:{}", h.case_id, self.name, h.attempt),
            recipient_id: None,
            address: Some(self.phone.clone()),
            template: Template::EscalationNotice,
            vars,
            language: None,
            priority: Priority::Critical,
            channels: Vec::new(),
            expires_at: None,
            correlation_id: Some(h.case_id.clone()),
            attachments: Vec::new(),
        };
        let ev = Event::new("bridge", MESSAGE_REQUESTED, &req)
            .map_err(|e| e.to_string())?
            .correlated(h.case_id.clone());
        Ok(Sent::Event(Box::new(ev)))
    }
}

/// The adapters of the configuration, in order.
pub fn adapters(
    cfg: &Psc119Config,
    http: &reqwest::Client,
) -> Vec<std::sync::Arc<dyn Psc119Adapter>> {
    cfg.centres
        .iter()
        .filter_map(|c| -> Option<std::sync::Arc<dyn Psc119Adapter>> {
            match c.kind {
                CentreKind::Webhook => Some(std::sync::Arc::new(WebhookAdapter {
                    name: c.name.clone(),
                    url: c.url.clone()?,
                    secret: c.secret.clone()?,
                    http: http.clone(),
                })),
                CentreKind::Sms => Some(std::sync::Arc::new(SmsAdapter {
                    name: c.name.clone(),
                    phone: c.phone.clone()?,
                })),
            }
        })
        .collect()
}

/// A status callback from a centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// Unique per callback: a replay with the same id changes nothing.
    pub callback_id: String,
    pub case_id: String,
    /// `acknowledged`, `ambulance_dispatched`, `en_route`, `arrived`, `patient_transferred`.
    pub status: String,
    /// RFC 3339.
    pub at: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

pub const CALLBACK_STATUSES: &[&str] = &[
    "acknowledged",
    "ambulance_dispatched",
    "en_route",
    "arrived",
    "patient_transferred",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_detect_tampering() {
        let s = sign("rahasia", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert!(verify("rahasia", 1_700_000_000, b"{\"a\":1}", &s));
        assert!(!verify("rahasia", 1_700_000_001, b"{\"a\":1}", &s));
        assert!(!verify("rahasia", 1_700_000_000, b"{\"a\":2}", &s));
        assert!(!verify("lain", 1_700_000_000, b"{\"a\":1}", &s));
        assert!(!verify("rahasia", 1_700_000_000, b"{\"a\":1}", "sha256=zz"));
    }
}
