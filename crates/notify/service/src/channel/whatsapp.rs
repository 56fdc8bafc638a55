//! WhatsApp Business Cloud API: approved template messages
//! (`POST {base}/{phone_number_id}/messages`, `type: template`), and the signature check of
//! its status webhooks (`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body with the app
//! secret>`).

use std::time::Duration;

use async_trait::async_trait;
use kreki_notify_contracts::{Channel as ChannelKind, Language};
use serde::Deserialize;

use super::{Address, Channel, Outgoing, SendError, Sent, classify, network, short};

pub struct WhatsappChannel {
    http: reqwest::Client,
    url: String,
    token: String,
    prefix: String,
}

impl WhatsappChannel {
    pub fn new(
        base_url: &str,
        phone_number_id: &str,
        token: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Self {
        Self {
            http: super::http_client(timeout),
            url: format!(
                "{}/{phone_number_id}/messages",
                base_url.trim_end_matches('/')
            ),
            token: token.to_string(),
            prefix: prefix.to_string(),
        }
    }

    /// The request body: the template `<prefix><template>` in the message's language with
    /// the template's variables, in their documented order, as body parameters.
    pub fn body(&self, m: &Outgoing, to: &str) -> serde_json::Value {
        let name = serde_json::to_value(m.template)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let params: Vec<serde_json::Value> = m
            .template
            .required_vars()
            .iter()
            .map(|v| {
                let text = match m.vars.get(*v) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                serde_json::json!({ "type": "text", "text": text })
            })
            .collect();
        let mut template = serde_json::json!({
            "name": format!("{}{name}", self.prefix),
            "language": { "code": if m.language == Language::En { "en" } else { "id" } },
        });
        if !params.is_empty() {
            template["components"] = serde_json::json!([{ "type": "body", "parameters": params }]);
        }
        serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.trim_start_matches('+'),
            "type": "template",
            "template": template,
            "biz_opaque_callback_data": m.reference,
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    messages: Vec<AnswerMessage>,
}

#[derive(Deserialize)]
struct AnswerMessage {
    id: String,
}

#[async_trait]
impl Channel for WhatsappChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Whatsapp
    }

    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        let Address::Text(phone) = &m.to else {
            return Err(SendError::Permanent("not a phone number".into()));
        };
        let res = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&self.body(m, phone))
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        if status.is_success() {
            let a: Answer = serde_json::from_str(&text)
                .map_err(|_| SendError::Transient("WhatsApp answer unreadable".into()))?;
            let id = a.messages.into_iter().next().ok_or_else(|| {
                SendError::Transient("WhatsApp answer without a message id".into())
            })?;
            return Ok(Sent::with_ref(id.id));
        }
        // Graph API error codes: 130429/131056/80007/4 are throughput limits; 131026 and
        // 131030 say the number cannot receive (permanent for this recipient).
        let code = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["code"].as_i64());
        Err(match code {
            Some(130429 | 131056 | 80007 | 4) => SendError::RateLimited {
                detail: format!("WhatsApp throughput limit: {}", short(&text)),
                retry_after: super::retry_after(&headers).max(Duration::from_secs(5)),
            },
            Some(131026 | 131030 | 131008 | 132000 | 132001) => {
                SendError::Permanent(format!("WhatsApp refused: {}", short(&text)))
            }
            _ => classify(status, &headers, &text),
        })
    }
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `app_secret`.
pub fn signature_valid(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    kreki_platform::signature::verify(app_secret.as_bytes(), &[body], header)
}

/// One status of a webhook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `wamid.…`: the provider reference.
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`.
    pub status: String,
    pub error: Option<String>,
}

/// The statuses of a webhook body (`entry[].changes[].value.statuses[]`); `None` when the
/// body is not a WhatsApp Business webhook.
pub fn statuses(body: &serde_json::Value) -> Option<Vec<Status>> {
    if body["object"] != "whatsapp_business_account" {
        return None;
    }
    let mut out = Vec::new();
    for entry in body["entry"].as_array()? {
        for change in entry["changes"].as_array().into_iter().flatten() {
            for s in change["value"]["statuses"].as_array().into_iter().flatten() {
                let (Some(id), Some(status)) = (s["id"].as_str(), s["status"].as_str()) else {
                    return None;
                };
                out.push(Status {
                    id: id.to_string(),
                    status: status.to_string(),
                    error: s["errors"][0]["title"].as_str().map(str::to_string),
                });
            }
        }
    }
    Some(out)
}
