//! Message templates in Bahasa Indonesia and English. Variables are `{name}` placeholders;
//! a request is checked for its template's variables when it is made.
//!
//! Every template has a long form (push title + body, e-mail subject + body) and a short SMS
//! form. In the SMS form each variable is cut to its maximum length (names 20, addresses 40,
//! see [`max_len`]; links are never cut and fit up to 40); the SMS forms of
//! [`ONE_SEGMENT_SMS`] fit one 160-character GSM-7 segment with every variable at its
//! maximum (tested below).

use kreki_notify_contracts::{Language, Template};
use serde_json::{Map, Value};

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// E-mail subject / push title.
    pub title: String,
    pub body: String,
    /// The SMS text (GSM-7 only, one segment where the template promises it).
    pub sms: String,
}

struct Texts {
    title: &'static str,
    body: &'static str,
    sms: &'static str,
}

const fn t(title: &'static str, body: &'static str, sms: &'static str) -> Texts {
    Texts { title, body, sms }
}

fn texts(tpl: Template, lang: Language) -> Texts {
    use Language::{En, Id};
    match (tpl, lang) {
        (Template::TestAlert, Id) => t(
            "Tes peringatan KREKI",
            "Tes berhasil: peringatan darurat KREKI sampai ke perangkat Anda.",
            "KREKI: tes berhasil, peringatan darurat sampai ke ponsel Anda.",
        ),
        (Template::TestAlert, En) => t(
            "KREKI alert test",
            "Test passed: KREKI emergency alerts reach your device.",
            "KREKI: test passed, emergency alerts reach your phone.",
        ),
        (Template::DispatchOffer, Id) => t(
            "DARURAT: {case_type}",
            "KREKI DARURAT {case_type} {distance_m} m dari Anda. Terima/tolak: {link}",
            "KREKI DARURAT {case_type} {distance_m} m dari Anda. Terima/tolak di aplikasi Relawan: {link}",
        ),
        (Template::DispatchOffer, En) => t(
            "EMERGENCY: {case_type}",
            "KREKI EMERGENCY {case_type} {distance_m} m from you. Accept/decline: {link}",
            "KREKI EMERGENCY {case_type} {distance_m} m from you. Accept/decline in the volunteer app: {link}",
        ),
        (Template::OfferWithdrawn, Id) => t(
            "Tawaran dibatalkan",
            "Kasus {case_type} sudah tertangani. Terima kasih.",
            "KREKI: kasus {case_type} sudah tertangani. Terima kasih.",
        ),
        (Template::OfferWithdrawn, En) => t(
            "Offer withdrawn",
            "The {case_type} case is covered. Thank you.",
            "KREKI: the {case_type} case is covered. Thank you.",
        ),
        (Template::CaseUpdate, Id) => t(
            "Kabar kasus Anda",
            "KREKI: {status_text}",
            "KREKI 119: {status_text}",
        ),
        (Template::CaseUpdate, En) => t(
            "Your case update",
            "KREKI: {status_text}",
            "KREKI 119: {status_text}",
        ),
        (Template::EscalationNotice, Id) => t(
            "Eskalasi ke PSC 119",
            "Kasus {case_id} ({severity}) dieskalasi ke PSC 119.",
            "KREKI: kasus {case_id} ({severity}) dieskalasi ke PSC 119.",
        ),
        (Template::EscalationNotice, En) => t(
            "Escalated to PSC 119",
            "Case {case_id} ({severity}) escalated to PSC 119.",
            "KREKI: case {case_id} ({severity}) escalated to PSC 119.",
        ),
        (Template::OtpCode, Id) => t(
            "Kode KREKI",
            "Kode KREKI Anda: {code}. Berlaku {minutes} menit. Jangan berikan kepada siapa pun.",
            "Kode KREKI Anda: {code}. Berlaku {minutes} menit. Jangan berikan kepada siapa pun.",
        ),
        (Template::OtpCode, En) => t(
            "KREKI code",
            "Your KREKI code: {code}. Valid {minutes} minutes. Never share it.",
            "Your KREKI code: {code}. Valid {minutes} minutes. Never share it.",
        ),
        (Template::EmailVerification, Id) => t(
            "Verifikasi e-mail KREKI ID",
            "Halo {name}, buka tautan ini untuk memverifikasi e-mail Anda: {link}",
            "Halo {name}, verifikasi e-mail KREKI ID Anda: {link}",
        ),
        (Template::EmailVerification, En) => t(
            "Verify your KREKI ID e-mail",
            "Hello {name}, open this link to verify your e-mail: {link}",
            "Hello {name}, verify your KREKI ID e-mail: {link}",
        ),
        (Template::PasswordReset, Id) => t(
            "Atur ulang kata sandi",
            "Halo {name}, atur ulang kata sandi Anda di: {link}. Abaikan jika bukan Anda.",
            "Halo {name}, atur ulang kata sandi KREKI: {link}. Abaikan jika bukan Anda.",
        ),
        (Template::PasswordReset, En) => t(
            "Reset your password",
            "Hello {name}, reset your password at: {link}. Ignore this if it was not you.",
            "Hello {name}, reset your KREKI password: {link}. Ignore if not you.",
        ),
        (Template::CertificateIssued, Id) => t(
            "Sertifikat BHD terbit",
            "Selamat {name}! Sertifikat {certificate_id} telah terbit: {link}",
            "Selamat {name}! Sertifikat {certificate_id} terbit: {link}",
        ),
        (Template::CertificateIssued, En) => t(
            "BHD certificate issued",
            "Congratulations {name}! Certificate {certificate_id} is issued: {link}",
            "Congratulations {name}! Certificate {certificate_id} issued: {link}",
        ),
        (Template::RecertificationReminder, Id) => t(
            "Saatnya sertifikasi ulang",
            "Halo {name}, sertifikat {certificate_id} berakhir {expires_on}. Daftar sertifikasi ulang sekarang.",
            "Halo {name}, sertifikat {certificate_id} berakhir {expires_on}. Daftar sertifikasi ulang.",
        ),
        (Template::RecertificationReminder, En) => t(
            "Time to recertify",
            "Hello {name}, certificate {certificate_id} expires {expires_on}. Enrol for recertification now.",
            "Hello {name}, certificate {certificate_id} expires {expires_on}. Enrol to recertify.",
        ),
        (Template::WellbeingCheckin, Id) => t(
            "Apa kabar?",
            "Halo {name}, terima kasih atas bantuan Anda. Bagaimana keadaan Anda setelah kasus tadi?",
            "Halo {name}, terima kasih atas bantuan Anda. Bagaimana keadaan Anda? Buka aplikasi KREKI.",
        ),
        (Template::WellbeingCheckin, En) => t(
            "How are you?",
            "Hello {name}, thank you for helping. How are you feeling after that case?",
            "Hello {name}, thank you for helping. How are you feeling? Open the KREKI app.",
        ),
        (Template::SmsHelpReply, Id) => t(
            "Format SMS",
            "Format: DARURAT <ID> <LAT,LONG> <JENIS> <KETERANGAN>. Contoh: DARURAT 0 -6.2,106.8 PINGSAN pria 50th. Darurat: 119",
            "Format: DARURAT <ID> <LAT,LONG> <JENIS> <KETERANGAN>. Contoh: DARURAT 0 -6.2,106.8 PINGSAN pria 50th. Darurat: 119",
        ),
        (Template::SmsHelpReply, En) => t(
            "SMS format",
            "Format: DARURAT <ID> <LAT,LONG> <TYPE> <DETAILS>. Example: DARURAT 0 -6.2,106.8 PINGSAN man 50y. Emergency: 119",
            "Format: DARURAT <ID> <LAT,LONG> <TYPE> <DETAILS>. Example: DARURAT 0 -6.2,106.8 PINGSAN man 50y. Emergency: 119",
        ),
        (Template::AccountExists, Id) => t(
            "Akun KREKI ID Anda sudah ada",
            "Halo {name}, seseorang mencoba mendaftar atau memakai alamat ini untuk akun KREKI ID, padahal alamat ini sudah terdaftar atas nama Anda. Jika itu Anda, silakan masuk atau atur ulang kata sandi. Jika bukan, abaikan pesan ini.",
            "Halo {name}, ada yang mencoba mendaftar KREKI ID dengan nomor ini, padahal sudah terdaftar. Jika itu Anda, silakan masuk. Jika bukan, abaikan.",
        ),
        (Template::AccountExists, En) => t(
            "You already have a KREKI ID account",
            "Hello {name}, someone tried to register or use this address for a KREKI ID account, but it is already registered to you. If it was you, sign in or reset your password. If not, ignore this message.",
            "Hello {name}, someone tried to register KREKI ID with this number, which is already yours. If it was you, sign in. If not, ignore this.",
        ),
        (Template::ContactChange, Id) => t(
            "E-mail atau nomor KREKI ID Anda diubah",
            "Halo {name}, ada permintaan mengganti e-mail atau nomor telepon akun KREKI ID Anda. Alamat baru berlaku setelah diverifikasi. Jika bukan Anda, segera atur ulang kata sandi dan hubungi kami.",
            "Halo {name}, ada permintaan ganti e-mail/nomor akun KREKI ID Anda. Jika bukan Anda, segera atur ulang kata sandi.",
        ),
        (Template::ContactChange, En) => t(
            "Your KREKI ID e-mail or phone is being changed",
            "Hello {name}, someone asked to change the e-mail or phone number of your KREKI ID account. The new address counts once it is verified. If it was not you, reset your password now and contact us.",
            "Hello {name}, someone asked to change the e-mail/phone of your KREKI ID account. If not you, reset your password now.",
        ),
    }
}

/// Longest value of any variable in the long (push, e-mail) forms.
const LONG_FORM_MAX: usize = 500;

/// Longest value a variable may have in an SMS (in septets) before it is cut; links and
/// codes are not cut, the one-segment promise holds for links up to this length.
pub fn max_len(var: &str) -> usize {
    match var {
        "name" => 20,
        "link" | "address" => 40,
        "case_type" => 20,
        "distance_m" | "minutes" => 5,
        "code" => 8,
        "status_text" => 100,
        "certificate_id" => 24,
        "expires_on" => 10,
        "severity" => 10,
        "case_id" => 36,
        _ => 200,
    }
}

/// Human label of an emergency type code (`case_type`), in the message's language.
fn case_type_label(code: &str, lang: Language) -> Option<&'static str> {
    let (id, en) = match code {
        "cardiac_arrest" => ("Henti jantung", "Cardiac arrest"),
        "unconscious" => ("Pingsan", "Unconscious"),
        "breathing" => ("Sesak napas", "Breathing problem"),
        "choking" => ("Tersedak", "Choking"),
        "bleeding" => ("Pendarahan", "Bleeding"),
        "trauma" => ("Kecelakaan", "Injury"),
        "stroke" => ("Stroke", "Stroke"),
        "seizure" => ("Kejang", "Seizure"),
        "burn" => ("Luka bakar", "Burn"),
        "drowning" => ("Tenggelam", "Drowning"),
        "childbirth" => ("Melahirkan", "Childbirth"),
        "other" => ("Darurat lain", "Other emergency"),
        _ => return None,
    };
    Some(if lang == Language::En { en } else { id })
}

fn value_text(name: &str, v: &Value, lang: Language) -> String {
    let raw = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if name == "case_type"
        && let Some(label) = case_type_label(&raw, lang)
    {
        return label.to_string();
    }
    raw
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max).collect()
}

fn substitute(text: &str, vars: &Map<String, Value>, lang: Language, sms: bool) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(name) {
                    Some(v) => {
                        let value = value_text(name, v, lang);
                        if sms {
                            // Cut in septets (an extension-table character counts two); a
                            // link or code is never cut: a cut one is useless (a longer one
                            // makes a second segment instead).
                            let gsm = crate::gsm7::to_gsm7(&value);
                            if matches!(name, "link" | "code") {
                                out.push_str(&gsm);
                            } else {
                                out.push_str(&crate::gsm7::cut_septets(&gsm, max_len(name)));
                            }
                        } else {
                            out.push_str(&cut(&value, LONG_FORM_MAX));
                        }
                    }
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn render(tpl: Template, lang: Language, vars: &Map<String, Value>) -> Rendered {
    let texts = texts(tpl, lang);
    Rendered {
        title: substitute(texts.title, vars, lang, false),
        body: substitute(texts.body, vars, lang, false),
        sms: substitute(texts.sms, vars, lang, true),
    }
}

/// The templates whose SMS form must fit one GSM-7 segment with every variable at its
/// maximum length.
pub const ONE_SEGMENT_SMS: &[Template] = &[
    Template::OtpCode,
    Template::DispatchOffer,
    Template::CaseUpdate,
    Template::SmsHelpReply,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gsm7;

    fn vars_at_max(tpl: Template, filler: char) -> Map<String, Value> {
        let mut vars = Map::new();
        for v in tpl.required_vars() {
            // Links and codes are not cut: they are given at their maximum.
            let extra = if matches!(*v, "link" | "code") { 0 } else { 10 };
            let n = if matches!(*v, "link" | "code") && crate::gsm7::char_septets(filler) == Some(2)
            {
                max_len(v) / 2
            } else {
                max_len(v) + extra
            };
            let s: String = std::iter::repeat_n(filler, n).collect();
            vars.insert((*v).to_string(), Value::String(s));
        }
        vars
    }

    #[test]
    fn every_template_renders_in_both_languages_without_placeholders_left() {
        for tpl in Template::ALL {
            let vars = vars_at_max(*tpl, 'x');
            for lang in [Language::Id, Language::En] {
                let r = render(*tpl, lang, &vars);
                for text in [&r.body, &r.sms] {
                    assert!(
                        !text.contains('{') || *tpl == Template::SmsHelpReply,
                        "{tpl:?} {lang:?}: {text}"
                    );
                }
                assert!(!r.title.is_empty());
                assert!(gsm7::septets(&r.sms).is_some(), "{tpl:?} SMS is GSM-7");
            }
        }
    }

    #[test]
    fn the_promised_sms_fit_one_gsm7_segment_at_maximum_length() {
        // Fillers: a plain letter, a character of the GSM-7 extension table (2 septets
        // each) and one outside GSM-7 (replaced), so the worst case of each is covered.
        for filler in ['W', '€', 'ñ', '字'] {
            for tpl in ONE_SEGMENT_SMS {
                for lang in [Language::Id, Language::En] {
                    let r = render(*tpl, lang, &vars_at_max(*tpl, filler));
                    let septets = gsm7::septets(&r.sms)
                        .unwrap_or_else(|| panic!("{tpl:?} {lang:?} not GSM-7: {}", r.sms));
                    assert!(
                        septets <= gsm7::SEGMENT_SEPTETS,
                        "{tpl:?} {lang:?} with {filler:?}: {septets} septets: {}",
                        r.sms
                    );
                    assert_eq!(gsm7::segments(&r.sms), Some(1));
                }
            }
        }
    }

    #[test]
    fn variables_are_cut_and_case_types_labelled() {
        let mut vars = Map::new();
        vars.insert("case_type".into(), Value::String("cardiac_arrest".into()));
        vars.insert("distance_m".into(), Value::from(420));
        vars.insert(
            "link".into(),
            Value::String("https://kreki.example/relawan/".into()),
        );
        let r = render(Template::DispatchOffer, Language::Id, &vars);
        assert_eq!(
            r.body,
            "KREKI DARURAT Henti jantung 420 m dari Anda. Terima/tolak: https://kreki.example/relawan/"
        );
        let mut vars = Map::new();
        vars.insert(
            "name".into(),
            Value::String("Bartholomew Sastrowardoyo".into()),
        );
        let link = "https://kreki.example/akun/verifikasi-email?token=abcdefghijklmnopqrstuvwxyz";
        vars.insert("link".into(), Value::String(link.into()));
        let r = render(Template::EmailVerification, Language::En, &vars);
        assert_eq!(
            r.body,
            format!(
                "Hello Bartholomew Sastrowardoyo, open this link to verify your e-mail: {link}"
            )
        );
        assert!(
            r.sms.starts_with("Hello Bartholomew Sastrowa, "),
            "{}",
            r.sms
        );
        assert!(r.sms.ends_with(link), "links are never cut: {}", r.sms);
    }

    #[test]
    fn substitution() {
        let mut vars = Map::new();
        vars.insert("code".into(), Value::String("123456".into()));
        vars.insert("minutes".into(), Value::from(5));
        let r = render(Template::OtpCode, Language::En, &vars);
        assert_eq!(
            r.body,
            "Your KREKI code: 123456. Valid 5 minutes. Never share it."
        );
    }
}
