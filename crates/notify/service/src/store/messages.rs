//! A message as it went: providers' receipts, the recipient's acknowledgement, one message
//! with its deliveries and history, the search of the log, the backlog.

use super::*;

impl Store {
    /// A provider's receipt (`delivered`, `read`, `failed`) for one of our sends, by the
    /// provider's reference. `None`: no such send. Returns the lane that got work, if any.
    pub async fn receipt(
        &self,
        channel: Channel,
        provider_ref: &str,
        state: &str,
        detail: Option<&str>,
    ) -> Result<Option<Option<Channel>>, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        // Write first: touch the delivery.
        let Some(row) = sqlx::query(
            "UPDATE deliveries SET updated_at = $1 WHERE channel = $2 AND (provider_ref = $3 OR id = $3) \
             RETURNING id, message_id, status",
        )
        .bind(now)
        .bind(enum_text(&channel))
        .bind(provider_ref)
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.rollback().await?;
            return Ok(None);
        };
        let delivery_id: String = row.try_get(0)?;
        let message_id: String = row.try_get(1)?;
        let current: String = row.try_get(2)?;
        let channel_text = enum_text(&channel);
        let mut moved = None;
        match state {
            "delivered" | "read" => {
                // Receipts may arrive twice or out of order: `read` after `delivered` is
                // recorded, nothing goes backwards.
                if current != "read" && !(current == "delivered" && state == "delivered") {
                    sqlx::query("UPDATE deliveries SET status = $1, detail = $2 WHERE id = $3")
                        .bind(state)
                        .bind(detail)
                        .bind(&delivery_id)
                        .execute(&mut *tx)
                        .await?;
                    history(
                        &mut tx,
                        &message_id,
                        now,
                        state,
                        Some(&channel_text),
                        detail,
                    )
                    .await?;
                }
                let changed = sqlx::query(
                    "UPDATE messages SET status = 'delivered', delivered_at = $1, fallback_at = NULL, updated_at = $1 \
                     WHERE id = $2 AND status IN ('sent', 'sending', 'queued')",
                )
                .bind(now)
                .bind(&message_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed > 0
                    && let Some(m) = fetch_message(&mut tx, &message_id).await?
                {
                    blank_secrets(&mut tx, &m.id, m.template, &m.vars).await?;
                    publish_status(
                        &mut tx,
                        &m.id,
                        &m.dedup_key,
                        &m.correlation_id,
                        DeliveryState::Delivered,
                        Some(channel),
                        detail.map(str::to_string),
                        now,
                    )
                    .await?;
                }
            }
            "failed" | "undeliverable" | "expired" | "rejected" => {
                if current != "failed" {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'failed', detail = $1 WHERE id = $2",
                    )
                    .bind(detail.unwrap_or(state))
                    .bind(&delivery_id)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(m) = fetch_message(&mut tx, &message_id).await?
                        && m.reference() == delivery_id
                        && is_status(&mut tx, &m.id, "sent").await?
                    {
                        moved = next_step(
                            &mut tx,
                            &m,
                            now,
                            &format!("receipt: {}", detail.unwrap_or(state)),
                        )
                        .await?;
                    }
                }
            }
            _ => {
                history(
                    &mut tx,
                    &message_id,
                    now,
                    state,
                    Some(&channel_text),
                    detail,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(moved))
    }

    /// The recipient acknowledges a message (the app showed it). `false`: not theirs.
    pub async fn acknowledge(&self, id: &str, account: &str) -> Result<bool, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE messages SET status = 'delivered', delivered_at = $1, fallback_at = NULL, updated_at = $1 \
             WHERE id = $2 AND recipient_kind = 'account' AND recipient = $3 AND status IN ('sent', 'sending', 'queued')",
        )
        .bind(now)
        .bind(id)
        .bind(account)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let Some(m) = fetch_message(&mut tx, id).await? else {
            tx.rollback().await?;
            return Ok(false);
        };
        if m.recipient != Recipient::Account(account.to_string()) {
            tx.rollback().await?;
            return Ok(false);
        }
        if changed > 0 {
            blank_secrets(&mut tx, id, m.template, &m.vars).await?;
            history(
                &mut tx,
                id,
                now,
                "acknowledged",
                Some(&enum_text(&m.channel)),
                None,
            )
            .await?;
            publish_status(
                &mut tx,
                id,
                &m.dedup_key,
                &m.correlation_id,
                DeliveryState::Delivered,
                Some(m.channel),
                Some("acknowledged by the recipient".into()),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get(&self, id: &str) -> Result<Option<MessageView>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT id, dedup_key, template, priority, status, attempts, correlation_id, created_at, channel, plan, \
             recipient_kind, recipient FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let history = sqlx::query(
            "SELECT at, status, channel, detail FROM message_events WHERE message_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| {
            Ok(HistoryEntry {
                at: rfc3339(r.try_get(0)?),
                status: r.try_get(1)?,
                channel: r.try_get(2)?,
                detail: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let deliveries = sqlx::query(
            "SELECT channel, step, attempts, status, provider_ref, started_at, sent_at, detail FROM deliveries \
             WHERE message_id = $1 ORDER BY step",
        )
        .bind(id)
        .fetch_all(self.db.pool())
        .await?
        .into_iter()
        .map(|r| {
            Ok(DeliveryView {
                channel: r.try_get(0)?,
                step: r.try_get(1)?,
                attempts: r.try_get(2)?,
                status: r.try_get(3)?,
                provider_ref: r.try_get(4)?,
                started_at: rfc3339(r.try_get(5)?),
                sent_at: r.try_get::<Option<i64>, _>(6)?.map(rfc3339),
                detail: r.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        view(&row, history, deliveries).map(Some)
    }

    /// Operators' search (newest first) and the total number of matches.
    pub async fn search(&self, s: &Search) -> Result<(Vec<MessageView>, i64), sqlx::Error> {
        let mut cond = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        if let Some(r) = &s.recipient_id {
            binds.push(r.clone());
            cond.push(format!(
                "(recipient_kind = 'account' AND recipient = ${})",
                binds.len()
            ));
        }
        if let Some(a) = &s.address {
            binds.push(a.clone());
            cond.push(format!(
                "(recipient_kind = 'address' AND recipient = ${})",
                binds.len()
            ));
        }
        if let Some(c) = &s.correlation_id {
            binds.push(c.clone());
            cond.push(format!("correlation_id = ${}", binds.len()));
        }
        if let Some(st) = &s.status {
            binds.push(st.clone());
            cond.push(format!("status = ${}", binds.len()));
        }
        let filter = if cond.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", cond.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM messages{filter}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = count.bind(b.clone());
        }
        let total = count.fetch_one(self.db.pool()).await?;
        let sql = format!(
            "SELECT id FROM messages{filter} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
            s.limit,
            (s.page - 1).max(0) * s.limit
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for b in &binds {
            q = q.bind(b.clone());
        }
        let ids = q.fetch_all(self.db.pool()).await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(v) = self.get(&id).await? {
                out.push(v);
            }
        }
        Ok((out, total))
    }

    /// Messages waiting to be sent.
    pub async fn backlog(&self) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')")
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)
    }
}
