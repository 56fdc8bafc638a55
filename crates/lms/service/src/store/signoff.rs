//! Practical sign-off by instructors, and their participant lists.

use super::*;

impl Store {
    // ---- practical sign-off -----------------------------------------------------------

    /// Whether the account may sign off practicals: role training_admin (checked by the
    /// caller) or a valid Instructor certificate.
    pub async fn is_instructor(&self, account: &str) -> LmsResult<bool> {
        self.holds(account, Level::Instructor).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn sign_off(
        &self,
        instructor_id: &str,
        instructor_name: &str,
        holder_name: &str,
        account: &str,
        course_id: &str,
        location: &str,
        items: &[String],
    ) -> LmsResult<SignOff> {
        if instructor_id == account {
            return Err(LmsError::SelfSignOff);
        }
        let level = self.course_level(course_id).await?;
        if self.enrolled_name(account, course_id).await?.is_none() {
            return Err(LmsError::NotEnrolled);
        }
        let skills = domain::checklist(level);
        if let Some(bad) = items
            .iter()
            .find(|i| !skills.iter().any(|s| s.id == i.as_str()))
        {
            return Err(LmsError::UnknownSkill(bad.clone()));
        }
        let missing: Vec<&'static str> = skills
            .iter()
            .filter(|s| !items.iter().any(|i| i == s.id))
            .map(|s| s.id)
            .collect();
        if !missing.is_empty() {
            return Err(LmsError::ChecklistIncomplete(missing));
        }
        let now = now_micros();
        let mut tx = write_tx(&self.db).await?;
        lock_enrollment(&mut tx, self.db.backend(), account, course_id).await?;
        let items_json = serde_json::to_string(items).map_err(anyhow::Error::from)?;
        let res = sqlx::query(
            "INSERT INTO signoffs (account_id, course_id, instructor_id, instructor_name, location, items, signed_at, holder_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account_id, course_id) DO UPDATE SET \
             instructor_id = excluded.instructor_id, instructor_name = excluded.instructor_name, location = excluded.location, \
             items = excluded.items, signed_at = excluded.signed_at, holder_name = excluded.holder_name WHERE signoffs.signed_at < (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $2)",
        )
        .bind(account)
        .bind(course_id)
        .bind(instructor_id)
        .bind(instructor_name)
        .bind(location)
        .bind(items_json)
        .bind(now)
        .bind(holder_name)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(LmsError::AlreadySignedOff);
        }
        let certificate_id = self
            .issue_if_ready(&mut tx, account, course_id, now)
            .await?;
        tx.commit().await?;
        Ok(SignOff {
            account_id: account.into(),
            course_id: course_id.into(),
            holder_name: holder_name.into(),
            instructor_id: instructor_id.into(),
            instructor_name: instructor_name.into(),
            location: location.into(),
            items: items.to_vec(),
            signed_at: rfc3339(now),
            certificate_id,
        })
    }

    /// Participants of a course (or all courses) with their scores, for instructors, oldest
    /// enrolment first, a page at a time; with the total. One query per page.
    pub async fn participants(
        &self,
        course_id: Option<&str>,
        pending_only: bool,
        page: u32,
        limit: u32,
    ) -> LmsResult<(Vec<Participant>, u64)> {
        const ROWS: &str = "SELECT e.account_id, e.course_id, e.name, e.enrolled_at, \
             (SELECT COUNT(*) FROM lessons l WHERE l.course_id = e.course_id) AS lessons_total, \
             (SELECT COUNT(*) FROM lesson_completions c WHERE c.account_id = e.account_id AND c.course_id = e.course_id) AS lessons_done, \
             (SELECT MAX(a.percent) FROM attempts a WHERE a.account_id = e.account_id AND a.course_id = e.course_id AND a.kind = 'pre' AND a.started_at >= e.enrolled_at) AS pre, \
             (SELECT MAX(a.percent) FROM attempts a WHERE a.account_id = e.account_id AND a.course_id = e.course_id AND a.kind = 'post' AND a.started_at >= e.enrolled_at) AS post, \
             COALESCE((SELECT MAX(a.passed) FROM attempts a WHERE a.account_id = e.account_id AND a.course_id = e.course_id AND a.kind = 'post' AND a.started_at >= e.enrolled_at), 0) AS passed, \
             (SELECT COUNT(*) FROM signoffs s WHERE s.account_id = e.account_id AND s.course_id = e.course_id AND s.signed_at >= e.enrolled_at) AS signed, \
             (SELECT t.public_id FROM certificates t WHERE t.account_id = e.account_id AND t.course_id = e.course_id ORDER BY t.issued_at DESC LIMIT 1) AS certificate_id \
             FROM enrollments e WHERE ($1 = '' OR e.course_id = $1)";
        let filter = "($2 = 0 OR (p.passed = 1 AND p.signed = 0))";
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM ({ROWS}) p WHERE {filter}"))
            .bind(course_id.unwrap_or(""))
            .bind(i64::from(pending_only))
            .fetch_one(self.db.pool())
            .await?
            .get(0);
        let rows = sqlx::query(&format!(
            "SELECT * FROM ({ROWS}) p WHERE {filter} ORDER BY p.enrolled_at, p.account_id LIMIT $3 OFFSET $4"
        ))
        .bind(course_id.unwrap_or(""))
        .bind(i64::from(pending_only))
        .bind(i64::from(limit))
        .bind(i64::from(page.saturating_sub(1)) * i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        let list = rows
            .iter()
            .map(|r| {
                let passed = r.get::<i64, _>("passed") == 1;
                let signed = r.get::<i64, _>("signed") > 0;
                Participant {
                    account_id: r.get("account_id"),
                    name: r.get("name"),
                    course_id: r.get("course_id"),
                    enrolled_at: rfc3339(r.get("enrolled_at")),
                    lessons_done: r.get("lessons_done"),
                    lessons_total: r.get("lessons_total"),
                    pre_test_percent: r.try_get::<Option<i64>, _>("pre").ok().flatten(),
                    post_test_best_percent: r.try_get::<Option<i64>, _>("post").ok().flatten(),
                    post_test_passed: passed,
                    practical_signed_off: signed,
                    pending_signoff: passed && !signed,
                    certificate_id: r
                        .try_get::<Option<String>, _>("certificate_id")
                        .ok()
                        .flatten(),
                }
            })
            .collect();
        Ok((list, u64::try_from(total).unwrap_or(0)))
    }
}
