//! A tiny browser for server-rendered pages and OIDC redirects in tests (no redirects
//! followed, cookies kept by name), and the form and URL helpers that go with it. Shared by
//! KREKI ID's tests and the cross-service tests of `apps/kreki`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;

/// A tiny browser: no redirects followed, cookies kept by name.
pub struct Browser {
    c: reqwest::Client,
    base: String,
    pub jar: HashMap<String, String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            c: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.into(),
            jar: HashMap::new(),
        }
    }
    fn url(&self, u: &str) -> String {
        if u.starts_with("http") {
            u.into()
        } else {
            format!("{}{u}", self.base)
        }
    }
    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let (kv, _) = s.split_once(';').unwrap_or((s, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.into(), val.into());
            }
        }
    }
    pub async fn get(&mut self, u: &str) -> (u16, String, String) {
        let r = self
            .c
            .get(self.url(u))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
    pub async fn post(&mut self, u: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let body: String = url_encode(form);
        let r = self
            .c
            .post(self.url(u))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (r.status().as_u16(), loc, r.text().await.unwrap())
    }
}

pub fn url_encode(form: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in form.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(&format!("{k}={}", enc(v)));
    }
    s
}

pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + needle.len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].replace("&amp;", "&")
}

pub fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    out.push(
                        u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16)
                            .unwrap(),
                    );
                    i += 3;
                } else {
                    out.push(if b[i] == b'+' { b' ' } else { b[i] });
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
    })
}
