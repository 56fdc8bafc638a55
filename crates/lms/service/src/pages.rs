//! Server-rendered pages of the LMS: the public certificate verification page
//! (`/verify/{id}`) and the learner and instructor pages under `/belajar/` (see
//! [`crate::belajar`]). No script; Bahasa Indonesia by default with an English switch
//! (`?lang=en`, kept in a cookie); a strict CSP.

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{Html, Response},
};
use kreki_platform::{
    error::Lang,
    pages::{self as kit, Cookie, Shell},
};

pub use kreki_platform::pages::{cookie, esc, finish, t};

use crate::{http::AppState, store::LmsError};

/// The `?lang=` switch is remembered for a year, readable by the site only.
const LANG_REMEMBER: Cookie<'static> = Cookie {
    path: "/",
    max_age_s: 31_536_000,
    http_only: false,
    same_site: "Lax",
    secure: false,
};

/// The page language: `?lang=` (remembered in a cookie), the cookie, or the browser's.
pub fn lang(headers: &HeaderMap, q: Option<&str>) -> (Lang, Option<HeaderValue>) {
    kit::choose_lang(
        headers,
        kit::query_param(q, "lang").as_deref(),
        &LANG_REMEMBER,
    )
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:44rem;margin:0 auto;padding:1rem;color:#1a1a1a;line-height:1.5}\
h1{font-size:1.5rem;color:#b3261e}h2{font-size:1.15rem}label{display:block;margin-top:.8rem;font-weight:600}\
input,select,textarea{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #666;border-radius:.4rem}\
button{margin-top:.8rem;padding:.65rem 1.1rem;font-size:1rem;background:#b3261e;color:#fff;border:0;border-radius:.4rem}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;text-align:left}\
.status{font-size:1.3rem;font-weight:700;padding:.8rem;border-radius:.4rem}.valid{background:#e6f4ea;color:#1e5e2e}\
.expired{background:#fff4e5;color:#7a4b00}.revoked,.err{background:#fde7e7;color:#8c1d18}\
.ok{background:#e6f4ea;padding:.6rem}nav a{margin-right:1rem}a{color:#0b57d0}:focus{outline:3px solid #0b57d0;outline-offset:2px}";

const SHELL: Shell = Shell {
    brand: "KREKI Belajar",
    css: CSS,
};

/// A whole page of the LMS's site, with `nav` (HTML) in its header.
pub fn page(lang: Lang, title: &str, body: &str, nav: &str) -> Html<String> {
    SHELL.page(lang, title, body, nav)
}

/// `/verify/{id}`: public verification of a certificate (no sign-in).
pub async fn verify(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (lang, set) = lang(&headers, q.as_deref());
    let cookies: Vec<HeaderValue> = set.into_iter().collect();
    let en = lang == Lang::En;
    match st.store.certificate(&id, en).await {
        Ok(c) => {
            let (class, label) = match c.status.as_str() {
                "valid" => ("valid", t(lang, "BERLAKU", "VALID")),
                "expired" => ("expired", t(lang, "KEDALUWARSA", "EXPIRED")),
                _ => ("revoked", t(lang, "DICABUT", "REVOKED")),
            };
            let mut body = format!(
                "<p id=\"cert-status\" class=\"status {class}\" data-status=\"{}\" role=\"status\">{label}</p>\
<table><tbody>\
<tr><th scope=\"row\">{}</th><td id=\"cert-id\">{}</td></tr>\
<tr><th scope=\"row\">{}</th><td id=\"cert-holder\">{}</td></tr>\
<tr><th scope=\"row\">{}</th><td id=\"cert-course\">{}</td></tr>\
<tr><th scope=\"row\">{}</th><td id=\"cert-issued\">{}</td></tr>\
<tr><th scope=\"row\">{}</th><td id=\"cert-valid-until\">{}</td></tr>\
<tr><th scope=\"row\">{}</th><td id=\"cert-instructor\">{}</td></tr>\
</tbody></table>",
                esc(&c.status),
                t(lang, "Nomor", "Number"),
                esc(&c.number),
                t(lang, "Nama", "Name"),
                match (&c.holder_name, c.holder_erased) {
                    (Some(n), _) => esc(n),
                    (None, true) => t(
                        lang,
                        "— (dihapus atas permintaan pemilik akun)",
                        "— (erased at the account holder's request)"
                    )
                    .to_string(),
                    (None, false) => "—".to_string(),
                },
                t(lang, "Kursus", "Course"),
                esc(&c.course_title),
                t(lang, "Terbit", "Issued"),
                esc(&c.issued_at[..10.min(c.issued_at.len())]),
                t(lang, "Berlaku sampai", "Valid until"),
                esc(&c.valid_until[..10.min(c.valid_until.len())]),
                t(lang, "Instruktur", "Instructor"),
                esc(c.instructor_name.as_deref().unwrap_or("—")),
            );
            // The reason of a revocation stays with the register (it may say things about
            // the holder); the page says when.
            if c.status == "revoked" {
                body.push_str(&format!(
                    "<p id=\"cert-revoked\" class=\"err\">{}: {}</p>",
                    t(lang, "Dicabut", "Revoked"),
                    esc(c.revoked_at.as_deref().unwrap_or("")),
                ));
            }
            body.push_str(&format!(
                "<p>{}</p>",
                t(
                    lang,
                    "Nama disamarkan (nama depan dan inisial): cocokkan dengan kartu identitas pemegang. Kredensial digital dapat diverifikasi tanpa jaringan dengan `kreki verify-credential`.",
                    "The name is masked (first name and initials): match it with the holder's identity card. The digital credential can be verified offline with `kreki verify-credential`."
                )
            ));
            finish(
                StatusCode::OK,
                page(
                    lang,
                    t(lang, "Verifikasi sertifikat", "Certificate verification"),
                    &body,
                    "",
                ),
                cookies,
            )
        }
        Err(LmsError::CertificateNotFound) => finish(
            StatusCode::NOT_FOUND,
            page(
                lang,
                t(lang, "Sertifikat tidak ditemukan", "Certificate not found"),
                &format!(
                    "<p id=\"cert-status\" class=\"status revoked\" data-status=\"unknown\" role=\"status\">{}</p>",
                    t(
                        lang,
                        "Nomor sertifikat ini tidak terdaftar di KREKI. Sertifikat ini tidak sah.",
                        "This certificate number is not registered with KREKI. The certificate is not genuine."
                    )
                ),
                "",
            ),
            cookies,
        ),
        Err(e) => {
            tracing::warn!(error = %e, "verification page failed");
            finish(
                StatusCode::SERVICE_UNAVAILABLE,
                page(
                    lang,
                    t(lang, "Coba lagi nanti", "Try again later"),
                    &format!(
                        "<p class=\"err\">{}</p>",
                        t(
                            lang,
                            "Layanan sedang tidak tersedia.",
                            "The service is unavailable."
                        )
                    ),
                    "",
                ),
                cookies,
            )
        }
    }
}
