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
}
