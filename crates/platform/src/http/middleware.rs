//! Middleware: request id, language, security headers, envelope for every error, timeouts,
//! panics, metrics, rate limits.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tracing::Instrument;

use crate::{
    error::{ApiError, ENVELOPE_MARKER, Lang, REQUEST_LANG},
    metrics::{HttpLabels, Metrics, RouteLabels},
    storage::ratelimit::RateLimiter,
};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the request being handled.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client address (from the socket, or `X-Forwarded-For` behind a trusted proxy).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(ClientIp(IpAddr::from([127, 0, 0, 1]))))
    }
}

/// Settings of the outer stack.
#[derive(Debug, Clone)]
pub struct KitConfig {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// How many reverse proxies in front append to `X-Forwarded-For` (0: the header is not
    /// trusted, the socket's address is the client's). The client is the entry this many
    /// places from the right: entries further left were written by the client itself.
    pub trusted_hops: u32,
    /// Send `Strict-Transport-Security` (the site is served over HTTPS).
    pub hsts: bool,
}

/// The client's address in `X-Forwarded-For` behind `hops` trusted proxies: the entry
/// `hops` places from the right of all the header's entries (the left-most ones are whatever
/// the client sent). `None` when there are fewer entries or the entry is not an address.
pub fn forwarded_client(headers: &axum::http::HeaderMap, hops: u32) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let i = entries.len().checked_sub(usize::try_from(hops).ok()?)?;
    entries.get(i)?.parse().ok()
}

fn valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Wrap the whole application in the outer stack (once per process).
pub fn outer(app: Router, cfg: KitConfig) -> Router {
    let cfg = Arc::new(cfg);
    app.layer(middleware::from_fn_with_state(cfg.clone(), timeout))
        .layer(axum::extract::DefaultBodyLimit::max(cfg.body_limit_bytes))
        .layer(middleware::from_fn_with_state(
            cfg.clone(),
            envelope_and_headers,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(middleware::from_fn_with_state(cfg, context))
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}

/// Request id, client IP, language, span and access log.
async fn context(State(cfg): State<Arc<KitConfig>>, mut req: Request, next: Next) -> Response {
    let rid = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let socket_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = if cfg.trusted_hops > 0 {
        forwarded_client(req.headers(), cfg.trusted_hops).unwrap_or(socket_ip)
    } else {
        socket_ip
    };
    let lang = req
        .headers()
        .get("x-kreki-lang")
        .or_else(|| req.headers().get(header::ACCEPT_LANGUAGE))
        .and_then(|v| v.to_str().ok())
        .map(|v| Lang::from_accept_language(Some(v)))
        .unwrap_or_default();
    req.extensions_mut().insert(RequestId(rid.clone()));
    req.extensions_mut().insert(ClientIp(ip));
    let method = req.method().clone();
    // The path is logged without the query string (ids only; personal data never in URLs).
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", request_id = %rid, method = %method);
    let started = Instant::now();
    let mut res = REQUEST_LANG
        .scope(lang, next.run(req))
        .instrument(span.clone())
        .await;
    let status = res.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, path = %path, latency_ms = ms, "request");
        } else {
            tracing::info!(status, path = %path, latency_ms = ms, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// Security headers on every response, and the error envelope on every error response that
/// does not carry it yet (unknown route, wrong method, limits, timeouts).
async fn envelope_and_headers(
    State(cfg): State<Arc<KitConfig>>,
    req: Request,
    next: Next,
) -> Response {
    let lang = Lang::current();
    let mut res = next.run(req).await;
    let status = res.status();
    if (status.is_client_error() || status.is_server_error())
        && !res.headers().contains_key(ENVELOPE_MARKER)
        && status != StatusCode::SWITCHING_PROTOCOLS
    {
        let keep: Vec<(HeaderName, HeaderValue)> =
            [header::RETRY_AFTER, header::ALLOW, header::WWW_AUTHENTICATE]
                .into_iter()
                .filter_map(|h| res.headers().get(&h).map(|v| (h, v.clone())))
                .collect();
        res = REQUEST_LANG.sync_scope(lang, || ApiError::from_status(status).into_response());
        for (h, v) in keep {
            res.headers_mut().insert(h, v);
        }
    }
    let h = res.headers_mut();
    h.remove(ENVELOPE_MARKER);
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(self), camera=(), microphone=(), payment=()"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if cfg.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

async fn timeout(State(cfg): State<Arc<KitConfig>>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(cfg.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::from_status(StatusCode::GATEWAY_TIMEOUT).into_response(),
    }
}

/// Marks a response with the route it matched (for metrics).
#[derive(Clone)]
struct RouteTag(String);

async fn tag_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.map(|m| m.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(r) = route {
        res.extensions_mut().insert(RouteTag(r));
    }
    res
}

struct ServiceLayerState {
    service: &'static str,
    metrics: Arc<Metrics>,
    limiter: Arc<dyn RateLimiter>,
    per_minute: u32,
    /// `(method, path)` of routes with limits of their own: the general per-IP limit does
    /// not apply (the panic button behind a carrier's NAT, the SMS gateway's webhook).
    own_limits: Vec<(&'static str, &'static str)>,
}

/// Per-service stack: metrics by route and status, and the per-IP rate limit with
/// `X-RateLimit-*` headers.
pub fn service_layers(
    router: Router,
    service: &'static str,
    metrics: Arc<Metrics>,
    limiter: Arc<dyn RateLimiter>,
    per_minute: u32,
    own_limits: Vec<(&'static str, &'static str)>,
) -> Router {
    let st = Arc::new(ServiceLayerState {
        service,
        metrics,
        limiter,
        per_minute,
        own_limits,
    });
    router
        .route_layer(middleware::from_fn(tag_route))
        .layer(middleware::from_fn_with_state(st, service_stack))
}

async fn service_stack(
    State(st): State<Arc<ServiceLayerState>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let own_limit = st
        .own_limits
        .iter()
        .any(|(m, p)| *m == method && *p == req.uri().path());
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0)
        .filter(|_| !own_limit);
    let decision = match ip {
        Some(ip) => {
            let bucket = format!("http:{}:{ip}", st.service);
            match st
                .limiter
                .hit(&bucket, st.per_minute, Duration::from_secs(60))
                .await
            {
                Ok(d) => Some(d),
                Err(e) => {
                    // Never block traffic because the limiter's store is away.
                    tracing::warn!(error = %e, "rate limiter unavailable");
                    None
                }
            }
        }
        None => None,
    };
    let mut res = match decision {
        Some(d) if !d.allowed => ApiError::rate_limited(d.reset_after_s).into_response(),
        _ => next.run(req).await,
    };
    if let Some(d) = decision {
        let h = res.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", d.limit.to_string()),
            ("x-ratelimit-remaining", d.remaining.to_string()),
            ("x-ratelimit-reset", d.reset_after_s.to_string()),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
    let route = res
        .extensions()
        .get::<RouteTag>()
        .map(|t| t.0.clone())
        .unwrap_or_else(|| "unmatched".to_string());
    st.metrics
        .http_requests
        .get_or_create(&HttpLabels {
            service: st.service.to_string(),
            method: method.clone(),
            route: route.clone(),
            status: res.status().as_u16().to_string(),
        })
        .inc();
    st.metrics
        .http_latency
        .get_or_create(&RouteLabels {
            service: st.service.to_string(),
            method,
            route,
        })
        .observe(started.elapsed().as_secs_f64());
    res
}
