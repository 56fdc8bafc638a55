//! Intake: a new case, from the panic button (`POST /panic`) or the SMS fallback
//! (`POST /sms/inbound`). Both check their input, keep floods out without ever blocking a
//! caller's first panic, build the case record, commit it durably and start its dispatch.

use std::{net::IpAddr, time::Duration};

use base64::Engine;
use kreki_emergency_contracts::{EmergencyType, Severity};
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::Principal,
    bus::{Event, outbox},
    storage::{idempotency, ratelimit::RateLimiter},
    time_util::{now_micros, rfc3339},
    types::PhoneE164,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    actor::token_hash,
    domain::handshake_code,
    errors::{caller_phone_invalid, coord_error, panic_rate_limited},
    geo::LatLng,
    sms::store::{self as sms_store, Seen},
    state::AppState,
    store::{Created, NewCase, Store, timeline_add},
};

/// `POST /panic` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PanicRequest {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<u32>,
    pub severity: Severity,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Required when not signed in: the callback number (E.164; Indonesian forms accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_phone: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PanicCreated {
    pub id: String,
    pub status: String,
    /// Case-scoped bearer token of an anonymous caller (read, cancel, socket). Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_token: Option<String>,
    /// Shown to the caller; given to a responder only after they accept.
    pub handshake_code: String,
    pub created_at: String,
    /// True when the signed-in caller already had an open case: it is returned instead.
    #[serde(default)]
    pub existing: bool,
}

/// A panic as the handler received it.
pub struct Panic {
    pub principal: Option<Principal>,
    pub ip: IpAddr,
    /// The `Idempotency-Key` header as sent (an unreadable one as the empty string).
    pub idempotency_key: Option<String>,
    pub request: PanicRequest,
}

/// What a panic led to.
pub enum PanicOutcome {
    /// A new case, durably stored (201).
    Created(PanicCreated),
    /// The signed-in caller's open case (200, `existing`).
    Existing(PanicCreated),
    /// The stored answer of a retried key.
    Replay { status: u16, response: String },
}

/// The record of a new case with what every case gets: its handshake code and the number of
/// accepts it waits for.
#[allow(clippy::too_many_arguments)]
fn new_case(
    st: &AppState,
    id: &str,
    severity: Severity,
    kind: EmergencyType,
    location: LatLng,
    accuracy_m: Option<u32>,
    description: Option<String>,
    caller_account: Option<String>,
    caller_phone: Option<String>,
    caller_token_hash: String,
    source: &'static str,
) -> NewCase {
    NewCase {
        id: id.to_string(),
        severity,
        kind,
        location,
        accuracy_m,
        description,
        caller_account,
        caller_phone,
        caller_token_hash,
        handshake_code: handshake_code(),
        accepts_wanted: st.config.accepts_wanted,
        source,
    }
}

/// Press the panic button.
pub async fn panic(st: &AppState, p: Panic) -> ApiResult<PanicOutcome> {
    let Panic {
        principal,
        ip,
        idempotency_key,
        request: req,
    } = p;
    let location = LatLng::new(req.latitude, req.longitude)
        .and_then(|p| st.config.service_area.check(p))
        .map_err(coord_error)?;
    if req.accuracy_m.is_some_and(|a| a > 100_000) {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("accuracy_m terlalu besar", "accuracy_m is too large"),
        ));
    }
    let description = req
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1_000)
    {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new(
                "Keterangan maksimal 1000 karakter",
                "Description is at most 1000 characters",
            ),
        ));
    }
    let phone = match &req.caller_phone {
        Some(p) => Some(PhoneE164::parse(p).map_err(|_| caller_phone_invalid())?),
        None => None,
    };
    if principal.is_none() && phone.is_none() {
        return Err(ApiError::validation(
            "EMERGENCY_CALLER_PHONE_REQUIRED",
            Msg::new(
                "Nomor telepon diperlukan agar relawan dapat menghubungi Anda",
                "A phone number is needed so responders can call you back",
            ),
        ));
    }
    let idem = match idempotency_key {
        None => None,
        Some(key) => {
            if !idempotency::valid_key(&key) {
                return Err(ApiError::bad_request(
                    "IDEMPOTENCY_KEY_INVALID",
                    Msg::new("Idempotency-Key tidak valid", "Invalid Idempotency-Key"),
                ));
            }
            // The key is per caller: two people cannot collide on a key.
            let scope = principal
                .as_ref()
                .map(|p| p.subject.clone())
                .or_else(|| phone.as_ref().map(|p| p.as_str().to_string()))
                .unwrap_or_default();
            Some((
                format!("{scope}:{key}"),
                idempotency::request_hash(&serde_json::to_vec(&req).unwrap_or_default()),
            ))
        }
    };
    let account = principal.as_ref().map(|p| p.subject.clone());
    let phone_text = phone.as_ref().map(|p| p.as_str().to_string());
    // A retry is answered before anything else (limits included).
    if let Some((key, hash)) = &idem
        && let Some(earlier) = st.store.replay(key, hash).await?
    {
        return replayed(earlier);
    }

    // A signed-in caller with an open case gets that case back.
    if account.is_some()
        && let Some(open) = st.store.open_case_of(account.as_deref(), None).await?
    {
        return Ok(PanicOutcome::Existing(PanicCreated {
            id: open.id,
            status: open.status.as_str().into(),
            caller_token: None,
            handshake_code: open.handshake_code,
            created_at: open.created_at,
            existing: true,
        }));
    }
    check_limits(st, ip, account.as_deref(), phone_text.as_deref()).await?;

    let id = uuid::Uuid::now_v7().to_string();
    let token = (principal.is_none()).then(|| {
        let bytes: [u8; 32] = rand::random();
        format!(
            "ct_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    });
    let new = new_case(
        st,
        &id,
        req.severity,
        req.kind,
        location,
        req.accuracy_m,
        description,
        account,
        phone_text,
        token.as_deref().map(token_hash).unwrap_or_default(),
        "app",
    );
    let created = PanicCreated {
        id: id.clone(),
        status: "pending".into(),
        caller_token: token,
        handshake_code: new.handshake_code.clone(),
        created_at: rfc3339(now_micros()),
        existing: false,
    };
    let outcome = {
        let body = Envelope::created(&created);
        st.store
            .create(
                &new,
                idem.as_ref().map(|(k, h)| (k.as_str(), h.as_str())),
                || (201, serde_json::to_string(&body).unwrap_or_default()),
            )
            .await?
    };
    match outcome {
        Created::New => {
            tracing::info!(case_id = %id, "panic received");
            st.dispatcher.start(id);
            Ok(PanicOutcome::Created(created))
        }
        other => replayed(other),
    }
}

fn replayed(outcome: Created) -> ApiResult<PanicOutcome> {
    match outcome {
        Created::Replay { status, response } => Ok(PanicOutcome::Replay { status, response }),
        Created::New | Created::KeyReuse => Err(ApiError::conflict(
            "IDEMPOTENCY_KEY_REUSED",
            Msg::new(
                "Idempotency-Key dipakai untuk permintaan lain",
                "The Idempotency-Key was used for another request",
            ),
        )),
    }
}

/// One address: a ceiling per second, high enough for a carrier's NAT on an earthquake day
/// (the general per-IP request limit does not apply to panics); limits per caller never
/// block a caller's first panic.
async fn check_limits(
    st: &AppState,
    ip: IpAddr,
    account: Option<&str>,
    phone: Option<&str>,
) -> ApiResult<()> {
    let d = st
        .panic_ceiling
        .hit(
            &format!("panic:addr:{ip}"),
            st.config.panics_per_address_per_second,
            Duration::from_secs(1),
        )
        .await?;
    if !d.allowed {
        return Err(panic_rate_limited(d.reset_after_s));
    }
    let recent = st
        .store
        .count_by_caller_since(account, phone, now_micros() - 3_600_000_000)
        .await?;
    if recent > 0 {
        let who = account.or(phone).unwrap_or_default();
        let d = st
            .limiter
            .hit(
                &format!("panic:caller:{who}"),
                5,
                Duration::from_secs(3_600),
            )
            .await?;
        if !d.allowed {
            return Err(panic_rate_limited(d.reset_after_s));
        }
    }
    Ok(())
}

// `POST /sms/inbound` body (no doc comment: it would change the OpenAPI schema).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsInbound {
    /// Sender's number (the callback number).
    pub from: String,
    pub text: String,
    /// The gateway's message id (carrier retries repeat it).
    pub message_id: String,
    /// RFC 3339.
    pub received_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsResult {
    /// `created`, `duplicate` or `unparsed` (a help reply was sent; kept for an operator).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

/// A `DARURAT` SMS (its signature already checked): kept, deduplicated (carrier retries by
/// message id, repeats by sender and text), then a critical case, or a help reply with the
/// format when it cannot be read.
pub async fn sms(st: &AppState, msg: SmsInbound) -> ApiResult<SmsResult> {
    let from = PhoneE164::parse(&msg.from).map_err(|_| {
        ApiError::validation(
            "EMERGENCY_CALLER_PHONE_INVALID",
            Msg::new("Nomor pengirim tidak valid", "Invalid sender number"),
        )
    })?;
    if msg.message_id.is_empty() || msg.message_id.len() > 128 || msg.text.len() > 2_000 {
        return Err(ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Pesan SMS tidak valid", "Invalid SMS message"),
        ));
    }
    let normalized = msg
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    let text_hash = token_hash(&normalized);
    let now = now_micros();
    let mut tx = st.store.db().begin().await?;
    let window = now - i64::from(st.config.sms_duplicate_window_s) * 1_000_000;
    let seen = sms_store::receive(
        &mut tx,
        &msg.message_id,
        from.as_str(),
        &text_hash,
        &msg.text,
        now,
        window,
    )
    .await?;
    match seen {
        Seen::Retry { case_id } => {
            tx.rollback().await?;
            return Ok(SmsResult {
                status: "duplicate".into(),
                case_id,
            });
        }
        Seen::Repeat { case_id } => {
            sms_store::mark(&mut tx, &msg.message_id, "duplicate", Some(&case_id), None).await?;
            tx.commit().await?;
            return Ok(SmsResult {
                status: "duplicate".into(),
                case_id: Some(case_id),
            });
        }
        Seen::New => {}
    }
    let parsed = crate::sms::parse(&msg.text)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            LatLng::new(p.latitude, p.longitude)
                .and_then(|l| st.config.service_area.check(l))
                .map(|l| (p, l))
                .map_err(|e| e.to_string())
        });
    match parsed {
        Err(reason) => {
            sms_store::mark(&mut tx, &msg.message_id, "unparsed", None, Some(&reason)).await?;
            let help = MessageRequested {
                id: uuid::Uuid::now_v7().to_string(),
                dedup_key: format!("sms-help:{}", msg.message_id),
                recipient_id: None,
                address: Some(from.as_str().to_string()),
                template: Template::SmsHelpReply,
                vars: serde_json::Map::new(),
                language: None,
                priority: Priority::High,
                channels: vec![kreki_notify_contracts::Channel::Sms],
                expires_at: None,
                correlation_id: None,
                attachments: Vec::new(),
            };
            let event =
                Event::new("emergency", MESSAGE_REQUESTED, &help).map_err(ApiError::internal)?;
            outbox::enqueue(&mut tx, &event).await?;
            tx.commit().await?;
            tracing::info!(sender = %from.masked(), "unreadable DARURAT SMS; help reply sent");
            Ok(SmsResult {
                status: "unparsed".into(),
                case_id: None,
            })
        }
        Ok((p, location)) => {
            let id = uuid::Uuid::now_v7().to_string();
            let new = new_case(
                st,
                &id,
                // Someone who texts DARURAT cannot say how bad it is: treat it as critical.
                Severity::Critical,
                p.kind,
                location,
                None,
                p.description.clone(),
                None,
                Some(from.as_str().to_string()),
                String::new(),
                "sms",
            );
            Store::insert_case(&mut tx, &new).await?;
            timeline_add(
                &mut tx,
                &id,
                "sms_received",
                None,
                &serde_json::json!({ "member": p.member, "message_id": msg.message_id }),
            )
            .await?;
            sms_store::mark(&mut tx, &msg.message_id, "created", Some(&id), None).await?;
            tx.commit().await?;
            st.dispatcher.start(id.clone());
            Ok(SmsResult {
                status: "created".into(),
                case_id: Some(id),
            })
        }
    }
}
