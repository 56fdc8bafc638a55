//! The SMS fallback's use-case: a `DARURAT` SMS (its signature checked by the webhook) is
//! kept, deduplicated, and becomes a critical case through the case intake
//! (`cases::intake`), or a help reply with the format when it cannot be read.

use kreki_emergency_contracts::Severity;
use kreki_notify_contracts::{MESSAGE_REQUESTED, MessageRequested, Priority, Template};
use kreki_platform::{
    bus::{Event, outbox},
    time_util::now_micros,
    types::PhoneE164,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    actor::token_hash,
    cases::{Cases, intake::new_case},
    errors::SmsIntakeError,
    geo::LatLng,
    sms::store::{self as sms_store, Seen},
    store::{Store, timeline_add},
};

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
pub async fn sms(st: &Cases, msg: SmsInbound) -> Result<SmsResult, SmsIntakeError> {
    let from = PhoneE164::parse(&msg.from).map_err(|_| SmsIntakeError::SenderInvalid)?;
    if msg.message_id.is_empty() || msg.message_id.len() > 128 || msg.text.len() > 2_000 {
        return Err(SmsIntakeError::MessageInvalid);
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
    let parsed = super::parse(&msg.text)
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
            let event = Event::new("emergency", MESSAGE_REQUESTED, &help)
                .map_err(|e| SmsIntakeError::Internal(e.into()))?;
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
