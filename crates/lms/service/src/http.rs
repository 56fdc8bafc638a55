//! `/api/lms/v1`: catalogue, enrolment, progress, lessons, quizzes, practical sign-off,
//! certificates, credentials, the status list and the issuer's keys.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::{Auth, Principal, perm},
    error::{ErrorEnvelope, Lang},
    http::ApiJson,
    time_util::now_micros,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    credential,
    domain::level_str,
    store::{
        Answer, AttemptResult, AttemptStarted, CertificateView, CourseDetail, CourseProgress,
        CourseSummary, Enrollment, LmsError, Participant, PublicCertificate, SignOff, Store,
    },
};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
}

fn en() -> bool {
    Lang::current() == Lang::En
}

impl From<LmsError> for ApiError {
    fn from(e: LmsError) -> Self {
        use serde_json::json;
        match e {
            LmsError::CourseNotFound => ApiError::not_found(
                "LMS_COURSE_NOT_FOUND",
                Msg::new("Kursus tidak ditemukan", "Course not found"),
            ),
            LmsError::LessonNotFound => ApiError::not_found(
                "LMS_LESSON_NOT_FOUND",
                Msg::new("Materi tidak ditemukan", "Lesson not found"),
            ),
            LmsError::QuizNotFound => ApiError::not_found(
                "LMS_QUIZ_NOT_FOUND",
                Msg::new("Kuis tidak ditemukan", "Quiz not found"),
            ),
            LmsError::AttemptNotFound => ApiError::not_found(
                "LMS_ATTEMPT_NOT_FOUND",
                Msg::new("Percobaan kuis tidak ditemukan", "Quiz attempt not found"),
            ),
            LmsError::CertificateNotFound => ApiError::not_found(
                "LMS_CERTIFICATE_NOT_FOUND",
                Msg::new("Sertifikat tidak ditemukan", "Certificate not found"),
            ),
            LmsError::NotEnrolled => ApiError::new(
                StatusCode::FORBIDDEN,
                "LMS_NOT_ENROLLED",
                Msg::new(
                    "Anda belum terdaftar di kursus ini",
                    "You are not enrolled in this course",
                ),
            ),
            LmsError::AlreadyEnrolled => ApiError::conflict(
                "LMS_ALREADY_ENROLLED",
                Msg::new("Anda sudah terdaftar", "You are already enrolled"),
            ),
            LmsError::PrerequisiteMissing(l) => ApiError::conflict(
                "LMS_PREREQUISITE_MISSING",
                Msg::new(
                    "Kursus ini memerlukan sertifikat yang masih berlaku",
                    "This course needs a valid certificate first",
                ),
            )
            .details(json!({ "requires": level_str(l) })),
            LmsError::LessonsIncomplete { done, total } => ApiError::conflict(
                "LMS_LESSONS_INCOMPLETE",
                Msg::new(
                    "Selesaikan semua materi sebelum post-test",
                    "Complete every lesson before the post-test",
                ),
            )
            .details(json!({ "done": done, "total": total })),
            LmsError::AttemptLimit(n) => ApiError::conflict(
                "LMS_ATTEMPT_LIMIT_REACHED",
                Msg::new("Batas percobaan kuis sudah habis", "No quiz attempts left"),
            )
            .details(json!({ "max_attempts": n })),
            LmsError::AlreadySubmitted => ApiError::conflict(
                "LMS_ATTEMPT_ALREADY_SUBMITTED",
                Msg::new(
                    "Jawaban percobaan ini sudah dikirim",
                    "This attempt was already submitted",
                ),
            ),
            LmsError::TimeUp => ApiError::conflict(
                "LMS_ATTEMPT_TIME_UP",
                Msg::new(
                    "Waktu kuis sudah habis; percobaan ditutup",
                    "The time limit has passed; the attempt is closed",
                ),
            ),
            LmsError::UnknownQuestions(ids) => ApiError::validation(
                "LMS_UNKNOWN_QUESTION",
                Msg::new(
                    "Ada pertanyaan yang bukan bagian dari percobaan ini",
                    "Some questions are not part of this attempt",
                ),
            )
            .details(json!({ "question_ids": ids })),
            LmsError::UnknownOption(q) => ApiError::validation(
                "LMS_UNKNOWN_OPTION",
                Msg::new("Pilihan jawaban tidak dikenal", "Unknown answer option"),
            )
            .details(json!({ "question_id": q })),
            LmsError::DuplicateAnswer(q) => ApiError::validation(
                "LMS_DUPLICATE_ANSWER",
                Msg::new(
                    "Satu pertanyaan dijawab lebih dari sekali",
                    "A question was answered more than once",
                ),
            )
            .details(json!({ "question_id": q })),
            LmsError::NotInstructor => ApiError::new(
                StatusCode::FORBIDDEN,
                "LMS_NOT_INSTRUCTOR",
                Msg::new(
                    "Hanya instruktur yang dapat menandatangani ujian praktik",
                    "Only an instructor may sign off a practical",
                ),
            ),
            LmsError::ChecklistIncomplete(missing) => ApiError::validation(
                "LMS_CHECKLIST_INCOMPLETE",
                Msg::new(
                    "Semua keterampilan daftar periksa harus dikuasai",
                    "Every checklist skill must be passed",
                ),
            )
            .details(json!({ "missing": missing })),
            LmsError::UnknownSkill(s) => ApiError::validation(
                "LMS_UNKNOWN_SKILL",
                Msg::new(
                    "Keterampilan tidak ada di daftar periksa",
                    "Skill not on the checklist",
                ),
            )
            .details(json!({ "item": s })),
            LmsError::AlreadySignedOff => ApiError::conflict(
                "LMS_ALREADY_SIGNED_OFF",
                Msg::new(
                    "Ujian praktik sudah ditandatangani",
                    "The practical was already signed off",
                ),
            ),
            LmsError::SelfSignOff => ApiError::new(
                StatusCode::FORBIDDEN,
                "LMS_SELF_SIGNOFF",
                Msg::new(
                    "Instruktur tidak dapat menandatangani ujiannya sendiri",
                    "Instructors cannot sign off their own practical",
                ),
            ),
            LmsError::AlreadyRevoked => ApiError::conflict(
                "LMS_CERTIFICATE_ALREADY_REVOKED",
                Msg::new(
                    "Sertifikat sudah dicabut",
                    "The certificate is already revoked",
                ),
            ),
            LmsError::HolderErased => ApiError::new(
                StatusCode::GONE,
                "LMS_HOLDER_ERASED",
                Msg::new(
                    "Akun pemegang sertifikat telah dihapus; data pribadinya tidak tersedia lagi",
                    "The holder's account was erased; their personal data is no longer available",
                ),
            ),
            LmsError::Db(e) => e.into(),
            LmsError::Other(e) => ApiError::internal(e),
        }
    }
}

fn invalid(field: &str, id: &'static str, en: &'static str) -> ApiError {
    ApiError::validation("VALIDATION_FAILED", Msg::new(id, en))
        .details(serde_json::json!({ "field": field }))
}

/// Trimmed text of 1..=max characters without control characters.
fn text(field: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "Isian kosong, terlalu panjang atau tidak valid",
            "Field empty, too long or invalid",
        ));
    }
    Ok(t.to_string())
}

#[derive(OpenApi)]
#[openapi(tags(
    (name = "courses", description = "Catalogue, enrolment, lessons and progress"),
    (name = "quizzes", description = "Pre- and post-tests, scored on the server"),
    (name = "practical", description = "Practical skills sign-off and the instructor's view"),
    (name = "certificates", description = "Certificates, PDFs, verifiable credentials, revocation"),
))]
struct ApiDoc;

pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/lms/v1",
            OpenApiRouter::new()
                .routes(routes!(courses))
                .routes(routes!(course))
                .routes(routes!(enroll))
                .routes(routes!(progress))
                .routes(routes!(complete_lesson))
                .routes(routes!(start_quiz))
                .routes(routes!(submit_quiz))
                .routes(routes!(results))
                .routes(routes!(sign_off))
                .routes(routes!(participants))
                .routes(routes!(my_certificates))
                .routes(routes!(certificate))
                .routes(routes!(certificate_pdf))
                .routes(routes!(certificate_credential))
                .routes(routes!(revoke))
                .routes(routes!(status_list))
                .routes(routes!(jwks))
                .routes(routes!(issuer)),
        )
        .with_state(state)
        .split_for_parts()
}

/// The catalogue (public).
#[utoipa::path(get, path = "/courses", tag = "courses",
    responses((status = 200, description = "Courses, one per BHD level", body = inline(Envelope<Vec<CourseSummary>>))))]
async fn courses(State(st): State<AppState>) -> ApiResult<Envelope<Vec<CourseSummary>>> {
    Ok(Envelope::ok(st.store.courses(en()).await?))
}

/// A course with its modules, lessons, quizzes and practical checklist (public).
#[utoipa::path(get, path = "/courses/{id}", tag = "courses",
    params(("id" = String, Path, description = "Course id (`bhd-basic`, `bhd-plus`, `bhd-instructor`)")),
    responses(
        (status = 200, description = "The course", body = inline(Envelope<CourseDetail>)),
        (status = 404, description = "LMS_COURSE_NOT_FOUND", body = ErrorEnvelope),
    ))]
async fn course(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<CourseDetail>> {
    Ok(Envelope::ok(st.store.course(&id, en()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollBody {
    pub course_id: String,
    /// The learner's full name, as proposed for the certificate: the instructor checks it
    /// against an identity document at the sign-off, and the certificate carries the
    /// checked name.
    pub name: String,
}

/// Enrol the caller (Plus needs a valid Basic, Instructor a valid Plus).
#[utoipa::path(post, path = "/enroll", tag = "courses", request_body = EnrollBody,
    responses(
        (status = 201, description = "Enrolled", body = inline(Envelope<Enrollment>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 404, description = "LMS_COURSE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "LMS_ALREADY_ENROLLED, LMS_PREREQUISITE_MISSING", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn enroll(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<EnrollBody>, ApiError>,
) -> ApiResult<Envelope<Enrollment>> {
    let ApiJson(b) = body?;
    let name = text("name", &b.name, 120)?;
    Ok(Envelope::created(
        st.store.enroll(&p.subject, &b.course_id, &name).await?,
    ))
}

/// The caller's progress in every enrolled course.
#[utoipa::path(get, path = "/progress", tag = "courses",
    responses(
        (status = 200, description = "Progress", body = inline(Envelope<Vec<CourseProgress>>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn progress(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<CourseProgress>>> {
    Ok(Envelope::ok(st.store.progress(&p.subject).await?))
}

/// Mark a lesson as completed (idempotent).
#[utoipa::path(post, path = "/lessons/{id}/complete", tag = "courses",
    params(("id" = String, Path, description = "Lesson id")),
    responses(
        (status = 200, description = "Progress of the course", body = inline(Envelope<CourseProgress>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "LMS_NOT_ENROLLED", body = ErrorEnvelope),
        (status = 404, description = "LMS_LESSON_NOT_FOUND", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn complete_lesson(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<CourseProgress>> {
    Ok(Envelope::ok(
        st.store.complete_lesson(&p.subject, &id).await?,
    ))
}

/// Start an attempt (or continue the open one): questions drawn from the bank, the ones this
/// learner saw least first, in a random order with shuffled options; no answers.
#[utoipa::path(post, path = "/quiz/{id}/start", tag = "quizzes",
    params(("id" = String, Path, description = "Quiz id (`bhd-basic-pre`, `bhd-basic-post`, ...)")),
    responses(
        (status = 201, description = "Attempt started", body = inline(Envelope<AttemptStarted>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "LMS_NOT_ENROLLED", body = ErrorEnvelope),
        (status = 404, description = "LMS_QUIZ_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "LMS_ATTEMPT_LIMIT_REACHED, LMS_LESSONS_INCOMPLETE (post-test)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn start_quiz(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<AttemptStarted>> {
    Ok(Envelope::created(
        st.store.start_attempt(&p.subject, &id, en()).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    pub attempt_id: String,
    /// Unanswered questions score nothing.
    pub answers: Vec<Answer>,
}

/// Submit an attempt; scored on the server. Returns the score; the right answers (`review`)
/// only when the post-test is over for this round (passed, or its last attempt used).
#[utoipa::path(post, path = "/quiz/{id}/submit", tag = "quizzes", request_body = SubmitBody,
    params(("id" = String, Path, description = "Quiz id")),
    responses(
        (status = 200, description = "Scored", body = inline(Envelope<AttemptResult>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "LMS_NOT_ENROLLED", body = ErrorEnvelope),
        (status = 404, description = "LMS_QUIZ_NOT_FOUND, LMS_ATTEMPT_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "LMS_ATTEMPT_ALREADY_SUBMITTED, LMS_ATTEMPT_TIME_UP", body = ErrorEnvelope),
        (status = 422, description = "LMS_UNKNOWN_QUESTION, LMS_UNKNOWN_OPTION, LMS_DUPLICATE_ANSWER", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn submit_quiz(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<SubmitBody>, ApiError>,
) -> ApiResult<Envelope<AttemptResult>> {
    let ApiJson(b) = body?;
    if b.answers.len() > 200 {
        return Err(invalid(
            "answers",
            "Terlalu banyak jawaban",
            "Too many answers",
        ));
    }
    let r = st
        .store
        .submit(&p.subject, &id, &b.attempt_id, &b.answers, now_micros())
        .await?;
    Ok(Envelope::ok(r))
}

/// The caller's finished attempts, newest first.
#[utoipa::path(get, path = "/results", tag = "quizzes",
    responses(
        (status = 200, description = "Results history", body = inline(Envelope<Vec<AttemptResult>>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn results(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<AttemptResult>>> {
    Ok(Envelope::ok(st.store.results(&p.subject).await?))
}

/// May `p` act as an instructor (sign-offs, participants)?
pub async fn require_instructor(store: &Store, p: &Principal) -> Result<(), ApiError> {
    if p.can(perm::CERTIFICATE_ISSUE) || store.is_instructor(&p.subject).await? {
        Ok(())
    } else {
        Err(LmsError::NotInstructor.into())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignOffBody {
    /// KREKI ID subject of the learner.
    pub account_id: String,
    pub course_id: String,
    /// The learner's name as the instructor checked it against an identity document (the
    /// enrolment's name is only a proposal): printed on the certificate.
    pub holder_name: String,
    /// The instructor's name as printed on the certificate.
    pub instructor_name: String,
    /// Where the practical took place (e.g. "Puskesmas Menteng, Jakarta Pusat").
    pub location: String,
    /// Checklist skill ids passed; all of them are required.
    pub items: Vec<String>,
}

/// Sign off a learner's practical in person (role training_admin or a valid Instructor
/// certificate). Issues the certificate when the post-test is passed too.
#[utoipa::path(post, path = "/practical/signoff", tag = "practical", request_body = SignOffBody,
    responses(
        (status = 201, description = "Signed off", body = inline(Envelope<SignOff>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "LMS_NOT_INSTRUCTOR, LMS_NOT_ENROLLED, LMS_SELF_SIGNOFF", body = ErrorEnvelope),
        (status = 404, description = "LMS_COURSE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "LMS_ALREADY_SIGNED_OFF", body = ErrorEnvelope),
        (status = 422, description = "LMS_CHECKLIST_INCOMPLETE, LMS_UNKNOWN_SKILL, VALIDATION_FAILED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn sign_off(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<SignOffBody>, ApiError>,
) -> ApiResult<Envelope<SignOff>> {
    // Who may sign is decided before the body is looked at.
    require_instructor(&st.store, &p).await?;
    let ApiJson(b) = body?;
    let holder_name = text("holder_name", &b.holder_name, 120)?;
    let instructor_name = text("instructor_name", &b.instructor_name, 120)?;
    let location = text("location", &b.location, 200)?;
    let s = st
        .store
        .sign_off(
            &p.subject,
            &instructor_name,
            &holder_name,
            &b.account_id,
            &b.course_id,
            &location,
            &b.items,
        )
        .await?;
    Ok(Envelope::created(s))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParticipantsQuery {
    /// Only this course.
    pub course_id: Option<String>,
    /// Only those waiting for a practical sign-off.
    pub pending: Option<bool>,
    /// Page number, from 1 (default 1).
    pub page: Option<u32>,
    /// Rows per page, 1–200 (default 50).
    pub limit: Option<u32>,
}

/// Participants with scores and pending sign-offs (instructors).
#[utoipa::path(get, path = "/instructor/participants", tag = "practical", params(ParticipantsQuery),
    responses(
        (status = 200, description = "Participants", body = inline(Envelope<Vec<Participant>>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "LMS_NOT_INSTRUCTOR", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED (page, limit)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn participants(
    State(st): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ParticipantsQuery>,
) -> ApiResult<Envelope<Vec<Participant>>> {
    require_instructor(&st.store, &p).await?;
    let page = q.page.unwrap_or(1);
    let limit = q.limit.unwrap_or(50);
    if page == 0 || !(1..=200).contains(&limit) {
        return Err(invalid(
            "page",
            "page mulai dari 1, limit 1–200",
            "page starts at 1, limit is 1–200",
        ));
    }
    let (list, total) = st
        .store
        .participants(q.course_id.as_deref(), q.pending == Some(true), page, limit)
        .await?;
    Ok(Envelope::ok(list).paged(kreki_platform::error::Meta { page, limit, total }))
}

/// The caller's certificates.
#[utoipa::path(get, path = "/certificates/mine", tag = "certificates",
    responses(
        (status = 200, description = "Certificates", body = inline(Envelope<Vec<CertificateView>>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn my_certificates(
    State(st): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Envelope<Vec<CertificateView>>> {
    Ok(Envelope::ok(
        st.store.certificates_of(&p.subject, en()).await?,
    ))
}

/// A certificate's public record: valid, expired or revoked (public, like the page). Only
/// the public id finds it (the register number alone does not); names are masked, the
/// revocation reason is not shown.
#[utoipa::path(get, path = "/certificate/{id}", tag = "certificates",
    params(("id" = String, Path, description = "Public id, `BHD-BASIC-2026-0001-7K3QX9M2PD4WT8HZ`")),
    responses(
        (status = 200, description = "The certificate", body = inline(Envelope<PublicCertificate>)),
        (status = 404, description = "LMS_CERTIFICATE_NOT_FOUND", body = ErrorEnvelope),
    ))]
async fn certificate(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Envelope<PublicCertificate>> {
    Ok(Envelope::ok(st.store.certificate(&id, en()).await?))
}

async fn owner_or_admin(st: &AppState, p: &Principal, id: &str) -> Result<String, ApiError> {
    let (owner, credential) = st.store.certificate_owner(id).await?;
    if owner != p.subject && !p.can(perm::CERTIFICATE_ISSUE) {
        // Someone else's certificate: as if it did not exist for this call.
        return Err(LmsError::CertificateNotFound.into());
    }
    Ok(credential)
}

/// The certificate as PDF (holder or training admin).
#[utoipa::path(get, path = "/certificate/{id}/pdf", tag = "certificates",
    params(("id" = String, Path, description = "Public id of the certificate")),
    responses(
        (status = 200, description = "PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 404, description = "LMS_CERTIFICATE_NOT_FOUND", body = ErrorEnvelope),
        (status = 410, description = "LMS_HOLDER_ERASED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn certificate_pdf(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    owner_or_admin(&st, &p, &id).await?;
    let (_, pdf) = st.store.certificate_pdf(&id).await?;
    Ok(pdf_response(&id, pdf))
}

pub fn pdf_response(id: &str, pdf: Vec<u8>) -> Response {
    let mut res = pdf.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{id}.pdf\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub certificate_id: String,
    /// The `OpenBadgeCredential` as VC-JWT (compact JWS, EdDSA).
    pub credential: String,
    /// `did:key` of the issuer.
    pub issuer: String,
    pub status_list: String,
}

/// The certificate's verifiable credential (holder or training admin).
#[utoipa::path(get, path = "/certificate/{id}/credential", tag = "certificates",
    params(("id" = String, Path, description = "Public id of the certificate")),
    responses(
        (status = 200, description = "The credential", body = inline(Envelope<CredentialView>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 404, description = "LMS_CERTIFICATE_NOT_FOUND", body = ErrorEnvelope),
        (status = 410, description = "LMS_HOLDER_ERASED", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn certificate_credential(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<CredentialView>> {
    let credential = owner_or_admin(&st, &p, &id).await?;
    Ok(Envelope::ok(CredentialView {
        certificate_id: id,
        credential,
        issuer: st.store.issuer().did.clone(),
        status_list: credential::status_list_url(st.store.base_url()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    pub reason: String,
}

/// Revoke a certificate (training admin): the page, the API and the status list say
/// revoked; `lms.certificate.revoked` is published.
#[utoipa::path(post, path = "/certificate/{id}/revoke", tag = "certificates", request_body = RevokeBody,
    params(("id" = String, Path, description = "Public id of the certificate")),
    responses(
        (status = 200, description = "Revoked", body = inline(Envelope<CertificateView>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Not a training admin", body = ErrorEnvelope),
        (status = 404, description = "LMS_CERTIFICATE_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "LMS_CERTIFICATE_ALREADY_REVOKED", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_FAILED (reason)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn revoke(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Result<ApiJson<RevokeBody>, ApiError>,
) -> ApiResult<Envelope<CertificateView>> {
    p.require(perm::CERTIFICATE_REVOKE)?;
    let ApiJson(b) = body?;
    let reason = text("reason", &b.reason, 500)?;
    let v = st.store.revoke(&id, &p.subject, &reason, en()).await?;
    Ok(Envelope::ok(v))
}

/// The revocation status list: a `BitstringStatusListCredential` as VC-JWT
/// (`application/vc+jwt`; 131,072 entries, GZIP, multibase base64url). Public.
#[utoipa::path(get, path = "/credentials/status/1", tag = "certificates",
    responses((status = 200, description = "VC-JWT", content_type = "application/vc+jwt", body = String)))]
async fn status_list(State(st): State<AppState>) -> Result<Response, ApiError> {
    let jwt = st.store.status_list().await?;
    let mut res = jwt.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vc+jwt"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(res)
}

/// The issuer's public key as a JWK set (public).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "certificates",
    responses((status = 200, description = "JWKS (OKP Ed25519)", body = Object)))]
async fn jwks(State(st): State<AppState>) -> Response {
    axum::Json(serde_json::json!({ "keys": [st.store.issuer().jwk()] })).into_response()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerView {
    /// `did:key:z…` (Ed25519).
    pub did: String,
    /// Verification method id: the `kid` of every credential.
    pub kid: String,
    pub jwks_url: String,
    pub status_list_url: String,
}

/// Who signs the credentials (public).
#[utoipa::path(get, path = "/issuer", tag = "certificates",
    responses((status = 200, description = "Issuer", body = inline(Envelope<IssuerView>))))]
async fn issuer(State(st): State<AppState>) -> Envelope<IssuerView> {
    let base = st.store.base_url();
    Envelope::ok(IssuerView {
        did: st.store.issuer().did.clone(),
        kid: st.store.issuer().kid.clone(),
        jwks_url: format!("{base}/api/lms/v1/.well-known/jwks.json"),
        status_list_url: credential::status_list_url(base),
    })
}
