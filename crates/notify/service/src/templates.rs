//! Message templates in Bahasa Indonesia and English. Variables are `{name}` placeholders;
//! a request is checked for its template's variables when it is made.

use kreki_notify_contracts::{Language, Template};
use serde_json::{Map, Value};

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// E-mail subject / push title.
    pub title: String,
    pub body: String,
}

fn texts(t: Template, lang: Language) -> (&'static str, &'static str) {
    use Language::{En, Id};
    match (t, lang) {
        (Template::TestAlert, Id) => (
            "Tes peringatan KREKI",
            "Tes berhasil: peringatan darurat KREKI sampai ke perangkat Anda.",
        ),
        (Template::TestAlert, En) => (
            "KREKI alert test",
            "Test passed: KREKI emergency alerts reach your device.",
        ),
        (Template::DispatchOffer, Id) => (
            "DARURAT: {case_type}",
            "KREKI DARURAT {case_type} {distance_m} m dari Anda. Terima/tolak: {link}",
        ),
        (Template::DispatchOffer, En) => (
            "EMERGENCY: {case_type}",
            "KREKI EMERGENCY {case_type} {distance_m} m from you. Accept/decline: {link}",
        ),
        (Template::OfferWithdrawn, Id) => (
            "Tawaran dibatalkan",
            "Kasus {case_type} sudah tertangani. Terima kasih.",
        ),
        (Template::OfferWithdrawn, En) => (
            "Offer withdrawn",
            "The {case_type} case is covered. Thank you.",
        ),
        (Template::CaseUpdate, Id) => ("Kabar kasus Anda", "KREKI: {status_text}"),
        (Template::CaseUpdate, En) => ("Your case update", "KREKI: {status_text}"),
        (Template::EscalationNotice, Id) => (
            "Eskalasi ke PSC 119",
            "Kasus {case_id} ({severity}) dieskalasi ke PSC 119.",
        ),
        (Template::EscalationNotice, En) => (
            "Escalated to PSC 119",
            "Case {case_id} ({severity}) escalated to PSC 119.",
        ),
        (Template::OtpCode, Id) => (
            "Kode KREKI",
            "Kode KREKI Anda: {code}. Berlaku {minutes} menit. Jangan berikan kepada siapa pun.",
        ),
        (Template::OtpCode, En) => (
            "KREKI code",
            "Your KREKI code: {code}. Valid {minutes} minutes. Never share it.",
        ),
        (Template::EmailVerification, Id) => (
            "Verifikasi e-mail KREKI ID",
            "Halo {name}, buka tautan ini untuk memverifikasi e-mail Anda: {link}",
        ),
        (Template::EmailVerification, En) => (
            "Verify your KREKI ID e-mail",
            "Hello {name}, open this link to verify your e-mail: {link}",
        ),
        (Template::PasswordReset, Id) => (
            "Atur ulang kata sandi",
            "Halo {name}, atur ulang kata sandi Anda di: {link}. Abaikan jika bukan Anda.",
        ),
        (Template::PasswordReset, En) => (
            "Reset your password",
            "Hello {name}, reset your password at: {link}. Ignore this if it was not you.",
        ),
        (Template::CertificateIssued, Id) => (
            "Sertifikat BHD terbit",
            "Selamat {name}! Sertifikat {certificate_id} telah terbit: {link}",
        ),
        (Template::CertificateIssued, En) => (
            "BHD certificate issued",
            "Congratulations {name}! Certificate {certificate_id} is issued: {link}",
        ),
        (Template::RecertificationReminder, Id) => (
            "Saatnya sertifikasi ulang",
            "Halo {name}, sertifikat {certificate_id} berakhir {expires_on}. Daftar sertifikasi ulang sekarang.",
        ),
        (Template::RecertificationReminder, En) => (
            "Time to recertify",
            "Hello {name}, certificate {certificate_id} expires {expires_on}. Enrol for recertification now.",
        ),
        (Template::WellbeingCheckin, Id) => (
            "Apa kabar?",
            "Halo {name}, terima kasih atas bantuan Anda. Bagaimana keadaan Anda setelah kasus tadi?",
        ),
        (Template::WellbeingCheckin, En) => (
            "How are you?",
            "Hello {name}, thank you for helping. How are you feeling after that case?",
        ),
        (Template::SmsHelpReply, Id) => (
            "Format SMS",
            "Format: DARURAT <ID> <LAT,LONG> <JENIS> <KETERANGAN>. Contoh: DARURAT 0 -6.2,106.8 PINGSAN pria 50th. Darurat: 119",
        ),
        (Template::SmsHelpReply, En) => (
            "SMS format",
            "Format: DARURAT <ID> <LAT,LONG> <TYPE> <DETAILS>. Example: DARURAT 0 -6.2,106.8 PINGSAN man 50y. Emergency: 119",
        ),
    }
}

fn substitute(text: &str, vars: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match vars.get(name) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(v) => out.push_str(&v.to_string()),
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

pub fn render(t: Template, lang: Language, vars: &Map<String, Value>) -> Rendered {
    let (title, body) = texts(t, lang);
    Rendered {
        title: substitute(title, vars),
        body: substitute(body, vars),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_in_both_languages_without_placeholders_left() {
        for t in Template::ALL {
            let mut vars = Map::new();
            for v in t.required_vars() {
                vars.insert((*v).to_string(), Value::String("x".into()));
            }
            for lang in [Language::Id, Language::En] {
                let r = render(*t, lang, &vars);
                assert!(
                    !r.body.contains('{') || *t == Template::SmsHelpReply,
                    "{t:?} {lang:?}: {}",
                    r.body
                );
                assert!(!r.title.is_empty());
            }
        }
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
