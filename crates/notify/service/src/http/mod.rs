//! `/api/notify/v1`: message requests, the operators' message log, push subscriptions and
//! devices, a recipient's own preferences, and the providers' delivery-receipt webhooks.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::Engine;
use kreki_notify_contracts::{Channel as ChannelKind, MessageRequested};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, perm},
    config::Secret,
    error::{ErrorEnvelope, Meta},
    http::ApiJson,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    channel::{sms, whatsapp},
    planner::Available,
    store::{Enqueued, MessageView, Preferences, Search, Store},
    worker::NotifyMetrics,
};

mod receipts;
pub use receipts::*;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub lanes: Arc<crate::worker::Lanes>,
    pub available: Available,
    /// VAPID public key (base64url), when Web Push is on.
    pub vapid_public: Option<String>,
    /// Which push endpoints subscriptions may name.
    pub push_policy: Arc<crate::endpoint::EndpointPolicy>,
    /// Looks up push endpoints' hosts when a subscription is made.
    pub resolver: Arc<dyn crate::endpoint::Resolver>,
    pub sms_webhook_secret: Option<Secret>,
    /// Freshness window of the SMS receipts' signed timestamp (seconds).
    pub sms_webhook_tolerance_s: u32,
    pub whatsapp_app_secret: Option<Secret>,
    pub whatsapp_verify_token: Option<Secret>,
    pub metrics: Option<Arc<NotifyMetrics>>,
}

/// Roles allowed to send arbitrary messages and read the message log.
/// Scope of service clients that send messages.
const SEND_SCOPE: &str = "notify:send";

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    /// `queued`, `failed` (nothing reaches the recipient), `suppressed` (opted out), or
    /// `duplicate` when the dedup key was seen before.
    pub status: String,
    /// The channels it will try, in order.
    pub plan: Vec<String>,
}

#[derive(OpenApi)]
#[openapi(tags(
    (name = "messages", description = "Message requests and their delivery status"),
    (name = "subscriptions", description = "Push subscriptions and devices of the signed-in person"),
    (name = "preferences", description = "Quiet hours and opt-outs of the signed-in person"),
    (name = "receipts", description = "Delivery receipts from providers (signed webhooks)"),
))]
struct ApiDoc;

pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/notify/v1",
            OpenApiRouter::new()
                .routes(routes!(request_message))
                .routes(routes!(search_messages))
                .routes(routes!(get_message))
                .routes(routes!(ack_message))
                .routes(routes!(push_key))
                .routes(routes!(add_subscription, remove_subscription))
                .routes(routes!(add_device, remove_device))
                .routes(routes!(get_preferences, put_preferences))
                .routes(routes!(receipts::sms_receipt))
                .routes(routes!(
                    receipts::whatsapp_webhook,
                    receipts::whatsapp_verify
                )),
        )
        .with_state(state)
        .split_for_parts();
    (router, api)
}

fn not_found() -> ApiError {
    ApiError::not_found(
        "NOTIFY_MESSAGE_NOT_FOUND",
        Msg::new("Pesan tidak ditemukan", "Message not found"),
    )
}

/// Request a message (authenticated: a 401 comes before the body is read).
#[utoipa::path(post, path = "/messages", tag = "messages",
    request_body = MessageRequested,
    responses(
        (status = 202, description = "Queued (or a duplicate of an earlier request)", body = inline(Envelope<Accepted>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Not allowed to send messages", body = ErrorEnvelope),
        (status = 422, description = "Invalid request: NOTIFY_RECIPIENT_INVALID, NOTIFY_ADDRESS_INVALID, NOTIFY_TEMPLATE_VARS_MISSING, NOTIFY_ATTACHMENT_INVALID, NOTIFY_ATTACHMENT_TOO_LARGE, VALIDATION_UNKNOWN_FIELD", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn request_message(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<MessageRequested>, ApiError>,
) -> ApiResult<Envelope<Accepted>> {
    // Who may send is decided before the body is looked at.
    if !(p.can(perm::NOTIFICATION_SEND) || p.has_scope(SEND_SCOPE)) {
        return Err(ApiError::forbidden());
    }
    let ApiJson(req) = body?;
    let expires = crate::validate(&req)?;
    // A critical message goes to its lane the moment it is committed; the answer waits
    // until the commit is on disk (`Db::flush`).
    let db = st.store.db();
    let mut tx = db.begin_relaxed().await?;
    let (outcome, next) = crate::queue(&mut tx, &req, expires, st.available, &st.lanes).await?;
    tx.commit().await?;
    st.lanes.hand_over(next);
    db.flush().await?;
    let (id, duplicate) = match outcome {
        Enqueued::New => (req.id, false),
        Enqueued::Duplicate { existing_id } => (existing_id, true),
    };
    let view = st.store.get(&id).await?.ok_or_else(not_found)?;
    let status = if duplicate {
        "duplicate".to_string()
    } else if matches!(view.status.as_str(), "failed" | "suppressed") {
        view.status.clone()
    } else {
        "queued".to_string()
    };
    Ok(Envelope::accepted(Accepted {
        id,
        status,
        plan: view.plan,
    }))
}

/// A message with its plan, deliveries and history (operators).
#[utoipa::path(get, path = "/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = inline(Envelope<MessageView>)),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 404, description = "Unknown id (NOTIFY_MESSAGE_NOT_FOUND)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn get_message(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<MessageView>> {
    p.require(perm::NOTIFICATION_READ)?;
    st.store
        .get(&id)
        .await?
        .map(Envelope::ok)
        .ok_or_else(not_found)
}

/// Search of the operators (in the body: addresses are personal data, never in URLs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// KREKI ID subject of the recipient.
    #[serde(default)]
    pub recipient_id: Option<String>,
    /// Raw address (phone in E.164 or e-mail) of an address recipient.
    #[serde(default)]
    pub address: Option<String>,
    /// Case id, certificate id, ...
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `failed`, `expired`, `suppressed`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub limit: Option<i64>,
}

const STATUSES: &[&str] = &[
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "expired",
    "suppressed",
];

/// Find messages by recipient, correlation id or status, newest first (operators).
#[utoipa::path(post, path = "/messages/search", tag = "messages",
    request_body = SearchRequest,
    responses(
        (status = 200, description = "Matching messages; `meta` has page, limit, total", body = inline(Envelope<Vec<MessageView>>)),
        (status = 403, description = "Not an operator", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED (page, limit or status)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn search_messages(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<SearchRequest>, ApiError>,
) -> ApiResult<Envelope<Vec<MessageView>>> {
    p.require(perm::NOTIFICATION_READ)?;
    let ApiJson(req) = body?;
    let page = req.page.unwrap_or(1);
    let limit = req.limit.unwrap_or(20);
    if page < 1 || !(1..=100).contains(&limit) {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "page ≥ 1 dan limit 1–100",
                "page must be ≥ 1 and limit 1–100",
            ),
        ));
    }
    if req
        .status
        .as_deref()
        .is_some_and(|s| !STATUSES.contains(&s))
    {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Status tidak dikenal", "Unknown status"),
        ));
    }
    let address = req.address.map(|a| {
        kreki_platform::types::PhoneE164::parse(&a)
            .map(|p| p.as_str().to_string())
            .unwrap_or(a)
    });
    let (items, total) = st
        .store
        .search(&Search {
            recipient_id: req.recipient_id,
            address,
            correlation_id: req.correlation_id,
            status: req.status,
            page,
            limit,
        })
        .await?;
    Ok(Envelope::ok(items).paged(Meta {
        page: u32::try_from(page).unwrap_or(1),
        limit: u32::try_from(limit).unwrap_or(20),
        total: u64::try_from(total).unwrap_or(0),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Acked {
    pub id: String,
    pub acknowledged: bool,
}

/// The recipient's app confirms it showed the message: no fallback to the next channel.
#[utoipa::path(post, path = "/messages/{id}/ack", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Acknowledged (again: no change)", body = inline(Envelope<Acked>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 404, description = "No such message for this person (NOTIFY_MESSAGE_NOT_FOUND)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn ack_message(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Acked>> {
    if !st.store.acknowledge(&id, &p.subject).await? {
        return Err(not_found());
    }
    if let Some(m) = &st.metrics {
        m.count(ChannelKind::Push, "acknowledged");
    }
    Ok(Envelope::ok(Acked {
        id,
        acknowledged: true,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushKey {
    /// VAPID public key: the uncompressed P-256 point, base64url (`applicationServerKey`).
    pub public_key: String,
}

fn push_off() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "NOTIFY_PUSH_DISABLED",
        Msg::new(
            "Notifikasi push tidak aktif",
            "Push notifications are turned off",
        ),
    )
}

/// The VAPID public key browsers subscribe with (no sign-in needed).
#[utoipa::path(get, path = "/push/key", tag = "subscriptions",
    responses(
        (status = 200, description = "The key", body = inline(Envelope<PushKey>)),
        (status = 503, description = "NOTIFY_PUSH_DISABLED", body = ErrorEnvelope),
    ))]
async fn push_key(State(st): State<AppState>) -> ApiResult<Envelope<PushKey>> {
    let key = st.vapid_public.clone().ok_or_else(push_off)?;
    Ok(Envelope::ok(PushKey { public_key: key }))
}

/// `PushSubscription.toJSON()` of the browser (the Push API's own field names).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionJson {
    pub endpoint: String,
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<f64>,
    pub keys: PushKeys,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointOnly {
    pub endpoint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Subscribed {
    pub id: String,
}

fn bad_subscription() -> ApiError {
    ApiError::validation(
        "NOTIFY_SUBSCRIPTION_INVALID",
        Msg::new(
            "Langganan push tidak valid (endpoint atau kunci)",
            "Invalid push subscription (endpoint or keys)",
        ),
    )
}

fn endpoint_refused() -> ApiError {
    ApiError::validation(
        "VALIDATION_PUSH_ENDPOINT",
        Msg::new(
            "Endpoint push tidak diizinkan: hanya layanan push peramban yang dikenal (https, alamat publik)",
            "Push endpoint not allowed: only the known browser push services (https, public address)",
        ),
    )
}

fn b64_len(s: &str) -> Option<usize> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
        .map(|b| b.len())
}

/// Subscribe this browser to Web Push for the signed-in person.
#[utoipa::path(post, path = "/push/subscriptions", tag = "subscriptions",
    request_body = PushSubscriptionJson,
    responses(
        (status = 201, description = "Subscribed (again: the same id)", body = inline(Envelope<Subscribed>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 422, description = "NOTIFY_SUBSCRIPTION_INVALID (keys), VALIDATION_PUSH_ENDPOINT (not a known push service's https endpoint, or its host resolves to a loopback, private or link-local address)", body = ErrorEnvelope),
        (status = 503, description = "NOTIFY_PUSH_DISABLED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn add_subscription(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<PushSubscriptionJson>, ApiError>,
) -> ApiResult<Envelope<Subscribed>> {
    if st.vapid_public.is_none() {
        return Err(push_off());
    }
    let ApiJson(sub) = body?;
    let point_ok = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sub.keys.p256dh.trim_end_matches('='))
        .ok()
        .is_some_and(|b| p256::PublicKey::from_sec1_bytes(&b).is_ok() && b.len() == 65);
    if !point_ok || b64_len(&sub.keys.auth) != Some(16) {
        return Err(bad_subscription());
    }
    if let Err(why) = st
        .push_policy
        .check(&sub.endpoint, st.resolver.as_ref())
        .await
    {
        // The endpoint itself is the subscriber's secret: only the reason is logged.
        tracing::warn!(account = %p.subject, reason = %why, "push subscription refused");
        return Err(endpoint_refused());
    }
    let id = st
        .store
        .add_push_target(
            &p.subject,
            "webpush",
            &sub.endpoint,
            Some(&sub.keys.p256dh),
            Some(&sub.keys.auth),
        )
        .await?;
    Ok(Envelope::created(Subscribed { id }))
}

/// Unsubscribe a browser.
#[utoipa::path(delete, path = "/push/subscriptions", tag = "subscriptions",
    request_body = EndpointOnly,
    responses(
        (status = 200, description = "Removed", body = inline(Envelope<serde_json::Value>)),
        (status = 404, description = "NOTIFY_SUBSCRIPTION_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn remove_subscription(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<EndpointOnly>, ApiError>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let ApiJson(b) = body?;
    remove_target(&st, &p.subject, &b.endpoint).await
}

async fn remove_target(
    st: &AppState,
    account: &str,
    endpoint: &str,
) -> ApiResult<Envelope<serde_json::Value>> {
    if !st.store.remove_push_target(account, endpoint).await? {
        return Err(ApiError::not_found(
            "NOTIFY_SUBSCRIPTION_NOT_FOUND",
            Msg::new("Langganan tidak ditemukan", "Subscription not found"),
        ));
    }
    Ok(Envelope::ok(serde_json::json!({ "removed": true })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// FCM registration token of a native app.
    pub token: String,
}

/// Register a native app's FCM token for the signed-in person.
#[utoipa::path(post, path = "/devices", tag = "subscriptions",
    request_body = Device,
    responses(
        (status = 201, description = "Registered", body = inline(Envelope<Subscribed>)),
        (status = 422, description = "NOTIFY_SUBSCRIPTION_INVALID", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn add_device(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<Device>, ApiError>,
) -> ApiResult<Envelope<Subscribed>> {
    let ApiJson(d) = body?;
    let ok = (20..=4096).contains(&d.token.len())
        && d.token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
    if !ok {
        return Err(bad_subscription());
    }
    let id = st
        .store
        .add_push_target(&p.subject, "fcm", &d.token, None, None)
        .await?;
    Ok(Envelope::created(Subscribed { id }))
}

/// Remove a native app's FCM token.
#[utoipa::path(delete, path = "/devices", tag = "subscriptions",
    request_body = Device,
    responses(
        (status = 200, description = "Removed", body = inline(Envelope<serde_json::Value>)),
        (status = 404, description = "NOTIFY_SUBSCRIPTION_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn remove_device(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<Device>, ApiError>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let ApiJson(d) = body?;
    remove_target(&st, &p.subject, &d.token).await
}

/// Quiet hours (local time) and opt-outs. They apply to `normal` and `low` messages only:
/// dispatch alerts, codes and security messages always go out.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PreferencesBody {
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// Offset of the person's local time from UTC (WIB 420, WITA 480, WIT 540).
    #[serde(default = "wib")]
    pub utc_offset_minutes: i64,
    /// Channels not to use for non-urgent messages (`push`, `whatsapp`, `sms`, `email`),
    /// or `all`.
    #[serde(default)]
    pub opt_out: Vec<String>,
}

fn wib() -> i64 {
    420
}

#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, local time.
    pub start: String,
    pub end: String,
}

fn hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

fn hhmm_text(min: i64) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

fn prefs_body(p: Preferences) -> PreferencesBody {
    PreferencesBody {
        quiet_hours: p.quiet.map(|(s, e)| QuietHours {
            start: hhmm_text(s),
            end: hhmm_text(e),
        }),
        utc_offset_minutes: p.utc_offset_min,
        opt_out: p.opt_out,
    }
}

/// The signed-in person's notification preferences.
#[utoipa::path(get, path = "/preferences", tag = "preferences",
    responses((status = 200, description = "Preferences", body = inline(Envelope<PreferencesBody>))),
    security(("bearer" = [])))]
async fn get_preferences(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<PreferencesBody>> {
    Ok(Envelope::ok(prefs_body(
        st.store.preferences(&p.subject).await?,
    )))
}

/// Set quiet hours and opt-outs (replaces them; idempotent).
#[utoipa::path(put, path = "/preferences", tag = "preferences",
    request_body = PreferencesBody,
    responses(
        (status = 200, description = "Saved", body = inline(Envelope<PreferencesBody>)),
        (status = 422, description = "NOTIFY_PREFERENCES_INVALID", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn put_preferences(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<PreferencesBody>, ApiError>,
) -> ApiResult<Envelope<PreferencesBody>> {
    let ApiJson(b) = body?;
    let invalid = || {
        ApiError::validation(
            "NOTIFY_PREFERENCES_INVALID",
            Msg::new(
                "Jam tenang (HH:MM), zona waktu, atau kanal tidak valid",
                "Invalid quiet hours (HH:MM), time zone or channel",
            ),
        )
    };
    let quiet = match &b.quiet_hours {
        None => None,
        Some(q) => Some((
            hhmm(&q.start).ok_or_else(invalid)?,
            hhmm(&q.end).ok_or_else(invalid)?,
        )),
    };
    let channels = ["push", "whatsapp", "sms", "email", "all"];
    if !(-720..=840).contains(&b.utc_offset_minutes)
        || b.opt_out.iter().any(|c| !channels.contains(&c.as_str()))
    {
        return Err(invalid());
    }
    let mut opt_out = b.opt_out.clone();
    opt_out.sort();
    opt_out.dedup();
    let prefs = Preferences {
        quiet,
        utc_offset_min: b.utc_offset_minutes,
        opt_out,
    };
    st.store.set_preferences(&p.subject, &prefs).await?;
    Ok(Envelope::ok(prefs_body(prefs)))
}
