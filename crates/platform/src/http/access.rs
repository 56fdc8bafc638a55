//! The one authorisation policy: every route of every service declares how it is opened,
//! in one table per service ([`RouteAccess`]), and one platform check enforces it before the
//! handler runs.
//!
//! - [`Access::Public`]: no sign-in (pages, the panic button, OIDC endpoints, webhooks that
//!   check their own signature). The reason is part of the declaration.
//! - [`Access::Permission`]: a KREKI ID access token whose roles grant this permission of
//!   the matrix in the identity contracts. 401 without a valid token, 403 without the
//!   permission; the verified [`Principal`] is handed to the handler (the `Auth` extractor
//!   does not verify twice).
//!
//! Where the permission alone does not decide, the route names one **scope check** that its
//! use-case performs (responder on this case, this case's caller token, a lead's area, …):
//! the table documents it, and `GET /api/<segment>/v1/permissions` lists it.
//!
//! A route without a declaration is refused (500, logged): the policy fails closed. A test
//! walks every route of every service's router and fails on a missing declaration or a
//! permission that no role of the matrix has.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    auth::{BearerVerifier, Principal, TokenError, bearer},
    error::ApiError,
};

/// How a route is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No sign-in; why it may be public.
    Public(&'static str),
    /// An access token whose roles grant this permission (`resource:action`).
    Permission(&'static str),
}

/// Named scope checks that use-cases perform beyond the permission.
pub mod scope {
    /// The caller's own resource (their account, profile, subscriptions, attempts).
    pub const OWN: &str = "own";
    /// The case's caller: the anonymous caller's case-scoped token, or the signed-in caller.
    pub const CASE_CALLER: &str = "case_caller";
    /// The case's caller, a responder on the case, or Ops (`case:read_all`).
    pub const CASE_PARTY: &str = "case_party";
    /// A responder on this case (the team lead, for completion), or Ops (`case:manage`).
    pub const CASE_RESPONDER: &str = "case_responder";
    /// A Volunteer Lead within the area an admin set for them; everywhere with `area:any`.
    pub const LEAD_AREA: &str = "lead_area";
    /// The instructor named on the certificate or session, or the Training Admin.
    pub const INSTRUCTOR: &str = "instructor";
    /// The certificate's holder, or the Training Admin.
    pub const CERTIFICATE_HOLDER: &str = "certificate_holder";
    /// An OAuth scope of a machine client grants the same (`notify.send`).
    pub const CLIENT_SCOPE: &str = "client_scope";
    /// The PSC 119 centre that received the hand-off.
    pub const CENTRE: &str = "centre";
}

/// One route's declaration.
#[derive(Debug, Clone, Copy)]
pub struct RouteAccess {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH`, or `*` for a service mounted at the path
    /// (static files), which answers every method itself.
    pub method: &'static str,
    /// The route as the router has it (`/api/volunteers/v1/volunteers/{id}`).
    pub path: &'static str,
    pub access: Access,
    /// The scope check of the use-case, if any (see [`scope`]).
    pub scope: Option<&'static str>,
    /// The route also takes a credential that is not a KREKI ID access token in the
    /// `Authorization` header (an anonymous caller's case token): such a bearer is left to
    /// the use-case's scope check instead of being refused here.
    pub other_bearer: bool,
    /// The route applies limits of its own, instead of the service's general per-IP limit
    /// (a path without parameters).
    pub own_rate_limit: bool,
}

impl RouteAccess {
    pub const fn public(method: &'static str, path: &'static str, why: &'static str) -> Self {
        Self {
            method,
            path,
            access: Access::Public(why),
            scope: None,
            other_bearer: false,
            own_rate_limit: false,
        }
    }
    pub const fn permission(method: &'static str, path: &'static str, perm: &'static str) -> Self {
        Self {
            method,
            path,
            access: Access::Permission(perm),
            scope: None,
            other_bearer: false,
            own_rate_limit: false,
        }
    }
    /// The same, with the use-case's scope check named.
    pub const fn scoped(self, scope: &'static str) -> Self {
        Self {
            scope: Some(scope),
            ..self
        }
    }
    /// The route applies its own limits (or, for static and cached answers that other
    /// services depend on, needs none); the general per-IP limit does not apply.
    pub const fn own_rate_limit(self) -> Self {
        Self {
            own_rate_limit: true,
            ..self
        }
    }
    /// The route also accepts an anonymous caller's case token as bearer.
    pub const fn or_case_token(self) -> Self {
        Self {
            other_bearer: true,
            ..self
        }
    }
}

/// A row of `GET /api/<segment>/v1/permissions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteView {
    pub method: String,
    pub path: String,
    /// The permission of the matrix, or `null` for a public route.
    pub permission: Option<String>,
    /// Why a public route is public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    /// The use-case's scope check, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Also opened by an anonymous caller's case token.
    pub case_token: bool,
    /// Limits of its own instead of the service's general per-IP limit.
    pub own_rate_limit: bool,
}

impl From<&RouteAccess> for RouteView {
    fn from(r: &RouteAccess) -> Self {
        let (permission, public) = match r.access {
            Access::Public(why) => (None, Some(why.to_string())),
            Access::Permission(p) => (Some(p.to_string()), None),
        };
        RouteView {
            method: r.method.to_string(),
            path: r.path.to_string(),
            permission,
            public,
            scope: r.scope.map(str::to_string),
            case_token: r.other_bearer,
            own_rate_limit: r.own_rate_limit,
        }
    }
}

type Table = HashMap<(String, &'static str), RouteAccess>;

/// Whether a bearer value looks like a JWT (three base64url parts).
fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

async fn enforce(
    table: Arc<Table>,
    auth: Arc<dyn BearerVerifier>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    // HEAD is answered by the GET route.
    let method = if req.method() == Method::HEAD {
        Method::GET
    } else {
        req.method().clone()
    };
    let decl = table
        .get(&(method.as_str().to_owned(), path.as_str()))
        .or_else(|| table.get(&("*".to_owned(), path.as_str())))
        .copied();
    let Some(decl) = decl else {
        // Declared for other methods: every method it serves is declared (checked at start),
        // so this one is not served.
        let allowed: Vec<&str> = table
            .keys()
            .filter(|(_, p)| *p == path)
            .map(|(m, _)| m.as_str())
            .collect();
        if !allowed.is_empty() {
            let mut res = ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED).into_response();
            if let Ok(v) = HeaderValue::from_str(&allowed.join(",")) {
                res.headers_mut().insert(header::ALLOW, v);
            }
            return res;
        }
        tracing::error!(%method, route = %path, "route without an access declaration: refused");
        return ApiError::internal(anyhow::anyhow!("route {method} {path} is not declared"))
            .into_response();
    };
    let Access::Permission(permission) = decl.access else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let token = match bearer(&parts) {
        Ok(Some(t)) => t.to_owned(),
        Ok(None) => return ApiError::from(TokenError::Missing).into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    req = Request::from_parts(parts, body);
    if decl.other_bearer && !is_jwt(&token) {
        return next.run(req).await;
    }
    let principal: Principal = match auth.verify_bearer(&token).await {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !principal.can(permission) && !scope_grants(&decl, &principal) {
        return ApiError::forbidden().into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// A machine client's OAuth scope named like the permission (`notification:send` ↔
/// `notify.send`) opens a route declared with [`scope::CLIENT_SCOPE`].
fn scope_grants(decl: &RouteAccess, p: &Principal) -> bool {
    decl.scope == Some(scope::CLIENT_SCOPE)
        && match decl.access {
            Access::Permission(perm) => client_scope_of(perm).is_some_and(|s| p.has_scope(s)),
            Access::Public(_) => false,
        }
}

/// The OAuth scope that stands for a permission for machine clients.
pub fn client_scope_of(permission: &str) -> Option<&'static str> {
    match permission {
        crate::auth::perm::NOTIFICATION_SEND => Some("notify.send"),
        _ => None,
    }
}

/// Enforce `routes` on every route of `router` (pages and API). Routes missing from the
/// table are refused.
pub fn guard(
    router: Router,
    routes: &'static [RouteAccess],
    auth: Arc<dyn BearerVerifier>,
) -> Router {
    let mut table = Table::new();
    for r in routes {
        table.insert((r.method.to_owned(), r.path), *r);
    }
    let table = Arc::new(table);
    router.route_layer(axum::middleware::from_fn(
        move |req: Request, next: Next| enforce(table.clone(), auth.clone(), req, next),
    ))
}

/// The `(method, path)` pairs a router serves, read from its debug form (axum keeps no
/// other list). For the route walk in tests.
pub fn served_routes(router: &Router) -> Vec<(String, String)> {
    let full = format!("{router:?}");
    // The routes of the path router only (the fallback router numbers its own).
    let text = match full.find("fallback_router: ") {
        Some(end) => &full[..end],
        None => full.as_str(),
    };
    // `paths: {RouteId(3): "/a/{id}", …}` and `routes: {RouteId(3): MethodRouter(MethodRouter { get: …, post: None, … }), …}`
    let mut paths: HashMap<String, String> = HashMap::new();
    if let Some(start) = text.find("paths: {") {
        let mut rest = &text[start + 8..];
        // Entries `RouteId(3): "/a/{id}"`, separated by `, `, closed by `}`.
        while let Some(r) = rest.trim_start_matches([',', ' ']).strip_prefix("RouteId(") {
            let Some((id, after)) = r.split_once("): \"") else {
                break;
            };
            let Some(end) = after.find('"') else { break };
            paths.insert(id.to_string(), after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    let mut out = Vec::new();
    let mut cursor = 0;
    while let Some(at) = text[cursor..].find("RouteId(") {
        let id_start = cursor + at + 8;
        let Some(id_len) = text[id_start..].find(')') else {
            break;
        };
        let id = &text[id_start..id_start + id_len];
        let after = &text[id_start + id_len..];
        cursor = id_start + id_len;
        let Some(path) = paths.get(id) else { continue };
        if after.starts_with("): Route(") {
            // A service mounted at the path (static files): every method.
            out.push(("*".to_string(), path.clone()));
            continue;
        }
        let Some(body) = after.strip_prefix("): MethodRouter(MethodRouter { ") else {
            continue;
        };
        // The method fields come first, each `name: None` or a handler, then `fallback`.
        let body = &body[..body.find("fallback: ").unwrap_or(body.len())];
        for method in ["get", "delete", "patch", "post", "put"] {
            let key = format!("{method}: ");
            if let Some(i) = body.find(&key)
                && !body[i + key.len()..].starts_with("None")
            {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What is wrong with a service's declarations against the routes its router serves:
/// served routes without a declaration, and declared permissions that no role of the matrix
/// has. Empty when all is well; a service does not start otherwise.
pub fn check_declarations(router: &Router, routes: &[RouteAccess]) -> Vec<String> {
    let served = served_routes(router);
    let mut problems = Vec::new();
    let declared = |m: &str, p: &str| routes.iter().any(|r| r.method == m && r.path == p);
    for (m, p) in &served {
        if !declared(m, p) {
            problems.push(format!("{m} {p}: served without an access declaration"));
        }
    }
    for r in routes {
        if let Access::Permission(perm) = r.access
            && !kreki_identity_contracts::Role::ALL
                .iter()
                .any(|role| role.permissions().contains(&perm))
        {
            problems.push(format!(
                "{} {}: permission `{perm}` is not in the matrix",
                r.method, r.path
            ));
        }
    }
    problems
}

/// Declarations of routes the router does not serve (routes of the demo or of another
/// configuration, or stale ones).
pub fn unserved_declarations(router: &Router, routes: &[RouteAccess]) -> Vec<String> {
    let served = served_routes(router);
    routes
        .iter()
        .filter(|r| !served.iter().any(|(m, p)| m == r.method && p == r.path))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Document in a service's OpenAPI document the answers that the platform gives on every
/// route, beside those its handler documents: `400` (a malformed path, query, header or
/// body), `401`/`403` where the route needs a permission (or takes a case token), `413`/`415`
/// where it takes a JSON body, and `429` (the per-IP or the route's own limit, with
/// `Retry-After`). Routes that need a permission also get the bearer security requirement.
/// An answer the handler already documents is kept as it is.
pub fn document_platform_answers(openapi: &mut utoipa::openapi::OpenApi, routes: &[RouteAccess]) {
    use utoipa::openapi::{
        ContentBuilder, HeaderBuilder, Ref, ResponseBuilder,
        schema::{ObjectBuilder, Type},
        security::SecurityRequirement,
    };
    let components = openapi.components.get_or_insert_with(Default::default);
    if !components.schemas.contains_key("ErrorEnvelope") {
        let mut schemas = Vec::new();
        <crate::error::ErrorEnvelope as utoipa::ToSchema>::schemas(&mut schemas);
        schemas.push((
            "ErrorEnvelope".to_string(),
            <crate::error::ErrorEnvelope as utoipa::PartialSchema>::schema(),
        ));
        for (name, schema) in schemas {
            components.schemas.entry(name).or_insert(schema);
        }
    }
    let error = |description: String| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let ops = [
            ("GET", &mut item.get),
            ("PUT", &mut item.put),
            ("POST", &mut item.post),
            ("DELETE", &mut item.delete),
            ("PATCH", &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            let decl = routes
                .iter()
                .find(|r| (r.method == method || r.method == "*") && r.path == path);
            let answers = &mut op.responses.responses;
            let mut add = |code: &str, response: utoipa::openapi::Response| {
                answers.entry(code.to_string()).or_insert(response.into());
            };
            add(
                "400",
                error("Malformed request: path, query, header or body (BAD_REQUEST)".into())
                    .build(),
            );
            let needs = match decl.map(|d| d.access) {
                Some(Access::Permission(p)) => Some(p),
                _ => None,
            };
            if let Some(permission) = needs {
                add(
                    "401",
                    error("No valid KREKI ID access token (AUTH_TOKEN_MISSING, AUTH_TOKEN_MALFORMED, AUTH_TOKEN_INVALID, AUTH_TOKEN_EXPIRED)".into())
                        .build(),
                );
                add(
                    "403",
                    error(format!(
                        "The token's roles do not grant `{permission}` (AUTH_FORBIDDEN), or the route's scope check refuses"
                    ))
                    .build(),
                );
                let security = op.security.get_or_insert_with(Vec::new);
                if security.is_empty() {
                    security.push(SecurityRequirement::new("bearer", Vec::<String>::new()));
                }
            } else if decl.is_some_and(|d| d.other_bearer) {
                add(
                    "401",
                    error("The case token or access token is not valid for this case".into())
                        .build(),
                );
                add(
                    "403",
                    error("The token does not open this case".into()).build(),
                );
            }
            if op.request_body.is_some() {
                add(
                    "413",
                    error("The body is over the size limit (PAYLOAD_TOO_LARGE)".into()).build(),
                );
                add(
                    "415",
                    error("The body is not `application/json` (UNSUPPORTED_MEDIA_TYPE)".into())
                        .build(),
                );
                add(
                    "422",
                    error("The body does not match the schema (VALIDATION_FAILED)".into()).build(),
                );
            }
            add(
                "429",
                error("Too many requests (RATE_LIMITED): wait for `Retry-After` seconds".into())
                    .header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(ObjectBuilder::new().schema_type(Type::Integer))
                            .description(Some("Seconds to wait"))
                            .build(),
                    )
                    .build(),
            );
        }
    }
}
