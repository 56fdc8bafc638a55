//! One outcome inside the caller's transaction: the next step of the plan, the final state,
//! the status event, blanking a template's secrets, the history.

use super::*;

/// One outcome, inside the caller's transaction.
pub(super) async fn record_in(
    tx: &mut Tx,
    m: &Queued,
    outcome: &Outcome,
    fallback_after_us: i64,
    secrets_kept_us: i64,
) -> Result<Option<Channel>, sqlx::Error> {
    let now = now_micros();
    let channel_text = enum_text(&m.channel);
    let mut moved = None;
    match outcome {
        Outcome::Sent {
            provider_ref,
            delivered,
        } => {
            let state = if *delivered { "delivered" } else { "sent" };
            let fallback = (m.priority == Priority::Critical && !delivered && m.has_next())
                .then_some(now + fallback_after_us);
            sqlx::query(
                    "UPDATE messages SET status = $1, fallback_at = $2, delivered_at = $3, updated_at = $4, last_error = NULL \
                     WHERE id = $5 AND status = 'sending'",
                )
                .bind(state)
                .bind(fallback)
                .bind(delivered.then_some(now))
                .bind(now)
                .bind(&m.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                    "UPDATE deliveries SET status = $1, provider_ref = $2, sent_at = $3, updated_at = $3 WHERE id = $4",
                )
                .bind(state)
                .bind(provider_ref)
                .bind(now)
                .bind(m.reference())
                .execute(&mut *tx)
                .await?;
            history(
                &mut *tx,
                &m.id,
                now,
                state,
                Some(&channel_text),
                provider_ref.as_deref(),
            )
            .await?;
            if !m.template.secret_vars().is_empty() {
                // A failed receipt moves an SMS or WhatsApp message on to its next channel,
                // and a critical one moves on without a receipt: they keep their secrets a
                // while. Everything else is done with them.
                let may_move_on = fallback.is_some()
                    || (!delivered
                        && m.has_next()
                        && matches!(m.channel, Channel::Sms | Channel::Whatsapp));
                if may_move_on {
                    sqlx::query("UPDATE messages SET secrets_until = $1 WHERE id = $2")
                        .bind(now + secrets_kept_us.max(fallback_after_us))
                        .bind(&m.id)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    blank_secrets(&mut *tx, &m.id, m.template, &m.vars).await?;
                }
            }
            let s = if *delivered {
                DeliveryState::Delivered
            } else {
                DeliveryState::Sent
            };
            publish_status(
                &mut *tx,
                &m.id,
                &m.dedup_key,
                &m.correlation_id,
                s,
                Some(m.channel),
                None,
                now,
            )
            .await?;
        }
        Outcome::Retry { at, detail } => {
            sqlx::query(
                    "UPDATE messages SET status = 'queued', next_attempt_at = $1, updated_at = $2, last_error = $3 WHERE id = $4",
                )
                .bind(at)
                .bind(now)
                .bind(detail)
                .bind(&m.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE deliveries SET status = 'retry', detail = $1, updated_at = $2 WHERE id = $3")
                    .bind(detail)
                    .bind(now)
                    .bind(m.reference())
                    .execute(&mut *tx)
                    .await?;
            history(
                &mut *tx,
                &m.id,
                now,
                "retry",
                Some(&channel_text),
                Some(detail),
            )
            .await?;
        }
        Outcome::Failed { detail } => {
            sqlx::query("UPDATE deliveries SET status = 'failed', detail = $1, updated_at = $2 WHERE id = $3")
                    .bind(detail)
                    .bind(now)
                    .bind(m.reference())
                    .execute(&mut *tx)
                    .await?;
            moved = next_step(&mut *tx, m, now, detail).await?;
        }
        Outcome::Expired => {
            finish(
                &mut *tx,
                m,
                now,
                "expired",
                DeliveryState::Expired,
                "expired before sending",
            )
            .await?;
        }
    }
    Ok(moved)
}

pub(super) async fn is_status(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
) -> Result<bool, sqlx::Error> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(s.as_deref() == Some(status))
}

pub(super) async fn fetch_message(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Queued>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(queued)
    .transpose()
}

/// Move a message to the next channel of its plan, or end it as failed.
pub(super) async fn next_step(
    conn: &mut Tx,
    m: &Queued,
    now: i64,
    detail: &str,
) -> Result<Option<Channel>, sqlx::Error> {
    if secrets_blanked(m.template, &m.vars) {
        let why = format!("{detail}; not sent again: its secret variables were erased");
        finish(conn, m, now, "failed", DeliveryState::Failed, &why).await?;
        return Ok(None);
    }
    let next = usize::try_from(m.step + 1)
        .ok()
        .and_then(|s| m.plan.get(s))
        .copied();
    match next {
        Some(c) => {
            sqlx::query(
                "UPDATE messages SET status = 'queued', step = step + 1, channel = $1, step_attempts = 0, \
                 next_attempt_at = $2, fallback_at = NULL, updated_at = $2, last_error = $3 WHERE id = $4",
            )
            .bind(enum_text(&c))
            .bind(now)
            .bind(detail)
            .bind(&m.id)
            .execute(&mut *conn)
            .await?;
            history(
                conn,
                &m.id,
                now,
                "fallback",
                Some(&enum_text(&c)),
                Some(detail),
            )
            .await?;
            Ok(Some(c))
        }
        None => {
            finish(conn, m, now, "failed", DeliveryState::Failed, detail).await?;
            Ok(None)
        }
    }
}

pub(super) async fn finish(
    conn: &mut Tx,
    m: &Queued,
    now: i64,
    status: &str,
    state: DeliveryState,
    detail: &str,
) -> Result<(), sqlx::Error> {
    blank_secrets(conn, &m.id, m.template, &m.vars).await?;
    sqlx::query("UPDATE messages SET status = $1, fallback_at = NULL, updated_at = $2, last_error = $3 WHERE id = $4")
        .bind(status)
        .bind(now)
        .bind(detail)
        .bind(&m.id)
        .execute(&mut *conn)
        .await?;
    history(
        conn,
        &m.id,
        now,
        status,
        Some(&enum_text(&m.channel)),
        Some(detail),
    )
    .await?;
    publish_status(
        conn,
        &m.id,
        &m.dedup_key,
        &m.correlation_id,
        state,
        Some(m.channel),
        Some(detail.to_string()),
        now,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn publish_status(
    conn: &mut Tx,
    id: &str,
    dedup_key: &str,
    correlation_id: &Option<String>,
    status: DeliveryState,
    channel: Option<Channel>,
    detail: Option<String>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let ev = MessageStatus {
        id: id.to_string(),
        dedup_key: dedup_key.to_string(),
        status,
        channel,
        at: rfc3339(now),
        detail,
        correlation_id: correlation_id.clone(),
    };
    let mut event = Event::new(SOURCE, kreki_notify_contracts::MESSAGE_STATUS, &ev)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    if let Some(c) = correlation_id {
        event = event.correlated(c.clone());
    }
    outbox::enqueue(conn, &event).await
}

/// The variables with the template's secrets blanked (`""`); `None`: nothing to blank.
pub fn blanked(
    template: Template,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let blank = serde_json::Value::String(String::new());
    let secret = template.secret_vars();
    if !secret
        .iter()
        .any(|k| vars.get(*k).is_some_and(|v| *v != blank))
    {
        return None;
    }
    let mut out = vars.clone();
    for k in secret {
        if let Some(v) = out.get_mut(*k) {
            *v = blank.clone();
        }
    }
    Some(out)
}

/// Were this message's secrets blanked already?
pub(super) fn secrets_blanked(
    template: Template,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    template
        .secret_vars()
        .iter()
        .any(|k| vars.get(*k).and_then(|v| v.as_str()) == Some(""))
}

/// Blank a message's secret variables (codes, links with a token) in the database.
pub(super) async fn blank_secrets(
    conn: &mut AnyConnection,
    id: &str,
    template: Template,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), sqlx::Error> {
    if let Some(vars) = blanked(template, vars) {
        sqlx::query("UPDATE messages SET vars = $1, secrets_until = NULL WHERE id = $2")
            .bind(json_text(&vars))
            .bind(id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn history(
    conn: &mut AnyConnection,
    id: &str,
    at: i64,
    status: &str,
    channel: Option<&str>,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO message_events (message_id, at, status, channel, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(at)
        .bind(status)
        .bind(channel)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// An account's push targets, oldest first.
pub(super) async fn push_targets<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    account: &str,
) -> Result<Vec<PushTarget>, sqlx::Error> {
    sqlx::query(
        "SELECT id, kind, endpoint, p256dh, auth FROM push_subscriptions WHERE account_id = $1 ORDER BY created_at",
    )
    .bind(account)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        Ok(PushTarget {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            endpoint: r.try_get(2)?,
            p256dh: r.try_get(3)?,
            auth: r.try_get(4)?,
        })
    })
    .collect()
}
