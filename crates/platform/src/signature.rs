//! Webhook signatures `sha256=<hex HMAC-SHA256>`: one scheme for the SMS gateway's inbound
//! messages and delivery receipts, WhatsApp's `X-Hub-Signature-256`, and PSC 119 centres'
//! callbacks. The signed bytes are the concatenation of `parts` (e.g. the body alone, or
//! `<timestamp>`, `.`, body).

use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(secret: &[u8], parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    for p in parts {
        mac.update(p);
    }
    Some(mac)
}

/// `sha256=<lower-case hex>` of the parts under `secret`.
pub fn sign(secret: &[u8], parts: &[&[u8]]) -> String {
    match mac(secret, parts) {
        Some(m) => format!(
            "sha256={}",
            data_encoding::HEXLOWER.encode(&m.finalize().into_bytes())
        ),
        None => String::new(),
    }
}

/// The header that carries the Unix time (seconds) a timestamped signature covers.
pub const TIMESTAMP_HEADER: &str = "x-kreki-timestamp";
/// The header of KREKI's own webhook signatures (`sha256=<hex>`).
pub const SIGNATURE_HEADER: &str = "x-kreki-signature";
/// Default freshness window of timestamped webhooks (seconds, either side of now).
pub const DEFAULT_TOLERANCE_S: u32 = 300;

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the signature of KREKI's webhooks
/// (SMS gateway ingress and receipts, PSC 119 hand-offs and callbacks).
pub fn sign_timestamped(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    sign(secret, &[ts.as_bytes(), b".", body])
}

/// Why a timestamped webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No or unreadable timestamp, no signature, or a signature that does not match.
    Invalid,
    /// Validly signed, but the timestamp is outside the freshness window (a replay).
    Expired,
}

impl Refusal {
    /// For the logs.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Invalid => "missing timestamp or bad signature",
            Refusal::Expired => "timestamp outside the freshness window",
        }
    }
}

/// Check a timestamped webhook: `x-kreki-timestamp` (Unix seconds) and
/// `x-kreki-signature` over `"<timestamp>.<body>"`, the timestamp within `tolerance_s` of
/// `now_s`. The signature is checked first, so an unsigned caller learns nothing about the
/// window.
pub fn verify_timestamped(
    secret: &[u8],
    headers: &axum::http::HeaderMap,
    body: &[u8],
    now_s: i64,
    tolerance_s: u32,
) -> Result<(), Refusal> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let ts = get(TIMESTAMP_HEADER)
        .filter(|t| !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Refusal::Invalid)?;
    if !verify(secret, &[ts.as_bytes(), b".", body], get(SIGNATURE_HEADER)) {
        return Err(Refusal::Invalid);
    }
    let ts: i64 = ts.parse().map_err(|_| Refusal::Invalid)?;
    if (now_s - ts).abs() > i64::from(tolerance_s) {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// Constant-time check of a `sha256=<hex>` header (either case of hex digits).
pub fn verify(secret: &[u8], parts: &[&[u8]], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(given) = data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()) else {
        return false;
    };
    mac(secret, parts).is_some_and(|m| m.verify_slice(&given).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let body = br#"{"status":"delivered"}"#;
        let sig = sign(b"s3cret", &[body]);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify(b"s3cret", &[body], Some(&sig)));
        assert!(verify(
            b"s3cret",
            &[body],
            Some(&sig.to_uppercase().replace("SHA256=", "sha256="))
        ));
        assert!(!verify(b"other", &[body], Some(&sig)));
        assert!(!verify(b"s3cret", &[b"{}"], Some(&sig)));
        assert!(!verify(b"s3cret", &[body], None));
        assert!(!verify(b"s3cret", &[body], Some("md5=00")));
        assert!(!verify(b"s3cret", &[body], Some("sha256=zz")));
        assert!(!verify(b"s3cret", &[body], Some(&sig[..sig.len() - 1])));
        // Parts are one message: the split does not matter, the bytes do.
        assert_eq!(
            sign(b"k", &[b"12", b".", body]),
            sign(b"k", &[b"12.", body])
        );
    }

    #[test]
    fn timestamped() {
        use axum::http::{HeaderMap, HeaderValue};
        let body = br#"{"status":"delivered"}"#;
        let headers = |ts: &str, sig: &str| {
            let mut h = HeaderMap::new();
            h.insert(TIMESTAMP_HEADER, HeaderValue::from_str(ts).unwrap());
            h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).unwrap());
            h
        };
        let now = 1_800_000_000;
        let sig = sign_timestamped(b"k", now, body);
        assert_eq!(
            verify_timestamped(b"k", &headers("1800000000", &sig), body, now, 300),
            Ok(())
        );
        assert_eq!(
            verify_timestamped(b"k", &headers("1800000000", &sig), body, now + 300, 300),
            Ok(())
        );
        assert_eq!(
            verify_timestamped(b"k", &headers("1800000000", &sig), body, now + 301, 300),
            Err(Refusal::Expired)
        );
        assert_eq!(
            verify_timestamped(b"k", &headers("1800000000", &sig), body, now - 301, 300),
            Err(Refusal::Expired)
        );
        // Another timestamp, the body-only signature, no timestamp, a signed negative one.
        assert_eq!(
            verify_timestamped(b"k", &headers("1800000001", &sig), body, now, 300),
            Err(Refusal::Invalid)
        );
        let body_only = sign(b"k", &[body]);
        assert_eq!(
            verify_timestamped(b"k", &headers("1800000000", &body_only), body, now, 300),
            Err(Refusal::Invalid)
        );
        let mut h = headers("1800000000", &sig);
        h.remove(TIMESTAMP_HEADER);
        assert_eq!(
            verify_timestamped(b"k", &h, body, now, 300),
            Err(Refusal::Invalid)
        );
        let neg = sign_timestamped(b"k", -5, body);
        assert_eq!(
            verify_timestamped(b"k", &headers("-5", &neg), body, now, 300),
            Err(Refusal::Invalid)
        );
    }
}
