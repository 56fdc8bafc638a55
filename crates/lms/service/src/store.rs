//! The LMS store and its rules: catalogue, enrolment with prerequisites, lessons, attempts
//! with server-side scoring, practical sign-off, certificates (gap-free numbers, credential,
//! revocation, reminders). One adapter over the platform's [`Db`] serves SQLite and
//! PostgreSQL; the tests run every case on both.

use std::sync::Arc;

use kreki_lms_contracts::{
    CERTIFICATE_EXPIRING, CERTIFICATE_ISSUED, CERTIFICATE_REVOKED, CertificateEvent, Level,
};
use kreki_notify_contracts::{
    Attachment, MESSAGE_REQUESTED, MessageRequested, Priority, Recipient, Template,
};
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Backend, Db, Tx},
    time_util::{from_micros, now_micros, rfc3339},
};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use crate::{
    credential::{self, CredentialInput, Issuer},
    domain::{self, CATALOGUE, LevelInfo, level_info, level_str, parse_level, rank},
    pdf,
};

pub const SOURCE: &str = "lms";
/// Submissions this long after the deadline are still accepted (network latency).
pub const GRACE_MICROS: i64 = 30_000_000;

/// Rule violations, mapped to stable codes in `http`.
#[derive(Debug, thiserror::Error)]
pub enum LmsError {
    #[error("course not found")]
    CourseNotFound,
    #[error("lesson not found")]
    LessonNotFound,
    #[error("quiz not found")]
    QuizNotFound,
    #[error("attempt not found")]
    AttemptNotFound,
    #[error("certificate not found")]
    CertificateNotFound,
    #[error("not enrolled")]
    NotEnrolled,
    #[error("already enrolled")]
    AlreadyEnrolled,
    #[error("prerequisite missing")]
    PrerequisiteMissing(Level),
    #[error("lessons incomplete")]
    LessonsIncomplete { done: i64, total: i64 },
    #[error("attempt limit reached")]
    AttemptLimit(i64),
    #[error("attempt already submitted")]
    AlreadySubmitted,
    #[error("time limit passed")]
    TimeUp,
    #[error("unknown questions")]
    UnknownQuestions(Vec<String>),
    #[error("unknown option")]
    UnknownOption(String),
    #[error("duplicate answer")]
    DuplicateAnswer(String),
    #[error("not an instructor")]
    NotInstructor,
    #[error("checklist incomplete")]
    ChecklistIncomplete(Vec<&'static str>),
    #[error("unknown skill")]
    UnknownSkill(String),
    #[error("already signed off")]
    AlreadySignedOff,
    #[error("self sign-off")]
    SelfSignOff,
    #[error("already revoked")]
    AlreadyRevoked,
    /// The holder's account was erased: the entry stays in the register, without the name.
    #[error("holder erased")]
    HolderErased,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type LmsResult<T> = Result<T, LmsError>;

// ---- views -------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseSummary {
    pub id: String,
    pub level: Level,
    pub title: String,
    pub summary: String,
    pub hours: i64,
    /// Written pass mark, percent.
    pub pass_mark: i64,
    pub validity_years: i64,
    /// The recertification window opens this many months before expiry.
    pub recertification_window_months: i64,
    /// A valid certificate of this level is required to enrol.
    pub requires: Option<Level>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonView {
    pub id: String,
    /// `text`, `video` or `image`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub media_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModuleView {
    pub id: String,
    pub title: String,
    pub lessons: Vec<LessonView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuizInfo {
    pub id: String,
    /// `pre` or `post`.
    pub kind: String,
    pub question_count: i64,
    pub time_limit_s: i64,
    pub max_attempts: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkillView {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseDetail {
    #[serde(flatten)]
    pub course: CourseSummary,
    pub modules: Vec<ModuleView>,
    pub quizzes: Vec<QuizInfo>,
    /// Practical skills an instructor signs off in person.
    pub practical_checklist: Vec<SkillView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Enrollment {
    pub course_id: String,
    pub enrolled_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseProgress {
    pub course_id: String,
    pub level: Level,
    pub enrolled_at: String,
    pub lessons_total: i64,
    pub lessons_done: i64,
    pub completed_lessons: Vec<String>,
    /// Best pre-test percentage, if taken.
    pub pre_test_percent: Option<i64>,
    pub post_test_best_percent: Option<i64>,
    pub post_test_passed: bool,
    pub post_test_attempts_left: i64,
    pub practical_signed_off: bool,
    pub certificate_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionView {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionView {
    pub id: String,
    pub text: String,
    /// In the order shown to this learner (randomised per attempt).
    pub options: Vec<OptionView>,
}

/// A started attempt: the questions without their answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptStarted {
    pub attempt_id: String,
    pub quiz_id: String,
    pub kind: String,
    pub started_at: String,
    pub deadline: String,
    pub time_limit_s: i64,
    pub attempts_left: i64,
    pub questions: Vec<QuestionView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub question_id: String,
    pub option_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionResult {
    pub question_id: String,
    pub chosen: Option<String>,
    pub correct_option: String,
    pub correct: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptResult {
    pub attempt_id: String,
    pub quiz_id: String,
    pub course_id: String,
    pub kind: String,
    /// `submitted` or `expired`.
    pub status: String,
    pub score: i64,
    pub total: i64,
    pub percent: i64,
    pub pass_mark: i64,
    pub passed: bool,
    pub started_at: String,
    pub submitted_at: Option<String>,
    /// The right answers, only in the answer to a post-test submission that ends the
    /// post-test for this round (passed, or the last attempt); absent otherwise (failed
    /// attempts with attempts left, the pre-test, the history).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub review: Vec<QuestionResult>,
    /// A certificate issued by this submission (post-test passed with a practical signed off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignOff {
    pub account_id: String,
    pub course_id: String,
    /// The learner's name as the instructor checked it (printed on the certificate).
    pub holder_name: String,
    pub instructor_id: String,
    pub instructor_name: String,
    pub location: String,
    pub items: Vec<String>,
    pub signed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
}

/// A certificate as its holder and the training admins see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateView {
    /// Public id: the register number and an unguessable part,
    /// `BHD-BASIC-2026-0001-7K3QX9M2PD4WT8HZ` (what the QR code and the verification page
    /// carry; the only id the API answers to).
    pub id: String,
    /// Gap-free register number, `BHD-BASIC-2026-0001` (printed on the certificate).
    pub number: String,
    pub level: Level,
    pub course_id: String,
    pub course_title: String,
    /// The name the instructor checked at the sign-off; null once the holder's account
    /// was erased.
    pub holder_name: Option<String>,
    /// Null once the instructor's account was erased.
    pub instructor_name: Option<String>,
    /// The holder's account was erased (`identity.account.erased`).
    pub holder_erased: bool,
    pub issued_at: String,
    pub valid_until: String,
    /// `valid`, `expired` or `revoked`.
    pub status: String,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<String>,
    pub verify_url: String,
}

/// The public record of a certificate (`GET /certificate/{id}` and `/verify/{id}`, no
/// sign-in): names masked, no revocation reason.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicCertificate {
    /// Public id (register number and an unguessable part).
    pub id: String,
    /// Gap-free register number.
    pub number: String,
    pub level: Level,
    pub course_id: String,
    pub course_title: String,
    /// Masked: the first name and the initials of the others, `Budi S.` (enough to match an
    /// identity card, not to learn the whole name); null once the holder's account was
    /// erased.
    pub holder_name: Option<String>,
    /// Masked like the holder's; null once the instructor's account was erased.
    pub instructor_name: Option<String>,
    /// The holder's account was erased: the register entry stays, without a name.
    pub holder_erased: bool,
    pub issued_at: String,
    pub valid_until: String,
    /// `valid`, `expired` or `revoked`.
    pub status: String,
    pub revoked_at: Option<String>,
    pub verify_url: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Participant {
    pub account_id: String,
    pub name: String,
    pub course_id: String,
    pub enrolled_at: String,
    pub lessons_done: i64,
    pub lessons_total: i64,
    pub pre_test_percent: Option<i64>,
    pub post_test_best_percent: Option<i64>,
    pub post_test_passed: bool,
    pub practical_signed_off: bool,
    /// Passed the post-test, practical not yet signed off.
    pub pending_signoff: bool,
    pub certificate_id: Option<String>,
}

// ---- helpers -----------------------------------------------------------------------

/// `(id, en)` text chosen by language.
fn pick(row: &AnyRow, base: &str, en: bool) -> String {
    let col = format!("{base}_{}", if en { "en" } else { "id" });
    row.try_get::<String, _>(col.as_str()).unwrap_or_default()
}

fn level_of(row: &AnyRow) -> Level {
    parse_level(&row.get::<String, _>("level")).unwrap_or(Level::Basic)
}

pub fn add_years(us: i64, years: i64) -> i64 {
    let t = from_micros(us);
    let y = t.year() + i32::try_from(years).unwrap_or(0);
    let d = t.date();
    let date = time::Date::from_calendar_date(y, d.month(), d.day())
        .or_else(|_| time::Date::from_calendar_date(y, d.month(), 28))
        .unwrap_or(d);
    kreki_platform::time_util::to_micros(t.replace_date(date))
}

pub fn sub_months(us: i64, months: i64) -> i64 {
    let t = from_micros(us);
    let d = t.date();
    let total = i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1 - months;
    let y = i32::try_from(total.div_euclid(12)).unwrap_or(d.year());
    let m = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    let month = time::Month::try_from(m).unwrap_or(time::Month::January);
    let day = d.day().min(month.length(y));
    let date = time::Date::from_calendar_date(y, month, day).unwrap_or(d);
    kreki_platform::time_util::to_micros(t.replace_date(date))
}

/// A name as the public may see it: the first name in full, the other names as initials
/// (`Budi Santoso` → `Budi S.`, `Muhammad Rizky Pratama` → `Muhammad R. P.`). Titles before
/// the name (words ending in a full stop: `dr.`, `Ns.`) and degrees after a comma are left
/// out.
pub fn mask_name(name: &str) -> String {
    let base = name.split(',').next().unwrap_or("");
    let mut words = base
        .split_whitespace()
        .skip_while(|w| w.ends_with('.'))
        .filter(|w| w.chars().next().is_some_and(char::is_alphanumeric));
    let Some(first) = words.next() else {
        return String::new();
    };
    let mut out = first.to_string();
    for w in words {
        if let Some(c) = w.chars().next() {
            out.push(' ');
            out.extend(c.to_uppercase());
            out.push('.');
        }
    }
    out
}

/// Crockford base32 (no I, L, O, U): easy to read out and to type.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A certificate's public id: its register number and 80 random bits (16 characters).
pub fn new_public_id(number: &str) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let secret: String = (0..16)
        .map(|_| char::from(CROCKFORD[rng.gen_range(0..32)]))
        .collect();
    format!("{number}-{secret}")
}

/// The register number inside a public id.
pub fn register_number(public_id: &str) -> &str {
    public_id.rsplit_once('-').map_or(public_id, |(n, _)| n)
}

fn date_only(us: i64) -> String {
    rfc3339(us).chars().take(10).collect()
}

/// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
/// a transaction that reads first and writes later never fails to upgrade under
/// concurrency; PostgreSQL locks rows as it goes.
pub async fn write_tx(db: &Db) -> Result<Tx, sqlx::Error> {
    match db.backend() {
        Backend::Sqlite => db.pool().begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => db.begin().await,
    }
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    issuer: Arc<Issuer>,
    base_url: String,
}

struct QuizRow {
    id: String,
    course_id: String,
    kind: String,
    question_count: i64,
    time_limit_s: i64,
    max_attempts: i64,
}

#[derive(Serialize, Deserialize)]
struct LayoutEntry {
    question_id: String,
    option_ids: Vec<String>,
}

impl Store {
    /// Seed the catalogue (idempotent), load or make the issuer key.
    pub async fn open(db: Db, base_url: String) -> anyhow::Result<Store> {
        seed_catalogue(&db).await?;
        let issuer = Arc::new(load_or_create_issuer(&db).await?);
        let store = Store {
            db,
            issuer,
            base_url,
        };
        store.backfill_public_ids().await?;
        Ok(store)
    }

    /// Certificates issued before public ids existed get one, and their credential is
    /// signed again with it (its id is the verification URL). Idempotent; replicas starting
    /// together keep the first written.
    async fn backfill_public_ids(&self) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "SELECT t.*, c.title_id, c.summary_id FROM certificates t JOIN courses c ON c.id = t.course_id \
             WHERE t.public_id IS NULL",
        )
        .fetch_all(self.db.pool())
        .await?;
        for r in rows {
            let number: String = r.get("id");
            let public = new_public_id(&number);
            let level = level_of(&r);
            let account: String = r.get("account_id");
            let course_id: String = r.get("course_id");
            let holder: String = r.get("holder_name");
            let title: String = r.get("title_id");
            let summary: String = r.get("summary_id");
            let claims = credential::certificate_claims(
                &CredentialInput {
                    base_url: &self.base_url,
                    certificate_id: &public,
                    holder_account: &account,
                    holder_name: &holder,
                    course_id: &course_id,
                    course_name: &title,
                    course_summary: &summary,
                    level: level_str(level),
                    issued_at: r.get::<i64, _>("issued_at") / 1_000_000,
                    valid_until: r.get::<i64, _>("valid_until") / 1_000_000,
                    status_index: r.get("status_index"),
                },
                &self.issuer.did,
            );
            // An erased holder's entry has no credential to sign again.
            let credential = if erased(&r) {
                String::new()
            } else {
                self.issuer.sign(&claims)
            };
            sqlx::query(
                "UPDATE certificates SET public_id = $1, credential = $2 WHERE id = $3 AND public_id IS NULL",
            )
            .bind(&public)
            .bind(credential)
            .bind(&number)
            .execute(self.db.writer())
            .await?;
        }
        Ok(())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    // ---- catalogue ------------------------------------------------------------------

    fn summary(row: &AnyRow, en: bool) -> CourseSummary {
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

    async fn course_level(&self, course_id: &str) -> LmsResult<Level> {
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
    async fn renewable(
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

    async fn enrolled_name(&self, account: &str, course_id: &str) -> LmsResult<Option<String>> {
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

    async fn lesson_counts(&self, account: &str, course_id: &str) -> LmsResult<(i64, Vec<String>)> {
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

    async fn best(
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

    async fn signed_off(&self, account: &str, course_id: &str) -> LmsResult<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM signoffs WHERE account_id = $1 AND course_id = $2 AND signed_at >= (SELECT enrolled_at FROM enrollments WHERE account_id = $1 AND course_id = $2)")
                .bind(account)
                .bind(course_id)
                .fetch_optional(self.db.pool())
                .await?
                .is_some(),
        )
    }

    async fn latest_certificate(
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

    async fn progress_of(
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

    // ---- quizzes ----------------------------------------------------------------------

    async fn quiz(&self, quiz_id: &str) -> LmsResult<QuizRow> {
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

    async fn questions_of(&self, course_id: &str) -> LmsResult<Vec<AnyRow>> {
        Ok(
            sqlx::query("SELECT * FROM questions WHERE course_id = $1 ORDER BY position")
                .bind(course_id)
                .fetch_all(self.db.pool())
                .await?,
        )
    }

    fn question_view(row: &AnyRow, option_ids: &[String], en: bool) -> QuestionView {
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

    async fn attempt(
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

    fn result_of(row: &AnyRow, pass_mark: i64) -> AttemptResult {
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

    // ---- certificates -----------------------------------------------------------------

    /// Issue the certificate of `course_id` inside `tx` if the post-test is passed and the
    /// practical signed off and no valid certificate of this course exists yet.
    async fn issue_if_ready(
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
    fn render_pdf_parts(
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
    async fn certificate_row(&self, public_id: &str) -> LmsResult<AnyRow> {
        sqlx::query(
            "SELECT t.*, c.title_id, c.title_en FROM certificates t JOIN courses c ON c.id = t.course_id WHERE t.public_id = $1",
        )
        .bind(public_id.to_ascii_uppercase())
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(LmsError::CertificateNotFound)
    }

    fn certificate_view(&self, r: &AnyRow, en: bool, now_us: i64) -> CertificateView {
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

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn erased(r: &AnyRow) -> bool {
    r.try_get::<Option<i64>, _>("holder_erased_at")
        .ok()
        .flatten()
        .is_some()
}

fn status_of(revoked_at: Option<i64>, valid_until: i64, now_us: i64) -> &'static str {
    if revoked_at.is_some() {
        "revoked"
    } else if valid_until <= now_us {
        "expired"
    } else {
        "valid"
    }
}

/// Serialise the transactions that may issue a learner's certificate (post-test submission
/// and practical sign-off) so that one of them always sees the other's row. SQLite's
/// `BEGIN IMMEDIATE` already serialises writers.
async fn lock_enrollment(
    tx: &mut Tx,
    backend: Backend,
    account: &str,
    course_id: &str,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query(
            "SELECT 1 FROM enrollments WHERE account_id = $1 AND course_id = $2 FOR UPDATE",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Next value of a counter row, in the caller's transaction: gap-free because a rolled
/// back issue rolls the counter back too; concurrent issuers wait on the row lock.
async fn next_counter(tx: &mut Tx, scope: &str, year: i64) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO cert_counters (scope, year, last) VALUES ($1, $2, 1) \
         ON CONFLICT (scope, year) DO UPDATE SET last = cert_counters.last + 1 RETURNING last",
    )
    .bind(scope)
    .bind(year)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.get(0))
}

async fn seed_catalogue(db: &Db) -> anyhow::Result<()> {
    let mut tx = write_tx(db).await?;
    for (ci, c) in CATALOGUE.iter().enumerate() {
        let info: &LevelInfo = c.info;
        let cid = info.course_id;
        sqlx::query(
            "INSERT INTO courses (id, level, position, title_id, title_en, summary_id, summary_en, hours, pass_mark, validity_years, recert_months) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING",
        )
        .bind(cid)
        .bind(level_str(info.level))
        .bind(i64::try_from(ci)?)
        .bind(c.title.0)
        .bind(c.title.1)
        .bind(c.summary.0)
        .bind(c.summary.1)
        .bind(info.hours)
        .bind(info.pass_mark)
        .bind(info.validity_years)
        .bind(info.recert_months)
        .execute(&mut *tx)
        .await?;
        let mut lesson_pos = 0i64;
        for (mi, m) in c.modules.iter().enumerate() {
            let mid = format!("{cid}-m{}", mi + 1);
            sqlx::query(
                "INSERT INTO modules (id, course_id, position, title_id, title_en) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&mid)
            .bind(cid)
            .bind(i64::try_from(mi)?)
            .bind(m.title.0)
            .bind(m.title.1)
            .execute(&mut *tx)
            .await?;
            for (li, l) in m.lessons.iter().enumerate() {
                lesson_pos += 1;
                sqlx::query(
                    "INSERT INTO lessons (id, module_id, course_id, position, kind, title_id, title_en, body_id, body_en, media_url) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                )
                .bind(format!("{mid}-l{}", li + 1))
                .bind(&mid)
                .bind(cid)
                .bind(lesson_pos)
                .bind(l.kind)
                .bind(l.title.0)
                .bind(l.title.1)
                .bind(l.body.0)
                .bind(l.body.1)
                .bind(l.media_url)
                .execute(&mut *tx)
                .await?;
            }
        }
        for (qi, q) in c.questions.iter().enumerate() {
            let options: Vec<serde_json::Value> = q
                .options
                .iter()
                .map(|(id, t_id, t_en)| serde_json::json!({"id": id, "text_id": t_id, "text_en": t_en}))
                .collect();
            sqlx::query(
                "INSERT INTO questions (id, course_id, position, text_id, text_en, options, correct) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(format!("{cid}-q{:02}", qi + 1))
            .bind(cid)
            .bind(i64::try_from(qi)?)
            .bind(q.text.0)
            .bind(q.text.1)
            .bind(serde_json::to_string(&options)?)
            .bind(q.correct)
            .execute(&mut *tx)
            .await?;
        }
        for (kind, (count, limit, attempts)) in [("pre", c.pre), ("post", c.post)] {
            sqlx::query(
                "INSERT INTO quizzes (id, course_id, kind, question_count, time_limit_s, max_attempts) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(format!("{cid}-{kind}"))
            .bind(cid)
            .bind(kind)
            .bind(count)
            .bind(limit)
            .bind(attempts)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn load_or_create_issuer(db: &Db) -> anyhow::Result<Issuer> {
    let pkcs8 = Issuer::generate_pkcs8()?;
    // Replicas starting together agree on the first key written.
    sqlx::query("INSERT INTO issuer_keys (id, pkcs8, created_at) VALUES ('primary', $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(credential::b64(&pkcs8))
        .bind(now_micros())
        .execute(db.writer())
        .await?;
    let stored: String = sqlx::query("SELECT pkcs8 FROM issuer_keys WHERE id = 'primary'")
        .fetch_one(db.pool())
        .await?
        .get(0);
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(stored)?;
    Issuer::from_pkcs8(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_for_the_public() {
        for (name, masked) in [
            ("Budi Santoso", "Budi S."),
            ("Muhammad Rizky Pratama", "Muhammad R. P."),
            ("dr. Andi Wijaya", "Andi W."),
            ("Prof. dr. Budi Santoso, Sp.JP(K)", "Budi S."),
            ("Ns. Maya", "Maya"),
            ("Sukarno", "Sukarno"),
            ("  siti   rahma ", "siti R."),
            ("Ébé ñandú", "Ébé Ñ."),
            ("", ""),
            ("dr.", ""),
        ] {
            assert_eq!(mask_name(name), masked, "{name}");
        }
    }

    #[test]
    fn public_ids_hold_the_number_and_80_random_bits() {
        let a = new_public_id("BHD-BASIC-2026-0001");
        let b = new_public_id("BHD-BASIC-2026-0001");
        assert_ne!(a, b);
        assert_eq!(register_number(&a), "BHD-BASIC-2026-0001");
        let secret = a.rsplit('-').next().unwrap_or("");
        assert_eq!(secret.len(), 16);
        assert!(secret.bytes().all(|c| CROCKFORD.contains(&c)));
    }
}
