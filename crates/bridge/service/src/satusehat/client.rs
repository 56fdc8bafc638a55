//! The SATUSEHAT HTTP client: OAuth2 client credentials the way SATUSEHAT does them, a
//! cached token refreshed before expiry (one refresh at a time), a one-a-minute back-off
//! after a failed token request, and FHIR calls classified for the error policy. Every
//! exchange is returned to the caller for the transaction log; tokens and the client
//! secret never appear in it.

use std::{sync::Arc, time::Duration};

use kreki_platform::config::Secret;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{clock::Clock, fhir::OperationOutcome};

/// After a failed token request SATUSEHAT accepts about one try per minute.
pub const TOKEN_RETRY_SECS: i64 = 60;

/// One request and its answer, as stored in the transaction log.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub at: i64,
    pub method: String,
    /// Path and query below the SATUSEHAT base (`/fhir-r4/v1/Encounter`).
    pub url: String,
    pub request: Option<String>,
    pub status: Option<u16>,
    pub response: Option<String>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// How a call ended, for the error policy.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ok {
        status: u16,
        body: serde_json::Value,
    },
    /// 400/422: the resource is wrong; a human must fix it.
    Invalid {
        status: u16,
        outcome: serde_json::Value,
    },
    /// 404 (lookups).
    NotFound,
    /// 429: wait this long.
    RateLimited { retry_after_secs: i64 },
    /// 5xx, timeouts, connection errors, a second 401: try again later.
    Transient(String),
    /// No token (the token endpoint failed or we are within its back-off).
    NoToken { retry_at: i64, reason: String },
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    /// SATUSEHAT sends it as a string (`"14399"`); accept a number too.
    expires_in: serde_json::Value,
}

#[derive(Default)]
struct TokenState {
    token: Option<(String, i64)>,
    failed_until: i64,
    last_error: String,
}

pub struct Client {
    http: reqwest::Client,
    /// Root of the API (`https://api-satusehat-stg.dto.kemkes.go.id`).
    base: String,
    client_id: String,
    secret: Secret,
    clock: Arc<dyn Clock>,
    state: Mutex<TokenState>,
    token_requests: std::sync::atomic::AtomicU64,
}

fn expires_in_secs(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

impl Client {
    pub fn new(
        base: &str,
        client_id: &str,
        secret: Secret,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Client> {
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .build()?,
            base: base.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            secret,
            clock,
            state: Mutex::new(TokenState::default()),
            token_requests: Default::default(),
        })
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Token requests sent so far (tests of the single flight).
    pub fn token_requests(&self) -> u64 {
        self.token_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid token: the cached one, or one fresh refresh shared by every waiting caller.
    pub async fn token(&self, log: &mut Vec<Exchange>) -> Result<String, Outcome> {
        let mut st = self.state.lock().await;
        let now = self.clock.now_micros();
        if let Some((t, exp)) = &st.token
            && now < *exp
        {
            return Ok(t.clone());
        }
        if now < st.failed_until {
            return Err(Outcome::NoToken {
                retry_at: st.failed_until,
                reason: st.last_error.clone(),
            });
        }
        self.token_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = "/oauth2/v1/accesstoken?grant_type=client_credentials";
        let started = std::time::Instant::now();
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.secret.expose()),
            ])
            .send()
            .await;
        let mut ex = Exchange {
            at: now,
            method: "POST".into(),
            url: path.into(),
            request: Some(format!(
                "client_id={}&client_secret=********",
                self.client_id
            )),
            status: None,
            response: None,
            duration_ms: 0,
            error: None,
        };
        let result = match res {
            Err(e) => Err(format!("token request failed: {}", error_kind(&e))),
            Ok(r) => {
                let status = r.status().as_u16();
                ex.status = Some(status);
                let body = r.text().await.unwrap_or_default();
                match serde_json::from_str::<TokenResponse>(&body) {
                    Ok(t) if status == 200 => {
                        ex.response = Some("{\"access_token\":\"********\"}".into());
                        match expires_in_secs(&t.expires_in) {
                            Some(secs) if secs > 0 => Ok((t.access_token, secs)),
                            _ => Err("token answer without a usable expires_in".to_string()),
                        }
                    }
                    _ => {
                        ex.response = Some(truncate(&body));
                        Err(format!("token request answered {status}"))
                    }
                }
            }
        };
        ex.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match result {
            Ok((token, secs)) => {
                // Refresh ahead of expiry: a tenth of the lifetime, at most five minutes.
                let margin = (secs / 10).min(300);
                st.token = Some((token.clone(), now + (secs - margin) * 1_000_000));
                st.failed_until = 0;
                log.push(ex);
                Ok(token)
            }
            Err(reason) => {
                ex.error = Some(reason.clone());
                log.push(ex);
                st.token = None;
                st.failed_until = now + TOKEN_RETRY_SECS * 1_000_000;
                st.last_error = reason.clone();
                tracing::warn!(reason = %reason, "SATUSEHAT token request failed; next try in a minute");
                Err(Outcome::NoToken {
                    retry_at: st.failed_until,
                    reason,
                })
            }
        }
    }

    /// Forget `token` (after a 401) unless another caller already replaced it.
    pub async fn invalidate(&self, token: &str) {
        let mut st = self.state.lock().await;
        if st.token.as_ref().is_some_and(|(t, _)| t == token) {
            st.token = None;
        }
    }

    /// One FHIR call: `GET`/`POST` below `/fhir-r4/v1`. A 401 refreshes the token once.
    pub async fn fhir(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
        if_none_exist: Option<&str>,
        log: &mut Vec<Exchange>,
    ) -> Outcome {
        let mut refreshed = false;
        loop {
            let token = match self.token(log).await {
                Ok(t) => t,
                Err(o) => return o,
            };
            let url = format!("/fhir-r4/v1{path_and_query}");
            let mut req = self
                .http
                .request(method.clone(), format!("{}{url}", self.base))
                .bearer_auth(&token)
                .header("accept", "application/fhir+json");
            let request_text = body.map(|b| b.to_string());
            if let Some(t) = &request_text {
                req = req
                    .header("content-type", "application/fhir+json")
                    .body(t.clone());
            }
            if let Some(c) = if_none_exist {
                req = req.header("if-none-exist", c);
            }
            let at = self.clock.now_micros();
            let started = std::time::Instant::now();
            let res = req.send().await;
            let mut ex = Exchange {
                at,
                method: method.to_string(),
                url,
                request: request_text,
                status: None,
                response: None,
                duration_ms: 0,
                error: None,
            };
            let outcome = match res {
                Err(e) => Outcome::Transient(error_kind(&e)),
                Ok(r) => {
                    let status = r.status().as_u16();
                    ex.status = Some(status);
                    let retry_after = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<i64>().ok());
                    let text = r.text().await.unwrap_or_default();
                    ex.response = Some(truncate(&text));
                    let json: serde_json::Value =
                        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                    match status {
                        200..=299 => Outcome::Ok { status, body: json },
                        400 | 422 => Outcome::Invalid {
                            status,
                            outcome: json,
                        },
                        401 if !refreshed => {
                            ex.duration_ms = elapsed_ms(started);
                            ex.error = Some("401: token refreshed once".into());
                            log.push(ex);
                            self.invalidate(&token).await;
                            refreshed = true;
                            continue;
                        }
                        401 => Outcome::Transient("401 after a fresh token".into()),
                        404 => Outcome::NotFound,
                        429 => Outcome::RateLimited {
                            retry_after_secs: retry_after.unwrap_or(60).clamp(1, 3600),
                        },
                        s => Outcome::Transient(format!("HTTP {s}")),
                    }
                }
            };
            ex.duration_ms = elapsed_ms(started);
            if let Outcome::Transient(e) = &outcome {
                ex.error = Some(e.clone());
            }
            log.push(ex);
            return outcome;
        }
    }
}

fn elapsed_ms(t: std::time::Instant) -> i64 {
    i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX)
}

fn error_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

fn truncate(s: &str) -> String {
    const MAX: usize = 16_384;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The issues of an OperationOutcome, for the operator.
pub fn issues(v: &serde_json::Value) -> Vec<String> {
    serde_json::from_value::<OperationOutcome>(v.clone())
        .map(|o| {
            o.issue
                .into_iter()
                .map(|i| {
                    let what = i
                        .diagnostics
                        .or_else(|| i.details.and_then(|d| d.text))
                        .unwrap_or_default();
                    if i.expression.is_empty() {
                        format!("{}: {what}", i.code)
                    } else {
                        format!("{} ({}): {what}", i.code, i.expression.join(", "))
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}
