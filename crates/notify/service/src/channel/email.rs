//! E-mail over SMTP (lettre), with attachments (certificate PDFs). SMTP has no idempotency:
//! every message carries `Message-ID: <reference@notify.kreki>`, the same on every retry,
//! so that a copy re-sent after a crash can be recognised.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use kreki_notify_contracts::Channel as ChannelKind;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart, SinglePart, header::ContentType},
    transport::smtp::authentication::Credentials,
};

use super::{Address, Channel, Outgoing, SendError, Sent};

pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailChannel {
    pub fn new(
        smtp_url: &str,
        username: Option<&str>,
        password: Option<&str>,
        from: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| anyhow::anyhow!("notify.email.smtp_url: {e}"))?
            .timeout(Some(timeout));
        if let (Some(u), Some(p)) = (username, password) {
            builder = builder.credentials(Credentials::new(u.to_string(), p.to_string()));
        }
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| anyhow::anyhow!("notify.email.from: {e}"))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// The MIME message for `m` (text, plus attachments as `multipart/mixed`).
    pub fn message(&self, m: &Outgoing) -> Result<Message, SendError> {
        let Address::Text(to) = &m.to else {
            return Err(SendError::Permanent("not an e-mail address".into()));
        };
        let to = to
            .parse::<Mailbox>()
            .map_err(|_| SendError::Permanent("invalid e-mail address".into()))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.title.clone())
            .message_id(Some(format!("<{}@notify.kreki>", m.reference)));
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone());
        let built = if m.attachments.is_empty() {
            builder.singlepart(text)
        } else {
            let mut mixed = MultiPart::mixed().singlepart(text);
            for a in &m.attachments {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&a.content_base64)
                    .map_err(|_| SendError::Permanent("attachment is not base64".into()))?;
                let ct = ContentType::parse(&a.content_type)
                    .map_err(|_| SendError::Permanent("attachment content type invalid".into()))?;
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(a.filename.clone()).body(bytes, ct),
                );
            }
            builder.multipart(mixed)
        };
        built.map_err(|e| SendError::Permanent(format!("cannot build the e-mail: {e}")))
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        let msg = self.message(m)?;
        match self.transport.send(msg).await {
            Ok(resp) => Ok(Sent {
                provider_ref: resp.first_line().map(super::short),
                delivered: false,
            }),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
        }
    }
}
