//! Which service serves each public path prefix: the one source of truth that `kreki routes`
//! prints and that the reverse proxies follow (`deploy/nginx.conf`, the Kubernetes Ingress in
//! `deploy/kubernetes/base/ingress.yaml`; both are checked against this table by
//! `apps/kreki/tests/kreki/deploy/`).
//!
//! A prefix owns its path, with or without the trailing `/`, and everything below it. The
//! longest matching prefix wins (as in nginx and in a Kubernetes Ingress), so `/admin/notify/`
//! goes to notify while the rest of `/admin/` goes to the Emergency Core.

use serde::Serialize;

/// Whether a route is served today, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Served in both run modes; every proxy routes it.
    Served,
    /// Served only by `kreki up --demo` (the simulators); proxies in front of `kreki serve`
    /// leave it out.
    DemoOnly,
    /// Decided but not built yet. Proxies route it when its service runs in serve mode (it
    /// then answers 404 until the pages arrive); a prefix of a service that does not exist
    /// yet is left out of the proxies.
    Planned,
}

impl Availability {
    fn as_str(self) -> &'static str {
        match self {
            Availability::Served => "served",
            Availability::DemoOnly => "demo only",
            Availability::Planned => "planned",
        }
    }
}

/// One public path prefix and the service that serves it.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub prefix: &'static str,
    /// `kreki serve` name of the service.
    pub service: &'static str,
    /// The service's port in serve mode.
    pub port: u16,
    /// Carries WebSocket upgrades (the proxy must pass `Upgrade` and keep the socket open).
    pub websocket: bool,
    pub availability: Availability,
    /// A path under the prefix that the service answers (tests and the docs use it).
    pub sample: &'static str,
    pub what: &'static str,
}

impl Route {
    /// Whether a reverse proxy in front of `kreki serve` processes routes this prefix.
    pub fn proxied(&self) -> bool {
        match self.availability {
            Availability::Served => true,
            Availability::DemoOnly => false,
            Availability::Planned => SERVE_MODE_SERVICES.contains(&self.service),
        }
    }

    /// Whether `path` falls under this prefix: the prefix's path itself (`/akun`, which
    /// redirects to `/akun/`) and everything below it, element by element, as a Kubernetes
    /// Ingress `Prefix` path matches.
    pub fn matches(&self, path: &str) -> bool {
        if let Some(bare) = self.prefix.strip_suffix('/') {
            path.starts_with(self.prefix) || (!bare.is_empty() && path == bare)
        } else {
            path == self.prefix
                || path
                    .strip_prefix(self.prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

/// Services that run as `kreki serve <name>` today (see `kreki::services()`).
const SERVE_MODE_SERVICES: &[&str] = &[
    "identity",
    "emergency",
    "volunteers",
    "lms",
    "bridge",
    "notify",
];

/// Port of the insights service (second plan; not built yet).
pub const INSIGHTS_PORT: u16 = 8207;

/// Every public path prefix, in the order of the contract's pages table.
pub fn routes() -> Vec<Route> {
    use Availability::{DemoOnly, Planned, Served};
    let r = |prefix, service, port, websocket, availability, sample, what| -> Route {
        Route {
            prefix,
            service,
            port,
            websocket,
            availability,
            sample,
            what,
        }
    };
    vec![
        // KREKI ID: its API, the OpenID Connect provider at the site root, the login pages.
        r(
            "/api/auth/",
            "identity",
            8201,
            false,
            Served,
            "/api/auth/v1/healthz",
            "KREKI ID API",
        ),
        r(
            "/.well-known/",
            "identity",
            8201,
            false,
            Served,
            "/.well-known/openid-configuration",
            "OIDC discovery and JWKS",
        ),
        r(
            "/oauth2/",
            "identity",
            8201,
            false,
            Served,
            "/oauth2/userinfo",
            "OIDC provider endpoints",
        ),
        r(
            "/akun/",
            "identity",
            8201,
            false,
            Served,
            "/akun/masuk",
            "sign-in, registration, MFA, consent pages",
        ),
        // Emergency Core: API with the live sockets, and the static apps.
        r(
            "/api/emergency/",
            "emergency",
            8202,
            true,
            Served,
            "/api/emergency/v1/healthz",
            "Emergency Core API and WebSockets (/api/emergency/v1/ws)",
        ),
        r(
            "/",
            "emergency",
            8202,
            false,
            Served,
            "/",
            "caller app (HELP 119 PWA) and its assets (/app/, /sw.js, /app-config.json)",
        ),
        r(
            "/relawan/",
            "emergency",
            8202,
            false,
            Served,
            "/relawan/",
            "volunteer app",
        ),
        r(
            "/ops/",
            "emergency",
            8202,
            false,
            Served,
            "/ops/",
            "dispatcher console",
        ),
        r(
            "/admin/",
            "emergency",
            8202,
            false,
            Planned,
            "/admin/",
            "admin console (static app)",
        ),
        r(
            "/admin/notify/",
            "notify",
            8206,
            false,
            Served,
            "/admin/notify/",
            "notification log (until it moves into /admin/)",
        ),
        r(
            "/admin/bridge/",
            "bridge",
            8205,
            false,
            Served,
            "/admin/bridge/",
            "bridge jobs (until they move into /admin/)",
        ),
        r(
            "/dampak/",
            "emergency",
            8202,
            false,
            Planned,
            "/dampak/",
            "public impact page (static app over the insights API)",
        ),
        r(
            "/status",
            "emergency",
            8202,
            false,
            Planned,
            "/status",
            "public status page (static app over the insights API)",
        ),
        // The other services.
        r(
            "/api/volunteers/",
            "volunteers",
            8203,
            false,
            Served,
            "/api/volunteers/v1/healthz",
            "volunteers API",
        ),
        r(
            "/api/lms/",
            "lms",
            8204,
            false,
            Served,
            "/api/lms/v1/healthz",
            "LMS API",
        ),
        r(
            "/belajar/",
            "lms",
            8204,
            false,
            Served,
            "/belajar/",
            "LMS learner and instructor pages",
        ),
        r(
            "/verify/",
            "lms",
            8204,
            false,
            Served,
            "/verify/00000000-0000-0000-0000-000000000000",
            "public certificate verification",
        ),
        r(
            "/api/satusehat/",
            "bridge",
            8205,
            false,
            Served,
            "/api/satusehat/v1/healthz",
            "SATUSEHAT bridge API",
        ),
        r(
            "/api/psc119/",
            "bridge",
            8205,
            false,
            Served,
            "/api/psc119/v1/healthz",
            "PSC 119 bridge API",
        ),
        r(
            "/sim/",
            "bridge",
            8205,
            false,
            DemoOnly,
            "/sim/satusehat/",
            "SATUSEHAT and PSC 119 simulators (kreki up --demo, kreki sim)",
        ),
        r(
            "/api/notify/",
            "notify",
            8206,
            false,
            Served,
            "/api/notify/v1/healthz",
            "notify API",
        ),
        r(
            "/api/insights/",
            "insights",
            INSIGHTS_PORT,
            false,
            Planned,
            "/api/insights/v1/healthz",
            "impact, SLOs, incidents (second plan)",
        ),
    ]
}

/// The route that serves `path` (longest matching prefix).
pub fn owner(path: &str) -> Option<Route> {
    routes()
        .into_iter()
        .filter(|r| r.matches(path))
        .max_by_key(|r| r.prefix.len())
}

/// Paths that no proxy may pass on: Prometheus metrics (the root's and each service's) are
/// for the scraper on the internal network, never the public site.
pub fn private_paths(segments: &[&str]) -> Vec<String> {
    let mut out = vec!["/metrics".to_string()];
    out.extend(segments.iter().map(|s| format!("/api/{s}/v1/metrics")));
    out
}

/// `kreki routes` as a table for people.
pub fn table() -> String {
    let rows = routes();
    let w = rows
        .iter()
        .map(|r| r.prefix.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut out = format!(
        "{:<w$}  {:<10}  {:>4}  {:<9}  {:<9}  {}\n",
        "PREFIX", "SERVICE", "PORT", "WEBSOCKET", "STATUS", "WHAT"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<w$}  {:<10}  {:>4}  {:<9}  {:<9}  {}\n",
            r.prefix,
            r.service,
            r.port,
            if r.websocket { "yes" } else { "" },
            r.availability.as_str(),
            r.what
        ));
    }
    out.push_str(
        "\nLongest prefix wins. /metrics and /api/<segment>/v1/metrics are never public \
         (the proxies deny them). `demo only` routes exist only in `kreki up --demo`; \
         `planned` ones are decided but not built yet.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let svc = |p: &str| owner(p).map(|r| r.service);
        assert_eq!(svc("/admin/notify/"), Some("notify"));
        assert_eq!(svc("/admin/bridge/app.js"), Some("bridge"));
        assert_eq!(svc("/admin/accounts"), Some("emergency"));
        assert_eq!(svc("/api/auth/v1/login"), Some("identity"));
        assert_eq!(svc("/status"), Some("emergency"));
        assert_eq!(svc("/statusx"), Some("emergency")); // the caller app's catch-all
        assert_eq!(svc("/akun"), Some("identity"));
        assert_eq!(svc("/akunx"), Some("emergency"));
        assert_eq!(svc("/app/abc/main.js"), Some("emergency"));
        assert_eq!(svc("/oauth2/token"), Some("identity"));
    }

    #[test]
    fn prefixes_are_unique_and_well_formed() {
        let rows = routes();
        for (i, r) in rows.iter().enumerate() {
            assert!(r.prefix.starts_with('/'), "{}", r.prefix);
            assert!(r.matches(r.sample), "{} {}", r.prefix, r.sample);
            assert_eq!(
                owner(r.sample).map(|o| o.prefix),
                Some(r.prefix),
                "{}",
                r.sample
            );
            assert!(
                rows[i + 1..].iter().all(|o| o.prefix != r.prefix),
                "{} twice",
                r.prefix
            );
        }
    }

    #[test]
    fn every_service_api_is_routed_to_its_process() {
        let services = crate::services();
        let names: Vec<&str> = services.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SERVE_MODE_SERVICES.len());
        for name in SERVE_MODE_SERVICES {
            assert!(names.contains(name), "{name}");
        }
        for s in &services {
            for seg in s.segments {
                let prefix = format!("/api/{seg}/");
                let r = owner(&format!("{prefix}v1/healthz")).expect("routed");
                assert_eq!(
                    (r.prefix, r.service, r.port),
                    (prefix.as_str(), s.name, s.default_port)
                );
            }
        }
        for r in routes() {
            if let Some(s) = services.iter().find(|s| s.name == r.service) {
                assert_eq!(r.port, s.default_port, "{}", r.prefix);
            } else {
                assert_eq!(r.availability, Availability::Planned, "{}", r.prefix);
                assert!(!r.proxied());
            }
        }
    }

    #[test]
    fn private_paths_are_owned_by_someone_so_proxies_must_deny_them() {
        for p in private_paths(&["emergency", "auth"]) {
            assert!(owner(&p).is_some(), "{p}");
        }
    }
}
