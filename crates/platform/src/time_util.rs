//! Time helpers: every stored timestamp is Unix microseconds (portable across SQLite and
//! PostgreSQL, sortable, indexable); every timestamp in JSON is RFC 3339 UTC.

use time::OffsetDateTime;

/// Current time in Unix microseconds.
pub fn now_micros() -> i64 {
    to_micros(OffsetDateTime::now_utc())
}

pub fn to_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

pub fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339 text of a Unix-microsecond timestamp (UTC).
pub fn rfc3339(us: i64) -> String {
    from_micros(us)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let now = now_micros();
        assert_eq!(to_micros(from_micros(now)), now);
        assert!(rfc3339(0).starts_with("1970-01-01T00:00:00"));
    }
}
