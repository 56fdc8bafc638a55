//! Quizzes: attempts with their question layout, server-side scoring, results.

use super::*;

impl Store {
    // ---- quizzes ----------------------------------------------------------------------

    pub(super) async fn quiz(&self, quiz_id: &str) -> LmsResult<QuizRow> {
        let r = sqlx::query("SELECT * FROM quizzes WHERE id = $1")
            .bind(quiz_id)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(LmsError::QuizNotFound)?;
        Ok(QuizRow {
            id: r.get("id"),
            course_id: r.get("course_id"),
            kind: r.get("kind"),
            question_count: r.get("question_count"),
            time_limit_s: r.get("time_limit_s"),
            max_attempts: r.get("max_attempts"),
        })
    }

    pub(super) async fn questions_of(&self, course_id: &str) -> LmsResult<Vec<AnyRow>> {
        Ok(
            sqlx::query("SELECT * FROM questions WHERE course_id = $1 ORDER BY position")
                .bind(course_id)
                .fetch_all(self.db.pool())
                .await?,
        )
    }

    pub(super) fn question_view(row: &AnyRow, option_ids: &[String], en: bool) -> QuestionView {
        let opts: Vec<serde_json::Value> =
            serde_json::from_str(&row.get::<String, _>("options")).unwrap_or_default();
        let text_of = |id: &str| {
            opts.iter()
                .find(|o| o["id"] == id)
                .and_then(|o| o[if en { "text_en" } else { "text_id" }].as_str())
                .unwrap_or("")
                .to_string()
        };
        QuestionView {
            id: row.get("id"),
            text: pick(row, "text", en),
            options: option_ids
                .iter()
                .map(|id| OptionView {
                    id: id.clone(),
                    text: text_of(id),
                })
                .collect(),
        }
    }

    /// Start an attempt (or continue the open one): questions drawn from the bank in a
    /// random order, options shuffled, no answers.
    pub async fn start_attempt(
        &self,
        account: &str,
        quiz_id: &str,
        en: bool,
    ) -> LmsResult<AttemptStarted> {
        self.attempt(account, quiz_id, en, true)
            .await?
            .ok_or(LmsError::AttemptNotFound)
    }

    /// The open attempt, if any (nothing is started: for pages shown by GET).
    pub async fn open_attempt(
        &self,
        account: &str,
        quiz_id: &str,
        en: bool,
    ) -> LmsResult<Option<AttemptStarted>> {
        self.attempt(account, quiz_id, en, false).await
    }

    pub(super) async fn attempt(
        &self,
        account: &str,
        quiz_id: &str,
        en: bool,
        create: bool,
    ) -> LmsResult<Option<AttemptStarted>> {
        let quiz = self.quiz(quiz_id).await?;
        if self
            .enrolled_name(account, &quiz.course_id)
            .await?
            .is_none()
        {
            return Err(LmsError::NotEnrolled);
        }
        if quiz.kind == "post" {
            let (total, done) = self.lesson_counts(account, &quiz.course_id).await?;
            let done = i64::try_from(done.len()).unwrap_or(0);
            if done < total {
                return Err(LmsError::LessonsIncomplete { done, total });
            }
        }
        let bank = self.questions_of(&quiz.course_id).await?;
        // How often this learner already drew each question of this quiz (every attempt,
        // every round): a new attempt asks the least seen first, so a retake asks other
        // questions while the bank has them (it holds at least twice the test).
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for r in sqlx::query("SELECT layout FROM attempts WHERE account_id = $1 AND quiz_id = $2")
            .bind(account)
            .bind(quiz_id)
            .fetch_all(self.db.pool())
            .await?
        {
            let layout: Vec<LayoutEntry> =
                serde_json::from_str(&r.get::<String, _>(0)).unwrap_or_default();
            for e in layout {
                *seen.entry(e.question_id).or_default() += 1;
            }
        }
        // A fresh layout (used when no attempt is open), made before any await: the random
        // generator stays on this thread.
        let fresh: Vec<LayoutEntry> = {
            let mut rng = rand::thread_rng();
            let mut picked: Vec<&AnyRow> = bank.iter().collect();
            picked.shuffle(&mut rng);
            // Stable: among questions seen equally often the random order stays.
            picked.sort_by_key(|q| seen.get(&q.get::<String, _>("id")).copied().unwrap_or(0));
            picked.truncate(usize::try_from(quiz.question_count).unwrap_or(0));
            picked.shuffle(&mut rng);
            picked
                .iter()
                .map(|q| {
                    let opts: Vec<serde_json::Value> =
                        serde_json::from_str(&q.get::<String, _>("options")).unwrap_or_default();
                    let mut ids: Vec<String> = opts
                        .iter()
                        .filter_map(|o| o["id"].as_str().map(str::to_string))
                        .collect();
                    ids.shuffle(&mut rng);
                    LayoutEntry {
                        question_id: q.get("id"),
                        option_ids: ids,
                    }
                })
                .collect()
        };
        let now = now_micros();
        let mut tx = write_tx(&self.db).await?;
        let open = sqlx::query(
            "SELECT id, layout, started_at, deadline FROM attempts WHERE account_id = $1 AND quiz_id = $2 AND status = 'open' AND deadline > $3 \
             AND started_at >= (SELECT e.enrolled_at FROM enrollments e JOIN quizzes q ON q.course_id = e.course_id WHERE e.account_id = $1 AND q.id = $2)",
        )
        .bind(account)
        .bind(quiz_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let used: i64 =
            sqlx::query("SELECT COUNT(*) FROM attempts WHERE account_id = $1 AND quiz_id = $2 AND started_at >= (SELECT e.enrolled_at FROM enrollments e JOIN quizzes q ON q.course_id = e.course_id WHERE e.account_id = $1 AND q.id = $2)")
                .bind(account)
                .bind(quiz_id)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
        let (id, layout, started, deadline, used) = match open {
            Some(r) => {
                let layout: Vec<LayoutEntry> =
                    serde_json::from_str(&r.get::<String, _>("layout")).unwrap_or_default();
                (
                    r.get::<String, _>("id"),
                    layout,
                    r.get::<i64, _>("started_at"),
                    r.get::<i64, _>("deadline"),
                    used,
                )
            }
            None if !create => return Ok(None),
            None => {
                if used >= quiz.max_attempts {
                    return Err(LmsError::AttemptLimit(quiz.max_attempts));
                }
                let layout = fresh;
                let id = uuid::Uuid::now_v7().to_string();
                let deadline = now + quiz.time_limit_s * 1_000_000;
                sqlx::query(
                    "INSERT INTO attempts (id, quiz_id, course_id, kind, account_id, layout, started_at, deadline, status) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open')",
                )
                .bind(&id)
                .bind(&quiz.id)
                .bind(&quiz.course_id)
                .bind(&quiz.kind)
                .bind(account)
                .bind(serde_json::to_string(&layout).map_err(anyhow::Error::from)?)
                .bind(now)
                .bind(deadline)
                .execute(&mut *tx)
                .await?;
                (id, layout, now, deadline, used + 1)
            }
        };
        tx.commit().await?;
        let questions = layout
            .iter()
            .filter_map(|e| {
                bank.iter()
                    .find(|q| q.get::<String, _>("id") == e.question_id)
                    .map(|q| Self::question_view(q, &e.option_ids, en))
            })
            .collect();
        Ok(Some(AttemptStarted {
            attempt_id: id,
            quiz_id: quiz.id,
            kind: quiz.kind,
            started_at: rfc3339(started),
            deadline: rfc3339(deadline),
            time_limit_s: quiz.time_limit_s,
            attempts_left: (quiz.max_attempts - used).max(0),
            questions,
        }))
    }

    pub(super) fn result_of(row: &AnyRow, pass_mark: i64) -> AttemptResult {
        AttemptResult {
            attempt_id: row.get("id"),
            quiz_id: row.get("quiz_id"),
            course_id: row.get("course_id"),
            kind: row.get("kind"),
            status: row.get("status"),
            score: row
                .try_get::<Option<i64>, _>("score")
                .ok()
                .flatten()
                .unwrap_or(0),
            total: row
                .try_get::<Option<i64>, _>("total")
                .ok()
                .flatten()
                .unwrap_or(0),
            percent: row
                .try_get::<Option<i64>, _>("percent")
                .ok()
                .flatten()
                .unwrap_or(0),
            pass_mark,
            passed: row.try_get::<Option<i64>, _>("passed").ok().flatten() == Some(1),
            started_at: rfc3339(row.get("started_at")),
            submitted_at: row
                .try_get::<Option<i64>, _>("submitted_at")
                .ok()
                .flatten()
                .map(rfc3339),
            review: Vec::new(),
            certificate_id: None,
        }
    }

    /// Score a submission on the server. An attempt is submitted once; after its deadline
    /// (plus a short grace) it is closed as `expired` and scores nothing.
    pub async fn submit(
        &self,
        account: &str,
        quiz_id: &str,
        attempt_id: &str,
        answers: &[Answer],
        now_us: i64,
    ) -> LmsResult<AttemptResult> {
        let quiz = self.quiz(quiz_id).await?;
        if self
            .enrolled_name(account, &quiz.course_id)
            .await?
            .is_none()
        {
            return Err(LmsError::NotEnrolled);
        }
        let level = self.course_level(&quiz.course_id).await?;
        let pass_mark = level_info(level).pass_mark;
        let bank = self.questions_of(&quiz.course_id).await?;
        let mut tx = write_tx(&self.db).await?;
        let row = sqlx::query(
            "SELECT * FROM attempts WHERE id = $1 AND account_id = $2 AND quiz_id = $3",
        )
        .bind(attempt_id)
        .bind(account)
        .bind(quiz_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(LmsError::AttemptNotFound)?;
        if row.get::<String, _>("status") != "open" {
            return Err(LmsError::AlreadySubmitted);
        }
        lock_enrollment(&mut tx, self.db.backend(), account, &quiz.course_id).await?;
        let layout: Vec<LayoutEntry> =
            serde_json::from_str(&row.get::<String, _>("layout")).map_err(anyhow::Error::from)?;
        // Unknown question ids (not in this attempt) and bad options are refused before
        // anything is recorded.
        let unknown: Vec<String> = answers
            .iter()
            .filter(|a| !layout.iter().any(|e| e.question_id == a.question_id))
            .map(|a| a.question_id.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(LmsError::UnknownQuestions(unknown));
        }
        for (i, a) in answers.iter().enumerate() {
            if answers[..i].iter().any(|b| b.question_id == a.question_id) {
                return Err(LmsError::DuplicateAnswer(a.question_id.clone()));
            }
            let entry = layout.iter().find(|e| e.question_id == a.question_id);
            if !entry.is_some_and(|e| e.option_ids.contains(&a.option_id)) {
                return Err(LmsError::UnknownOption(a.question_id.clone()));
            }
        }
        let deadline: i64 = row.get("deadline");
        let total = i64::try_from(layout.len()).unwrap_or(0);
        if now_us > deadline + GRACE_MICROS {
            sqlx::query(
                "UPDATE attempts SET status = 'expired', submitted_at = $1, score = 0, total = $2, percent = 0, passed = 0 WHERE id = $3 AND status = 'open'",
            )
            .bind(now_us)
            .bind(total)
            .bind(attempt_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Err(LmsError::TimeUp);
        }
        let mut review = Vec::new();
        let mut score = 0i64;
        for e in &layout {
            let correct = bank
                .iter()
                .find(|q| q.get::<String, _>("id") == e.question_id)
                .map(|q| q.get::<String, _>("correct"))
                .unwrap_or_default();
            let chosen = answers
                .iter()
                .find(|a| a.question_id == e.question_id)
                .map(|a| a.option_id.clone());
            let ok = chosen.as_deref() == Some(correct.as_str());
            score += i64::from(ok);
            review.push(QuestionResult {
                question_id: e.question_id.clone(),
                chosen,
                correct_option: correct,
                correct: ok,
            });
        }
        let percent = if total == 0 { 0 } else { score * 100 / total };
        let passed = percent >= pass_mark;
        let answers_json = serde_json::to_string(
            &answers
                .iter()
                .map(|a| (a.question_id.as_str(), a.option_id.as_str()))
                .collect::<Vec<_>>(),
        )
        .map_err(anyhow::Error::from)?;
        let updated = sqlx::query(
            "UPDATE attempts SET status = 'submitted', submitted_at = $1, score = $2, total = $3, percent = $4, passed = $5, answers = $6 \
             WHERE id = $7 AND status = 'open'",
        )
        .bind(now_us)
        .bind(score)
        .bind(total)
        .bind(percent)
        .bind(i64::from(passed))
        .bind(answers_json)
        .bind(attempt_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(LmsError::AlreadySubmitted);
        }
        let certificate_id = if passed && quiz.kind == "post" {
            self.issue_if_ready(&mut tx, account, &quiz.course_id, now_us)
                .await?
        } else {
            None
        };
        // The right answers only once the post-test is over for this round (passed, or its
        // last attempt used): before that they would be the key of the next attempt. The
        // pre-test draws from the same bank, so it never shows them.
        let reveal = quiz.kind == "post"
            && {
                let used: i64 = sqlx::query(
                "SELECT COUNT(*) FROM attempts WHERE account_id = $1 AND quiz_id = $2 \
                 AND started_at >= (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $3)",
            )
            .bind(account)
            .bind(quiz_id)
            .bind(&quiz.course_id)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
                passed || used >= quiz.max_attempts
            };
        tx.commit().await?;
        let row = sqlx::query("SELECT * FROM attempts WHERE id = $1")
            .bind(attempt_id)
            .fetch_one(self.db.pool())
            .await?;
        let mut r = Self::result_of(&row, pass_mark);
        if reveal {
            r.review = review;
        }
        r.certificate_id = certificate_id;
        Ok(r)
    }

    pub async fn results(&self, account: &str) -> LmsResult<Vec<AttemptResult>> {
        let rows = sqlx::query(
            "SELECT a.*, c.pass_mark FROM attempts a JOIN courses c ON c.id = a.course_id \
             WHERE a.account_id = $1 AND a.status <> 'open' ORDER BY a.started_at DESC",
        )
        .bind(account)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Self::result_of(r, r.get("pass_mark")))
            .collect())
    }
}
