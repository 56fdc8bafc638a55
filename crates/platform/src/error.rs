//! The org's JSON envelope and the error type every service maps its failures to.
//!
//! Success: `{"success":true,"message":..,"data":..,"meta":{page,limit,total}}`.
//! Error: `{"success":false,"message":..,"error":{"code":"UPPER_SNAKE","details":..}}`.
//! Messages are bilingual ([`Msg`]); the one shown follows the request's language
//! (Bahasa Indonesia unless the client prefers English). Internal causes are logged, never
//! shown to the caller.

use std::borrow::Cow;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Language of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Id,
    En,
}

impl Lang {
    /// From an `Accept-Language` header: English only where it is preferred over Indonesian.
    pub fn from_accept_language(value: Option<&str>) -> Lang {
        let Some(v) = value else { return Lang::Id };
        for part in v.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("id") || tag.starts_with("in") {
                return Lang::Id;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Id
    }

    /// The language of the request being handled (set by the HTTP kit's middleware).
    pub fn current() -> Lang {
        REQUEST_LANG.try_with(|l| *l).unwrap_or_default()
    }
}

tokio::task_local! {
    pub(crate) static REQUEST_LANG: Lang;
}

/// A user-facing text in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub id: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Msg {
    pub const fn new(id: &'static str, en: &'static str) -> Self {
        Self {
            id: Cow::Borrowed(id),
            en: Cow::Borrowed(en),
        }
    }
    pub fn owned(id: String, en: String) -> Self {
        Self {
            id: Cow::Owned(id),
            en: Cow::Owned(en),
        }
    }
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Id => &self.id,
            Lang::En => &self.en,
        }
    }
}

/// Pagination metadata of list responses.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct Meta {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

/// The success envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub message: String,
    pub data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    #[serde(skip)]
    #[schema(ignore)]
    status: u16,
}

const OK_MSG: Msg = Msg::new("Berhasil", "OK");

impl<T: Serialize> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self::with_status(StatusCode::OK, OK_MSG, data)
    }
    pub fn created(data: T) -> Self {
        Self::with_status(
            StatusCode::CREATED,
            Msg::new("Berhasil dibuat", "Created"),
            data,
        )
    }
    pub fn accepted(data: T) -> Self {
        Self::with_status(StatusCode::ACCEPTED, Msg::new("Diterima", "Accepted"), data)
    }
    pub fn with_status(status: StatusCode, msg: Msg, data: T) -> Self {
        Self {
            success: true,
            message: msg.get(Lang::current()).to_string(),
            data,
            meta: None,
            status: status.as_u16(),
        }
    }
    pub fn paged(mut self, meta: Meta) -> Self {
        self.meta = Some(meta);
        self
    }
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        (status, Json(self)).into_response()
    }
}

/// Body of the error envelope (for OpenAPI and tests).
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorEnvelope {
    pub success: bool,
    pub message: String,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable upper-snake error code.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// Marker header that tells the HTTP kit a response already carries the envelope.
pub const ENVELOPE_MARKER: &str = "x-kreki-envelope";

/// A failure with a stable code, an HTTP status, a bilingual message and optional details.
/// (Boxed: it travels in every `Result` of every handler.)
#[derive(Debug)]
pub struct ApiError(Box<ApiErrorInner>);

#[derive(Debug)]
pub struct ApiErrorInner {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub msg: Msg,
    pub details: Option<Value>,
    pub retry_after_s: Option<u64>,
    /// Logged, never shown.
    pub source: Option<anyhow::Error>,
    pub www_authenticate: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl std::ops::Deref for ApiError {
    type Target = ApiErrorInner;
    fn deref(&self) -> &ApiErrorInner {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorInner {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, msg: Msg) -> Self {
        Self(Box::new(ApiErrorInner {
            status,
            code: Cow::Borrowed(code),
            msg,
            details: None,
            retry_after_s: None,
            source: None,
            www_authenticate: None,
        }))
    }
    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_s = Some(secs);
        self
    }
    pub fn source(mut self, err: impl Into<anyhow::Error>) -> Self {
        self.source = Some(err.into());
        self
    }

    pub fn bad_request(code: &'static str, msg: Msg) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, msg)
    }
    pub fn validation(code: &'static str, msg: Msg) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg)
    }
    pub fn not_found(code: &'static str, msg: Msg) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, msg)
    }
    pub fn conflict(code: &'static str, msg: Msg) -> Self {
        Self::new(StatusCode::CONFLICT, code, msg)
    }
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "AUTH_FORBIDDEN",
            Msg::new(
                "Anda tidak memiliki izin untuk tindakan ini",
                "You do not have permission for this action",
            ),
        )
    }
    pub fn unauthorized(code: &'static str) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            code,
            Msg::new(
                "Autentikasi diperlukan atau token tidak valid",
                "Authentication required or token invalid",
            ),
        );
        e.www_authenticate = Some("Bearer");
        e
    }
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            Msg::new(
                "Terjadi kesalahan pada server",
                "Something went wrong on the server",
            ),
        )
        .source(err)
    }
    pub fn storage_unavailable(err: impl Into<anyhow::Error>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORAGE_UNAVAILABLE",
            Msg::new(
                "Layanan sementara tidak tersedia, coba lagi",
                "Service temporarily unavailable, try again",
            ),
        )
        .retry_after(2)
        .source(err)
    }
    pub fn rate_limited(retry_after_s: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            Msg::new(
                "Terlalu banyak permintaan, coba lagi nanti",
                "Too many requests, try again later",
            ),
        )
        .retry_after(retry_after_s)
    }

    /// The generic error of a bare HTTP status (used for responses produced outside a
    /// handler: unknown route, wrong method, timeouts, limits).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, msg) = match status.as_u16() {
            400 => (
                "BAD_REQUEST",
                Msg::new("Permintaan tidak valid", "Bad request"),
            ),
            401 => return Self::unauthorized("AUTH_TOKEN_MISSING"),
            403 => return Self::forbidden(),
            404 => ("NOT_FOUND", Msg::new("Tidak ditemukan", "Not found")),
            405 => (
                "METHOD_NOT_ALLOWED",
                Msg::new("Metode tidak diizinkan", "Method not allowed"),
            ),
            408 => (
                "REQUEST_TIMEOUT",
                Msg::new("Permintaan melewati batas waktu", "Request timed out"),
            ),
            413 => (
                "PAYLOAD_TOO_LARGE",
                Msg::new("Isi permintaan terlalu besar", "Request body too large"),
            ),
            415 => (
                "UNSUPPORTED_MEDIA_TYPE",
                Msg::new(
                    "Jenis konten tidak didukung; gunakan application/json",
                    "Unsupported content type; use application/json",
                ),
            ),
            429 => return Self::rate_limited(60),
            503 => (
                "SERVICE_UNAVAILABLE",
                Msg::new(
                    "Layanan sementara tidak tersedia",
                    "Service temporarily unavailable",
                ),
            ),
            504 => (
                "REQUEST_TIMEOUT",
                Msg::new("Permintaan melewati batas waktu", "Request timed out"),
            ),
            s if s >= 500 => (
                "INTERNAL_ERROR",
                Msg::new(
                    "Terjadi kesalahan pada server",
                    "Something went wrong on the server",
                ),
            ),
            _ => (
                "BAD_REQUEST",
                Msg::new("Permintaan tidak valid", "Bad request"),
            ),
        };
        Self::new(status, code, msg)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if crate::storage::is_unavailable(&e) {
            ApiError::storage_unavailable(e)
        } else {
            tracing::error!(error = ?e, "storage error");
            ApiError::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = *self.0;
        if this.status.is_server_error() {
            tracing::error!(code = %this.code, status = this.status.as_u16(), error = ?this.source, "request failed");
        } else if let Some(src) = &this.source {
            tracing::debug!(code = %this.code, error = %src, "request rejected");
        }
        let lang = Lang::current();
        let body = ErrorEnvelope {
            success: false,
            message: this.msg.get(lang).to_string(),
            error: ErrorBody {
                code: this.code.into_owned(),
                details: this.details,
            },
        };
        let mut res = (this.status, Json(body)).into_response();
        let headers = res.headers_mut();
        headers.insert(ENVELOPE_MARKER, HeaderValue::from_static("1"));
        if let Some(s) = this.retry_after_s
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if let Some(w) = this.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(w));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_negotiation() {
        assert_eq!(Lang::from_accept_language(None), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("id-ID,en;q=0.5")), Lang::Id);
        assert_eq!(Lang::from_accept_language(Some("fr, en;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Id);
    }
}
