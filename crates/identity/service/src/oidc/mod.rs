//! OpenID Connect provider: discovery and JWKS (`discovery`), the authorization endpoint
//! (`authorize`) over a validated request (`request`) with the consent page (`consent`), the
//! token endpoint (`token`), userinfo, revocation (RFC 7009), introspection (RFC 7662) and
//! RP-initiated logout (`endpoints`).

mod authorize;
mod consent;
mod discovery;
mod endpoints;
mod request;
mod token;

use std::sync::Arc;

use axum::{Router, routing::get};

use crate::idp::Idp;

pub fn router(idp: Arc<Idp>) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oauth2/authorize", get(authorize::authorize))
        .route("/oauth2/token", axum::routing::post(token::token))
        .route(
            "/oauth2/userinfo",
            get(endpoints::userinfo).post(endpoints::userinfo),
        )
        .route("/oauth2/revoke", axum::routing::post(endpoints::revoke))
        .route(
            "/oauth2/introspect",
            axum::routing::post(endpoints::introspect),
        )
        .route(
            "/oauth2/logout",
            get(endpoints::logout).post(endpoints::logout),
        )
        // The consent page is the provider's: its form posts here.
        .route(
            "/akun/persetujuan",
            axum::routing::post(consent::consent_submit),
        )
        .with_state(idp)
}
