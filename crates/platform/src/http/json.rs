//! `ApiJson<T>`: the JSON body extractor and responder with the org's error codes.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use crate::error::{ApiError, Msg};

/// A JSON request body. Bodies of the contracts reject unknown fields
/// (`#[serde(deny_unknown_fields)]`), which this maps to `VALIDATION_UNKNOWN_FIELD`.
pub struct ApiJson<T>(pub T);

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "MALFORMED_JSON",
            Msg::new(
                "Isi permintaan bukan JSON yang valid",
                "The request body is not valid JSON",
            ),
        )
        .details(json!({ "reason": e.body_text() })),
        JsonRejection::JsonDataError(e) => {
            let text = e.body_text();
            if text.contains("unknown field") {
                ApiError::validation(
                    "VALIDATION_UNKNOWN_FIELD",
                    Msg::new(
                        "Permintaan berisi kolom yang tidak dikenal",
                        "The request has an unknown field",
                    ),
                )
                .details(json!({ "reason": text }))
            } else {
                ApiError::validation(
                    "VALIDATION_FAILED",
                    Msg::new("Data permintaan tidak valid", "The request data is invalid"),
                )
                .details(json!({ "reason": text }))
            }
        }
        JsonRejection::BytesRejection(e) => {
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::bad_request(
                    "BAD_REQUEST_BODY",
                    Msg::new(
                        "Isi permintaan tidak dapat dibaca",
                        "The request body could not be read",
                    ),
                )
            }
        }
        other => ApiError::bad_request(
            "BAD_REQUEST_BODY",
            Msg::new("Isi permintaan tidak valid", "Invalid request body"),
        )
        .details(json!({ "reason": other.body_text() })),
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_error(r)),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
