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

/// Inbound `DARURAT` SMS from the gateway (HMAC-signed with a timestamp: a replay outside
/// the freshness window is refused; within it the message id de-duplicates).
#[utoipa::path(post, path = "/sms/inbound", tag = "cases",
    request_body = SmsInbound,
    params(
        ("X-Kreki-Timestamp" = i64, Header, description = "Unix seconds when the gateway signed the request"),
        ("X-Kreki-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\" with the shared key>"),
    ),
    responses(
        (status = 200, description = "Handled: created, duplicate (carrier retry) or unparsed (help reply sent)", body = inline(Envelope<SmsResult>)),
        (status = 401, description = "EMERGENCY_SMS_SIGNATURE_INVALID: no timestamp, no or a wrong signature; EMERGENCY_SMS_SIGNATURE_EXPIRED: the timestamp is outside the freshness window (a replay)", body = ErrorEnvelope),
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
    use kreki_platform::signature::{Refusal, verify_timestamped};
    let now_s = kreki_platform::time_util::now_micros() / 1_000_000;
    if let Err(r) = verify_timestamped(
        secret.expose().as_bytes(),
        &headers,
        &raw,
        now_s,
        st.config.sms_signature_tolerance_s,
    ) {
        tracing::warn!(reason = r.reason(), "SMS webhook refused");
        return Err(match r {
            Refusal::Invalid => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "EMERGENCY_SMS_SIGNATURE_INVALID",
                Msg::new("Tanda tangan tidak valid", "Invalid signature"),
            ),
            Refusal::Expired => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "EMERGENCY_SMS_SIGNATURE_EXPIRED",
                Msg::new(
                    "Tanda waktu di luar batas (pesan diulang?)",
                    "Timestamp outside the allowed window (a replay?)",
                ),
            ),
        });
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
