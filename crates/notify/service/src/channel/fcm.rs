//! Firebase Cloud Messaging HTTP v1 (for native apps): an OAuth2 access token from the
//! service account (RFC 7523 JWT bearer grant, RS256), cached until shortly before it
//! expires and fetched by one caller at a time; then `POST /v1/projects/{id}/messages:send`.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use kreki_notify_contracts::{Channel as ChannelKind, Priority};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{Address, Channel, Outgoing, SendError, Sent, classify, network, short};

const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// The fields of a Google service-account key file that are used.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    pub fn load(path: &Path) -> anyhow::Result<ServiceAccount> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a service-account key: {e}", path.display()))
    }
}

struct Token {
    value: String,
    refresh_at: std::time::Instant,
}

pub struct FcmChannel {
    http: reqwest::Client,
    send_url: String,
    account: ServiceAccount,
    key: jsonwebtoken::EncodingKey,
    token: Mutex<Option<Token>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl FcmChannel {
    pub fn new(
        account: ServiceAccount,
        project_id: &str,
        base_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(account.private_key.as_bytes()).map_err(
            |_| anyhow::anyhow!("the service account's private_key is not an RSA PEM key"),
        )?;
        Ok(Self {
            http: super::http_client(timeout),
            send_url: format!(
                "{}/v1/projects/{project_id}/messages:send",
                base_url.trim_end_matches('/')
            ),
            account,
            key,
            token: Mutex::new(None),
        })
    }

    /// A valid access token; `stale` forces a new one (after a 401).
    async fn access_token(&self, stale: Option<&str>) -> Result<String, SendError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref()
            && t.refresh_at > std::time::Instant::now()
            && Some(t.value.as_str()) != stale
        {
            return Ok(t.value.clone());
        }
        let now = kreki_platform::time_util::now_micros() / 1_000_000;
        let claims = serde_json::json!({
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.key,
        )
        .map_err(|_| SendError::Transient("cannot sign the service-account assertion".into()))?;
        let res = self
            .http
            .post(&self.account.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| network(&e))?;
        if !res.status().is_success() {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            // A refused token is a configuration matter, never the recipient's.
            return Err(SendError::Transient(format!(
                "FCM token HTTP {}: {}",
                status.as_u16(),
                short(&text)
            )));
        }
        let t: TokenResponse = res
            .json()
            .await
            .map_err(|_| SendError::Transient("FCM token answer unreadable".into()))?;
        let lifetime = t.expires_in.unwrap_or(3600);
        *guard = Some(Token {
            value: t.access_token.clone(),
            refresh_at: std::time::Instant::now()
                + Duration::from_secs(lifetime.saturating_sub(300).max(30)),
        });
        Ok(t.access_token)
    }

    fn body(m: &Outgoing, token: &str) -> serde_json::Value {
        let ttl = format!("{}s", m.ttl.as_secs().max(1));
        let high = matches!(m.priority, Priority::Critical | Priority::High);
        serde_json::json!({
            "message": {
                "token": token,
                "notification": { "title": m.title, "body": m.body },
                "data": {
                    "message_id": m.id,
                    "template": serde_json::to_value(m.template).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                    "correlation_id": m.correlation_id.clone().unwrap_or_default(),
                },
                "android": { "priority": if high { "high" } else { "normal" }, "ttl": ttl },
                "apns": { "headers": { "apns-priority": if high { "10" } else { "5" } } },
            }
        })
    }
}

#[derive(Deserialize)]
struct SendResponse {
    name: String,
}

#[async_trait]
impl Channel for FcmChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Push
    }

    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        let Address::Fcm(device) = &m.to else {
            return Err(SendError::Permanent("not an FCM registration token".into()));
        };
        let body = Self::body(m, device);
        let mut token = self.access_token(None).await?;
        for attempt in 0..2 {
            let res = self
                .http
                .post(&self.send_url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .map_err(|e| network(&e))?;
            let status = res.status();
            if status.is_success() {
                let r: SendResponse = res
                    .json()
                    .await
                    .map_err(|_| SendError::Transient("FCM answer unreadable".into()))?;
                return Ok(Sent::with_ref(r.name));
            }
            if status.as_u16() == 401 && attempt == 0 {
                token = self.access_token(Some(&token)).await?;
                continue;
            }
            let headers = res.headers().clone();
            let text = res.text().await.unwrap_or_default();
            if text.contains("UNREGISTERED") {
                return Err(SendError::Gone("FCM token unregistered".into()));
            }
            return Err(match status.as_u16() {
                400 => SendError::Permanent(format!("FCM rejected the message: {}", short(&text))),
                _ => classify(status, &headers, &text),
            });
        }
        Err(SendError::Transient("FCM refused a fresh token".into()))
    }
}
