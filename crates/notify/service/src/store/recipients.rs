//! The recipient directory (from KREKI ID's events), preferences, push targets and the
//! VAPID key.

use super::*;

impl Store {
    // ---- recipient directory -------------------------------------------------------

    /// Keep an account's addresses and language from KREKI ID (newer versions only).
    pub async fn upsert_recipient(
        conn: &mut AnyConnection,
        a: &AccountChanged,
    ) -> Result<(), sqlx::Error> {
        let channels: Vec<Channel> = a
            .notification_channels
            .iter()
            .filter_map(|c| enum_parse::<Channel>(c).ok())
            .collect();
        sqlx::query(
            "INSERT INTO recipients (account_id, email, phone, language, channels, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account_id) DO UPDATE SET email = excluded.email, phone = excluded.phone, \
             language = excluded.language, channels = excluded.channels, version = excluded.version, \
             updated_at = excluded.updated_at WHERE recipients.version < excluded.version",
        )
        .bind(&a.account_id)
        .bind(&a.email)
        .bind(&a.phone)
        .bind(&a.language)
        .bind(json_text(&channels))
        .bind(a.version)
        .bind(now_micros())
        .execute(&mut *conn)
        .await?;
        // Every address it ever had, older versions' too: erasure finds what was sent to
        // them as raw addresses.
        for address in [a.email.as_deref().map(str::to_lowercase), a.phone.clone()]
            .into_iter()
            .flatten()
        {
            sqlx::query(
                "INSERT INTO recipient_addresses (account_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&a.account_id)
            .bind(address)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Forget an account: its directory entry, the addresses it had, its push targets and
    /// preferences; its messages lose their variables, attachments and provider details,
    /// and the messages sent to one of its addresses as a raw address (a code to its phone,
    /// a reset link to its e-mail) their recipient too (`erased`). Ids, templates, states
    /// and times stay for the statistics. A message still waiting is not sent.
    pub async fn erase_recipient(
        conn: &mut AnyConnection,
        account: &str,
    ) -> Result<(), sqlx::Error> {
        // Its addresses: the current ones and every one it had before.
        let mut addresses: Vec<String> = Vec::new();
        for r in sqlx::query("DELETE FROM recipients WHERE account_id = $1 RETURNING email, phone")
            .bind(account)
            .fetch_all(&mut *conn)
            .await?
        {
            let email: Option<String> = r.try_get(0)?;
            let phone: Option<String> = r.try_get(1)?;
            addresses.extend(email.map(|e| e.to_lowercase()));
            addresses.extend(phone);
        }
        for r in
            sqlx::query("DELETE FROM recipient_addresses WHERE account_id = $1 RETURNING address")
                .bind(account)
                .fetch_all(&mut *conn)
                .await?
        {
            addresses.push(r.try_get(0)?);
        }
        addresses.sort();
        addresses.dedup();
        sqlx::query("DELETE FROM push_subscriptions WHERE account_id = $1")
            .bind(account)
            .execute(&mut *conn)
            .await?;
        const DETAILS: [&str; 2] = [
            "UPDATE message_events SET detail = NULL WHERE message_id IN (SELECT id FROM messages WHERE {})",
            "UPDATE deliveries SET detail = NULL WHERE message_id IN (SELECT id FROM messages WHERE {})",
        ];
        const FORGET: &str = "vars = '{}', attachments = '[]', last_error = NULL, secrets_until = NULL, \
             status = CASE WHEN status IN ('queued', 'sending') THEN 'failed' ELSE status END";
        let of_account = "recipient_kind = 'account' AND recipient = $1";
        for sql in DETAILS {
            sqlx::query(&sql.replace("{}", of_account))
                .bind(account)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(&format!("UPDATE messages SET {FORGET} WHERE {of_account}"))
            .bind(account)
            .execute(&mut *conn)
            .await?;
        // E-mail addresses in any case (`Putri@…` is `putri@…`).
        let to_address = "recipient_kind = 'address' AND lower(recipient) = $1";
        for address in &addresses {
            for sql in DETAILS {
                sqlx::query(&sql.replace("{}", to_address))
                    .bind(address)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(&format!(
                "UPDATE messages SET {FORGET}, recipient_kind = 'erased', recipient = 'erased' WHERE {to_address}"
            ))
            .bind(address)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// What the planner needs to know of an account.
    pub async fn recipient_info(
        conn: &mut AnyConnection,
        account: &str,
    ) -> Result<Option<RecipientInfo>, sqlx::Error> {
        let push = push_targets(&mut *conn, account).await?;
        let Some(r) = sqlx::query(
            "SELECT email, phone, language, channels, quiet_start, quiet_end, utc_offset_min, opt_out \
             FROM recipients WHERE account_id = $1",
        )
        .bind(account)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok((!push.is_empty()).then(|| RecipientInfo {
                addresses: Addresses {
                    push,
                    ..Default::default()
                },
                utc_offset_min: 420,
                ..Default::default()
            }));
        };
        let language: String = r.try_get(2)?;
        let channels: String = r.try_get(3)?;
        let qs: Option<i64> = r.try_get(4)?;
        let qe: Option<i64> = r.try_get(5)?;
        let opt_out: String = r.try_get(7)?;
        Ok(Some(RecipientInfo {
            addresses: Addresses {
                email: r.try_get(0)?,
                phone: r.try_get(1)?,
                push,
            },
            language: enum_parse(&language).ok(),
            channels: json_parse(&channels).unwrap_or_default(),
            quiet: qs.zip(qe),
            utc_offset_min: r.try_get(6)?,
            opt_out: json_parse(&opt_out).unwrap_or_default(),
        }))
    }

    /// The addresses of an account (send time: the latest directory entry).
    pub async fn addresses(
        &self,
        account: &str,
    ) -> Result<(Option<String>, Option<String>), sqlx::Error> {
        let row = sqlx::query("SELECT email, phone FROM recipients WHERE account_id = $1")
            .bind(account)
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(r) => Ok((r.try_get(0)?, r.try_get(1)?)),
            None => Ok((None, None)),
        }
    }

    pub async fn preferences(&self, account: &str) -> Result<Preferences, sqlx::Error> {
        let row = sqlx::query("SELECT quiet_start, quiet_end, utc_offset_min, opt_out FROM recipients WHERE account_id = $1")
            .bind(account)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(r) = row else {
            return Ok(Preferences {
                utc_offset_min: 420,
                ..Default::default()
            });
        };
        let qs: Option<i64> = r.try_get(0)?;
        let qe: Option<i64> = r.try_get(1)?;
        let opt_out: String = r.try_get(3)?;
        Ok(Preferences {
            quiet: qs.zip(qe),
            utc_offset_min: r.try_get(2)?,
            opt_out: json_parse(&opt_out).unwrap_or_default(),
        })
    }

    pub async fn set_preferences(&self, account: &str, p: &Preferences) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO recipients (account_id, language, quiet_start, quiet_end, utc_offset_min, opt_out, version, updated_at) \
             VALUES ($1, 'id', $2, $3, $4, $5, 0, $6) \
             ON CONFLICT (account_id) DO UPDATE SET quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, \
             utc_offset_min = excluded.utc_offset_min, opt_out = excluded.opt_out, updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(p.quiet.map(|q| q.0))
        .bind(p.quiet.map(|q| q.1))
        .bind(p.utc_offset_min)
        .bind(json_text(&p.opt_out))
        .bind(now_micros())
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    // ---- push targets --------------------------------------------------------------

    /// Add (or move to this account) a push target; returns its id.
    pub async fn add_push_target(
        &self,
        account: &str,
        kind: &str,
        endpoint: &str,
        p256dh: Option<&str>,
        auth: Option<&str>,
    ) -> Result<String, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let row = sqlx::query(
            "INSERT INTO push_subscriptions (id, account_id, kind, endpoint, p256dh, auth, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (endpoint) DO UPDATE SET account_id = excluded.account_id, kind = excluded.kind, \
             p256dh = excluded.p256dh, auth = excluded.auth RETURNING id",
        )
        .bind(&id)
        .bind(account)
        .bind(kind)
        .bind(endpoint)
        .bind(p256dh)
        .bind(auth)
        .bind(now_micros())
        .fetch_one(self.db.writer())
        .await?;
        row.try_get(0)
    }

    /// Remove a push target of this account (`false`: none such).
    pub async fn remove_push_target(
        &self,
        account: &str,
        endpoint: &str,
    ) -> Result<bool, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM push_subscriptions WHERE account_id = $1 AND endpoint = $2")
                .bind(account)
                .bind(endpoint)
                .execute(self.db.writer())
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// A target the push service says is gone (404/410).
    pub async fn drop_push_target(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    pub async fn push_targets(&self, account: &str) -> Result<Vec<PushTarget>, sqlx::Error> {
        push_targets(self.db.pool(), account).await
    }

    /// A named key of the service, made by `make` at first use (the same on every
    /// replica: the first writer wins).
    pub async fn key(
        &self,
        name: &str,
        make: impl FnOnce() -> Option<String>,
    ) -> Result<Option<String>, sqlx::Error> {
        if let Some(r) = sqlx::query("SELECT value FROM notify_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
        {
            return Ok(Some(r.try_get(0)?));
        }
        let Some(value) = make() else {
            return Ok(None);
        };
        sqlx::query("INSERT INTO notify_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(&value)
            .bind(now_micros())
            .execute(self.db.writer())
            .await?;
        let r = sqlx::query("SELECT value FROM notify_keys WHERE name = $1")
            .bind(name)
            .fetch_one(self.db.pool())
            .await?;
        Ok(Some(r.try_get(0)?))
    }
}
