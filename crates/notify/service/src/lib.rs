//! KREKI notification service.
//!
//! Other services publish `notify.message.requested` (or call `POST /api/notify/v1/messages`);
//! this service keeps the request in its durable priority queue (deduplicated by
//! `dedup_key`), renders the template in the recipient's language, sends it through a
//! channel and publishes `notify.message.status`.

pub mod channel;
pub mod http;
pub mod store;
pub mod templates;
pub mod worker;

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested};
use kreki_platform::{
    ApiError, Msg,
    bus::{
        Event,
        consumer::{HandleError, Handler},
    },
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::{Migration, Tx},
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::{
    channel::ConsoleChannel,
    store::{Enqueued, Store, parse_expiry},
    worker::Worker,
};

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "messages",
    sqlite: include_str!("../migrations/sqlite/0001_messages.sql"),
    postgres: include_str!("../migrations/postgres/0001_messages.sql"),
}];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "notify",
        segments: &["notify"],
        default_port: 8206,
        migrations: MIGRATIONS,
        build,
        check_config,
    }
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    cfg.service_section::<NotifyConfig>("notify").map(|_| ())
}

/// `[notify]` configuration section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Console channel: append messages as JSON lines to this file (default: standard output).
    pub console_file: Option<PathBuf>,
}

/// A request's problems, as the caller sees them.
pub fn validate(req: &MessageRequested) -> Result<Option<i64>, ApiError> {
    if req.recipient().is_none() {
        return Err(ApiError::validation(
            "NOTIFY_RECIPIENT_INVALID",
            Msg::new(
                "Berikan tepat satu dari recipient_id atau address",
                "Give exactly one of recipient_id or address",
            ),
        ));
    }
    if req.id.is_empty()
        || req.id.len() > 64
        || req.dedup_key.is_empty()
        || req.dedup_key.len() > 200
    {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("id atau dedup_key tidak valid", "Invalid id or dedup_key"),
        ));
    }
    let missing = req.missing_vars();
    if !missing.is_empty() {
        return Err(ApiError::validation(
            "NOTIFY_TEMPLATE_VARS_MISSING",
            Msg::new(
                "Variabel templat tidak lengkap",
                "Template variables are missing",
            ),
        )
        .details(serde_json::json!({ "missing": missing })));
    }
    match &req.expires_at {
        None => Ok(None),
        Some(s) => parse_expiry(s).map(Some).ok_or_else(|| {
            ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new("expires_at harus RFC 3339", "expires_at must be RFC 3339"),
            )
        }),
    }
}

struct RequestedHandler {
    wake: Arc<Notify>,
}

#[async_trait]
impl Handler for RequestedHandler {
    async fn handle(&self, event: &Event, tx: &mut Tx) -> Result<(), HandleError> {
        let req: MessageRequested = event.decode()?;
        let expires =
            validate(&req).map_err(|e| HandleError::Reject(anyhow::anyhow!("{}", e.code)))?;
        if let Enqueued::Duplicate { existing_id } = Store::enqueue(tx, &req, expires).await? {
            tracing::info!(message_id = %req.id, existing_id, "duplicate message request ignored");
        }
        self.wake.notify_one();
        Ok(())
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let cfg: NotifyConfig = ctx.config.service_section("notify")?;
        let store = Store::new(ctx.db.clone());
        let wake = Arc::new(Notify::new());
        ctx.spawn_consumer(
            "notify-requests",
            &[MESSAGE_REQUESTED],
            Arc::new(RequestedHandler { wake: wake.clone() }),
        );
        let worker = Worker {
            store: store.clone(),
            channel: Arc::new(ConsoleChannel::new(cfg.console_file.clone())),
            wake: wake.clone(),
            relay: ctx.relay.clone(),
        };
        let cancel = ctx.shutdown.clone();
        ctx.tasks.spawn(worker.run(cancel));
        let (api, openapi) = http::router(http::AppState {
            store,
            wake,
            relay: ctx.relay.clone(),
        });
        Ok(Built {
            api,
            openapi,
            pages: axum::Router::new(),
        })
    })
}
