//! How each route of KREKI ID is opened (the one authorisation policy, enforced by the
//! platform: `kreki_platform::http::access`). Listed at `/api/auth/v1/permissions`.
//!
//! Sign-in, registration, recovery, the login pages and the OpenID Connect endpoints are
//! public by nature (the OIDC endpoints authenticate clients and bearer tokens themselves,
//! as RFC 6749/6750 and OpenID Connect prescribe their error answers).

use kreki_platform::{
    auth::perm,
    http::access::{RouteAccess as R, scope},
};

/// A path under the API prefix `/api/auth/v1`.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/auth/v1", $p)
    };
}

const SIGN_IN: &str = "signing in, registering or recovering an account comes before any token";
const PAGE: &str = "the KREKI ID pages: sign-in forms with their own CSRF-protected session";
const OIDC: &str =
    "OpenID Connect: authenticates its clients and bearer tokens itself (RFC 6749, 6750)";

pub const ROUTES: &[R] = &[
    R::public("POST", api!("/register"), SIGN_IN),
    R::public("POST", api!("/login"), SIGN_IN),
    R::public("POST", api!("/login/mfa"), SIGN_IN),
    R::public("POST", api!("/login/mfa/enroll"), SIGN_IN),
    R::public("POST", api!("/login/mfa/sms"), SIGN_IN),
    R::public("POST", api!("/login/mfa/passkey/start"), SIGN_IN),
    R::public("POST", api!("/login/mfa/passkey/finish"), SIGN_IN),
    R::public("POST", api!("/login/passkey/start"), SIGN_IN),
    R::public("POST", api!("/login/passkey/finish"), SIGN_IN),
    R::public("POST", api!("/otp/send"), SIGN_IN),
    R::public("POST", api!("/otp/login"), SIGN_IN),
    R::public("POST", api!("/refresh"), SIGN_IN),
    R::public("POST", api!("/forgot-password"), SIGN_IN),
    R::public("POST", api!("/reset-password"), SIGN_IN),
    R::public("POST", api!("/verify-email"), SIGN_IN),
    // The signed-in account.
    R::permission("POST", api!("/otp/verify"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/logout"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/me"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("DELETE", api!("/me"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/export"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/consents"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/me/consents"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/change-password"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/verify-email/resend"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/mfa/totp/setup"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/mfa/totp/enable"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/mfa/totp/disable"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission(
        "POST",
        api!("/mfa/passkeys/register/start"),
        perm::PROFILE_OWN,
    )
    .scoped(scope::OWN),
    R::permission(
        "POST",
        api!("/mfa/passkeys/register/finish"),
        perm::PROFILE_OWN,
    )
    .scoped(scope::OWN),
    R::permission("GET", api!("/mfa/passkeys"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("DELETE", api!("/mfa/passkeys/{id}"), perm::PROFILE_OWN).scoped(scope::OWN),
    // Administration.
    R::permission("GET", api!("/admin/audit"), perm::AUDIT_READ),
    R::permission("GET", api!("/admin/permissions"), perm::AUDIT_READ),
    R::permission("GET", api!("/admin/clients"), perm::CLIENT_MANAGE),
    R::permission("POST", api!("/admin/clients"), perm::CLIENT_MANAGE),
    R::permission(
        "GET",
        api!("/admin/clients/{client_id}"),
        perm::CLIENT_MANAGE,
    ),
    R::permission(
        "PUT",
        api!("/admin/clients/{client_id}"),
        perm::CLIENT_MANAGE,
    ),
    R::permission(
        "DELETE",
        api!("/admin/clients/{client_id}"),
        perm::CLIENT_MANAGE,
    ),
    R::permission(
        "POST",
        api!("/admin/clients/{client_id}/secret"),
        perm::CLIENT_MANAGE,
    ),
    R::permission("PUT", api!("/admin/accounts/{id}/role"), perm::ROLE_ASSIGN),
    R::permission("POST", api!("/admin/keys/rotate"), perm::KEY_ROTATE),
    // OpenID Connect.
    // Discovery and the key set are static and cached; every service's token check fetches
    // them, in `kreki up` from the server's own address: other traffic from that address
    // must never cut them off, so the general per-IP limit does not apply.
    R::public("GET", "/.well-known/openid-configuration", OIDC).own_rate_limit(),
    R::public("GET", "/.well-known/jwks.json", OIDC).own_rate_limit(),
    R::public("GET", "/oauth2/authorize", OIDC),
    R::public("POST", "/oauth2/token", OIDC),
    R::public("GET", "/oauth2/userinfo", OIDC),
    R::public("POST", "/oauth2/userinfo", OIDC),
    R::public("POST", "/oauth2/revoke", OIDC),
    R::public("POST", "/oauth2/introspect", OIDC),
    R::public("GET", "/oauth2/logout", OIDC),
    R::public("POST", "/oauth2/logout", OIDC),
    // Pages.
    R::public("GET", "/akun", PAGE),
    R::public("GET", "/akun/", PAGE),
    R::public("GET", "/akun/masuk", PAGE),
    R::public("POST", "/akun/masuk", PAGE),
    R::public("POST", "/akun/mfa", PAGE),
    R::public("GET", "/akun/masuk-telepon", PAGE),
    R::public("POST", "/akun/masuk-telepon", PAGE),
    R::public("GET", "/akun/daftar", PAGE),
    R::public("POST", "/akun/daftar", PAGE),
    R::public("POST", "/akun/persetujuan", PAGE),
    R::public("GET", "/akun/lupa-sandi", PAGE),
    R::public("POST", "/akun/lupa-sandi", PAGE),
    R::public("GET", "/akun/reset-sandi", PAGE),
    R::public("POST", "/akun/reset-sandi", PAGE),
    R::public("GET", "/akun/verifikasi-email", PAGE),
    R::public("POST", "/akun/keluar", PAGE),
    R::public("GET", "/akun/atur-admin", PAGE),
    R::public("POST", "/akun/atur-admin", PAGE),
];
