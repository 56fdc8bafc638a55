//! The durable priority queue: adding a request with its plan, claims by lane with a lease,
//! recorded outcomes, expired leases, due fallbacks, kept secrets blanked.

use kreki_platform::storage::lease::Claim;

use super::*;

impl Store {
    /// Add a request to the queue inside the caller's transaction (idempotent by dedup key
    /// and id). It is written first (SQLite: a transaction that starts with its write never
    /// fails to upgrade) and invisible to the sender until [`Store::apply_plan`] in the same
    /// transaction. `expires_at` must be validated.
    pub async fn insert(
        conn: &mut AnyConnection,
        req: &MessageRequested,
        expires_at: Option<i64>,
    ) -> Result<Enqueued, sqlx::Error> {
        let (kind, to) = match req.recipient() {
            Some(Recipient::Account(a)) => ("account", a),
            // Phones in E.164 (as the directory and the search have them).
            Some(Recipient::Address(a)) => (
                "address",
                if a.contains('@') {
                    a
                } else {
                    kreki_platform::types::PhoneE164::parse(&a)
                        .map(|p| p.as_str().to_string())
                        .unwrap_or(a)
                },
            ),
            None => {
                return Err(sqlx::Error::Protocol(
                    "message without exactly one recipient".into(),
                ));
            }
        };
        let now = now_micros();
        let inserted = sqlx::query(
            "INSERT INTO messages (id, dedup_key, recipient_kind, recipient, template, vars, language, priority, \
             channels, status, correlation_id, expires_at, attempts, next_attempt_at, created_at, updated_at, \
             plan, step, channel, step_attempts, attachments) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, 'planning', $9, $10, 0, $11, $11, $11, '[]', 0, 'console', 0, $12) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&req.id)
        .bind(&req.dedup_key)
        .bind(kind)
        .bind(&to)
        .bind(enum_text(&req.template))
        .bind(json_text(&req.vars))
        .bind(req.priority.rank())
        .bind(json_text(&req.channels))
        .bind(&req.correlation_id)
        .bind(expires_at)
        .bind(now)
        .bind(json_text(&req.attachments))
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            let existing: String =
                sqlx::query("SELECT id FROM messages WHERE dedup_key = $1 OR id = $2")
                    .bind(&req.dedup_key)
                    .bind(&req.id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
            return Ok(Enqueued::Duplicate {
                existing_id: existing,
            });
        }
        Ok(Enqueued::New)
    }

    /// Give a just inserted message its channel plan: queued on its first channel, or
    /// ended (nothing reaches the recipient, or opted out) with its status event.
    pub async fn apply_plan(
        conn: &mut Tx,
        req: &MessageRequested,
        plan: &Plan,
    ) -> Result<(), sqlx::Error> {
        let now = now_micros();
        let first = plan.channels.first().copied().unwrap_or(Channel::Console);
        let (status, final_detail) = match (&plan.suppressed, plan.channels.is_empty()) {
            (Some(why), _) => ("suppressed", Some((*why).to_string())),
            (None, true) => (
                "failed",
                Some("no channel reaches the recipient".to_string()),
            ),
            (None, false) => ("queued", None),
        };
        sqlx::query(
            "UPDATE messages SET status = $1, plan = $2, channel = $3, language = $4, next_attempt_at = $5, \
             last_error = $6 WHERE id = $7 AND status = 'planning'",
        )
        .bind(status)
        .bind(json_text(&plan.channels))
        .bind(enum_text(&first))
        .bind(enum_text(&plan.language))
        .bind(plan.not_before)
        .bind(final_detail.clone())
        .bind(&req.id)
        .execute(&mut *conn)
        .await?;
        history(conn, &req.id, now, "queued", Some(&enum_text(&first)), None).await?;
        if let Some(detail) = final_detail {
            blank_secrets(conn, &req.id, req.template, &req.vars).await?;
            history(conn, &req.id, now, status, None, Some(&detail)).await?;
            let state = if status == "failed" {
                DeliveryState::Failed
            } else {
                DeliveryState::Suppressed
            };
            publish_status(
                conn,
                &req.id,
                &req.dedup_key,
                &req.correlation_id,
                state,
                None,
                Some(detail),
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Take up to `limit` due messages of one channel, most urgent first, and record the
    /// attempt (message leased, delivery row `sending`) before anything is sent.
    pub async fn claim(&self, channel: Channel, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
        self.claim_up_to(channel, limit, Priority::Low).await
    }

    /// [`Store::claim`] of messages at least as urgent as `most`.
    pub async fn claim_up_to(
        &self,
        channel: Channel,
        limit: i64,
        most: Priority,
    ) -> Result<Vec<Queued>, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin_relaxed().await?;
        let claim = Claim {
            table: "messages",
            key: "id",
            set: LEASE_SET,
            due: "channel = $3 AND status = 'queued' AND priority <= $4 AND next_attempt_at <= $2",
            order_by: "priority, next_attempt_at",
            limit,
            returning: MESSAGE_COLUMNS,
        };
        let rows = sqlx::query(&claim.sql(self.db.backend()))
            .bind(now + self.lease_us)
            .bind(now)
            .bind(enum_text(&channel))
            .bind(most.rank())
            .fetch_all(&mut *tx)
            .await?;
        let out = start_attempts(&mut tx, &rows, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Lease one just queued message to this process inside the transaction that queued
    /// it, for a hand-over in memory after the commit ([`crate::worker::Lanes`]): the
    /// attempt is recorded before anything is sent, as with [`Store::claim`].
    pub async fn claim_one(
        conn: &mut AnyConnection,
        id: &str,
        lease_us: i64,
    ) -> Result<Option<Queued>, sqlx::Error> {
        let now = now_micros();
        let rows = sqlx::query(&format!(
            "UPDATE messages SET {LEASE_SET} \
             WHERE id = $3 AND status = 'queued' AND next_attempt_at <= $2 RETURNING {MESSAGE_COLUMNS}"
        ))
        .bind(now + lease_us)
        .bind(now)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(start_attempts(conn, &rows, now).await?.pop())
    }

    /// Record what became of a send. Returns the channel the message moved on to, if any.
    pub async fn record(
        &self,
        m: &Queued,
        outcome: &Outcome,
        fallback_after_us: i64,
    ) -> Result<Option<Channel>, sqlx::Error> {
        let mut r = self
            .record_many(&[(m.clone(), outcome.clone())], fallback_after_us)
            .await?;
        Ok(r.pop().flatten())
    }

    /// Record many outcomes in one transaction (one commit for a burst of sends).
    pub async fn record_many(
        &self,
        outcomes: &[(Queued, Outcome)],
        fallback_after_us: i64,
    ) -> Result<Vec<Option<Channel>>, sqlx::Error> {
        let mut tx = self.db.begin_relaxed().await?;
        let mut moved = Vec::with_capacity(outcomes.len());
        for (m, outcome) in outcomes {
            moved.push(
                record_in(&mut tx, m, outcome, fallback_after_us, self.secrets_kept_us).await?,
            );
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// Messages whose lease ended while `sending` (their sender died): queued again, on
    /// the same channel and step. Returns the channels that got work.
    pub async fn reclaim_expired(&self) -> Result<Vec<Channel>, sqlx::Error> {
        let now = now_micros();
        let rows = sqlx::query(
            "UPDATE messages SET status = 'queued', updated_at = $1 WHERE status = 'sending' AND next_attempt_at <= $1 \
             RETURNING channel",
        )
        .bind(now)
        .fetch_all(self.db.writer())
        .await?;
        let mut lanes: Vec<Channel> = Vec::new();
        for r in rows {
            let c: String = r.try_get(0)?;
            if let Ok(c) = enum_parse::<Channel>(&c)
                && !lanes.contains(&c)
            {
                lanes.push(c);
            }
        }
        Ok(lanes)
    }

    /// Critical messages sent but neither delivered nor acknowledged in time: on to the
    /// next channel. Returns the channels that got work.
    pub async fn fallbacks_due(&self, limit: i64) -> Result<Vec<Channel>, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin().await?;
        // Write first: take the due rows by clearing their fallback time.
        let claim = Claim {
            table: "messages",
            key: "id",
            set: "fallback_at = NULL, updated_at = $1",
            due: "status = 'sent' AND fallback_at <= $1",
            order_by: "",
            limit,
            returning: MESSAGE_COLUMNS,
        };
        let rows = sqlx::query(&claim.sql(self.db.backend()))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        let mut lanes = Vec::new();
        for row in &rows {
            let m = queued(row)?;
            if m.expires_at.is_some_and(|e| e <= now) {
                blank_secrets(&mut tx, &m.id, m.template, &m.vars).await?;
                continue;
            }
            sqlx::query("UPDATE deliveries SET detail = 'no delivery receipt in time', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(m.reference())
                .execute(&mut *tx)
                .await?;
            if let Some(c) =
                next_step(&mut tx, &m, now, "not delivered in time: falling back").await?
            {
                lanes.push(c);
            }
        }
        tx.commit().await?;
        Ok(lanes)
    }

    /// Sent messages whose secrets were kept for a possible next channel, and the time is
    /// up: their secret variables are blanked. Returns how many.
    pub async fn blank_kept_secrets(&self, limit: i64) -> Result<usize, sqlx::Error> {
        let now = now_micros();
        let mut tx = self.db.begin_relaxed().await?;
        // Write first: take the due rows by clearing their time.
        let claim = Claim {
            table: "messages",
            key: "id",
            set: "secrets_until = NULL",
            due: "secrets_until <= $1 AND status NOT IN ('queued', 'sending') AND fallback_at IS NULL",
            order_by: "",
            limit,
            returning: "id, template, vars",
        };
        let rows = sqlx::query(&claim.sql(self.db.backend()))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            let id: String = r.try_get(0)?;
            let template: String = r.try_get(1)?;
            let vars: String = r.try_get(2)?;
            blank_secrets(&mut tx, &id, enum_parse(&template)?, &json_parse(&vars)?).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}
