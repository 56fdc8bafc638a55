//! The console/file channel (demo and tests): one JSON line per message. The console is a
//! log: secret variables (codes, links with a token) are masked unless it is told to show
//! them (`console_secrets = "show"`, tests and local development).

use std::path::PathBuf;

use async_trait::async_trait;
use kreki_notify_contracts::Channel as ChannelKind;
use tokio::io::AsyncWriteExt;

use super::{Address, Channel, Outgoing, SendError, Sent};
use crate::templates::render;

/// What a masked secret looks like on the console.
pub const MASK: &str = "******";

/// Writes each message as one JSON line to a file (appending) or to standard output.
/// Delivery is at least once: a crash after writing and before recording re-sends it; readers
/// drop duplicates by message id.
pub struct ConsoleChannel {
    file: Option<PathBuf>,
    lock: tokio::sync::Mutex<()>,
    show_secrets: bool,
}

impl ConsoleChannel {
    /// Secret variables masked.
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            lock: tokio::sync::Mutex::new(()),
            show_secrets: false,
        }
    }

    /// The same console printing secret variables in clear (explicit configuration only).
    pub fn showing_secrets(mut self) -> Self {
        self.show_secrets = true;
        self
    }
}

#[async_trait]
impl Channel for ConsoleChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Console
    }

    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        let to = match &m.to {
            Address::Text(t) => t.clone(),
            Address::WebPush { endpoint, .. } => endpoint.clone(),
            Address::Fcm(t) => t.clone(),
        };
        let secret = m.template.secret_vars();
        let masked = if self.show_secrets || secret.is_empty() {
            None
        } else {
            let mut vars = m.vars.clone();
            for k in secret {
                if let Some(v) = vars.get_mut(*k) {
                    *v = serde_json::Value::String(MASK.into());
                }
            }
            Some(render(m.template, m.language, &vars))
        };
        let (title, body, sms) = match &masked {
            Some(r) => (&r.title, &r.body, &r.sms),
            None => (&m.title, &m.body, &m.sms),
        };
        let mut line = serde_json::to_string(&serde_json::json!({
            "channel": "console",
            "at": kreki_platform::time_util::rfc3339(kreki_platform::time_util::now_micros()),
            "message": {
                "id": m.id,
                "to": to,
                "priority": m.priority,
                "template": m.template,
                "title": title,
                "body": body,
                "sms": sms,
                "correlation_id": m.correlation_id,
                "attachments": m.attachments.iter().map(|a| &a.filename).collect::<Vec<_>>(),
            },
        }))
        .map_err(|e| SendError::Permanent(e.to_string()))?;
        line.push('\n');
        let _g = self.lock.lock().await;
        match &self.file {
            Some(path) => {
                let mut f = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?;
                f.write_all(line.as_bytes())
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?;
                f.sync_data()
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?;
            }
            None => {
                let mut out = tokio::io::stdout();
                out.write_all(line.as_bytes())
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?;
                out.flush()
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?;
            }
        }
        Ok(Sent {
            provider_ref: None,
            delivered: true,
        })
    }
}
