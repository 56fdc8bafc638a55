//! Validated value types shared by several services ("parse, don't validate").

use std::fmt;

use serde::{Deserialize, Serialize};

/// Lower-case hex SHA-256 of `bytes` (stored hashes of tokens, request bodies, migrations).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A phone number in E.164 (`+6281234567890`). Indonesian national forms (`0812…`, `62812…`)
/// are accepted and normalised; separators (spaces, dashes, dots, parentheses) are ignored.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneE164(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid phone number")]
pub struct InvalidPhone;

impl PhoneE164 {
    pub fn parse(raw: &str) -> Result<PhoneE164, InvalidPhone> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
            .collect();
        let digits = if let Some(rest) = cleaned.strip_prefix('+') {
            rest.to_string()
        } else if let Some(rest) = cleaned.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = cleaned.strip_prefix('0') {
            format!("62{rest}")
        } else if cleaned.starts_with("62") {
            cleaned.clone()
        } else {
            return Err(InvalidPhone);
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return Err(InvalidPhone);
        }
        let ok_len = if let Some(national) = digits.strip_prefix("62") {
            // Indonesian numbers: 8 to 12 national digits, never a leading 0.
            (8..=12).contains(&national.len()) && !national.starts_with('0')
        } else {
            (8..=15).contains(&digits.len())
        };
        if !ok_len {
            return Err(InvalidPhone);
        }
        Ok(PhoneE164(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An Indonesian (+62) number?
    pub fn is_indonesian(&self) -> bool {
        self.0.starts_with("+62")
    }

    /// Masked for logs (`+628*****123`).
    pub fn masked(&self) -> String {
        crate::telemetry::mask_phone(&self.0)
    }
}

impl TryFrom<String> for PhoneE164 {
    type Error = InvalidPhone;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PhoneE164::parse(&s)
    }
}

impl From<PhoneE164> for String {
    fn from(p: PhoneE164) -> String {
        p.0
    }
}

impl fmt::Debug for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneE164({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for (raw, want) in [
            ("+62 812-3456-7890", "+6281234567890"),
            ("081234567890", "+6281234567890"),
            ("6281234567890", "+6281234567890"),
            ("(021) 555 1234", "+62215551234"),
            ("+44 20 7946 0958", "+442079460958"),
        ] {
            assert_eq!(
                PhoneE164::parse(raw).map(|p| p.as_str().to_string()),
                Ok(want.to_string()),
                "{raw}"
            );
        }
        for bad in [
            "",
            "12345",
            "+62 0812 345",
            "+6281",
            "08123abc456",
            "+1234567890123456",
            "+62812345678901234",
        ] {
            assert_eq!(PhoneE164::parse(bad), Err(InvalidPhone), "{bad}");
        }
        let p = PhoneE164::parse("081234567890").unwrap();
        assert!(p.is_indonesian());
        assert!(!format!("{p:?}").contains("4567"));
    }
}
