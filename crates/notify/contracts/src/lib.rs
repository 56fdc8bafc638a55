//! Contract of the notification service: the `notify.message.requested` event (and the
//! body of `POST /api/notify/v1/messages`), the `notify.message.status` event, templates.
//! No I/O here: any service may depend on this crate.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Subject of a message request.
pub const MESSAGE_REQUESTED: &str = "notify.message.requested";
/// Subject of a delivery status change.
pub const MESSAGE_STATUS: &str = "notify.message.status";

/// Priority: `critical` overtakes everything (dispatch offers) and ignores quiet hours.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Critical,
    High,
    Normal,
    Low,
}

impl Priority {
    /// 0 = most urgent.
    pub fn rank(self) -> i64 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }

    /// Inverse of [`Priority::rank`] (unknown ranks are `normal`).
    pub fn from_rank(rank: i64) -> Priority {
        match rank {
            0 => Priority::Critical,
            1 => Priority::High,
            3 => Priority::Low,
            _ => Priority::Normal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Push,
    Whatsapp,
    Sms,
    Email,
    Console,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Id,
    En,
}

/// Templates known to the notification service. A request naming another template, or
/// missing one of its variables, is rejected when it is made, not when it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// A volunteer checks that dispatch alerts reach their device.
    TestAlert,
    DispatchOffer,
    OfferWithdrawn,
    CaseUpdate,
    EscalationNotice,
    OtpCode,
    EmailVerification,
    PasswordReset,
    CertificateIssued,
    RecertificationReminder,
    WellbeingCheckin,
    SmsHelpReply,
    /// Someone tried to register (or move a profile to) an address that already has an
    /// account: its owner is told instead of the one who asked (no account enumeration).
    AccountExists,
    /// The e-mail or phone of an account is being changed: the old address is told.
    ContactChange,
}

impl Template {
    pub const ALL: &'static [Template] = &[
        Template::TestAlert,
        Template::DispatchOffer,
        Template::OfferWithdrawn,
        Template::CaseUpdate,
        Template::EscalationNotice,
        Template::OtpCode,
        Template::EmailVerification,
        Template::PasswordReset,
        Template::CertificateIssued,
        Template::RecertificationReminder,
        Template::WellbeingCheckin,
        Template::SmsHelpReply,
        Template::AccountExists,
        Template::ContactChange,
    ];

    /// Variables the template needs.
    pub fn required_vars(self) -> &'static [&'static str] {
        match self {
            Template::TestAlert => &[],
            Template::DispatchOffer => &["case_type", "distance_m", "link"],
            Template::OfferWithdrawn => &["case_type"],
            Template::CaseUpdate => &["status_text"],
            Template::EscalationNotice => &["case_id", "severity"],
            Template::OtpCode => &["code", "minutes"],
            Template::EmailVerification => &["name", "link"],
            Template::PasswordReset => &["name", "link"],
            Template::CertificateIssued => &["name", "certificate_id", "link"],
            Template::RecertificationReminder => &["name", "certificate_id", "expires_on"],
            Template::WellbeingCheckin => &["name"],
            Template::SmsHelpReply => &[],
            Template::AccountExists | Template::ContactChange => &["name"],
        }
    }
}

impl Template {
    /// Variables that are secrets (one-time codes, links that carry a token): the
    /// notification service blanks them once the message is done with and never prints
    /// them on its console unless told to.
    pub fn secret_vars(self) -> &'static [&'static str] {
        match self {
            Template::OtpCode => &["code"],
            Template::EmailVerification | Template::PasswordReset => &["link"],
            _ => &[],
        }
    }
}

/// Who receives a message: a KREKI ID account (addresses from its profile) or a raw address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// KREKI ID subject.
    Account(String),
    /// A phone number (E.164), e-mail address or push endpoint id.
    Address(String),
}

/// `notify.message.requested` and the body of `POST /api/notify/v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequested {
    /// Message id (UUID v7), chosen by the requester.
    pub id: String,
    /// The same key is sent once (e.g. the offer id).
    pub dedup_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub template: Template,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    pub priority: Priority,
    /// Channels in order of preference; empty: the service chooses by priority.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// RFC 3339; after it the message is not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Case id, certificate id, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Files sent with e-mail (e.g. a certificate PDF); other channels ignore them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file attached to an e-mail. At most [`MAX_ATTACHMENT_BYTES`] in all (decoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File name shown to the recipient (`BHD-BASIC-2026-0001.pdf`).
    pub filename: String,
    /// MIME type (`application/pdf`).
    pub content_type: String,
    /// The file, standard base64.
    pub content_base64: String,
}

/// Upper limit of all attachments of one message together (decoded bytes).
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;

impl MessageRequested {
    /// A request with a new message id, to an account (its directory entry) or a raw address.
    pub fn new(
        dedup_key: impl Into<String>,
        to: Recipient,
        template: Template,
        priority: Priority,
    ) -> Self {
        let (recipient_id, address) = match to {
            Recipient::Account(a) => (Some(a), None),
            Recipient::Address(a) => (None, Some(a)),
        };
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            dedup_key: dedup_key.into(),
            recipient_id,
            address,
            template,
            vars: serde_json::Map::new(),
            language: None,
            priority,
            channels: Vec::new(),
            expires_at: None,
            correlation_id: None,
            attachments: Vec::new(),
        }
    }

    pub fn var(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.vars.insert(name.to_string(), value.into());
        self
    }

    pub fn channels(mut self, channels: &[Channel]) -> Self {
        self.channels = channels.to_vec();
        self
    }

    pub fn language(mut self, language: Language) -> Self {
        self.language = Some(language);
        self
    }

    /// The recipient, if exactly one of `recipient_id` / `address` is given.
    pub fn recipient(&self) -> Option<Recipient> {
        match (&self.recipient_id, &self.address) {
            (Some(id), None) if !id.is_empty() => Some(Recipient::Account(id.clone())),
            (None, Some(a)) if !a.is_empty() => Some(Recipient::Address(a.clone())),
            _ => None,
        }
    }

    /// Names of required variables that are missing.
    pub fn missing_vars(&self) -> Vec<&'static str> {
        self.template
            .required_vars()
            .iter()
            .copied()
            .filter(|v| !self.vars.contains_key(*v))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sent,
    Delivered,
    Failed,
    Expired,
    Duplicate,
    /// Not sent: the recipient opted out of non-urgent messages.
    Suppressed,
}

/// `notify.message.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageStatus {
    pub id: String,
    pub dedup_key: String,
    pub status: DeliveryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// RFC 3339.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape() {
        let m: MessageRequested = serde_json::from_value(serde_json::json!({
            "id": "01", "dedup_key": "offer-1", "recipient_id": "u1", "template": "dispatch_offer",
            "vars": {"case_type": "cardiac_arrest", "distance_m": 420, "link": "x"},
            "priority": "critical", "expires_at": "2026-01-01T00:00:00Z", "correlation_id": "c1"
        }))
        .expect("parse");
        assert_eq!(m.recipient(), Some(Recipient::Account("u1".into())));
        assert!(m.missing_vars().is_empty());
        let bad = serde_json::from_value::<MessageRequested>(serde_json::json!({
            "id": "01", "dedup_key": "k", "template": "test_alert", "priority": "low", "extra": 1
        }));
        assert!(bad.is_err());
    }
}
