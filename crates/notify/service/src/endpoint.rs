//! Which Web Push endpoints the service calls (server-side request forgery guard).
//!
//! A browser hands us its push subscription's endpoint, and we `POST` to it: without a guard
//! any signed-in person could make the service call an address of their choosing (an
//! internal admin page, the cloud's metadata service). So an endpoint must be
//!
//! - `https://` on the default port, on a host of the configured push services
//!   ([`crate::config::PushConfig::allowed_hosts`]: FCM, Mozilla, Apple, Microsoft by default);
//! - on a public address: every address its name resolves to is checked (loopback, private,
//!   link-local, carrier-grade NAT, multicast, reserved and documentation ranges are refused),
//!   and the connection goes to exactly the addresses that were checked (the check is the
//!   client's DNS resolver: a name that rebinds between a check and the connection cannot
//!   swap in another address);
//! - answered without redirects (the push client follows none).
//!
//! `allow_loopback` (tests and local development only) also admits endpoints on this
//! machine: `http` or `https`, any port, loopback hosts (`127.0.0.1`, `[::1]`, `localhost`)
//! and allowed hosts that resolve to loopback. Private and link-local addresses stay refused.
//!
//! The resolver is a port ([`Resolver`]): the service uses the system's, tests inject one.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;

/// Looks a host name up (the system's resolver in the service, a fixed table in tests).
#[async_trait]
pub trait Resolver: Send + Sync + 'static {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// Why an endpoint is refused (shown in the message's history, never the endpoint itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("push endpoint is not a URL")]
    NotUrl,
    #[error("push endpoint must be https on the default port")]
    Scheme,
    #[error("push endpoint host is not a known push service")]
    Host,
    #[error("push endpoint resolves to a non-public address")]
    Address,
}

/// The endpoint rules of a deployment.
#[derive(Debug, Clone)]
pub struct EndpointPolicy {
    /// Host suffixes (`fcm.googleapis.com`, `*.notify.windows.com`), lower case, without `*.`.
    allowed: Vec<String>,
    allow_loopback: bool,
}

impl EndpointPolicy {
    pub fn new(allowed_hosts: &[String], allow_loopback: bool) -> Self {
        let allowed = allowed_hosts
            .iter()
            .map(|h| {
                h.trim()
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .trim_end_matches('.')
                    .to_ascii_lowercase()
            })
            .filter(|h| !h.is_empty())
            .collect();
        Self {
            allowed,
            allow_loopback,
        }
    }

    /// Whether endpoints on this machine are admitted (tests, local development).
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed.iter().any(|s| {
            host == *s
                || host
                    .strip_suffix(s.as_str())
                    .is_some_and(|p| p.ends_with('.'))
        })
    }

    /// The URL rules (scheme, port, host); the addresses are checked when it is resolved.
    pub fn check_url(&self, endpoint: &str) -> Result<url::Url, Refused> {
        let u = url::Url::parse(endpoint).map_err(|_| Refused::NotUrl)?;
        if endpoint.len() > 2048 || !u.username().is_empty() || u.password().is_some() {
            return Err(Refused::NotUrl);
        }
        let host = u.host().ok_or(Refused::NotUrl)?;
        let loopback_name = match &host {
            url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        if self.allow_loopback {
            if !matches!(u.scheme(), "https" | "http") {
                return Err(Refused::Scheme);
            }
        } else if u.scheme() != "https" || u.port().is_some_and(|p| p != 443) {
            return Err(Refused::Scheme);
        }
        match host {
            url::Host::Domain(d) if self.host_allowed(d) => {}
            _ if self.allow_loopback && loopback_name => {}
            url::Host::Domain(_) => return Err(Refused::Host),
            // Push services are reached by name: an address literal is someone's own server.
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => return Err(Refused::Host),
        }
        if let Some(ip) = literal(&u)
            && !self.address_ok(ip)
        {
            return Err(Refused::Address);
        }
        Ok(u)
    }

    /// May the service connect to this address?
    pub fn address_ok(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        match ip {
            IpAddr::V4(v4) => public_v4(v4),
            IpAddr::V6(v6) => public_v6(v6),
        }
    }

    /// The whole check of a subscription when it is made: the URL rules, then the addresses
    /// its host resolves to now. A lookup that fails (no answer in time) does not refuse it:
    /// the addresses are checked again at every send, where it counts.
    pub async fn check(&self, endpoint: &str, resolver: &dyn Resolver) -> Result<(), Refused> {
        let u = self.check_url(endpoint)?;
        if let Some(url::Host::Domain(d)) = u.host() {
            let looked = tokio::time::timeout(Duration::from_secs(3), resolver.lookup(d)).await;
            if let Ok(Ok(ips)) = looked
                && ips.iter().any(|ip| !self.address_ok(*ip))
            {
                return Err(Refused::Address);
            }
        }
        Ok(())
    }
}

/// The address of a URL whose host is an address literal.
fn literal(u: &url::Url) -> Option<IpAddr> {
    match u.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16 (cloud metadata)
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240) // reserved
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 (embeds an IPv4 address)
        || (s[0] == 0x2002) // 6to4 (embeds an IPv4 address)
        || v4_compatible(ip))
}

/// `::a.b.c.d`: the deprecated IPv4-compatible form.
fn v4_compatible(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified()
}

/// The push client's DNS resolver: looks the name up with the injected [`Resolver`] and
/// refuses the connection unless every address is allowed; the client then connects to
/// exactly these addresses (no second lookup an attacker's DNS could answer differently).
pub struct Guarded {
    pub resolver: Arc<dyn Resolver>,
    pub policy: Arc<EndpointPolicy>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.resolver.clone();
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = resolver.lookup(&host).await?;
            if ips.is_empty() {
                return Err(Box::new(std::io::Error::other("no address")) as _);
            }
            if ips.iter().any(|ip| !policy.address_ok(*ip)) {
                return Err(Box::new(Refused::Address) as _);
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Was this request refused by [`Guarded`] (before any connection was made)?
pub fn refused_by_guard(e: &reqwest::Error) -> Option<Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> EndpointPolicy {
        EndpointPolicy::new(&crate::config::default_push_hosts(), false)
    }

    #[test]
    fn urls() {
        let p = defaults();
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://web.push.apple.com/QGx",
            "https://wns2-par02p.notify.windows.com/w/?token=x",
            "https://FCM.googleapis.com:443/x",
        ] {
            assert!(p.check_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://fcm.googleapis.com/x", Refused::Scheme),
            ("https://fcm.googleapis.com:8443/x", Refused::Scheme),
            (
                "https://evilfcm.googleapis.com.attacker.net/x",
                Refused::Host,
            ),
            ("https://notfcm.googleapis.com.evil/x", Refused::Host),
            ("https://xfcm.googleapis.com/x", Refused::Host),
            ("https://notify.windows.com.evil.net/x", Refused::Host),
            ("https://10.0.0.1/x", Refused::Host),
            ("https://127.0.0.1/x", Refused::Host),
            ("https://localhost/x", Refused::Host),
            ("http://127.0.0.1:9/x", Refused::Scheme),
            ("https://user@fcm.googleapis.com/x", Refused::NotUrl),
            ("not a url", Refused::NotUrl),
        ] {
            assert_eq!(p.check_url(bad).err(), Some(why), "{bad}");
        }
        let dev = EndpointPolicy::new(&["push.kreki.test".into()], true);
        assert!(dev.check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(dev.check_url("http://localhost:8080/x").is_ok());
        assert!(dev.check_url("http://push.kreki.test:8080/x").is_ok());
        assert_eq!(
            dev.check_url("http://10.0.0.1/x").err(),
            Some(Refused::Host)
        );
        assert_eq!(
            dev.check_url("http://other.test/x").err(),
            Some(Refused::Host)
        );
    }

    #[test]
    fn addresses() {
        let p = defaults();
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
        ] {
            assert!(!p.address_ok(bad.parse().unwrap()), "{bad}");
        }
        for ok in ["142.250.4.95", "2a00:1450:4001:80b::200a", "172.32.0.1"] {
            assert!(p.address_ok(ok.parse().unwrap()), "{ok}");
        }
        let dev = EndpointPolicy::new(&[], true);
        assert!(dev.address_ok("127.0.0.1".parse().unwrap()));
        assert!(dev.address_ok("::1".parse().unwrap()));
        assert!(!dev.address_ok("10.0.0.1".parse().unwrap()));
        assert!(!dev.address_ok("169.254.169.254".parse().unwrap()));
    }
}
