//! KREKI notification service.
//!
//! Other services publish `notify.message.requested` (or call `POST /api/notify/v1/messages`);
//! this service decides the message's channel plan (the recipient's addresses, push
//! subscriptions and preferences from its directory), keeps it in its durable priority
//! queue (deduplicated by `dedup_key`), renders the template in the recipient's language,
//! sends it through each channel's adapter (Web Push, FCM, WhatsApp, SMS gateway, SMTP,
//! console), falls back to the next channel when one fails or, for critical messages, does
//! not confirm delivery in time, and publishes `notify.message.status`.

pub mod access;
pub mod channel;
pub mod config;
pub mod endpoint;
pub mod gsm7;
pub mod http;
pub mod page;
pub mod planner;
pub mod store;
pub mod templates;
pub mod worker;

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use base64::Engine;
use kreki_identity_contracts::{
    ACCOUNT_CREATED, ACCOUNT_ERASED, ACCOUNT_UPDATED, AccountChanged, AccountErased,
};
use kreki_notify_contracts::{
    Channel as ChannelKind, MAX_ATTACHMENT_BYTES, MESSAGE_REQUESTED, MessageRequested, Priority,
    Recipient,
};
use kreki_platform::{
    ApiError, Msg,
    bus::{
        Event,
        consumer::{AfterCommit, HandleError, Handler},
    },
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::{Migration, Tx},
    time_util::now_micros,
    types::PhoneE164,
};

pub use crate::config::NotifyConfig;
use crate::{
    channel::{
        Channel, ConsoleChannel,
        email::EmailChannel,
        fcm::{FcmChannel, ServiceAccount},
        sms::SmsChannel,
        webpush::{Vapid, WebPushChannel},
        whatsapp::WhatsappChannel,
    },
    planner::Available,
    store::{Enqueued, Store, parse_expiry},
    worker::{Lanes, Next, NotifyMetrics, Senders, Settings, Worker},
};

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "messages",
        sqlite: include_str!("../migrations/sqlite/0001_messages.sql"),
        postgres: include_str!("../migrations/postgres/0001_messages.sql"),
    },
    Migration {
        version: 2,
        name: "channels",
        sqlite: include_str!("../migrations/sqlite/0002_channels.sql"),
        postgres: include_str!("../migrations/postgres/0002_channels.sql"),
    },
    Migration {
        version: 3,
        name: "secrets_erasure",
        sqlite: include_str!("../migrations/sqlite/0003_secrets_erasure.sql"),
        postgres: include_str!("../migrations/postgres/0003_secrets_erasure.sql"),
    },
];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "notify",
        segments: &["notify"],
        default_port: 8206,
        migrations: MIGRATIONS,
        build,
        check_config,
        routes: access::ROUTES,
    }
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    cfg.service_section::<NotifyConfig>("notify").map(|_| ())
}

fn invalid(code: &'static str, id: &str, en: &str) -> ApiError {
    ApiError::validation(code, Msg::owned(id.to_string(), en.to_string()))
}

/// A request's problems, as the caller sees them (at request time, never at send time).
/// Returns the validated expiry.
pub fn validate(req: &MessageRequested) -> Result<Option<i64>, ApiError> {
    let Some(recipient) = req.recipient() else {
        return Err(invalid(
            "NOTIFY_RECIPIENT_INVALID",
            "Berikan tepat satu dari recipient_id atau address",
            "Give exactly one of recipient_id or address",
        ));
    };
    if let Recipient::Address(a) = &recipient {
        let email = a.contains('@') && a.parse::<lettre::message::Mailbox>().is_ok();
        if !email && PhoneE164::parse(a).is_err() {
            return Err(invalid(
                "NOTIFY_ADDRESS_INVALID",
                "Alamat bukan nomor telepon atau e-mail yang sah",
                "The address is not a valid phone number or e-mail address",
            ));
        }
    }
    if req.id.is_empty()
        || req.id.len() > 64
        || req.dedup_key.is_empty()
        || req.dedup_key.len() > 200
    {
        return Err(invalid(
            "VALIDATION_FAILED",
            "id atau dedup_key tidak valid",
            "Invalid id or dedup_key",
        ));
    }
    let missing = req.missing_vars();
    if !missing.is_empty() {
        return Err(invalid(
            "NOTIFY_TEMPLATE_VARS_MISSING",
            "Variabel templat tidak lengkap",
            "Template variables are missing",
        )
        .details(serde_json::json!({ "missing": missing })));
    }
    let mut total = 0usize;
    for a in &req.attachments {
        let decoded = base64::engine::general_purpose::STANDARD.decode(&a.content_base64);
        let bad_name = a.filename.is_empty()
            || a.filename.len() > 120
            || a.filename.contains(['/', '\\', '\r', '\n', '"']);
        let bad_type = lettre::message::header::ContentType::parse(&a.content_type).is_err();
        match decoded {
            Ok(bytes) if !bad_name && !bad_type => total += bytes.len(),
            _ => {
                return Err(invalid(
                    "NOTIFY_ATTACHMENT_INVALID",
                    "Lampiran tidak valid (nama berkas, jenis, atau base64)",
                    "Invalid attachment (file name, content type or base64)",
                ));
            }
        }
    }
    if total > MAX_ATTACHMENT_BYTES {
        return Err(invalid(
            "NOTIFY_ATTACHMENT_TOO_LARGE",
            "Lampiran melebihi 2 MiB",
            "Attachments exceed 2 MiB",
        ));
    }
    match &req.expires_at {
        None => Ok(None),
        Some(s) => parse_expiry(s).map(Some).ok_or_else(|| {
            invalid(
                "VALIDATION_FAILED",
                "expires_at harus RFC 3339",
                "expires_at must be RFC 3339",
            )
        }),
    }
}

/// Plan and queue a validated request inside the caller's transaction. Returns what
/// happened and what to do after the commit ([`Lanes::hand_over`]): a critical message is
/// leased to this process's lane in the same transaction when that lane takes it now.
pub async fn queue(
    conn: &mut Tx,
    req: &MessageRequested,
    expires: Option<i64>,
    available: Available,
    lanes: &Lanes,
) -> Result<(Enqueued, Next), sqlx::Error> {
    let outcome = Store::insert(conn, req, expires).await?;
    if outcome != Enqueued::New {
        return Ok((outcome, Next::Nothing));
    }
    let info = match req.recipient() {
        Some(Recipient::Account(a)) => Store::recipient_info(conn, &a).await?,
        _ => None,
    };
    let plan = planner::plan(req, info.as_ref(), available, now_micros());
    Store::apply_plan(conn, req, &plan).await?;
    let Some(first) = plan.channels.first().copied() else {
        return Ok((outcome, Next::Nothing));
    };
    if req.priority == Priority::Critical
        && lanes.takes(first)
        && let Some(mut m) = Store::claim_one(conn, &req.id, lanes.lease_us()).await?
    {
        // Read a moment ago in this transaction: the lane sends without a lookup.
        m.addresses = info.map(|i| Box::new(i.addresses));
        return Ok((outcome, Next::Express(Box::new(m))));
    }
    Ok((outcome, Next::Wake(first)))
}

struct RequestedHandler {
    available: Available,
    lanes: Arc<Lanes>,
}

#[async_trait]
impl Handler for RequestedHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let req: MessageRequested = event.decode()?;
        let expires =
            validate(&req).map_err(|e| HandleError::Reject(anyhow::anyhow!("{}", e.code)))?;
        let (outcome, next) = queue(tx, &req, expires, self.available, &self.lanes).await?;
        if let Enqueued::Duplicate { existing_id } = outcome {
            tracing::info!(message_id = %req.id, existing_id, "duplicate message request ignored");
        }
        let lanes = self.lanes.clone();
        after.then(move || lanes.hand_over(next));
        Ok(())
    }

    /// A dispatch offer goes to its lane the moment it is committed, not after the disk.
    fn urgent_after_commit(&self) -> bool {
        true
    }
}

/// The recipient directory follows KREKI ID's account events.
struct AccountHandler;

#[async_trait]
impl Handler for AccountHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        if event.subject == ACCOUNT_ERASED {
            let e: AccountErased = event.decode()?;
            Store::erase_recipient(tx, &e.account_id).await?;
        } else {
            let a: AccountChanged = event.decode()?;
            Store::upsert_recipient(tx, &a).await?;
        }
        Ok(())
    }
}

/// The channel adapters of a configuration.
pub async fn senders(
    cfg: &NotifyConfig,
    store: &Store,
    base_url: &str,
    options: &Options,
) -> anyhow::Result<(Senders, Option<String>)> {
    let timeout = Duration::from_millis(cfg.provider_timeout_ms);
    let mut s = Senders::default();
    let mut vapid_public = None;
    if cfg.console_enabled(options.demo) {
        let console = ConsoleChannel::new(cfg.console_file.clone());
        s.console = Some(Arc::new(match cfg.console_secrets {
            config::ConsoleSecrets::Mask => console,
            config::ConsoleSecrets::Show => console.showing_secrets(),
        }));
    }
    if cfg.push.enabled {
        let key = match &cfg.push.vapid_private_key {
            Some(k) => k.expose().to_string(),
            None => store
                .key("vapid", || Vapid::generate().ok())
                .await?
                .ok_or_else(|| anyhow::anyhow!("cannot generate a VAPID key"))?,
        };
        let subject = cfg
            .push
            .subject
            .clone()
            .unwrap_or_else(|| base_url.to_string());
        let vapid = Vapid::from_pkcs8(&key, subject)?;
        vapid_public = Some(vapid.public_key());
        s.webpush = Some(Arc::new(WebPushChannel::new(
            vapid,
            timeout,
            push_policy(cfg),
            options.resolver.clone(),
        )));
    }
    if let Some(f) = &cfg.fcm {
        let account = ServiceAccount::load(&f.service_account_file)?;
        s.fcm = Some(Arc::new(FcmChannel::new(
            account,
            &f.project_id,
            &f.base_url,
            timeout,
        )?) as Arc<dyn Channel>);
    }
    if let Some(w) = &cfg.whatsapp {
        s.whatsapp = Some(Arc::new(WhatsappChannel::new(
            &w.base_url,
            &w.phone_number_id,
            w.access_token.expose(),
            &w.template_prefix,
            timeout,
        )));
    }
    if let Some(m) = &cfg.sms {
        s.sms = Some(Arc::new(SmsChannel::new(
            &m.url,
            m.api_key.expose(),
            &m.sender,
            format!("{base_url}/api/notify/v1/receipts/sms"),
            m.allowed_prefixes.clone(),
            timeout,
        )));
    }
    if let Some(e) = &cfg.email {
        s.email = Some(Arc::new(EmailChannel::new(
            &e.smtp_url,
            e.username.as_deref(),
            e.password.as_ref().map(|p| p.expose()),
            &e.from,
            timeout,
        )?));
    }
    Ok((s, vapid_public))
}

/// The rules of push endpoints (`[notify.push] allowed_hosts`, `allow_loopback`).
pub fn push_policy(cfg: &NotifyConfig) -> Arc<endpoint::EndpointPolicy> {
    Arc::new(endpoint::EndpointPolicy::new(
        &cfg.push.allowed_hosts,
        cfg.push.allow_loopback,
    ))
}

/// The sender's tuning from the configuration.
pub fn settings(cfg: &NotifyConfig) -> Settings {
    let mut limits = HashMap::new();
    limits.insert(ChannelKind::Push, cfg.push.limits);
    if let Some(f) = &cfg.fcm {
        // FCM shares the push lane; the stricter limit wins.
        let p = limits.entry(ChannelKind::Push).or_insert(f.limits);
        p.concurrency = p.concurrency.min(f.limits.concurrency);
    }
    if let Some(w) = &cfg.whatsapp {
        limits.insert(ChannelKind::Whatsapp, w.limits);
    }
    if let Some(m) = &cfg.sms {
        limits.insert(ChannelKind::Sms, m.limits);
    }
    if let Some(e) = &cfg.email {
        limits.insert(ChannelKind::Email, e.limits);
    }
    Settings {
        fallback_after: Duration::from_secs(cfg.fallback_after_s),
        max_attempts: cfg.max_attempts.max(1),
        limits,
        default_ttl: Duration::from_secs(cfg.push.ttl_s.max(1)),
    }
}

/// What the service is built with besides its configuration.
#[derive(Clone)]
pub struct Options {
    /// Looks up the hosts of push endpoints (the system's resolver; tests inject one).
    pub resolver: Arc<dyn endpoint::Resolver>,
    /// Running as the demo (`kreki up --demo`): the console channel is on by default.
    pub demo: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            resolver: Arc::new(endpoint::SystemResolver),
            demo: false,
        }
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    let options = Options {
        demo: ctx.demo.is_some(),
        ..Options::default()
    };
    build_with(ctx, options)
}

/// [`descriptor`]'s build with explicit [`Options`] (tests: a resolver of their own).
pub fn build_with(ctx: ServiceContext, options: Options) -> BuildFuture {
    Box::pin(async move {
        let cfg: NotifyConfig = ctx.config.service_section("notify")?;
        // No send outlives its lease: a claimed message is free again only after its
        // provider call must have ended (a crashed process's claims come back this soon).
        let lease = Duration::from_millis(cfg.provider_timeout_ms) + Duration::from_secs(5);
        let store = Store::with_lease(ctx.db.clone(), lease)
            .keeping_secrets(Duration::from_secs(cfg.secrets_kept_s));
        let (senders, vapid_public) = senders(&cfg, &store, &ctx.base_url, &options).await?;
        let available = senders.available();
        let lanes = Lanes::new(&store);
        let metrics = Arc::new(NotifyMetrics::new(&ctx.metrics));
        ctx.spawn_consumer(
            "notify-requests",
            &[MESSAGE_REQUESTED],
            Arc::new(RequestedHandler {
                available,
                lanes: lanes.clone(),
            }),
        );
        ctx.spawn_consumer(
            "notify-directory",
            &[ACCOUNT_CREATED, ACCOUNT_UPDATED, ACCOUNT_ERASED],
            Arc::new(AccountHandler),
        );
        let worker = Worker {
            store: store.clone(),
            senders,
            lanes: lanes.clone(),
            settings: Arc::new(settings(&cfg)),
            metrics: Some(metrics.clone()),
        };
        ctx.tasks.spawn(worker.run(ctx.shutdown.clone()));
        let (api, openapi) = http::router(http::AppState {
            store,
            lanes,
            available,
            vapid_public,
            push_policy: push_policy(&cfg),
            resolver: options.resolver.clone(),
            sms_webhook_secret: cfg.sms.as_ref().map(|s| s.webhook_secret.clone()),
            sms_webhook_tolerance_s: cfg
                .sms
                .as_ref()
                .map_or(kreki_platform::signature::DEFAULT_TOLERANCE_S, |s| {
                    s.webhook_tolerance_s.max(1)
                }),
            whatsapp_app_secret: cfg.whatsapp.as_ref().map(|w| w.app_secret.clone()),
            whatsapp_verify_token: cfg.whatsapp.as_ref().and_then(|w| w.verify_token.clone()),
            metrics: Some(metrics),
        });
        Ok(Built {
            api,
            openapi,
            verifier: None,
            pages: page::router(),
        })
    })
}
