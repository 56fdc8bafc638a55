//! The SMS fallback: `DARURAT <ID_USER> <LAT,LONG> <JENIS> <DESKRIPSI>` sent to the gateway
//! number. Parsing is tolerant of case, extra spaces, comma/space/semicolon between the
//! coordinates and Indonesian decimal commas where that is unambiguous.

pub mod http;
pub mod intake;
pub mod store;

use kreki_emergency_contracts::EmergencyType;

/// A parsed `DARURAT` message.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsPanic {
    /// The 8-digit member number, or `None` for `0` (unregistered).
    pub member: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub kind: EmergencyType,
    pub description: Option<String>,
}

/// Why a message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    #[error("the message does not start with DARURAT")]
    NotDarurat,
    #[error("the member number is missing or not 8 digits (or 0)")]
    BadMember,
    #[error("the coordinates cannot be read")]
    BadCoordinates,
}

fn num(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A number written with a decimal comma (`-6,2088`).
fn num_comma(s: &str) -> Option<f64> {
    if s.matches(',').count() == 1 && !s.contains('.') {
        num(&s.replace(',', "."))
    } else {
        num(s)
    }
}

fn valid((a, b): (f64, f64)) -> Option<(f64, f64)> {
    ((-90.0..=90.0).contains(&a) && (-180.0..=180.0).contains(&b)).then_some((a, b))
}

/// Read the coordinates from the start of `tokens`; returns them and how many tokens they used.
/// Two numbers in two tokens win over one token split at a comma, so `-6,2088 106,8456`
/// (decimal commas) is not read as `-6, 2088`.
fn coordinates(tokens: &[&str]) -> Option<((f64, f64), usize)> {
    let first = *tokens.first()?;
    // "lat lng", "lat, lng", "lat ,lng" (decimal points or commas).
    if let Some(second) = tokens.get(1) {
        let a_txt = first.trim_end_matches([',', ';']);
        let b_txt = second.trim_start_matches([',', ';']);
        if !b_txt.is_empty()
            && let (Some(a), Some(b)) = (num_comma(a_txt), num_comma(b_txt))
            && let Some(p) = valid((a, b))
        {
            return Some((p, 2));
        }
        if (*second == "," || *second == ";")
            && let Some(third) = tokens.get(2)
            && let (Some(a), Some(b)) = (num_comma(first), num_comma(third))
            && let Some(p) = valid((a, b))
        {
            return Some((p, 3));
        }
    }
    // "-6,2088,106,8456": decimal commas on both, exactly three commas.
    let parts: Vec<&str> = first.split(',').collect();
    if parts.len() == 4
        && parts.iter().all(|p| !p.is_empty())
        && let (Some(a), Some(b)) = (
            num(&format!("{}.{}", parts[0], parts[1])),
            num(&format!("{}.{}", parts[2], parts[3])),
        )
        && let Some(p) = valid((a, b))
    {
        return Some((p, 1));
    }
    // "lat,lng" / "lat;lng" / "lat/lng" with decimal points.
    for sep in [',', ';', '/'] {
        let parts: Vec<&str> = first.split(sep).collect();
        if parts.len() == 2
            && let (Some(a), Some(b)) = (num(parts[0]), num(parts[1]))
            && let Some(p) = valid((a, b))
        {
            return Some((p, 1));
        }
    }
    None
}

pub fn parse(text: &str) -> Result<SmsPanic, SmsError> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let head = tokens.first().ok_or(SmsError::NotDarurat)?;
    if !head.eq_ignore_ascii_case("DARURAT") {
        return Err(SmsError::NotDarurat);
    }
    let member = tokens.get(1).ok_or(SmsError::BadMember)?;
    let member = if *member == "0" {
        None
    } else if member.len() == 8 && member.bytes().all(|b| b.is_ascii_digit()) {
        Some((*member).to_string())
    } else {
        return Err(SmsError::BadMember);
    };
    let ((latitude, longitude), used) =
        coordinates(&tokens[2..]).ok_or(SmsError::BadCoordinates)?;
    let rest = &tokens[2 + used..];
    let (kind, desc_from) = match rest.first() {
        None => (EmergencyType::Other, 0),
        Some(w)
            if w.eq_ignore_ascii_case("LUKA")
                && rest.get(1).is_some_and(|x| x.eq_ignore_ascii_case("BAKAR")) =>
        {
            (EmergencyType::Burn, 2)
        }
        Some(w) => {
            let k = EmergencyType::from_sms_keyword(w);
            // An unknown word is the start of the description, not a keyword.
            let known = k != EmergencyType::Other || w.eq_ignore_ascii_case("LAIN");
            (k, usize::from(known))
        }
    };
    let description = rest[desc_from..].join(" ");
    Ok(SmsPanic {
        member,
        latitude,
        longitude,
        kind,
        description: (!description.is_empty()).then_some(description),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> SmsPanic {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn variants() {
        let p = ok("DARURAT 12345678 -6.2088,106.8456 JANTUNG pria 50 tahun pingsan");
        assert_eq!(
            (p.member.as_deref(), p.latitude, p.longitude, p.kind),
            (
                Some("12345678"),
                -6.2088,
                106.8456,
                EmergencyType::CardiacArrest
            )
        );
        assert_eq!(p.description.as_deref(), Some("pria 50 tahun pingsan"));
        let p = ok("  darurat   0   -6.2088, 106.8456   pingsan  ");
        assert_eq!(
            (p.member, p.kind, p.description),
            (None, EmergencyType::Unconscious, None)
        );
        assert_eq!(
            ok("Darurat 0 -6.2088 106.8456 TERSEDAK anak").kind,
            EmergencyType::Choking
        );
        assert_eq!(ok("DARURAT 0 -6,2088 106,8456 SESAK").latitude, -6.2088);
        let p = ok("DARURAT 0 -6,2088,106,8456 KEJANG");
        assert_eq!(
            (p.latitude, p.longitude, p.kind),
            (-6.2088, 106.8456, EmergencyType::Seizure)
        );
        assert_eq!(
            ok("DARURAT 0 -6.2088;106.8456 luka bakar dapur").kind,
            EmergencyType::Burn
        );
        assert_eq!(
            ok("DARURAT 0 -6.2088 , 106.8456 STROKE").kind,
            EmergencyType::Stroke
        );
        let p = ok("DARURAT 0 -6.2 106.8 banjir rumah terendam");
        assert_eq!(
            (p.kind, p.description.as_deref()),
            (EmergencyType::Other, Some("banjir rumah terendam"))
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse("TOLONG 0 -6.2,106.8"), Err(SmsError::NotDarurat));
        assert_eq!(parse(""), Err(SmsError::NotDarurat));
        assert_eq!(parse("DARURAT"), Err(SmsError::BadMember));
        assert_eq!(parse("DARURAT 1234 -6.2,106.8"), Err(SmsError::BadMember));
        assert_eq!(
            parse("DARURAT 0 dekat pasar"),
            Err(SmsError::BadCoordinates)
        );
        assert_eq!(parse("DARURAT 0 -6,2,106 X"), Err(SmsError::BadCoordinates));
        assert_eq!(parse("DARURAT 0 NaN,inf"), Err(SmsError::BadCoordinates));
    }
}
