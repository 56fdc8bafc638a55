//! TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), as authenticator apps expect it.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_S: i64 = 30;
pub const DIGITS: u32 = 6;

/// A new random secret (160 bits), base32 without padding.
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    data_encoding::BASE32_NOPAD.encode(&bytes)
}

fn decode(secret_b32: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD
        .decode(secret_b32.trim_end_matches('=').as_bytes())
        .ok()
}

/// The code of a time step (RFC 4226 dynamic truncation).
pub fn code_at(secret_b32: &str, step: i64) -> Option<String> {
    let key = decode(secret_b32)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = (h[19] & 0x0f) as usize;
    let bin = (u32::from(h[off]) & 0x7f) << 24
        | u32::from(h[off + 1]) << 16
        | u32::from(h[off + 2]) << 8
        | u32::from(h[off + 3]);
    Some(format!("{:06}", bin % 10u32.pow(DIGITS)))
}

/// The step a code matches within ±1 step of `now_s`, if it is later than `last_used_step`
/// (a code is accepted once).
pub fn verify(secret_b32: &str, code: &str, now_s: i64, last_used_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_step = now_s / STEP_S;
    let mut found = None;
    for step in [now_step - 1, now_step, now_step + 1] {
        if let Some(expected) = code_at(secret_b32, step)
            && subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
            && step > last_used_step
        {
            found = Some(step);
        }
    }
    found
}

/// `otpauth://` provisioning URI (Key Uri Format).
pub fn provisioning_uri(secret_b32: &str, account_label: &str) -> String {
    let label =
        url::form_urlencoded::byte_serialize(format!("KREKI ID:{account_label}").as_bytes())
            .collect::<String>()
            .replace('+', "%20");
    format!(
        "otpauth://totp/{label}?secret={secret_b32}&issuer=KREKI%20ID&algorithm=SHA1&digits=6&period=30"
    )
}

/// The provisioning URI as an SVG QR code.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (8-digit values; we use the
        // last 6 digits, which is what 6-digit truncation yields).
        let secret = data_encoding::BASE32_NOPAD.encode(b"12345678901234567890");
        for (t, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(&secret, t / 30).unwrap(), eight[2..]);
        }
    }

    #[test]
    fn once_and_window() {
        let s = new_secret();
        let now = 1_700_000_000;
        let c = code_at(&s, now / 30).unwrap();
        let step = verify(&s, &c, now, 0).unwrap();
        assert_eq!(verify(&s, &c, now, step), None, "a code is accepted once");
        assert_eq!(verify(&s, &c, now + 120, 0), None, "too old");
        assert_eq!(verify(&s, "12345", now, 0), None);
        assert!(
            qr_svg(&provisioning_uri(&s, "a@b.c"))
                .unwrap()
                .contains("<svg")
        );
    }
}
