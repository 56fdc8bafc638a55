//! What the LMS answers: courses, progress, attempts, sign-offs, certificates, participants.

use super::*;

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
