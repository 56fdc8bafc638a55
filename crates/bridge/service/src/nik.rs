//! NIK (Nomor Induk Kependudukan), the 16-digit national identity number: province,
//! regency, district, date of birth (day + 40 for women), serial.

use std::fmt;

/// A NIK that passed the structure checks. `Debug` masks it (health data context).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nik(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NikError {
    #[error("a NIK has exactly 16 digits")]
    Length,
    #[error("unknown province code")]
    Province,
    #[error("regency or district code 00")]
    Region,
    #[error("implausible date of birth")]
    Date,
    #[error("serial number 0000")]
    Serial,
}

impl NikError {
    /// Stable code for API answers.
    pub fn code(self) -> &'static str {
        match self {
            NikError::Length => "NIK_LENGTH",
            NikError::Province => "NIK_PROVINCE",
            NikError::Region => "NIK_REGION",
            NikError::Date => "NIK_DATE",
            NikError::Serial => "NIK_SERIAL",
        }
    }
}

/// Province codes of Dukcapil (Kemendagri), including the Papua provinces of 2022.
const PROVINCES: &[u8] = &[
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65,
    71, 72, 73, 74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96,
];

fn two(d: &[u8], i: usize) -> u8 {
    d[i] * 10 + d[i + 1]
}

impl Nik {
    pub fn parse(raw: &str) -> Result<Nik, NikError> {
        let s = raw.trim();
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NikError::Length);
        }
        let d: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
        if !PROVINCES.contains(&two(&d, 0)) {
            return Err(NikError::Province);
        }
        if two(&d, 2) == 0 || two(&d, 4) == 0 {
            return Err(NikError::Region);
        }
        let mut day = two(&d, 6);
        if day > 40 {
            day -= 40;
        }
        let month = two(&d, 8);
        let max_day = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            // The century is not in the NIK: 29 February is plausible.
            2 => 29,
            _ => return Err(NikError::Date),
        };
        if day == 0 || day > max_day {
            return Err(NikError::Date);
        }
        if s[12..] == *"0000" {
            return Err(NikError::Serial);
        }
        Ok(Nik(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Women's NIKs carry day of birth + 40.
    pub fn is_female(&self) -> bool {
        self.0[6..8] > *"40"
    }

    /// For logs and lists: province code and last two digits only.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..2], &self.0[14..])
    }
}

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nik({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_examples_and_women() {
        // Sandbox NIKs of SATUSEHAT's public documentation.
        for ok in [
            "9271060312000001",
            "9204014804000002",
            "7209061211900001",
            "3322071302900002",
        ] {
            assert!(Nik::parse(ok).is_ok(), "{ok}");
        }
        assert!(Nik::parse("9204014804000002").unwrap().is_female());
        assert!(!Nik::parse("9271060312000001").unwrap().is_female());
        assert_eq!(
            Nik::parse(" 3171012902000001 ").unwrap().as_str(),
            "3171012902000001"
        );
    }

    #[test]
    fn rejects_structure_errors() {
        assert_eq!(Nik::parse("317101290200001"), Err(NikError::Length));
        assert_eq!(Nik::parse("31710129020000a1"), Err(NikError::Length));
        assert_eq!(Nik::parse("3171012902000001 1"), Err(NikError::Length));
        assert_eq!(Nik::parse("9971012902000001"), Err(NikError::Province));
        assert_eq!(Nik::parse("3100012902000001"), Err(NikError::Region));
        assert_eq!(Nik::parse("3171003102000001"), Err(NikError::Region));
        assert_eq!(Nik::parse("3171013002000001"), Err(NikError::Date)); // 30 February
        assert_eq!(Nik::parse("3171013104000001"), Err(NikError::Date)); // 31 April
        assert_eq!(Nik::parse("3171017204000001"), Err(NikError::Date)); // 32 (+40)
        assert_eq!(Nik::parse("3171014013000001"), Err(NikError::Date)); // month 13
        assert_eq!(Nik::parse("3171010001000001"), Err(NikError::Date)); // day 0
        assert_eq!(Nik::parse("3171011501000000"), Err(NikError::Serial));
    }

    #[test]
    fn debug_is_masked() {
        let n = Nik::parse("3171011501000001").unwrap();
        assert_eq!(format!("{n:?}"), "Nik(31**********01)");
    }
}
