//! Structured logs (`tracing`, JSON by default, pretty on a terminal) and the masking helpers
//! that every log line carrying personal data goes through.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Install the global subscriber. Safe to call more than once (later calls are ignored).
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_new(&cfg.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match cfg.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().compact().with_writer(std::io::stderr))
            .try_init()
    };
}

/// `jane.doe@example.com` → `j***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => mask_generic(email),
    }
}

/// `+6281234567123` → `+628*****123` (country code and first digit, last three digits).
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head = if chars[0] == '+' { 4 } else { 2 };
    let tail = 3;
    let stars = chars.len().saturating_sub(head + tail).max(1);
    let h: String = chars[..head].iter().collect();
    let t: String = chars[chars.len() - tail..].iter().collect();
    format!("{h}{}{t}", "*".repeat(stars))
}

/// NIK (16 digits) → `3171************` (province/city code only).
pub fn mask_nik(nik: &str) -> String {
    let chars: Vec<char> = nik.chars().collect();
    let keep = chars.len().min(4);
    let head: String = chars[..keep].iter().collect();
    format!("{head}{}", "*".repeat(chars.len() - keep))
}

/// Anything else personal (names, free text): first character and length class only.
pub fn mask_generic(value: &str) -> String {
    let first: String = value.chars().take(1).collect();
    format!("{first}***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_phone("+6281234567123"), "+628*******123");
        assert_eq!(mask_phone("+628123"), "*******");
        assert_eq!(mask_nik("3171234567890123"), "3171************");
        assert!(!mask_generic("Budi Santoso").contains("Santoso"));
    }
}
