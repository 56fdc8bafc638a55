//! The console/file channel (demo and tests): one JSON line per message.

use std::path::PathBuf;

use async_trait::async_trait;
use kreki_notify_contracts::Channel as ChannelKind;
use tokio::io::AsyncWriteExt;

use super::{Address, Channel, Outgoing, SendError, Sent};

/// Writes each message as one JSON line to a file (appending) or to standard output.
/// Delivery is at least once: a crash after writing and before recording re-sends it; readers
/// drop duplicates by message id.
pub struct ConsoleChannel {
    file: Option<PathBuf>,
    lock: tokio::sync::Mutex<()>,
}

impl ConsoleChannel {
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            file,
            lock: tokio::sync::Mutex::new(()),
        }
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
        let mut line = serde_json::to_string(&serde_json::json!({
            "channel": "console",
            "at": kreki_platform::time_util::rfc3339(kreki_platform::time_util::now_micros()),
            "message": {
                "id": m.id,
                "to": to,
                "priority": m.priority,
                "template": m.template,
                "title": m.title,
                "body": m.body,
                "sms": m.sms,
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
