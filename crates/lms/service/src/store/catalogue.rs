//! The catalogue, enrolment with prerequisites, lessons and progress.

use super::*;

impl Store {
    // ---- catalogue ------------------------------------------------------------------

    pub(super) fn summary(row: &AnyRow, en: bool) -> CourseSummary {
        let level = level_of(row);
        CourseSummary {
            id: row.get("id"),
            level,
            title: pick(row, "title", en),
            summary: pick(row, "summary", en),
            hours: row.get("hours"),
            pass_mark: row.get("pass_mark"),
            validity_years: row.get("validity_years"),
            recertification_window_months: row.get("recert_months"),
            requires: level_info(level).requires,
        }
    }

    pub async fn courses(&self, en: bool) -> LmsResult<Vec<CourseSummary>> {
        let rows = sqlx::query("SELECT * FROM courses ORDER BY position")
            .fetch_all(self.db.pool())
            .await?;
        Ok(rows.iter().map(|r| Self::summary(r, en)).collect())
    }

    pub async fn course(&self, id: &str, en: bool) -> LmsResult<CourseDetail> {
        let row = sqlx::query("SELECT * FROM courses WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(LmsError::CourseNotFound)?;
        let course = Self::summary(&row, en);
        let modules = sqlx::query("SELECT * FROM modules WHERE course_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?;
        let lessons = sqlx::query("SELECT * FROM lessons WHERE course_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?;
        let modules = modules
            .iter()
            .map(|m| {
                let mid: String = m.get("id");
                ModuleView {
                    title: pick(m, "title", en),
                    lessons: lessons
                        .iter()
                        .filter(|l| l.get::<String, _>("module_id") == mid)
                        .map(|l| LessonView {
                            id: l.get("id"),
                            kind: l.get("kind"),
                            title: pick(l, "title", en),
                            body: pick(l, "body", en),
                            media_url: l.get("media_url"),
                        })
                        .collect(),
                    id: mid,
                }
            })
            .collect();
        let quizzes = sqlx::query("SELECT * FROM quizzes WHERE course_id = $1 ORDER BY kind DESC")
            .bind(id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|q| QuizInfo {
                id: q.get("id"),
                kind: q.get("kind"),
                question_count: q.get("question_count"),
                time_limit_s: q.get("time_limit_s"),
                max_attempts: q.get("max_attempts"),
            })
            .collect();
        let practical_checklist = domain::checklist(course.level)
            .iter()
            .map(|s| SkillView {
                id: s.id.into(),
                label: if en { s.label_en } else { s.label_id }.into(),
            })
            .collect();
        Ok(CourseDetail {
            course,
            modules,
            quizzes,
            practical_checklist,
        })
    }

    pub(super) async fn course_level(&self, course_id: &str) -> LmsResult<Level> {
        let row = sqlx::query("SELECT level FROM courses WHERE id = $1")
            .bind(course_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(LmsError::CourseNotFound)?;
        Ok(level_of(&row))
    }

    // ---- enrolment and lessons --------------------------------------------------------

    /// Levels of the account's valid (unexpired, unrevoked) certificates.
    pub async fn valid_levels(&self, account: &str, now_us: i64) -> LmsResult<Vec<Level>> {
        let rows = sqlx::query(
            "SELECT level FROM certificates WHERE account_id = $1 AND revoked_at IS NULL AND valid_until > $2",
        )
        .bind(account)
        .bind(now_us)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.iter().map(level_of).collect())
    }

    /// Holds a valid certificate of `level` or higher.
    pub async fn holds(&self, account: &str, level: Level) -> LmsResult<bool> {
        Ok(self
            .valid_levels(account, now_micros())
            .await?
            .into_iter()
            .any(|l| rank(l) >= rank(level)))
    }

    pub async fn enroll(
        &self,
        account: &str,
        course_id: &str,
        name: &str,
    ) -> LmsResult<Enrollment> {
        let level = self.course_level(course_id).await?;
        if let Some(req) = level_info(level).requires
            && !self.holds(account, req).await?
        {
            return Err(LmsError::PrerequisiteMissing(req));
        }
        let now = now_micros();
        let res = sqlx::query(
            "INSERT INTO enrollments (account_id, course_id, name, enrolled_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, course_id) DO NOTHING",
        )
        .bind(account)
        .bind(course_id)
        .bind(name)
        .bind(now)
        .execute(self.db.writer())
        .await?;
        if res.rows_affected() == 0 {
            // Enrolled before: a new round (recertification) only once the last certificate
            // of this course is in its recertification window, expired or revoked.
            if !self.renewable(account, course_id, level, now).await? {
                return Err(LmsError::AlreadyEnrolled);
            }
            sqlx::query(
                "UPDATE enrollments SET enrolled_at = $3, name = $4 WHERE account_id = $1 AND course_id = $2",
            )
            .bind(account)
            .bind(course_id)
            .bind(now)
            .bind(name)
            .execute(self.db.writer())
            .await?;
        }
        Ok(Enrollment {
            course_id: course_id.into(),
            enrolled_at: rfc3339(now),
        })
    }

    /// May a new round start: the latest certificate of the course is revoked, expired or in
    /// its recertification window? (No certificate: the first round is still going.)
    pub(super) async fn renewable(
        &self,
        account: &str,
        course_id: &str,
        level: Level,
        now_us: i64,
    ) -> LmsResult<bool> {
        let row = sqlx::query(
            "SELECT valid_until, revoked_at FROM certificates WHERE account_id = $1 AND course_id = $2 ORDER BY issued_at DESC LIMIT 1",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            None => false,
            Some(r) => {
                let revoked = r
                    .try_get::<Option<i64>, _>("revoked_at")
                    .ok()
                    .flatten()
                    .is_some();
                let until: i64 = r.get("valid_until");
                revoked || now_us >= sub_months(until, level_info(level).recert_months)
            }
        })
    }

    pub(super) async fn enrolled_name(
        &self,
        account: &str,
        course_id: &str,
    ) -> LmsResult<Option<String>> {
        Ok(
            sqlx::query("SELECT name FROM enrollments WHERE account_id = $1 AND course_id = $2")
                .bind(account)
                .bind(course_id)
                .fetch_optional(self.db.pool())
                .await?
                .map(|r| r.get(0)),
        )
    }

    pub async fn complete_lesson(
        &self,
        account: &str,
        lesson_id: &str,
    ) -> LmsResult<CourseProgress> {
        let row = sqlx::query("SELECT course_id FROM lessons WHERE id = $1")
            .bind(lesson_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(LmsError::LessonNotFound)?;
        let course_id: String = row.get(0);
        if self.enrolled_name(account, &course_id).await?.is_none() {
            return Err(LmsError::NotEnrolled);
        }
        sqlx::query(
            "INSERT INTO lesson_completions (account_id, lesson_id, course_id, completed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, lesson_id) DO NOTHING",
        )
        .bind(account)
        .bind(lesson_id)
        .bind(&course_id)
        .bind(now_micros())
        .execute(self.db.writer())
        .await?;
        self.progress_of(account, &course_id)
            .await?
            .ok_or(LmsError::NotEnrolled)
    }

    pub(super) async fn lesson_counts(
        &self,
        account: &str,
        course_id: &str,
    ) -> LmsResult<(i64, Vec<String>)> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM lessons WHERE course_id = $1")
            .bind(course_id)
            .fetch_one(self.db.pool())
            .await?
            .get(0);
        let done = sqlx::query(
            "SELECT lesson_id FROM lesson_completions WHERE account_id = $1 AND course_id = $2 ORDER BY lesson_id",
        )
        .bind(account)
        .bind(course_id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
        Ok((total, done))
    }

    pub(super) async fn best(
        &self,
        account: &str,
        course_id: &str,
        kind: &str,
    ) -> LmsResult<(Option<i64>, bool, i64)> {
        let row = sqlx::query(
            "SELECT MAX(percent), MAX(passed), COUNT(*) FROM attempts WHERE account_id = $1 AND course_id = $2 AND kind = $3 \
             AND started_at >= (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $2)",
        )
        .bind(account)
        .bind(course_id)
        .bind(kind)
        .fetch_one(self.db.pool())
        .await?;
        Ok((
            row.try_get::<Option<i64>, _>(0).ok().flatten(),
            row.try_get::<Option<i64>, _>(1).ok().flatten() == Some(1),
            row.get::<i64, _>(2),
        ))
    }

    pub(super) async fn signed_off(&self, account: &str, course_id: &str) -> LmsResult<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM signoffs WHERE account_id = $1 AND course_id = $2 AND signed_at >= (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $2)")
                .bind(account)
                .bind(course_id)
                .fetch_optional(self.db.pool())
                .await?
                .is_some(),
        )
    }

    pub(super) async fn latest_certificate(
        &self,
        account: &str,
        course_id: &str,
    ) -> LmsResult<Option<String>> {
        Ok(sqlx::query(
            "SELECT public_id FROM certificates WHERE account_id = $1 AND course_id = $2 ORDER BY issued_at DESC LIMIT 1",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(self.db.pool())
        .await?
        .map(|r| r.get(0)))
    }

    pub(super) async fn progress_of(
        &self,
        account: &str,
        course_id: &str,
    ) -> LmsResult<Option<CourseProgress>> {
        let Some(e) = sqlx::query(
            "SELECT e.enrolled_at, c.level FROM enrollments e JOIN courses c ON c.id = e.course_id \
             WHERE e.account_id = $1 AND e.course_id = $2",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let (total, done) = self.lesson_counts(account, course_id).await?;
        let (pre, _, _) = self.best(account, course_id, "pre").await?;
        let (post, passed, used) = self.best(account, course_id, "post").await?;
        let max: i64 =
            sqlx::query("SELECT max_attempts FROM quizzes WHERE course_id = $1 AND kind = 'post'")
                .bind(course_id)
                .fetch_optional(self.db.pool())
                .await?
                .map(|r| r.get(0))
                .unwrap_or(0);
        Ok(Some(CourseProgress {
            course_id: course_id.into(),
            level: level_of(&e),
            enrolled_at: rfc3339(e.get("enrolled_at")),
            lessons_total: total,
            lessons_done: i64::try_from(done.len()).unwrap_or(0),
            completed_lessons: done,
            pre_test_percent: pre,
            post_test_best_percent: post,
            post_test_passed: passed,
            post_test_attempts_left: (max - used).max(0),
            practical_signed_off: self.signed_off(account, course_id).await?,
            certificate_id: self.latest_certificate(account, course_id).await?,
        }))
    }

    pub async fn progress(&self, account: &str) -> LmsResult<Vec<CourseProgress>> {
        let ids: Vec<String> = sqlx::query(
            "SELECT e.course_id FROM enrollments e JOIN courses c ON c.id = e.course_id WHERE e.account_id = $1 ORDER BY c.position",
        )
        .bind(account)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        let mut out = Vec::new();
        for id in ids {
            if let Some(p) = self.progress_of(account, &id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }
}
