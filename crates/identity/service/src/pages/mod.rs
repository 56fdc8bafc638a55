//! The login pages at `/akun/`: server-rendered, small (no script but the passkey button's,
//! allowed by its hash: `passkey`), Bahasa Indonesia by
//! default with an English switch (`?lang=en`, kept in a cookie), labelled for screen readers.
//! Sign-in by password and MFA (`signin`), by phone code (`phone`), registration and
//! password recovery (`register`), the browser session (`session`), the first System
//! Admin's set-up (`admin_setup`); the consent page belongs
//! to the OIDC provider.

mod admin_setup;
mod passkey;
mod phone;
mod register;
mod session;
mod signin;

use std::sync::Arc;

use axum::{Router, routing::get};

use crate::{idp::Idp, web};

pub fn router(idp: Arc<Idp>) -> Router {
    Router::new()
        .route("/akun", get(|| async { web::see_other("/akun/") }))
        .route("/akun/", get(session::home))
        .route(
            "/akun/masuk",
            get(signin::login_form).post(signin::login_submit),
        )
        .route("/akun/mfa", axum::routing::post(signin::mfa_submit))
        .route(
            "/akun/masuk-telepon",
            get(phone::phone_form).post(phone::phone_submit),
        )
        .route(
            "/akun/daftar",
            get(register::register_form).post(register::register_submit),
        )
        .route(
            "/akun/lupa-sandi",
            get(register::forgot_form).post(register::forgot_submit),
        )
        .route(
            "/akun/reset-sandi",
            get(register::reset_form).post(register::reset_submit),
        )
        .route("/akun/verifikasi-email", get(register::verify_email))
        .route(
            crate::admin::bootstrap::SETUP_PATH,
            get(admin_setup::setup_form).post(admin_setup::setup_submit),
        )
        .route("/akun/keluar", axum::routing::post(session::logout))
        .with_state(idp)
}
