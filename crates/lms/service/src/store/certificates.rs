//! Certificates: issue (gap-free numbers, credential, PDF), public record, revocation,
//! the status list, expiry reminders.

use super::*;

impl Store {
    // ---- certificates -----------------------------------------------------------------

    /// Issue the certificate of `course_id` inside `tx` if the post-test is passed and the
    /// practical signed off and no valid certificate of this course exists yet.
    pub(super) async fn issue_if_ready(
        &self,
        tx: &mut Tx,
        account: &str,
        course_id: &str,
        now_us: i64,
    ) -> LmsResult<Option<String>> {
        let passed = sqlx::query(
            "SELECT 1 FROM attempts WHERE account_id = $1 AND course_id = $2 AND kind = 'post' AND passed = 1 \
             AND started_at >= (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $2) LIMIT 1",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
        let Some(signoff) = sqlx::query(
            "SELECT instructor_id, instructor_name, signed_at, holder_name FROM signoffs WHERE account_id = $1 AND course_id = $2 \
             AND signed_at >= (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $2)",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(&mut **tx)
        .await?
        else {
            return Ok(None);
        };
        if !passed {
            return Ok(None);
        }
        let course = sqlx::query("SELECT * FROM courses WHERE id = $1")
            .bind(course_id)
            .fetch_one(&mut **tx)
            .await?;
        let level = level_of(&course);
        let info = level_info(level);
        // A valid certificate of this course outside its recertification window: nothing to
        // renew yet.
        let current = sqlx::query(
            "SELECT valid_until FROM certificates WHERE account_id = $1 AND course_id = $2 AND revoked_at IS NULL AND valid_until > $3",
        )
        .bind(account)
        .bind(course_id)
        .bind(now_us)
        .fetch_all(&mut **tx)
        .await?;
        if current
            .iter()
            .any(|r| now_us < sub_months(r.get::<i64, _>(0), info.recert_months))
        {
            return Ok(None);
        }
        // The name the instructor checked at the sign-off, not the enrolment's free text.
        let name: String = match signoff
            .try_get::<Option<String>, _>("holder_name")
            .ok()
            .flatten()
        {
            Some(n) => n,
            None => {
                sqlx::query("SELECT name FROM enrollments WHERE account_id = $1 AND course_id = $2")
                    .bind(account)
                    .bind(course_id)
                    .fetch_one(&mut **tx)
                    .await?
                    .get(0)
            }
        };
        let year = i64::from(from_micros(now_us).year());
        let number = next_counter(tx, info.prefix, year).await?;
        let status_index = next_counter(tx, "STATUS", 0).await? - 1;
        let id = format!("{}-{year}-{number:04}", info.prefix);
        let public_id = new_public_id(&id);
        let valid_until = add_years(now_us, info.validity_years);
        let title_id: String = course.get("title_id");
        let summary_id: String = course.get("summary_id");
        let instructor_id: String = signoff.get("instructor_id");
        let instructor_name: String = signoff.get("instructor_name");
        let claims = credential::certificate_claims(
            &CredentialInput {
                base_url: &self.base_url,
                certificate_id: &public_id,
                holder_account: account,
                holder_name: &name,
                course_id,
                course_name: &title_id,
                course_summary: &summary_id,
                level: level_str(level),
                issued_at: now_us / 1_000_000,
                valid_until: valid_until / 1_000_000,
                status_index,
            },
            &self.issuer.did,
        );
        let jwt = self.issuer.sign(&claims);
        sqlx::query(
            "INSERT INTO certificates (id, account_id, course_id, level, holder_name, instructor_id, instructor_name, \
             issued_at, valid_until, status_index, credential, public_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(account)
        .bind(course_id)
        .bind(level_str(level))
        .bind(&name)
        .bind(&instructor_id)
        .bind(&instructor_name)
        .bind(now_us)
        .bind(valid_until)
        .bind(status_index)
        .bind(&jwt)
        .bind(&public_id)
        .execute(&mut **tx)
        .await?;
        let ev = CertificateEvent {
            certificate_id: id.clone(),
            holder_id: account.into(),
            level,
            valid_until: rfc3339(valid_until),
            reason: None,
        };
        let event = Event::new(SOURCE, CERTIFICATE_ISSUED, &ev)
            .map_err(anyhow::Error::from)?
            .correlated(&id);
        outbox::enqueue(tx, &event).await?;
        // The certificate by e-mail, PDF attached.
        let pdf = self.render_pdf_parts(
            &public_id,
            &name,
            &title_id,
            level,
            now_us,
            valid_until,
            &instructor_name,
        )?;
        let mut msg = MessageRequested::new(
            format!("certificate-issued-{id}"),
            Recipient::Account(account.into()),
            Template::CertificateIssued,
            Priority::Normal,
        )
        .var("name", name.as_str())
        .var("certificate_id", id.as_str())
        .var("link", self.verify_url(&public_id));
        msg.correlation_id = Some(id.clone());
        msg.attachments = vec![Attachment {
            filename: format!("{id}.pdf"),
            content_type: "application/pdf".into(),
            content_base64: credential::b64(&pdf),
        }];
        let event = Event::new(SOURCE, MESSAGE_REQUESTED, &msg)
            .map_err(anyhow::Error::from)?
            .correlated(&id);
        outbox::enqueue(tx, &event).await?;
        tracing::info!(certificate_id = %id, "certificate issued");
        Ok(Some(public_id))
    }

    pub fn verify_url(&self, id: &str) -> String {
        format!("{}/verify/{id}", self.base_url)
    }

    /// The certificate PDF; `id` is the public id (the QR code's link), the register number
    /// is printed.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn render_pdf_parts(
        &self,
        id: &str,
        name: &str,
        course_title: &str,
        level: Level,
        issued: i64,
        valid_until: i64,
        instructor: &str,
    ) -> anyhow::Result<Vec<u8>> {
        let label = match level {
            Level::Basic => "Basic",
            Level::Plus => "Plus",
            Level::Instructor => "Instructor",
        };
        pdf::render(&pdf::CertificatePdf {
            certificate_id: register_number(id),
            holder_name: name,
            course_name: course_title,
            level_label: label,
            issued_on: &date_only(issued),
            valid_until: &date_only(valid_until),
            instructor,
            verify_url: &self.verify_url(id),
        })
    }

    /// A certificate by its public id (never by the register number alone).
    pub(super) async fn certificate_row(&self, public_id: &str) -> LmsResult<AnyRow> {
        sqlx::query(
            "SELECT t.*, c.title_id, c.title_en FROM certificates t JOIN courses c ON c.id = t.course_id WHERE t.public_id = $1",
        )
        .bind(public_id.to_ascii_uppercase())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(LmsError::CertificateNotFound)
    }

    pub(super) fn certificate_view(&self, r: &AnyRow, en: bool, now_us: i64) -> CertificateView {
        let revoked_at = r.try_get::<Option<i64>, _>("revoked_at").ok().flatten();
        let valid_until: i64 = r.get("valid_until");
        let status = status_of(revoked_at, valid_until, now_us);
        let id: String = r.get("public_id");
        CertificateView {
            verify_url: self.verify_url(&id),
            id,
            number: r.get("id"),
            level: level_of(r),
            course_id: r.get("course_id"),
            course_title: pick(r, "title", en),
            holder_name: non_empty(r.get("holder_name")),
            instructor_name: non_empty(r.get("instructor_name")),
            holder_erased: erased(r),
            issued_at: rfc3339(r.get("issued_at")),
            valid_until: rfc3339(valid_until),
            status: status.into(),
            revoked_at: revoked_at.map(rfc3339),
            revocation_reason: r.get("revoke_reason"),
        }
    }

    /// The public record (no sign-in): names masked, no revocation reason.
    pub async fn certificate(&self, id: &str, en: bool) -> LmsResult<PublicCertificate> {
        let r = self.certificate_row(id).await?;
        let revoked_at = r.try_get::<Option<i64>, _>("revoked_at").ok().flatten();
        let valid_until: i64 = r.get("valid_until");
        let id: String = r.get("public_id");
        let masked = |col: &str| {
            let m = mask_name(&r.get::<String, _>(col));
            (!m.is_empty()).then_some(m)
        };
        Ok(PublicCertificate {
            verify_url: self.verify_url(&id),
            id,
            number: r.get("id"),
            level: level_of(&r),
            course_id: r.get("course_id"),
            course_title: pick(&r, "title", en),
            holder_name: masked("holder_name"),
            instructor_name: masked("instructor_name"),
            holder_erased: erased(&r),
            issued_at: rfc3339(r.get("issued_at")),
            valid_until: rfc3339(valid_until),
            status: status_of(revoked_at, valid_until, now_micros()).into(),
            revoked_at: revoked_at.map(rfc3339),
        })
    }

    /// Owner of a certificate, its credential.
    pub async fn certificate_owner(&self, id: &str) -> LmsResult<(String, String)> {
        let r = self.certificate_row(id).await?;
        if erased(&r) {
            return Err(LmsError::HolderErased);
        }
        Ok((r.get("account_id"), r.get("credential")))
    }

    pub async fn certificate_pdf(&self, id: &str) -> LmsResult<(String, Vec<u8>)> {
        let r = self.certificate_row(id).await?;
        if erased(&r) {
            return Err(LmsError::HolderErased);
        }
        let level = level_of(&r);
        let pdf = self.render_pdf_parts(
            &r.get::<String, _>("public_id"),
            &r.get::<String, _>("holder_name"),
            &r.get::<String, _>("title_id"),
            level,
            r.get("issued_at"),
            r.get("valid_until"),
            &r.get::<String, _>("instructor_name"),
        )?;
        Ok((r.get("account_id"), pdf))
    }

    pub async fn certificates_of(
        &self,
        account: &str,
        en: bool,
    ) -> LmsResult<Vec<CertificateView>> {
        let rows = sqlx::query(
            "SELECT t.*, c.title_id, c.title_en FROM certificates t JOIN courses c ON c.id = t.course_id \
             WHERE t.account_id = $1 ORDER BY t.issued_at DESC",
        )
        .bind(account)
        .fetch_all(self.db.pool())
        .await?;
        let now = now_micros();
        Ok(rows
            .iter()
            .map(|r| self.certificate_view(r, en, now))
            .collect())
    }

    pub async fn revoke(
        &self,
        id: &str,
        by: &str,
        reason: &str,
        en: bool,
    ) -> LmsResult<CertificateView> {
        let now = now_micros();
        let mut tx = write_tx(&self.db).await?;
        let row = sqlx::query(
            "SELECT id, account_id, level, valid_until, revoked_at FROM certificates WHERE public_id = $1",
        )
        .bind(id.to_ascii_uppercase())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(LmsError::CertificateNotFound)?;
        let public_id = id.to_ascii_uppercase();
        // Events name the certificate by its register number (internal, as before).
        let id: String = row.get("id");
        let id = id.as_str();
        if row
            .try_get::<Option<i64>, _>("revoked_at")
            .ok()
            .flatten()
            .is_some()
        {
            return Err(LmsError::AlreadyRevoked);
        }
        sqlx::query("UPDATE certificates SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4 AND revoked_at IS NULL")
            .bind(now)
            .bind(by)
            .bind(reason)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let ev = CertificateEvent {
            certificate_id: id.into(),
            holder_id: row.get("account_id"),
            level: level_of(&row),
            valid_until: rfc3339(row.get("valid_until")),
            reason: Some(reason.into()),
        };
        let event = Event::new(SOURCE, CERTIFICATE_REVOKED, &ev)
            .map_err(anyhow::Error::from)?
            .correlated(id);
        outbox::enqueue(&mut tx, &event).await?;
        tx.commit().await?;
        let r = self.certificate_row(&public_id).await?;
        Ok(self.certificate_view(&r, en, now_micros()))
    }

    /// The status list credential (VC-JWT), with every revoked certificate's bit set.
    pub async fn status_list(&self) -> LmsResult<String> {
        let revoked: Vec<i64> =
            sqlx::query("SELECT status_index FROM certificates WHERE revoked_at IS NOT NULL")
                .fetch_all(self.db.pool())
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
        let claims = credential::status_list_claims(
            &self.base_url,
            &self.issuer.did,
            &revoked,
            now_micros() / 1_000_000,
        );
        Ok(self.issuer.sign(&claims))
    }

    /// Open the recertification window: for each unrevoked certificate whose window opened
    /// by `now_us` and that was not reminded yet, publish `lms.certificate.expiring` and
    /// request the `recertification_reminder` message. Idempotent (the `reminded_at` mark
    /// is set in the same transaction). Returns how many were reminded.
    pub async fn sweep_expiring(&self, now_us: i64) -> LmsResult<usize> {
        let candidates = sqlx::query(
            "SELECT id, account_id, level, holder_name, valid_until FROM certificates \
             WHERE revoked_at IS NULL AND reminded_at IS NULL AND holder_erased_at IS NULL AND valid_until > $1 \
             ORDER BY valid_until LIMIT 500",
        )
        .bind(now_us)
        .fetch_all(self.db.pool())
        .await?;
        let mut n = 0;
        for r in candidates {
            let level = level_of(&r);
            let valid_until: i64 = r.get("valid_until");
            if sub_months(valid_until, level_info(level).recert_months) > now_us {
                continue;
            }
            let id: String = r.get("id");
            let account: String = r.get("account_id");
            let mut tx = write_tx(&self.db).await?;
            let marked = sqlx::query(
                "UPDATE certificates SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL",
            )
            .bind(now_us)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            let ev = CertificateEvent {
                certificate_id: id.clone(),
                holder_id: account.clone(),
                level,
                valid_until: rfc3339(valid_until),
                reason: None,
            };
            let event = Event::new(SOURCE, CERTIFICATE_EXPIRING, &ev)
                .map_err(anyhow::Error::from)?
                .correlated(&id);
            outbox::enqueue(&mut tx, &event).await?;
            let mut msg = MessageRequested::new(
                format!("recertification-{id}"),
                Recipient::Account(account),
                Template::RecertificationReminder,
                Priority::Normal,
            )
            .var("name", r.get::<String, _>("holder_name"))
            .var("certificate_id", id.as_str())
            .var("expires_on", date_only(valid_until));
            msg.correlation_id = Some(id.clone());
            let event = Event::new(SOURCE, MESSAGE_REQUESTED, &msg)
                .map_err(anyhow::Error::from)?
                .correlated(&id);
            outbox::enqueue(&mut tx, &event).await?;
            tx.commit().await?;
            n += 1;
        }
        Ok(n)
    }
}
