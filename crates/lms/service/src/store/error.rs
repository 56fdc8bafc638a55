//! The LMS's rule violations, mapped to stable codes in `http`.

use super::*;

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
