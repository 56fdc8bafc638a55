//! The REST API's router and OpenAPI document (`/api/auth/v1`): wiring only, each handler
//! lives with its feature.

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{account, admin, idp::Idp, login};

#[derive(OpenApi)]
#[openapi(tags(
    (name = "account", description = "Registration, sign-in, tokens and the own profile"),
    (name = "mfa", description = "Second factors"),
    (name = "privacy", description = "Consents, export and erasure (UU 27/2022)"),
    (name = "admin", description = "Clients, roles, keys, audit log (admins)"),
))]
struct ApiDoc;

pub fn router(idp: Arc<Idp>) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/auth/v1",
            OpenApiRouter::new()
                .routes(routes!(account::register::register))
                .routes(routes!(login::password::login))
                .routes(routes!(login::mfa::login_mfa))
                .routes(routes!(login::mfa::login_mfa_enroll))
                .routes(routes!(login::mfa::login_mfa_sms))
                .routes(routes!(login::codes::otp_send))
                .routes(routes!(login::codes::otp_login))
                .routes(routes!(account::profile::otp_verify_phone))
                .routes(routes!(login::password::refresh))
                .routes(routes!(login::password::logout))
                .routes(routes!(
                    account::profile::me_get,
                    account::profile::me_put,
                    account::privacy::me_delete
                ))
                .routes(routes!(account::privacy::me_export))
                .routes(routes!(
                    account::privacy::consents_get,
                    account::privacy::consents_put
                ))
                .routes(routes!(account::password::change_password))
                .routes(routes!(account::password::forgot_password))
                .routes(routes!(account::password::reset_password))
                .routes(routes!(account::email::verify_email))
                .routes(routes!(account::email::verify_email_resend))
                .routes(routes!(login::mfa::totp_setup))
                .routes(routes!(login::mfa::totp_enable))
                .routes(routes!(login::mfa::totp_disable))
                .routes(routes!(login::passkeys::passkey_register_start))
                .routes(routes!(login::passkeys::passkey_register_finish))
                .routes(routes!(login::passkeys::passkeys_list))
                .routes(routes!(login::passkeys::passkey_delete))
                .routes(routes!(login::passkeys::login_mfa_passkey_start))
                .routes(routes!(login::passkeys::login_mfa_passkey_finish))
                .routes(routes!(login::passkeys::login_passkey_start))
                .routes(routes!(login::passkeys::login_passkey_finish))
                .routes(routes!(admin::audit::admin_audit))
                .routes(routes!(
                    admin::clients::admin_clients_list,
                    admin::clients::admin_clients_create
                ))
                .routes(routes!(
                    admin::clients::admin_client_get,
                    admin::clients::admin_client_put,
                    admin::clients::admin_client_delete
                ))
                .routes(routes!(admin::clients::admin_client_secret))
                .routes(routes!(admin::roles::admin_role))
                .routes(routes!(admin::roles::admin_permissions))
                .routes(routes!(admin::roles::admin_rotate_keys)),
        )
        .with_state(idp)
        .split_for_parts()
}
