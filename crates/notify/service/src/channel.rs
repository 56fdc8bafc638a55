//! The `Channel` port and the console/file channel (demo and tests). The real providers
//! (Web Push, FCM, WhatsApp, SMS gateway, SMTP) are adapters of the same port.

use std::path::PathBuf;

use async_trait::async_trait;
use kreki_notify_contracts::{Channel as ChannelKind, Priority};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

/// A message ready for a channel.
#[derive(Debug, Clone, Serialize)]
pub struct Outgoing {
    pub id: String,
    pub to: String,
    pub priority: Priority,
    pub title: String,
    pub body: String,
    pub correlation_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later (provider down, 429, timeout).
    #[error("transient: {0}")]
    Transient(String),
    /// Never succeeds (invalid address, unsubscribed).
    #[error("permanent: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Channel: Send + Sync + 'static {
    fn kind(&self) -> ChannelKind;
    /// Send; returns the provider's reference, if any.
    async fn send(&self, m: &Outgoing) -> Result<Option<String>, SendError>;
}

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

    async fn send(&self, m: &Outgoing) -> Result<Option<String>, SendError> {
        let mut line = serde_json::to_string(&serde_json::json!({
            "channel": "console",
            "at": kreki_platform::time_util::rfc3339(kreki_platform::time_util::now_micros()),
            "message": m,
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
        Ok(None)
    }
}
