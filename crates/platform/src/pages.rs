//! Server-rendered pages (KREKI ID's login pages and OIDC screens, the LMS's learner site and
//! certificate pages): HTML escaping, cookies, the page language, the page shell and its
//! headers, form parsing and the posted form with its CSRF check. No script on any page;
//! Bahasa Indonesia by default with an English switch (`?lang=en`, kept in a cookie); a
//! strict CSP.

use std::ops::Deref;

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use crate::error::{ENVELOPE_MARKER, Lang};

/// The cookie that remembers a language switch.
pub const LANG_COOKIE: &str = "kreki_lang";

/// The policy of every page: no script, inline styles, images from the site, forms only to
/// the site, never framed, no `<base>`.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Escape text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The text in the page's language.
pub fn t<'a>(lang: Lang, id: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Id => id,
        Lang::En => en,
    }
}

/// The value of the request's cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The attributes of a cookie to set:
/// `name=value; Path=…; Max-Age=…[; HttpOnly]; SameSite=…[; Secure]`.
#[derive(Debug, Clone, Copy)]
pub struct Cookie<'a> {
    pub path: &'a str,
    pub max_age_s: i64,
    pub http_only: bool,
    pub same_site: &'a str,
    pub secure: bool,
}

impl Cookie<'_> {
    /// The `Set-Cookie` value (`None` if `value` cannot be a header; max age 0 deletes).
    pub fn set(&self, name: &str, value: &str) -> Option<HeaderValue> {
        let s = format!(
            "{name}={value}; Path={}; Max-Age={}{}; SameSite={}{}",
            self.path,
            self.max_age_s,
            if self.http_only { "; HttpOnly" } else { "" },
            self.same_site,
            if self.secure { "; Secure" } else { "" }
        );
        HeaderValue::from_str(&s).ok()
    }
}

/// `application/x-www-form-urlencoded` pairs in order, repeated names kept (checkbox lists).
pub fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Form pairs where a repeated name is an error, reported by name (OAuth requests, RFC 6749
/// §3.1).
pub fn form_pairs_unique(raw: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if out.iter().any(|(x, _)| x == &k) {
            return Err(k.into_owned());
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// The first value of `key`, if it is not empty.
pub fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// One parameter of a raw query string.
pub fn query_param(q: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The language the cookie remembers, else the request's (`Accept-Language`).
pub fn remembered_lang(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        Some("id") => Lang::Id,
        _ => Lang::current(),
    }
}

/// The page language: the `?lang=` switch (`param`; with the cookie that remembers it,
/// set with `remember`), else [`remembered_lang`].
pub fn choose_lang(
    headers: &HeaderMap,
    param: Option<&str>,
    remember: &Cookie<'_>,
) -> (Lang, Option<HeaderValue>) {
    match param {
        Some("en") => (Lang::En, remember.set(LANG_COOKIE, "en")),
        Some("id") => (Lang::Id, remember.set(LANG_COOKIE, "id")),
        _ => (remembered_lang(headers), None),
    }
}

/// A site's page frame: its name and style sheet.
#[derive(Debug, Clone, Copy)]
pub struct Shell {
    pub brand: &'static str,
    pub css: &'static str,
}

impl Shell {
    /// A whole page: the header with the brand, the language switch and `nav` (HTML), then
    /// the title and `body` (HTML).
    pub fn page(&self, lang: Lang, title: &str, body: &str, nav: &str) -> Html<String> {
        let (other, other_label) = match lang {
            Lang::Id => ("en", "English"),
            Lang::En => ("id", "Bahasa Indonesia"),
        };
        let html_lang = if lang == Lang::En { "en" } else { "id" };
        Html(format!(
            "<!doctype html><html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title} · {brand}</title>\
<style>{css}</style></head><body><header><p><strong>{brand}</strong> · \
<a id=\"lang-switch\" href=\"?lang={other}\" hreflang=\"{other}\">{other_label}</a></p>{nav}</header>\
<main><h1>{title}</h1>{body}</main></body></html>",
            title = esc(title),
            brand = self.brand,
            css = self.css,
        ))
    }
}

/// Mark a response as final: the platform's envelope normaliser leaves it as it is (HTML
/// pages, OAuth error bodies have their own formats; also a page's 404).
pub fn own_format(mut res: Response) -> Response {
    res.headers_mut()
        .insert(ENVELOPE_MARKER, HeaderValue::from_static("1"));
    res
}

/// A page's headers: [`PAGE_CSP`], no caching, and the page is the answer.
pub fn page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    own_format(res)
}

/// Finish a page: status, page headers, cookies to set.
pub fn finish(status: StatusCode, html: Html<String>, cookies: Vec<HeaderValue>) -> Response {
    let mut res = (status, html).into_response();
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    page_headers(res)
}

/// 303 See Other to `location` (a local path or a registered URL).
pub fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Compare two secret tokens in constant time (for their length).
pub fn tokens_match(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

/// A posted form (`application/x-www-form-urlencoded` body, repeated names kept), the
/// extractor of every page's `POST`. Its `csrf` field is checked against the token the site
/// issued (a session's, or the double-submit cookie's) with [`Form::csrf_matches`].
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(raw: &[u8]) -> Form {
        Form(form_pairs(raw))
    }

    /// The first value of `key`, if not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        field(&self.0, key)
    }

    /// The first value of `key`, `""` when missing.
    pub fn text(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// The form's `csrf` field equals `expected` (never for an empty or missing token).
    pub fn csrf_matches(&self, expected: &str) -> bool {
        match self.get("csrf") {
            Some(sent) => !expected.is_empty() && tokens_match(sent, expected),
            None => false,
        }
    }
}

impl Deref for Form {
    type Target = [(String, String)];
    fn deref(&self) -> &[(String, String)] {
        &self.0
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Form, Response> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Form::parse(&body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("Budi · é"), "Budi · é");
    }

    #[test]
    fn reads_cookies_across_headers() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; kreki_lang=en"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "kreki_lang"), Some("en"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn writes_cookie_attributes_in_order() {
        let c = Cookie {
            path: "/belajar/",
            max_age_s: 600,
            http_only: true,
            same_site: "Lax",
            secure: true,
        };
        assert_eq!(
            c.set("s", "v").unwrap(),
            "s=v; Path=/belajar/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"
        );
        let plain = Cookie {
            path: "/",
            max_age_s: 31_536_000,
            http_only: false,
            same_site: "Lax",
            secure: false,
        };
        assert_eq!(
            plain.set(LANG_COOKIE, "en").unwrap(),
            "kreki_lang=en; Path=/; Max-Age=31536000; SameSite=Lax"
        );
        assert!(c.set("s", "bad\nvalue").is_none());
    }

    #[test]
    fn parses_forms_leniently_or_strictly() {
        let raw = b"item=a&item=b&name=Budi+S&empty=";
        let f = Form::parse(raw);
        assert_eq!(f.iter().filter(|(k, _)| k == "item").count(), 2);
        assert_eq!(f.get("name"), Some("Budi S"));
        assert_eq!(f.get("empty"), None);
        assert_eq!(f.text("missing"), "");
        assert_eq!(form_pairs_unique(raw).unwrap_err(), "item");
        assert_eq!(form_pairs_unique(b"a=1&b=2").unwrap().len(), 2);
        assert_eq!(
            query_param(Some("x=1&lang=en"), "lang").as_deref(),
            Some("en")
        );
        assert_eq!(query_param(None, "lang"), None);
    }

    #[test]
    fn chooses_the_language() {
        let remember = Cookie {
            path: "/",
            max_age_s: 31_536_000,
            http_only: true,
            same_site: "Lax",
            secure: false,
        };
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("kreki_lang=en"));
        assert_eq!(choose_lang(&h, None, &remember), (Lang::En, None));
        let (lang, set) = choose_lang(&h, Some("id"), &remember);
        assert_eq!(lang, Lang::Id);
        assert!(set.unwrap().to_str().unwrap().starts_with("kreki_lang=id;"));
        // No cookie, no switch: the request's language (Bahasa Indonesia by default).
        assert_eq!(remembered_lang(&HeaderMap::new()), Lang::current());
    }

    #[test]
    fn shell_escapes_the_title_and_links_the_other_language() {
        let shell = Shell {
            brand: "KREKI Test",
            css: "body{}",
        };
        let Html(html) = shell.page(Lang::Id, "<Judul>", "<p>isi</p>", "<nav></nav>");
        assert!(html.starts_with("<!doctype html><html lang=\"id\">"));
        assert!(html.contains("<title>&lt;Judul&gt; · KREKI Test</title>"));
        assert!(html.contains("href=\"?lang=en\" hreflang=\"en\">English</a>"));
        assert!(html.contains("<nav></nav></header><main><h1>&lt;Judul&gt;</h1><p>isi</p>"));
    }

    #[test]
    fn pages_carry_their_headers_and_cookies() {
        let c = HeaderValue::from_static("a=b");
        let res = finish(StatusCode::NOT_FOUND, Html("x".into()), vec![c.clone(), c]);
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], PAGE_CSP);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert!(h.contains_key(ENVELOPE_MARKER));
        assert_eq!(h.get_all(header::SET_COOKIE).iter().count(), 2);
        assert_eq!(see_other("/akun/").headers()[header::LOCATION], "/akun/");
    }

    #[test]
    fn csrf_needs_the_exact_non_empty_token() {
        let f = Form::parse(b"csrf=abc123&x=1");
        assert!(f.csrf_matches("abc123"));
        assert!(!f.csrf_matches("abc124"));
        assert!(!f.csrf_matches("abc"));
        assert!(!f.csrf_matches(""));
        assert!(!Form::parse(b"csrf=").csrf_matches(""));
        assert!(!Form::parse(b"x=1").csrf_matches("abc123"));
    }

    #[tokio::test]
    async fn the_form_extractor_reads_the_body() {
        let req = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from("csrf=t&q.1=a&q.1=b"))
            .unwrap();
        let f = Form::from_request(req, &()).await.unwrap();
        assert!(f.csrf_matches("t"));
        assert_eq!(f.len(), 3);
    }
}
