//! Delivery receipts from providers: the SMS gateway's and WhatsApp's signed webhooks.

use super::*;

/// A delivery receipt of the SMS gateway.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsReceipt {
    /// Our reference given with the message (`<message id>.<step>`), or
    #[serde(default)]
    pub reference: Option<String>,
    /// the gateway's own message id.
    #[serde(default)]
    pub message_id: Option<String>,
    /// `delivered`, `failed`, `undeliverable`, `expired`, `rejected`, `sent`, `buffered`.
    pub status: String,
    #[serde(default)]
    pub error_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptResult {
    pub recorded: usize,
}

pub(super) fn unauthorized_webhook(what: &str) -> ApiError {
    tracing::warn!(
        webhook = what,
        "delivery receipt with a bad signature refused"
    );
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "NOTIFY_RECEIPT_SIGNATURE_INVALID",
        Msg::new("Tanda tangan tidak valid", "Invalid signature"),
    )
}

pub(super) fn malformed() -> ApiError {
    ApiError::bad_request(
        "NOTIFY_RECEIPT_MALFORMED",
        Msg::new(
            "Tanda terima tidak dapat dibaca",
            "Malformed delivery receipt",
        ),
    )
}

/// A webhook of a channel that is not configured does not exist on this install (404, not
/// a passing outage).
pub(super) fn not_configured(what: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        what,
        Msg::new(
            "Kanal ini belum dikonfigurasi",
            "This channel is not configured",
        ),
    )
}

/// Delivery receipt webhook of the SMS gateway (`X-Kreki-Timestamp: <Unix s>`,
/// `X-Kreki-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`). A receipt signed
/// outside the freshness window is refused; within it receipts are idempotent.
#[utoipa::path(post, path = "/receipts/sms", tag = "receipts",
    request_body(content = SmsReceipt, description = "The gateway's receipt"),
    params(
        ("X-Kreki-Timestamp" = i64, Header, description = "Unix seconds when the gateway signed the receipt"),
        ("X-Kreki-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\" with the webhook secret>"),
    ),
    responses(
        (status = 200, description = "Recorded", body = inline(Envelope<ReceiptResult>)),
        (status = 400, description = "NOTIFY_RECEIPT_MALFORMED", body = ErrorEnvelope),
        (status = 401, description = "NOTIFY_RECEIPT_SIGNATURE_INVALID: no timestamp, no or a wrong signature; NOTIFY_RECEIPT_SIGNATURE_EXPIRED: the timestamp is outside the freshness window (a replay)", body = ErrorEnvelope),
        (status = 404, description = "NOTIFY_RECEIPT_UNKNOWN: no such message", body = ErrorEnvelope),
        (status = 404, description = "NOTIFY_SMS_NOT_CONFIGURED: the channel is not configured, so there is no such webhook", body = ErrorEnvelope),
    ))]
pub(super) async fn sms_receipt(
    State(st): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult<Envelope<ReceiptResult>> {
    let secret = st
        .sms_webhook_secret
        .as_ref()
        .ok_or_else(|| not_configured("NOTIFY_SMS_NOT_CONFIGURED"))?;
    let now_s = kreki_platform::time_util::now_micros() / 1_000_000;
    match sms::verify(
        secret.expose(),
        &headers,
        &raw,
        now_s,
        st.sms_webhook_tolerance_s,
    ) {
        Ok(()) => {}
        Err(kreki_platform::signature::Refusal::Invalid) => {
            return Err(unauthorized_webhook("sms"));
        }
        Err(kreki_platform::signature::Refusal::Expired) => {
            tracing::warn!(
                webhook = "sms",
                "delivery receipt outside the freshness window refused"
            );
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "NOTIFY_RECEIPT_SIGNATURE_EXPIRED",
                Msg::new(
                    "Tanda waktu di luar batas (tanda terima diulang?)",
                    "Timestamp outside the allowed window (a replayed receipt?)",
                ),
            ));
        }
    }
    let r: SmsReceipt = serde_json::from_slice(&raw).map_err(|_| malformed())?;
    let Some(reference) = r.reference.or(r.message_id) else {
        return Err(malformed());
    };
    let state = r.status.to_ascii_lowercase();
    let outcome = st
        .store
        .receipt(
            ChannelKind::Sms,
            &reference,
            &state,
            r.error_code.as_deref(),
        )
        .await?;
    let Some(lane) = outcome else {
        return Err(ApiError::not_found(
            "NOTIFY_RECEIPT_UNKNOWN",
            Msg::new("Pesan tidak dikenal", "Unknown message"),
        ));
    };
    st.lanes.wake(lane);
    if let Some(m) = &st.metrics {
        m.count(ChannelKind::Sms, &state);
    }
    Ok(Envelope::ok(ReceiptResult { recorded: 1 }))
}

/// Status webhook of the WhatsApp Business Cloud API (`X-Hub-Signature-256`).
#[utoipa::path(post, path = "/receipts/whatsapp", tag = "receipts",
    request_body(content = Object, description = "Meta's webhook body (`object: whatsapp_business_account`, `entry[].changes[].value.statuses[]`)"),
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body with the app secret>")),
    responses(
        (status = 200, description = "Recorded (statuses of unknown messages are ignored)", body = inline(Envelope<ReceiptResult>)),
        (status = 400, description = "NOTIFY_RECEIPT_MALFORMED", body = ErrorEnvelope),
        (status = 401, description = "NOTIFY_RECEIPT_SIGNATURE_INVALID", body = ErrorEnvelope),
        (status = 404, description = "NOTIFY_WHATSAPP_NOT_CONFIGURED: the channel is not configured, so there is no such webhook", body = ErrorEnvelope),
    ))]
pub(super) async fn whatsapp_webhook(
    State(st): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> ApiResult<Envelope<ReceiptResult>> {
    let secret = st
        .whatsapp_app_secret
        .as_ref()
        .ok_or_else(|| not_configured("NOTIFY_WHATSAPP_NOT_CONFIGURED"))?;
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if !whatsapp::signature_valid(secret.expose(), &raw, sig) {
        return Err(unauthorized_webhook("whatsapp"));
    }
    let body: serde_json::Value = serde_json::from_slice(&raw).map_err(|_| malformed())?;
    let statuses = whatsapp::statuses(&body).ok_or_else(malformed)?;
    let mut recorded = 0;
    for s in statuses {
        if let Some(lane) = st
            .store
            .receipt(ChannelKind::Whatsapp, &s.id, &s.status, s.error.as_deref())
            .await?
        {
            recorded += 1;
            st.lanes.wake(lane);
            if let Some(m) = &st.metrics {
                m.count(ChannelKind::Whatsapp, &s.status);
            }
        }
    }
    Ok(Envelope::ok(ReceiptResult { recorded }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

/// Meta's webhook verification: echoes `hub.challenge` when the verify token matches.
#[utoipa::path(get, path = "/receipts/whatsapp", tag = "receipts",
    params(VerifyQuery),
    responses(
        (status = 200, description = "The challenge, as plain text"),
        (status = 403, description = "Wrong verify token", body = ErrorEnvelope),
    ))]
pub(super) async fn whatsapp_verify(
    State(st): State<AppState>,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let expected = st
        .whatsapp_verify_token
        .as_ref()
        .map(|t| t.expose().to_string());
    match (q.mode.as_deref(), q.verify_token, q.challenge, expected) {
        (Some("subscribe"), Some(given), Some(challenge), Some(expected))
            if subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()).into() =>
        {
            (StatusCode::OK, challenge).into_response()
        }
        _ => ApiError::forbidden().into_response(),
    }
}
