//! A generic HTTP SMS gateway (the wire format is in docs/notify.md): `POST <url>` with
//! `Authorization: Bearer <api key>` and `{to, from, text, reference, callback_url,
//! encoding}`; the answer names the gateway's message id. Delivery receipts come back to
//! `POST /api/notify/v1/receipts/sms`, signed with HMAC-SHA256 over `<timestamp>.<body>`.

use std::time::Duration;

use async_trait::async_trait;
use kreki_notify_contracts::Channel as ChannelKind;
use kreki_platform::types::PhoneE164;
use serde::Deserialize;

use super::{Address, Channel, Outgoing, SendError, Sent, classify, network};
use crate::gsm7;

pub struct SmsChannel {
    http: reqwest::Client,
    url: String,
    api_key: String,
    sender: String,
    callback_url: String,
    allowed_prefixes: Vec<String>,
}

impl SmsChannel {
    pub fn new(
        url: &str,
        api_key: &str,
        sender: &str,
        callback_url: String,
        allowed_prefixes: Vec<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            http: super::http_client(timeout),
            url: url.to_string(),
            api_key: api_key.to_string(),
            sender: sender.to_string(),
            callback_url,
            allowed_prefixes,
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    message_id: String,
}

#[async_trait]
impl Channel for SmsChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Sms
    }

    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        let Address::Text(raw) = &m.to else {
            return Err(SendError::Permanent("not a phone number".into()));
        };
        let phone = PhoneE164::parse(raw)
            .map_err(|_| SendError::Permanent("invalid phone number".into()))?;
        if !self
            .allowed_prefixes
            .iter()
            .any(|p| phone.as_str().starts_with(p.as_str()))
        {
            return Err(SendError::Permanent(
                "phone number outside the allowed prefixes".into(),
            ));
        }
        let text = gsm7::to_gsm7(&m.sms);
        let body = serde_json::json!({
            "to": phone.as_str(),
            "from": self.sender,
            "text": text,
            "reference": m.reference,
            "callback_url": self.callback_url,
            "encoding": "GSM7",
            "segments": gsm7::segments(&text).unwrap_or(1),
            "validity_s": m.ttl.as_secs().max(60),
        });
        let res = self
            .http
            .post(&self.url)
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        if status.is_success() {
            let a: Answer = serde_json::from_str(&text)
                .map_err(|_| SendError::Transient("SMS gateway answer unreadable".into()))?;
            return Ok(Sent::with_ref(a.message_id));
        }
        if status.as_u16() == 409 {
            // The gateway already has this reference: our earlier attempt went through.
            let id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["message_id"].as_str().map(str::to_string));
            return Ok(Sent {
                provider_ref: id,
                delivered: false,
            });
        }
        Err(match status.as_u16() {
            400 | 422 => SendError::Permanent(format!("gateway refused: {}", super::short(&text))),
            _ => classify(status, &headers, &text),
        })
    }
}

/// Sign a receipt as the gateway does (the same scheme as its inbound-SMS webhook to the
/// Emergency Core): `X-Kreki-Timestamp: <Unix s>` and `X-Kreki-Signature: sha256=<hex
/// HMAC-SHA256(secret, "<timestamp>.<body>")>`. A receipt outside the freshness window is
/// refused; within it receipts are idempotent, so a replayed one changes nothing.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    kreki_platform::signature::sign_timestamped(secret.as_bytes(), timestamp, body)
}

/// Check a receipt's timestamp and signature (see [`sign`]).
pub fn verify(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_s: i64,
    tolerance_s: u32,
) -> Result<(), kreki_platform::signature::Refusal> {
    kreki_platform::signature::verify_timestamped(
        secret.as_bytes(),
        headers,
        body,
        now_s,
        tolerance_s,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_signatures() {
        use axum::http::{HeaderMap, HeaderValue};
        use kreki_platform::signature::Refusal;
        let body = br#"{"reference":"r","status":"delivered"}"#;
        let h = |ts: i64, sig: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-kreki-timestamp", HeaderValue::from(ts));
            h.insert("x-kreki-signature", HeaderValue::from_str(sig).unwrap());
            h
        };
        let now = 1_800_000_000;
        let sig = sign("s3cret", now, body);
        assert_eq!(verify("s3cret", &h(now, &sig), body, now + 10, 300), Ok(()));
        assert_eq!(
            verify("other", &h(now, &sig), body, now, 300),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify("s3cret", &h(now, &sig), b"{}", now, 300),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify("s3cret", &h(now, &sig), body, now + 301, 300),
            Err(Refusal::Expired)
        );
        assert_eq!(
            verify("s3cret", &h(now, "md5=00"), body, now, 300),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify("s3cret", &HeaderMap::new(), body, now, 300),
            Err(Refusal::Invalid)
        );
    }
}
