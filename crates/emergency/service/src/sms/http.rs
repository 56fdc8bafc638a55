//! `POST /sms/inbound`: the SMS gateway's webhook (HMAC-signed); the use-case is
//! `sms::intake::sms`.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
};
use kreki_platform::{ApiError, ApiResult, Envelope, Msg, error::ErrorEnvelope};

use crate::{
    cases::Cases,
    sms::intake::{self, SmsInbound, SmsResult},
};

/// Inbound `DARURAT` SMS from the gateway (HMAC-signed).
#[utoipa::path(post, path = "/sms/inbound", tag = "cases",
    request_body = SmsInbound,
    params(("X-Kreki-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body with the shared key>")),
    responses(
        (status = 200, description = "Handled: created, duplicate (carrier retry) or unparsed (help reply sent)", body = inline(Envelope<SmsResult>)),
        (status = 401, description = "EMERGENCY_SMS_SIGNATURE_INVALID", body = ErrorEnvelope),
        (status = 404, description = "EMERGENCY_SMS_NOT_CONFIGURED: no SMS gateway is configured, so there is no such webhook", body = ErrorEnvelope),
    ))]
pub async fn sms_inbound(
    State(st): State<Cases>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult<Envelope<SmsResult>> {
    let Some(secret) = &st.config.sms_webhook_secret else {
        // Not a passing outage: the webhook does not exist on this install.
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "EMERGENCY_SMS_NOT_CONFIGURED",
            Msg::new(
                "Jalur SMS belum dikonfigurasi",
                "The SMS channel is not configured",
            ),
        ));
    };
    let sig = headers
        .get("x-kreki-signature")
        .and_then(|v| v.to_str().ok());
    if !kreki_platform::signature::verify(secret.expose().as_bytes(), &[&raw], sig) {
        tracing::warn!("SMS webhook with a bad signature refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "EMERGENCY_SMS_SIGNATURE_INVALID",
            Msg::new("Tanda tangan tidak valid", "Invalid signature"),
        ));
    }
    let msg: SmsInbound = serde_json::from_slice(&raw).map_err(|e| {
        ApiError::validation(
            "VALIDATION_FAILED",
            Msg::new("Isi pesan SMS tidak valid", "Invalid SMS payload"),
        )
        .details(serde_json::json!({ "reason": e.to_string() }))
    })?;
    intake::sms(&st, msg)
        .await
        .map(Envelope::ok)
        .map_err(ApiError::from)
}
