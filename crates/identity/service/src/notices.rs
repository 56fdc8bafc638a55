//! Messages to a person (through the notify contract and the outbox, never a provider
//! directly): one-time links by e-mail and notices to an address.

use kreki_notify_contracts::{
    Channel, MESSAGE_REQUESTED, MessageRequested, Priority, Recipient, Template,
};
use kreki_platform::ApiError;

use crate::{
    http::store_err,
    idp::Idp,
    store::{Account, enqueue_event, random_token},
};

/// A notice (no secret) to one address of an account: e-mail or SMS by its form.
pub async fn notify_address(
    idp: &Idp,
    a: &Account,
    to: &str,
    template: Template,
    purpose: &str,
) -> Result<(), ApiError> {
    let channels: &[Channel] = if to.contains('@') {
        &[Channel::Email]
    } else {
        &[Channel::Sms, Channel::Whatsapp]
    };
    let msg = MessageRequested::new(
        format!("{purpose}:{}", uuid::Uuid::now_v7()),
        Recipient::Address(to.to_string()),
        template,
        Priority::High,
    )
    .var("name", a.full_name.clone())
    .channels(channels)
    .language(lang_of(a));
    publish_message(idp, &msg).await
}

/// A one-time link (verification, reset) by e-mail through the notify contract.
pub async fn send_email_link(
    idp: &Idp,
    a: &Account,
    email: &str,
    purpose: &str,
    template: Template,
    path: &str,
    ttl_s: i64,
) -> Result<(), ApiError> {
    let token = random_token();
    let id = idp
        .store
        .insert_code(purpose, email, Some(&a.id), &token, ttl_s * 1_000_000)
        .await?;
    let link = format!("{}{path}?token={token}", idp.issuer);
    let msg = MessageRequested::new(
        format!("{purpose}:{id}"),
        Recipient::Address(email.to_string()),
        template,
        Priority::High,
    )
    .var("name", a.full_name.clone())
    .var("link", link)
    .channels(&[Channel::Email])
    .language(lang_of(a));
    publish_message(idp, &msg).await
}

pub fn lang_of(a: &Account) -> kreki_notify_contracts::Language {
    if a.language == "en" {
        kreki_notify_contracts::Language::En
    } else {
        kreki_notify_contracts::Language::Id
    }
}

pub async fn publish_message(idp: &Idp, msg: &MessageRequested) -> Result<(), ApiError> {
    let mut tx = idp.store.db.begin().await?;
    enqueue_event(&mut tx, MESSAGE_REQUESTED, msg)
        .await
        .map_err(store_err)?;
    tx.commit().await?;
    Ok(())
}
