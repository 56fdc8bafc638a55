//! `deploy/nginx.conf` against `kreki routes`: every proxied prefix goes to the upstream of
//! its service (checked by resolving paths with nginx's own location rules), sockets are
//! upgraded, upstream connections are kept alive, metrics are never public.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use kreki::routes::{self, Route};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Paths a route must send to its service: its sample, its prefix, and the prefix without
/// the trailing slash.
pub fn paths_of(r: &Route) -> Vec<String> {
    let mut out = vec![r.sample.to_string(), r.prefix.to_string()];
    if let Some(bare) = r.prefix.strip_suffix('/')
        && !bare.is_empty()
    {
        out.push(bare.to_string());
    }
    out
}

/// Every API segment of the services (for the per-service metrics paths).
pub fn segments() -> Vec<&'static str> {
    kreki::services()
        .iter()
        .flat_map(|s| s.segments.iter().copied())
        .collect()
}

// --- a small nginx configuration reader -----------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
    End,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' => {
                chars.next();
                out.push(Token::Open);
            }
            '}' => {
                chars.next();
                out.push(Token::Close);
            }
            ';' => {
                chars.next();
                out.push(Token::End);
            }
            '"' | '\'' => {
                let quote = c;
                chars.next();
                let mut s = String::new();
                for c in chars.by_ref() {
                    if c == quote {
                        break;
                    }
                    s.push(c);
                }
                out.push(Token::Word(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    out
}

/// One nginx directive: `name args… ;` or `name args… { block }`.
#[derive(Debug, Clone, Default)]
pub struct Directive {
    pub name: String,
    pub args: Vec<String>,
    pub block: Vec<Directive>,
}

impl Directive {
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Directive> + 'a {
        self.block.iter().filter(move |d| d.name == name)
    }
    pub fn first(&self, name: &str) -> Option<&Directive> {
        self.block.iter().find(|d| d.name == name)
    }
    fn arg(&self, name: &str) -> Option<&str> {
        self.first(name)
            .and_then(|d| d.args.first())
            .map(String::as_str)
    }
    /// `proxy_set_header` values by header name (lower case).
    fn headers(&self) -> Vec<(String, String)> {
        self.all("proxy_set_header")
            .map(|d| {
                (
                    d.args[0].to_ascii_lowercase(),
                    d.args.get(1).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn parse_block(tokens: &[Token], pos: &mut usize) -> Vec<Directive> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    while *pos < tokens.len() {
        let t = &tokens[*pos];
        *pos += 1;
        match t {
            Token::Word(w) => words.push(w.clone()),
            Token::End => {
                assert!(!words.is_empty(), "empty directive");
                out.push(Directive {
                    name: words.remove(0),
                    args: std::mem::take(&mut words),
                    block: Vec::new(),
                });
            }
            Token::Open => {
                assert!(!words.is_empty(), "block without a name");
                let block = parse_block(tokens, pos);
                out.push(Directive {
                    name: words.remove(0),
                    args: std::mem::take(&mut words),
                    block,
                });
            }
            Token::Close => {
                assert!(words.is_empty(), "directive without ';': {words:?}");
                return out;
            }
        }
    }
    assert!(words.is_empty(), "directive without ';' at the end");
    out
}

pub fn parse(text: &str) -> Directive {
    let tokens = tokenize(text);
    let mut pos = 0;
    Directive {
        block: parse_block(&tokens, &mut pos),
        ..Directive::default()
    }
}

/// nginx's choice of location for a path: an exact match; else the longest prefix; unless
/// that one is `^~`, the first regular expression that matches wins over it.
pub fn locate<'a>(server: &'a Directive, path: &str) -> Option<&'a Directive> {
    let locations: Vec<&Directive> = server.all("location").collect();
    if let Some(exact) = locations
        .iter()
        .find(|l| l.args.len() == 2 && l.args[0] == "=" && l.args[1] == path)
    {
        return Some(exact);
    }
    let prefix = locations
        .iter()
        .filter(|l| match l.args.as_slice() {
            [p] => path.starts_with(p.as_str()),
            [m, p] if m == "^~" => path.starts_with(p.as_str()),
            _ => false,
        })
        .max_by_key(|l| l.args.last().map(String::len).unwrap_or(0))
        .copied();
    if prefix.is_some_and(|l| l.args[0] == "^~") {
        return prefix;
    }
    for l in &locations {
        if let [m, re] = l.args.as_slice()
            && (m == "~" || m == "~*")
        {
            let re = regex::RegexBuilder::new(re)
                .case_insensitive(m == "~*")
                .build()
                .expect("location regex");
            if re.is_match(path) {
                return Some(l);
            }
        }
    }
    prefix
}

fn upstream_of(location: &Directive) -> Option<String> {
    location.arg("proxy_pass").map(|p| {
        p.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    })
}

fn nginx_conf() -> Directive {
    let text = std::fs::read_to_string(repo_root().join("deploy/nginx.conf")).unwrap();
    parse(&text)
}

/// The TLS server of the site (the one that proxies).
fn site(conf: &Directive) -> &Directive {
    conf.all("server")
        .find(|s| s.all("location").any(|l| l.first("proxy_pass").is_some()))
        .expect("a server that proxies")
}

#[test]
fn nginx_routes_every_prefix_to_its_service() {
    let conf = nginx_conf();
    let server = site(&conf);
    for r in routes::routes() {
        for path in paths_of(&r) {
            let loc = locate(server, &path).unwrap_or_else(|| panic!("{path}: no location"));
            let upstream = upstream_of(loc);
            if r.proxied() {
                assert_eq!(
                    upstream.as_deref(),
                    Some(format!("kreki_{}", r.service).as_str()),
                    "{path} (prefix {}) must go to {}",
                    r.prefix,
                    r.service
                );
                // The prefix has a location of its own (not only the catch-all).
                if r.prefix != "/" {
                    assert_ne!(loc.args.last().map(String::as_str), Some("/"), "{path}");
                }
            } else {
                // Not proxied: at most the caller app's catch-all sees it.
                assert_eq!(
                    loc.args.as_slice(),
                    ["/"],
                    "{path} ({}) must not be routed",
                    r.prefix
                );
            }
        }
    }
    // No location routes a path to another service than the table says.
    for loc in server.all("location") {
        let Some(upstream) = upstream_of(loc) else {
            continue;
        };
        let path = loc.args.last().unwrap();
        let owner = routes::owner(path).unwrap_or_else(|| panic!("{path}: not in the table"));
        assert_eq!(upstream, format!("kreki_{}", owner.service), "{path}");
        assert!(owner.proxied(), "{path}");
    }
}

#[test]
fn nginx_upstreams_are_kept_alive_on_the_services_ports() {
    let conf = nginx_conf();
    let server = site(&conf);
    let services: BTreeSet<&str> = routes::routes()
        .iter()
        .filter(|r| r.proxied())
        .map(|r| r.service)
        .collect();
    for svc in &services {
        let name = format!("kreki_{svc}");
        let up = conf
            .all("upstream")
            .find(|u| u.args == [name.clone()])
            .unwrap_or_else(|| panic!("upstream {name}"));
        assert!(up.first("keepalive").is_some(), "{name}: keepalive");
        let port = routes::routes()
            .iter()
            .find(|r| r.service == *svc)
            .unwrap()
            .port;
        let servers: Vec<&Directive> = up.all("server").collect();
        assert!(!servers.is_empty(), "{name}");
        for s in servers {
            assert!(
                s.args[0].ends_with(&format!(":{port}")),
                "{name}: {:?} is not port {port}",
                s.args
            );
        }
    }
    // HTTP/1.1 and an empty Connection header towards the upstreams, for keepalive.
    assert_eq!(server.arg("proxy_http_version"), Some("1.1"));
    let server_headers = server.headers();
    assert!(
        server_headers.contains(&("connection".into(), String::new())),
        "{server_headers:?}"
    );
    // A location that sets any header inherits none: it must repeat the server's.
    for loc in server.all("location") {
        let own = loc.headers();
        if upstream_of(loc).is_none() || own.is_empty() {
            continue;
        }
        for (name, _) in &server_headers {
            assert!(
                own.iter().any(|(n, _)| n == name),
                "location {:?} drops the header {name}",
                loc.args
            );
        }
        if let Some(v) = loc.arg("proxy_http_version") {
            assert_eq!(v, "1.1");
        }
    }
    // Connection is `upgrade` only when the client asked for it, else empty (keepalive).
    let map = conf
        .all("map")
        .find(|m| m.args == ["$http_upgrade", "$connection_upgrade"])
        .expect("map $http_upgrade $connection_upgrade");
    let empty = map
        .block
        .iter()
        .find(|d| d.name.is_empty())
        .expect("'' entry");
    assert_eq!(empty.args, [String::new()], "'' must map to ''");
}

#[test]
fn nginx_upgrades_sockets() {
    let conf = nginx_conf();
    let server = site(&conf);
    for r in routes::routes().iter().filter(|r| r.websocket) {
        let loc = locate(server, r.prefix).unwrap();
        let headers = loc.headers();
        assert!(
            headers.contains(&("upgrade".into(), "$http_upgrade".into()))
                && headers.contains(&("connection".into(), "$connection_upgrade".into())),
            "{}: {headers:?}",
            r.prefix
        );
        let timeout = loc.arg("proxy_read_timeout").expect("proxy_read_timeout");
        assert!(
            timeout.ends_with('h') || timeout.ends_with('m'),
            "sockets stay open: {timeout}"
        );
    }
    // And nothing else asks for an upgrade.
    for loc in server.all("location") {
        let path = loc.args.last().unwrap();
        if routes::owner(path).is_some_and(|r| r.websocket && r.prefix == path.as_str()) {
            continue;
        }
        assert!(!loc.headers().iter().any(|(n, _)| n == "upgrade"), "{path}");
    }
}

#[test]
fn nginx_never_serves_metrics() {
    let conf = nginx_conf();
    let server = site(&conf);
    for path in routes::private_paths(&segments()) {
        let loc = locate(server, &path).unwrap();
        assert!(
            upstream_of(loc).is_none()
                && (loc.first("return").is_some() || loc.first("deny").is_some()),
            "{path} reaches {:?}",
            loc.args
        );
    }
}

#[test]
fn the_reader_follows_nginx_rules() {
    let conf = parse(
        "server { location / { proxy_pass http://a; } location /x/ { proxy_pass http://b; } \
         location ~ ^/x/[^/]+/m$ { return 404; } location ^~ /y/ { proxy_pass http://c; } \
         location ~ ^/y/ { return 403; } location = /x { proxy_pass http://d; } \
         map $a $b { default x; '' ''; } }",
    );
    let server = conf.first("server").unwrap();
    let up = |p: &str| locate(server, p).and_then(upstream_of);
    assert_eq!(up("/z"), Some("a".into()));
    assert_eq!(up("/x/q"), Some("b".into()));
    assert_eq!(up("/x/q/m"), None);
    assert_eq!(up("/y/q"), Some("c".into()));
    assert_eq!(up("/x"), Some("d".into()));
}
