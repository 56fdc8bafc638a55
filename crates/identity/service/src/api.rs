//! `/api/auth/v1`: registration, sign-in (password, phone code, MFA), tokens, profile,
//! password flows, e-mail verification, consents, export and erasure, and the admin API.

use std::{net::IpAddr, sync::Arc};

use axum::{
    Router,
    extract::{FromRequestParts, Path, Query, State},
    http::{StatusCode, request::Parts},
};
use kreki_identity_contracts::{ACCOUNT_ERASED, AccountErased, Role, perm, roles_permit};
use kreki_notify_contracts::{
    Channel, MESSAGE_REQUESTED, MessageRequested, Priority, Recipient, Template,
};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    auth::bearer,
    error::{ErrorEnvelope, Meta},
    http::{ApiJson, ClientIp},
    telemetry::{mask_email, mask_phone},
    time_util::{now_micros, rfc3339},
    types::PhoneE164,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    clients::Client,
    idp::{API_CLIENT, AccessClaims, Idp, LoginError, TokenSet},
    password::{self, Weakness},
    store::{
        Account, NewAccount, Store, StoreError, audit, enqueue_event, hash_token, random_token,
    },
    totp,
};

type St = State<Arc<Idp>>;

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
                .routes(routes!(register))
                .routes(routes!(login))
                .routes(routes!(login_mfa))
                .routes(routes!(login_mfa_enroll))
                .routes(routes!(login_mfa_sms))
                .routes(routes!(otp_send))
                .routes(routes!(otp_login))
                .routes(routes!(otp_verify_phone))
                .routes(routes!(refresh))
                .routes(routes!(logout))
                .routes(routes!(me_get, me_put, me_delete))
                .routes(routes!(me_export))
                .routes(routes!(consents_get, consents_put))
                .routes(routes!(change_password))
                .routes(routes!(forgot_password))
                .routes(routes!(reset_password))
                .routes(routes!(verify_email))
                .routes(routes!(verify_email_resend))
                .routes(routes!(totp_setup))
                .routes(routes!(totp_enable))
                .routes(routes!(totp_disable))
                .routes(routes!(passkey_register_start))
                .routes(routes!(passkey_register_finish))
                .routes(routes!(passkeys_list))
                .routes(routes!(passkey_delete))
                .routes(routes!(login_mfa_passkey_start))
                .routes(routes!(login_mfa_passkey_finish))
                .routes(routes!(login_passkey_start))
                .routes(routes!(login_passkey_finish))
                .routes(routes!(admin_audit))
                .routes(routes!(admin_clients_list, admin_clients_create))
                .routes(routes!(
                    admin_client_get,
                    admin_client_put,
                    admin_client_delete
                ))
                .routes(routes!(admin_client_secret))
                .routes(routes!(admin_role))
                .routes(routes!(admin_permissions))
                .routes(routes!(admin_rotate_keys)),
        )
        .with_state(idp)
        .split_for_parts()
}

// ---- errors -----------------------------------------------------------------------------

fn invalid_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_INVALID_CREDENTIALS",
        Msg::new(
            "E-mail/telepon atau kata sandi salah",
            "Wrong e-mail/phone or password",
        ),
    )
}

fn weak(w: Weakness) -> ApiError {
    let (code, msg) = match w {
        Weakness::TooShort => (
            "AUTH_PASSWORD_TOO_SHORT",
            Msg::new(
                "Kata sandi minimal 8 karakter",
                "The password needs at least 8 characters",
            ),
        ),
        Weakness::TooLong => (
            "AUTH_PASSWORD_TOO_LONG",
            Msg::new(
                "Kata sandi terlalu panjang (maks. 128)",
                "The password is too long (max. 128)",
            ),
        ),
        Weakness::NoUpper => (
            "AUTH_PASSWORD_NO_UPPERCASE",
            Msg::new(
                "Kata sandi perlu satu huruf besar",
                "The password needs an upper-case letter",
            ),
        ),
        Weakness::NoDigit => (
            "AUTH_PASSWORD_NO_DIGIT",
            Msg::new("Kata sandi perlu satu angka", "The password needs a digit"),
        ),
        Weakness::Guessable => (
            "AUTH_PASSWORD_WEAK",
            Msg::new(
                "Kata sandi terlalu mudah ditebak",
                "The password is too easy to guess",
            ),
        ),
    };
    ApiError::validation(code, msg)
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Taken => ApiError::conflict(
            "AUTH_ACCOUNT_EXISTS",
            Msg::new(
                "E-mail atau nomor telepon sudah terdaftar",
                "The e-mail or phone number is already registered",
            ),
        ),
        StoreError::Db(e) => e.into(),
        StoreError::Other(e) => ApiError::internal(e),
    }
}

fn login_err(e: LoginError) -> ApiError {
    match e {
        LoginError::Throttled(s) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "AUTH_TOO_MANY_ATTEMPTS",
            Msg::new(
                "Terlalu banyak percobaan masuk. Coba lagi nanti.",
                "Too many sign-in attempts. Try again later.",
            ),
        )
        .retry_after(s),
        LoginError::Invalid => invalid_credentials(),
        LoginError::Internal(e) => ApiError::internal(e),
    }
}

fn field_invalid(code: &'static str, id: &'static str, en: &'static str) -> ApiError {
    ApiError::validation(code, Msg::new(id, en))
}

// ---- the caller -------------------------------------------------------------------------

/// A verified KREKI ID access token (signature, expiry and the revocation list).
pub struct Caller(pub AccessClaims);

impl FromRequestParts<Arc<Idp>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        idp: &Arc<Idp>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?.ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_MISSING"))?;
        idp.verify_access(token)
            .await
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID"))
    }
}

impl Caller {
    fn require(&self, permission: &str) -> Result<(), ApiError> {
        if roles_permit(&self.0.roles, permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    async fn account(&self, idp: &Idp) -> Result<Account, ApiError> {
        idp.store
            .account(&self.0.sub)
            .await?
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID"))
    }
}

// ---- views ------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub role: Role,
    pub member_number: String,
    pub full_name: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// A new e-mail waiting for its verification link (it replaces `email` once verified).
    pub pending_email: Option<String>,
    /// A new phone number waiting for its code (it replaces `phone` once verified).
    pub pending_phone: Option<String>,
    pub language: String,
    pub mfa_enabled: bool,
    pub created_at: String,
}

impl From<&Account> for UserView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            role: a.role,
            member_number: a.member_number.clone(),
            full_name: a.full_name.clone(),
            email: a.email.clone(),
            email_verified: a.email_verified,
            phone: a.phone.clone(),
            phone_verified: a.phone_verified,
            pending_email: a.pending_email.clone(),
            pending_phone: a.pending_phone.clone(),
            language: a.language.clone(),
            mfa_enabled: a.totp_enabled,
            created_at: rfc3339(a.created_at),
        }
    }
}

/// Tokens, or the MFA step that must come first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResult {
    #[serde(rename = "accessToken", skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(rename = "refreshToken", skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(rename = "expiresIn", skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(rename = "tokenType", skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    pub user: UserView,
    #[serde(rename = "mfaRequired")]
    pub mfa_required: bool,
    /// Ticket for `POST /login/mfa` (5 minutes).
    #[serde(rename = "mfaToken", skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// The role needs MFA and none is set up: enrol with `POST /login/mfa/enroll` first.
    #[serde(
        rename = "mfaEnrollRequired",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub mfa_enroll_required: bool,
    /// Shown once, when TOTP was enabled by this sign-in.
    #[serde(rename = "recoveryCodes", skip_serializing_if = "Vec::is_empty")]
    pub recovery_codes: Vec<String>,
}

fn tokens_result(a: &Account, t: TokenSet, recovery_codes: Vec<String>) -> LoginResult {
    LoginResult {
        access_token: Some(t.access_token),
        refresh_token: t.refresh_token,
        expires_in: Some(t.expires_in),
        token_type: Some("Bearer".into()),
        user: a.into(),
        mfa_required: false,
        mfa_token: None,
        mfa_enroll_required: false,
        recovery_codes,
    }
}

async fn api_tokens(idp: &Idp, a: &Account, amr: &str) -> Result<TokenSet, ApiError> {
    idp.issue_user_tokens(
        a,
        API_CLIENT,
        "openid profile email phone",
        None,
        amr,
        now_micros(),
        None,
        None,
        true,
    )
    .await
    .map_err(ApiError::internal)
}

/// After the first factor: tokens, or an MFA ticket.
async fn after_first_factor(
    idp: &Idp,
    a: Account,
    method: &str,
    ip: IpAddr,
) -> ApiResult<Envelope<LoginResult>> {
    if idp.mfa_needed(&a).await {
        let ticket = idp
            .mfa_ticket(&a, method)
            .await
            .map_err(ApiError::internal)?;
        return Ok(Envelope::ok(LoginResult {
            access_token: None,
            refresh_token: None,
            expires_in: None,
            token_type: None,
            mfa_enroll_required: !a.totp_enabled && idp.passkey_count(&a.id).await == 0,
            user: (&a).into(),
            mfa_required: true,
            mfa_token: Some(ticket),
            recovery_codes: Vec::new(),
        }));
    }
    idp.audit_login(&a, method, ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(idp, &a, method).await?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}

// ---- shared operations (the login pages use them too) -------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub password: String,
    pub full_name: String,
    /// `public` or `volunteer`.
    pub role: Option<String>,
    /// `id` (default) or `en`.
    pub language: Option<String>,
}

pub fn normalize_email(e: &str) -> Result<String, ApiError> {
    let e = e.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(field_invalid(
            "VALIDATION_EMAIL_INVALID",
            "Alamat e-mail tidak valid",
            "Invalid e-mail address",
        ))
    }
}

pub fn normalize_phone(p: &str) -> Result<PhoneE164, ApiError> {
    PhoneE164::parse(p).map_err(|_| {
        field_invalid(
            "VALIDATION_PHONE_INVALID",
            "Nomor telepon tidak valid",
            "Invalid phone number",
        )
    })
}

/// Register an account. The answer is the same whether the e-mail or phone is free or
/// already registered (no account enumeration): `None` when it was taken, and then its
/// owner is told by e-mail or SMS instead. Throttled per IP and overall before the
/// (deliberately slow) password hash.
pub async fn register_account(
    idp: &Idp,
    b: RegisterBody,
    ip: IpAddr,
) -> Result<Option<Account>, ApiError> {
    let email = b
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .map(normalize_email)
        .transpose()?;
    let phone = b
        .phone
        .as_deref()
        .filter(|p| !p.trim().is_empty())
        .map(normalize_phone)
        .transpose()?;
    if email.is_none() && phone.is_none() {
        return Err(field_invalid(
            "VALIDATION_EMAIL_OR_PHONE_REQUIRED",
            "Isi e-mail atau nomor telepon",
            "Give an e-mail or a phone number",
        ));
    }
    let name = b.full_name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(field_invalid(
            "VALIDATION_NAME_INVALID",
            "Nama lengkap wajib diisi (maks. 100 karakter)",
            "Full name is required (max. 100 characters)",
        ));
    }
    let role = match b.role.as_deref().unwrap_or("public") {
        "public" => Role::Public,
        "volunteer" => Role::Volunteer,
        _ => {
            return Err(field_invalid(
                "VALIDATION_ROLE_INVALID",
                "Peran harus public atau volunteer",
                "Role must be public or volunteer",
            ));
        }
    };
    let language = match b.language.as_deref().unwrap_or("id") {
        "id" => "id",
        "en" => "en",
        _ => {
            return Err(field_invalid(
                "VALIDATION_LANGUAGE_INVALID",
                "Bahasa harus id atau en",
                "Language must be id or en",
            ));
        }
    };
    let personal: Vec<&str> = [
        Some(name.as_str()),
        email.as_deref(),
        phone.as_ref().map(|p| p.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    password::check(&b.password, &personal).map_err(weak)?;
    let hash = registration_hash(idp, &b.password, ip).await?;
    let created = idp
        .store
        .create_account(
            NewAccount {
                email: email.clone(),
                phone: phone.as_ref().map(|p| p.as_str().to_string()),
                full_name: name,
                password_hash: Some(hash),
                role,
                language: language.into(),
                email_verified: false,
                phone_verified: false,
                totp_secret: None,
            },
            Some(ip),
        )
        .await;
    let a = match created {
        Ok(a) => a,
        Err(StoreError::Taken) => {
            // Tell the owners of the addresses, not the one who asked.
            for (kind, addr) in [
                ("email", email.clone()),
                ("phone", phone.map(|p| p.as_str().to_string())),
            ] {
                if let Some(addr) = addr
                    && let Some(owner) = idp.store.account_by(kind, &addr).await?
                {
                    notify_address(
                        idp,
                        &owner,
                        &addr,
                        Template::AccountExists,
                        "account_exists",
                    )
                    .await?;
                }
            }
            idp.audit_now(
                "registration_existing_address",
                None,
                None,
                Some(ip),
                serde_json::json!({}),
            )
            .await?;
            return Ok(None);
        }
        Err(e) => return Err(store_err(e)),
    };
    idp.relay.poke();
    if let Some(email) = a.email.clone() {
        send_email_link(
            idp,
            &a,
            &email,
            "email_verify",
            Template::EmailVerification,
            "/akun/verifikasi-email",
            86_400,
        )
        .await?;
    }
    tracing::info!(account = %a.id, who = %a.masked(), "account registered");
    Ok(Some(a))
}

/// The password hash of a registration, within its throttles: per client IP and per
/// minute overall (429 `RATE_LIMITED` with Retry-After), then a bounded queue for at most
/// half the hash slots, so that sign-ins keep the other half whatever the flood.
async fn registration_hash(idp: &Idp, pw: &str, ip: IpAddr) -> Result<String, ApiError> {
    let cfg = &idp.cfg;
    for (key, limit, window) in [
        (
            format!("register-ip:{}", ip_block(ip)),
            cfg.register_per_ip,
            cfg.register_window_s,
        ),
        ("register-all".to_string(), cfg.register_per_minute, 60),
    ] {
        let d = idp
            .limiter
            .hit(&key, limit, std::time::Duration::from_secs(window))
            .await
            .map_err(ApiError::internal)?;
        if !d.allowed {
            tracing::warn!(limit = %key.split(':').next().unwrap_or_default(), "registrations throttled");
            return Err(ApiError::rate_limited(d.reset_after_s.max(1)));
        }
    }
    let Ok(_queued) = idp.register_queue.try_acquire() else {
        return Err(ApiError::rate_limited(1));
    };
    let _slot = idp
        .register_slots
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    idp.hash_password(pw).await.map_err(ApiError::internal)
}

/// The address block a client controls: the address for IPv4, its /64 for IPv6 (one
/// subscriber's prefix; counting single IPv6 addresses would be no limit at all).
fn ip_block(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// A notice (no secret) to one address of an account: e-mail or SMS by its form.
async fn notify_address(
    idp: &Idp,
    a: &Account,
    to: &str,
    template: Template,
    purpose: &str,
) -> Result<(), ApiError> {
    let channels: &[Channel] = if to.contains('@') {
        &[Channel::Email]
    } else {
        &[Channel::Sms, Channel::Whatsapp]
    };
    let msg = MessageRequested::new(
        format!("{purpose}:{}", uuid::Uuid::now_v7()),
        Recipient::Address(to.to_string()),
        template,
        Priority::High,
    )
    .var("name", a.full_name.clone())
    .channels(channels)
    .language(lang_of(a));
    publish_message(idp, &msg).await
}

/// A one-time link (verification, reset) by e-mail through the notify contract.
async fn send_email_link(
    idp: &Idp,
    a: &Account,
    email: &str,
    purpose: &str,
    template: Template,
    path: &str,
    ttl_s: i64,
) -> Result<(), ApiError> {
    let token = random_token();
    let id = idp
        .store
        .insert_code(purpose, email, Some(&a.id), &token, ttl_s * 1_000_000)
        .await?;
    let link = format!("{}{path}?token={token}", idp.issuer);
    let msg = MessageRequested::new(
        format!("{purpose}:{id}"),
        Recipient::Address(email.to_string()),
        template,
        Priority::High,
    )
    .var("name", a.full_name.clone())
    .var("link", link)
    .channels(&[Channel::Email])
    .language(lang_of(a));
    publish_message(idp, &msg).await
}

fn lang_of(a: &Account) -> kreki_notify_contracts::Language {
    if a.language == "en" {
        kreki_notify_contracts::Language::En
    } else {
        kreki_notify_contracts::Language::Id
    }
}

async fn publish_message(idp: &Idp, msg: &MessageRequested) -> Result<(), ApiError> {
    let mut tx = idp.store.db.begin().await?;
    enqueue_event(&mut tx, MESSAGE_REQUESTED, msg)
        .await
        .map_err(store_err)?;
    tx.commit().await?;
    idp.relay.poke();
    Ok(())
}

pub async fn forgot(idp: &Idp, email: &str) -> Result<(), ApiError> {
    let Ok(email) = normalize_email(email) else {
        return Ok(());
    };
    if let Some(a) = idp.store.account_by("email", &email).await? {
        // At most one reset mail per 2 minutes per address.
        let recent = idp
            .store
            .count_codes_since("password_reset", &email, now_micros() - 120_000_000)
            .await?;
        if recent == 0 {
            send_email_link(
                idp,
                &a,
                &email,
                "password_reset",
                Template::PasswordReset,
                "/akun/reset-sandi",
                3600,
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn reset(idp: &Idp, token: &str, new_password: &str, ip: IpAddr) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "AUTH_RESET_TOKEN_INVALID",
            Msg::new(
                "Tautan reset tidak valid atau kedaluwarsa",
                "The reset link is invalid or has expired",
            ),
        )
    };
    let code = idp
        .store
        .peek_token("password_reset", token)
        .await?
        .ok_or_else(invalid)?;
    let mut a = idp
        .store
        .account(code.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(invalid)?;
    let personal = a.personal();
    password::check(new_password, &personal).map_err(weak)?;
    if idp
        .store
        .take_token("password_reset", token)
        .await?
        .is_none()
    {
        return Err(invalid());
    }
    a.password_hash = Some(
        idp.hash_password(new_password)
            .await
            .map_err(ApiError::internal)?,
    );
    // Following the link proves the address.
    a.email_verified = true;
    let mut tx = idp.store.db.begin().await?;
    Store::save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    Store::revoke_account_tokens(&mut tx, &a.id).await?;
    audit(
        &mut tx,
        "password_reset",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    idp.relay.poke();
    Ok(())
}

// ---- registration and sign-in -----------------------------------------------------------

#[utoipa::path(post, path = "/register", tag = "account", request_body = RegisterBody,
    responses(
        (status = 202, description = "Accepted, the same answer whether the e-mail or phone was free or already registered (no account enumeration): a new account is created and a verification e-mail sent; the owner of an address already registered is told by e-mail or SMS instead. Sign in next.", body = inline(Envelope<serde_json::Value>)),
        (status = 422, description = "AUTH_PASSWORD_*, VALIDATION_*", body = ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (per IP, overall, or the registration queue is full) with Retry-After", body = ErrorEnvelope),
    ))]
async fn register(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<RegisterBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    register_account(&idp, b, ip).await?;
    Ok(Envelope::accepted(
        serde_json::json!({ "status": "accepted" }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: Option<String>,
    pub phone: Option<String>,
    /// E-mail, phone or member number.
    pub identifier: Option<String>,
    pub password: String,
}

#[utoipa::path(post, path = "/login", tag = "account", request_body = LoginBody,
    responses(
        (status = 200, description = "Tokens, or `mfaRequired` with an `mfaToken`", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS (same for unknown accounts)", body = ErrorEnvelope),
        (status = 429, description = "AUTH_TOO_MANY_ATTEMPTS with Retry-After", body = ErrorEnvelope),
    ))]
async fn login(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let ident = b.identifier.or(b.email).or(b.phone).unwrap_or_default();
    if ident.len() > 254 || b.password.len() > 1024 {
        return Err(invalid_credentials());
    }
    let a = idp
        .password_login(&ident, &b.password, ip)
        .await
        .map_err(login_err)?;
    after_first_factor(&idp, a, "pwd", ip).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaBody {
    #[serde(rename = "mfaToken")]
    pub mfa_token: String,
    /// TOTP code, recovery code, or the SMS code.
    pub code: String,
}

fn mfa_invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "AUTH_MFA_INVALID",
        Msg::new(
            "Kode verifikasi salah atau kedaluwarsa",
            "Wrong or expired verification code",
        ),
    )
}

#[utoipa::path(post, path = "/login/mfa", tag = "mfa", request_body = MfaBody,
    responses(
        (status = 200, description = "Tokens", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_MFA_INVALID (the ticket dies after 5 wrong codes)", body = ErrorEnvelope),
    ))]
async fn login_mfa(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<MfaBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let (a, amr, recovery) = idp
        .mfa_verify(&b.mfa_token, &b.code, ip)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(mfa_invalid)?;
    idp.audit_login(&a, "mfa", ip)
        .await
        .map_err(ApiError::internal)?;
    idp.relay.poke();
    let t = api_tokens(&idp, &a, &amr).await?;
    Ok(Envelope::ok(tokens_result(&a, t, recovery)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketBody {
    #[serde(rename = "mfaToken")]
    pub mfa_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

async fn totp_provision(idp: &Idp, a: &mut Account) -> Result<TotpSetup, ApiError> {
    let secret = totp::new_secret();
    let uri = totp::provisioning_uri(&secret, &a.member_number);
    let qr = totp::qr_svg(&uri).unwrap_or_default();
    a.totp_secret = Some(secret.clone());
    a.totp_enabled = false;
    let mut tx = idp.store.db.begin().await?;
    Store::save_account(&mut tx, a).await.map_err(store_err)?;
    tx.commit().await?;
    Ok(TotpSetup {
        secret,
        otpauth_uri: uri,
        qr_svg: qr,
    })
}

#[utoipa::path(post, path = "/login/mfa/enroll", tag = "mfa", request_body = TicketBody,
    responses(
        (status = 200, description = "A new TOTP secret for an account whose role requires MFA and that has no second factor yet (once per sign-in ticket, audited); confirm with `POST /login/mfa`", body = inline(Envelope<TotpSetup>)),
        (status = 401, description = "AUTH_MFA_INVALID", body = ErrorEnvelope),
        (status = 409, description = "AUTH_MFA_ALREADY_ENABLED (the account has TOTP or a passkey: add factors after signing in), AUTH_MFA_ENROL_USED (this ticket already started a set-up)", body = ErrorEnvelope),
    ))]
async fn login_mfa_enroll(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<TicketBody>,
) -> ApiResult<Envelope<TotpSetup>> {
    let t = idp
        .store
        .peek_token("mfa", &b.mfa_token)
        .await?
        .ok_or_else(mfa_invalid)?;
    let mut a = idp
        .store
        .account(t.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(mfa_invalid)?;
    // A password alone never adds a factor to an account that has one (a passkey or TOTP):
    // that takes a session that passed MFA (`/mfa/...` with its bearer token).
    if !idp.may_enrol_with_ticket(&a).await {
        return Err(ApiError::conflict(
            "AUTH_MFA_ALREADY_ENABLED",
            Msg::new(
                "Akun ini sudah memiliki faktor kedua; tambahkan yang baru setelah masuk",
                "This account already has a second factor; add another after signing in",
            ),
        ));
    }
    enrol_once(&idp, &a, &b.mfa_token, ip).await?;
    Ok(Envelope::ok(totp_provision(&idp, &mut a).await?))
}

/// A sign-in ticket provisions one first factor at most (a second request cannot replace
/// the secret being set up), and each is audited.
pub async fn enrol_once(idp: &Idp, a: &Account, ticket: &str, ip: IpAddr) -> Result<(), ApiError> {
    let target = crate::idp::ticket_target(ticket);
    if idp.store.latest_code("mfa_enrol", &target).await?.is_some() {
        return Err(ApiError::conflict(
            "AUTH_MFA_ENROL_USED",
            Msg::new(
                "Pendaftaran faktor kedua untuk sesi masuk ini sudah dimulai; masuk lagi untuk mengulang",
                "Two-step set-up was already started for this sign-in; sign in again to restart it",
            ),
        ));
    }
    idp.store
        .insert_code(
            "mfa_enrol",
            &target,
            Some(&a.id),
            &random_token(),
            300_000_000,
        )
        .await?;
    idp.audit_now(
        "mfa_enrolment_started",
        Some(&a.id),
        None,
        Some(ip),
        serde_json::json!({ "method": "totp", "via": "sign_in_ticket" }),
    )
    .await?;
    Ok(())
}

#[utoipa::path(post, path = "/login/mfa/sms", tag = "mfa", request_body = TicketBody,
    responses(
        (status = 202, description = "A code was sent to the account's verified phone (backup factor)", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "AUTH_MFA_INVALID: the sign-in ticket is unknown, used or expired", body = ErrorEnvelope),
        (status = 409, description = "AUTH_NO_VERIFIED_PHONE", body = ErrorEnvelope),
        (status = 429, description = "AUTH_OTP_COOLDOWN", body = ErrorEnvelope),
    ))]
async fn login_mfa_sms(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<TicketBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let masked = send_mfa_sms(&idp, &b.mfa_token, ip).await?;
    Ok(Envelope::accepted(serde_json::json!({ "sent_to": masked })))
}

/// The backup second factor: a code by SMS to the account's verified phone, filed under the
/// ticket. Returns the masked number.
pub async fn send_mfa_sms(idp: &Idp, ticket: &str, ip: IpAddr) -> Result<String, ApiError> {
    let t = idp
        .store
        .peek_token("mfa", ticket)
        .await?
        .ok_or_else(mfa_invalid)?;
    let a = idp
        .store
        .account(t.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(mfa_invalid)?;
    let phone = a
        .phone
        .clone()
        .filter(|_| a.phone_verified)
        .ok_or_else(|| {
            ApiError::conflict(
                "AUTH_NO_VERIFIED_PHONE",
                Msg::new(
                    "Akun ini tidak memiliki nomor telepon terverifikasi",
                    "This account has no verified phone number",
                ),
            )
        })?;
    let target = crate::idp::ticket_target(ticket);
    send_phone_code(idp, "mfa_sms", &target, &phone, Some(&a.id), ip).await?;
    Ok(mask_phone(&phone))
}

// ---- phone one-time codes ---------------------------------------------------------------

fn otp_err(code: &'static str, id: &'static str, en: &'static str, retry: u64) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, Msg::new(id, en)).retry_after(retry)
}

/// Send a 6-digit code to `phone` (stored hashed under `target`), with the anti-pumping
/// rules: allowed country codes, resend cooldown, caps per number and per IP per day.
async fn send_phone_code(
    idp: &Idp,
    purpose: &str,
    target: &str,
    phone: &str,
    account: Option<&str>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    phone_code(idp, purpose, target, phone, account, ip, true).await
}

/// [`send_phone_code`], or with `deliver` false the same checks and bookkeeping without a
/// message (a number with no verified account: it answers like one that has).
async fn phone_code(
    idp: &Idp,
    purpose: &str,
    target: &str,
    phone: &str,
    account: Option<&str>,
    ip: IpAddr,
    deliver: bool,
) -> Result<(), ApiError> {
    let cc_ok = idp.cfg.otp_allowed_country_codes.iter().any(|cc| {
        phone
            .strip_prefix('+')
            .is_some_and(|p| p.starts_with(cc.as_str()))
    });
    if !cc_ok {
        return Err(field_invalid(
            "AUTH_PHONE_COUNTRY_NOT_ALLOWED",
            "Kode tidak dapat dikirim ke negara ini",
            "Codes cannot be sent to this country",
        ));
    }
    let now = now_micros();
    if let Some(last) = idp.store.latest_code(purpose, target).await? {
        let next = last.created_at + (idp.cfg.otp_resend_cooldown_s * 1_000_000) as i64;
        if next > now {
            return Err(otp_err(
                "AUTH_OTP_COOLDOWN",
                "Tunggu sebelum meminta kode baru",
                "Wait before asking for a new code",
                ((next - now) / 1_000_000).max(1) as u64,
            ));
        }
    }
    let day = now - 86_400_000_000;
    if idp.store.count_codes_since(purpose, target, day).await?
        >= i64::from(idp.cfg.otp_per_number_per_day)
    {
        return Err(otp_err(
            "AUTH_OTP_DAILY_LIMIT",
            "Batas kode harian untuk nomor ini tercapai",
            "Daily code limit for this number reached",
            3600,
        ));
    }
    let d = idp
        .limiter
        .hit(
            &format!("otp-ip:{ip}"),
            idp.cfg.otp_per_ip_per_day,
            std::time::Duration::from_secs(86_400),
        )
        .await
        .map_err(ApiError::internal)?;
    if !d.allowed {
        return Err(otp_err(
            "AUTH_OTP_DAILY_LIMIT",
            "Batas kode harian tercapai",
            "Daily code limit reached",
            d.reset_after_s,
        ));
    }
    let n: u32 = rand::Rng::gen_range(&mut rand::rngs::OsRng, 0..1_000_000);
    let code = format!("{n:06}");
    if !deliver {
        // Recorded (hashed, for nobody) so that the cooldown and caps count alike.
        idp.store
            .insert_code(
                purpose,
                target,
                None,
                &random_token(),
                (idp.cfg.otp_ttl_s * 1_000_000) as i64,
            )
            .await?;
        return Ok(());
    }
    let id = idp
        .store
        .insert_code(
            purpose,
            target,
            account,
            &code,
            (idp.cfg.otp_ttl_s * 1_000_000) as i64,
        )
        .await?;
    let msg = MessageRequested::new(
        format!("otp:{id}"),
        Recipient::Address(phone.to_string()),
        Template::OtpCode,
        Priority::High,
    )
    .var("code", code)
    .var("minutes", idp.cfg.otp_ttl_s / 60)
    .channels(&[Channel::Sms, Channel::Whatsapp]);
    publish_message(idp, &msg).await?;
    tracing::info!(phone = %mask_phone(phone), purpose, "one-time code sent");
    Ok(())
}

/// Check a 6-digit code for `target`: at most `otp_max_attempts` guesses per code.
async fn check_phone_code(
    idp: &Idp,
    purpose: &str,
    target: &str,
    code: &str,
) -> Result<Option<String>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_OTP_INVALID",
            Msg::new("Kode salah atau kedaluwarsa", "Wrong or expired code"),
        )
    };
    let c = idp
        .store
        .latest_code(purpose, target)
        .await?
        .ok_or_else(invalid)?;
    if c.consumed_at.is_some()
        || c.expires_at <= now_micros()
        || c.attempts >= i64::from(idp.cfg.otp_max_attempts)
    {
        return Err(invalid());
    }
    let ok: bool =
        subtle::ConstantTimeEq::ct_eq(hash_token(code.trim()).as_bytes(), c.code_hash.as_bytes())
            .into();
    if !ok {
        idp.store.code_attempt(&c.id).await?;
        return Err(invalid());
    }
    if !idp.store.consume_code(&c.id).await? {
        return Err(invalid());
    }
    Ok(c.account_id)
}

/// Sign-in codes are filed under a hash of the number (numbers without an account are
/// counted too, and not kept in clear).
fn login_target(phone: &PhoneE164) -> String {
    format!("login:{}", &hash_token(phone.as_str())[..32])
}

/// Send a sign-in code to a phone. The same checks (country, cooldown per number, caps)
/// and the same answer whether or not a verified account has this number; only a
/// verified number of an account gets a code (an unverified one is treated as unknown).
pub async fn send_login_code(idp: &Idp, phone: &PhoneE164, ip: IpAddr) -> Result<(), ApiError> {
    let account = idp
        .store
        .account_by("phone", phone.as_str())
        .await?
        .filter(|a| a.phone_verified);
    phone_code(
        idp,
        "otp_login",
        &login_target(phone),
        phone.as_str(),
        account.as_ref().map(|a| a.id.as_str()),
        ip,
        account.is_some(),
    )
    .await
}

/// The first factor by phone code (throttled like passwords); codes go to verified numbers only.
pub async fn phone_code_first_factor(
    idp: &Idp,
    phone: &PhoneE164,
    code: &str,
    ip: IpAddr,
) -> Result<Account, ApiError> {
    if let Some(wait) = idp
        .login_wait(phone.as_str(), ip)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(login_err(LoginError::Throttled(wait)));
    }
    let account_id = match check_phone_code(idp, "otp_login", &login_target(phone), code).await {
        Ok(a) => a,
        Err(e) => {
            idp.login_failed(phone.as_str(), ip)
                .await
                .map_err(ApiError::internal)?;
            return Err(e);
        }
    };
    let a = idp
        .store
        .account(account_id.as_deref().unwrap_or_default())
        .await?
        .filter(|a| a.phone.as_deref() == Some(phone.as_str()) && a.phone_verified)
        .ok_or_else(invalid_credentials)?;
    Ok(a)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpSendBody {
    /// E.164, or a national number (+62 assumed).
    pub phone: String,
    /// `login` (a code goes only to the verified number of an account; the answer does not say whether there is one) or `verify_phone` (signed in: the profile's number, or its pending new number).
    pub purpose: String,
}

#[utoipa::path(post, path = "/otp/send", tag = "account", request_body = OtpSendBody,
    responses(
        (status = 202, description = "Sent if the number may receive one; the same answer for a verified number of an account, an unverified one and an unknown one (no account enumeration)", body = inline(Envelope<serde_json::Value>)),
        (status = 422, description = "VALIDATION_PHONE_INVALID, AUTH_PHONE_COUNTRY_NOT_ALLOWED", body = ErrorEnvelope),
        (status = 429, description = "AUTH_OTP_COOLDOWN (per number, whether or not it has an account), AUTH_OTP_DAILY_LIMIT, with Retry-After", body = ErrorEnvelope),
    ))]
async fn otp_send(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Option<Caller>,
    ApiJson(b): ApiJson<OtpSendBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let phone = normalize_phone(&b.phone)?;
    match b.purpose.as_str() {
        "login" => send_login_code(&idp, &phone, ip).await?,
        "verify_phone" => {
            let c = caller.ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_MISSING"))?;
            let a = c.account(&idp).await?;
            // The pending new number if there is one (it replaces the old once verified).
            let to_verify = a.pending_phone.as_deref().or(a.phone.as_deref());
            if to_verify != Some(phone.as_str()) {
                return Err(field_invalid(
                    "AUTH_PHONE_NOT_YOURS",
                    "Nomor ini bukan nomor di profil Anda",
                    "This is not the number in your profile",
                ));
            }
            send_phone_code(
                &idp,
                "otp_verify",
                phone.as_str(),
                phone.as_str(),
                Some(&a.id),
                ip,
            )
            .await?;
        }
        _ => {
            return Err(field_invalid(
                "VALIDATION_PURPOSE_INVALID",
                "Tujuan harus login atau verify_phone",
                "Purpose must be login or verify_phone",
            ));
        }
    }
    Ok(Envelope::accepted(
        serde_json::json!({ "sent_to": phone.masked(), "expires_in": idp.cfg.otp_ttl_s }),
    ))
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Caller
where
    Arc<Idp>: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let idp: Arc<Idp> = axum::extract::FromRef::from_ref(state);
        match bearer(parts)? {
            None => Ok(None),
            Some(t) => idp
                .verify_access(t)
                .await
                .map(|c| Some(Caller(c)))
                .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID")),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpLoginBody {
    pub phone: String,
    pub code: String,
}

#[utoipa::path(post, path = "/otp/login", tag = "account", request_body = OtpLoginBody,
    responses(
        (status = 200, description = "Tokens, or the MFA step", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_OTP_INVALID (3 guesses per code, 5 minutes)", body = ErrorEnvelope),
    ))]
async fn otp_login(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<OtpLoginBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let phone = normalize_phone(&b.phone)?;
    let a = phone_code_first_factor(&idp, &phone, &b.code, ip).await?;
    after_first_factor(&idp, a, "sms", ip).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

#[utoipa::path(post, path = "/otp/verify", tag = "account", request_body = CodeBody,
    responses((status = 200, description = "Phone verified; a pending new number replaces the old one", body = inline(Envelope<UserView>)),
        (status = 401, description = "AUTH_OTP_INVALID", body = ErrorEnvelope),
        (status = 409, description = "AUTH_ACCOUNT_EXISTS: the new number was registered by another account meanwhile", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn otp_verify_phone(
    State(idp): St,
    caller: Caller,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Envelope<UserView>> {
    let mut a = caller.account(&idp).await?;
    let phone = a
        .pending_phone
        .clone()
        .or_else(|| a.phone.clone())
        .ok_or_else(|| {
            field_invalid(
                "AUTH_NO_PHONE",
                "Profil tidak memiliki nomor telepon",
                "The profile has no phone number",
            )
        })?;
    let owner = check_phone_code(&idp, "otp_verify", &phone, &b.code).await?;
    if owner.as_deref() != Some(a.id.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_OTP_INVALID",
            Msg::new("Kode salah atau kedaluwarsa", "Wrong or expired code"),
        ));
    }
    if a.pending_phone.as_deref() == Some(phone.as_str()) {
        a.phone = Some(phone);
        a.pending_phone = None;
    }
    a.phone_verified = true;
    idp.save(&mut a).await.map_err(store_err)?;
    Ok(Envelope::ok((&a).into()))
}

// ---- tokens -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(rename = "refreshToken")]
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/refresh", tag = "account", request_body = RefreshBody,
    responses(
        (status = 200, description = "New tokens; the refresh token is rotated (a reused one revokes its family)", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_REFRESH_INVALID", body = ErrorEnvelope),
    ))]
async fn refresh(
    State(idp): St,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let t = idp
        .refresh(&b.refresh_token, API_CLIENT)
        .await
        .map_err(|e| {
            if e == "invalid_grant" {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "AUTH_REFRESH_INVALID",
                    Msg::new(
                        "Sesi berakhir, silakan masuk lagi",
                        "The session has ended, please sign in again",
                    ),
                )
            } else {
                ApiError::internal(anyhow::anyhow!("refresh failed"))
            }
        })?;
    let claims: AccessClaims = idp
        .keys
        .verify_access(&t.access_token, &idp.issuer)
        .await
        .map_err(|_| ApiError::internal(anyhow::anyhow!("fresh token does not verify")))?;
    let a = idp
        .store
        .account(&claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("AUTH_REFRESH_INVALID"))?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    #[serde(rename = "refreshToken")]
    pub refresh_token: Option<String>,
}

#[utoipa::path(post, path = "/logout", tag = "account", request_body = LogoutBody,
    responses((status = 200, description = "The access token and the refresh token's family are revoked", body = inline(Envelope<serde_json::Value>))),
    security(("bearer" = [])))]
async fn logout(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Envelope<serde_json::Value>> {
    // The body is optional.
    let b: LogoutBody = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutBody {
            refresh_token: None,
        }
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::validation(
                "VALIDATION_FAILED",
                Msg::new("Data permintaan tidak valid", "The request data is invalid"),
            )
            .details(serde_json::json!({ "reason": e.to_string() }))
        })?
    };
    idp.revoke_access(&caller.0)
        .await
        .map_err(ApiError::internal)?;
    if let Some(rt) = b.refresh_token
        && let Some((family, _)) = idp.store.refresh_family(&rt).await?
    {
        let mut tx = idp.store.db.begin().await?;
        Store::revoke_family(&mut tx, &family).await?;
        tx.commit().await?;
    }
    idp.audit_now(
        "logout",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "via": "api" }),
    )
    .await?;
    Ok(Envelope::ok(serde_json::json!({ "signed_out": true })))
}

// ---- own profile ------------------------------------------------------------------------

#[utoipa::path(get, path = "/me", tag = "account",
    responses((status = 200, description = "The signed-in account", body = inline(Envelope<UserView>)),
        (status = 401, description = "AUTH_TOKEN_*", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn me_get(State(idp): St, caller: Caller) -> ApiResult<Envelope<UserView>> {
    Ok(Envelope::ok((&caller.account(&idp).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    pub full_name: Option<String>,
    /// A new e-mail: kept as `pending_email` until the link sent to it is followed.
    pub email: Option<String>,
    /// A new phone: kept as `pending_phone` until the code sent to it comes back
    /// (`POST /otp/verify`).
    pub phone: Option<String>,
    pub language: Option<String>,
    /// Needed to change the e-mail or phone (a stolen access token alone must not).
    pub current_password: Option<String>,
    /// For an account without a password: a current TOTP code instead.
    pub totp_code: Option<String>,
}

fn reauth_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "AUTH_REAUTH_REQUIRED",
        Msg::new(
            "Masukkan kata sandi Anda saat ini untuk mengganti e-mail atau nomor telepon",
            "Enter your current password to change the e-mail or phone number",
        ),
    )
}

/// Prove the person is the account's holder again: the current password, or for an
/// account without one a current TOTP code. Wrong answers count as failed sign-ins.
async fn reauthenticate(
    idp: &Idp,
    a: &mut Account,
    password: Option<&str>,
    totp_code: Option<&str>,
    ip: IpAddr,
) -> Result<(), ApiError> {
    if let Some(wait) = idp
        .login_wait(&a.id, ip)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(login_err(LoginError::Throttled(wait)));
    }
    let ok = match (&a.password_hash, password, totp_code) {
        (Some(h), Some(pw), _) => {
            pw.len() <= 1024 && idp.verify_password(pw, Some(h.clone())).await
        }
        (None, _, Some(code)) if a.totp_enabled => match &a.totp_secret {
            Some(secret) => {
                let now_s = now_micros() / 1_000_000;
                match totp::verify(secret, code.trim(), now_s, a.totp_last_step) {
                    Some(step) => {
                        a.totp_last_step = step;
                        true
                    }
                    None => false,
                }
            }
            None => false,
        },
        _ => false,
    };
    if ok {
        return Ok(());
    }
    if password.is_some() || totp_code.is_some() {
        idp.login_failed(&a.id, ip)
            .await
            .map_err(ApiError::internal)?;
    }
    Err(reauth_required())
}

/// A new e-mail or phone of `a`: its verification (link or code), or, when another account
/// has it, a notice to that account's owner instead. The answer to the caller is the same.
async fn send_to_new_address(
    idp: &Idp,
    a: &Account,
    addr: &str,
    ip: IpAddr,
) -> Result<(), ApiError> {
    let kind = if addr.contains('@') { "email" } else { "phone" };
    if let Some(owner) = idp.store.account_by(kind, addr).await?
        && owner.id != a.id
    {
        return notify_address(idp, &owner, addr, Template::AccountExists, "account_exists").await;
    }
    if kind == "email" {
        send_email_link(
            idp,
            a,
            addr,
            "email_verify",
            Template::EmailVerification,
            "/akun/verifikasi-email",
            86_400,
        )
        .await
    } else {
        send_phone_code(idp, "otp_verify", addr, addr, Some(&a.id), ip).await
    }
}

#[utoipa::path(put, path = "/me", tag = "account", request_body = MeUpdate,
    responses((status = 200, description = "Updated (rectification). A new e-mail or phone needs `current_password` (or `totp_code` without a password); it is kept as `pending_email`/`pending_phone` until verified (link or code sent to it) and the old address is told. The answer is the same whether or not another account has the new address (its owner is told instead).", body = inline(Envelope<UserView>)),
        (status = 403, description = "AUTH_REAUTH_REQUIRED: the e-mail or phone changes only with the current password", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_*", body = ErrorEnvelope),
        (status = 429, description = "AUTH_TOO_MANY_ATTEMPTS (wrong passwords), AUTH_OTP_COOLDOWN, AUTH_OTP_DAILY_LIMIT", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn me_put(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<MeUpdate>,
) -> ApiResult<Envelope<UserView>> {
    let mut a = caller.account(&idp).await?;
    if let Some(n) = b.full_name {
        let n = n.trim().to_string();
        if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
            return Err(field_invalid(
                "VALIDATION_NAME_INVALID",
                "Nama lengkap wajib diisi (maks. 100 karakter)",
                "Full name is required (max. 100 characters)",
            ));
        }
        a.full_name = n;
    }
    if let Some(l) = b.language {
        if l != "id" && l != "en" {
            return Err(field_invalid(
                "VALIDATION_LANGUAGE_INVALID",
                "Bahasa harus id atau en",
                "Language must be id or en",
            ));
        }
        a.language = l;
    }
    let new_email = b
        .email
        .as_deref()
        .map(normalize_email)
        .transpose()?
        .filter(|e| a.email.as_deref() != Some(e.as_str()));
    let new_phone = b
        .phone
        .as_deref()
        .map(normalize_phone)
        .transpose()?
        .map(|p| p.as_str().to_string())
        .filter(|p| a.phone.as_deref() != Some(p.as_str()));
    if new_email.is_some() || new_phone.is_some() {
        reauthenticate(
            &idp,
            &mut a,
            b.current_password.as_deref(),
            b.totp_code.as_deref(),
            ip,
        )
        .await?;
    }
    // Asking for the current address again cancels a pending change.
    if b.email.is_some() && new_email.is_none() {
        a.pending_email = None;
    }
    if b.phone.is_some() && new_phone.is_none() {
        a.pending_phone = None;
    }
    if new_email.is_some() {
        a.pending_email = new_email.clone();
    }
    if new_phone.is_some() {
        a.pending_phone = new_phone.clone();
    }
    let mut tx = idp.store.db.begin().await?;
    Store::save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    audit(
        &mut tx,
        "profile_updated",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({
            "email_change": new_email.is_some(),
            "phone_change": new_phone.is_some(),
        }),
    )
    .await?;
    tx.commit().await?;
    idp.relay.poke();
    if new_email.is_some() || new_phone.is_some() {
        // The old addresses hear of it: the holder can act if it was not them.
        let old: Vec<String> = [a.email.clone(), a.phone.clone()]
            .into_iter()
            .flatten()
            .collect();
        for addr in old {
            notify_address(&idp, &a, &addr, Template::ContactChange, "contact_change").await?;
        }
    }
    if let Some(e) = &new_email {
        send_to_new_address(&idp, &a, e, ip).await?;
    }
    if let Some(p) = &new_phone {
        send_to_new_address(&idp, &a, p, ip).await?;
    }
    Ok(Envelope::ok((&a).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    pub password: String,
}

#[utoipa::path(delete, path = "/me", tag = "privacy", request_body = EraseBody,
    responses((status = 200, description = "Account erased; `identity.account.erased` tells every other service", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn me_delete(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<EraseBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let a = caller.account(&idp).await?;
    if !idp
        .verify_password(&b.password, a.password_hash.clone())
        .await
    {
        return Err(invalid_credentials());
    }
    let mut tx = idp.store.db.begin().await?;
    Store::revoke_account_tokens(&mut tx, &a.id).await?;
    for sql in [
        "DELETE FROM recovery_codes WHERE account_id = $1",
        "DELETE FROM consents WHERE account_id = $1",
        "DELETE FROM client_grants WHERE account_id = $1",
        "DELETE FROM one_time_codes WHERE account_id = $1",
        "DELETE FROM refresh_tokens WHERE account_id = $1",
        "DELETE FROM sessions WHERE account_id = $1",
        "DELETE FROM auth_codes WHERE account_id = $1",
        "DELETE FROM accounts WHERE id = $1",
    ] {
        sqlx::query(sql).bind(&a.id).execute(&mut *tx).await?;
    }
    // The audit log keeps the security events under the (now meaningless) id, without personal data.
    audit(
        &mut tx,
        "account_erased",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({}),
    )
    .await?;
    enqueue_event(
        &mut tx,
        ACCOUNT_ERASED,
        &AccountErased {
            account_id: a.id.clone(),
        },
    )
    .await
    .map_err(store_err)?;
    tx.commit().await?;
    idp.revoke_access(&caller.0)
        .await
        .map_err(ApiError::internal)?;
    idp.relay.poke();
    tracing::info!(account = %a.id, "account erased");
    Ok(Envelope::ok(serde_json::json!({ "erased": true })))
}

#[utoipa::path(get, path = "/me/export", tag = "privacy",
    responses((status = 200, description = "Everything KREKI ID holds about the caller (machine-readable)", body = inline(Envelope<serde_json::Value>))),
    security(("bearer" = [])))]
async fn me_export(State(idp): St, caller: Caller) -> ApiResult<Envelope<serde_json::Value>> {
    let a = caller.account(&idp).await?;
    let pool = idp.store.db.pool();
    let consents: Vec<serde_json::Value> = sqlx::query("SELECT purpose, granted, at FROM consents WHERE account_id = $1 ORDER BY at")
        .bind(&a.id).fetch_all(pool).await?
        .iter().map(|r| Ok::<_, sqlx::Error>(serde_json::json!({ "purpose": r.try_get::<String, _>("purpose")?, "granted": r.try_get::<i64, _>("granted")? != 0, "at": rfc3339(r.try_get("at")?) })))
        .collect::<Result<_, _>>()?;
    let grants: Vec<serde_json::Value> = sqlx::query("SELECT client_id, scope, granted_at FROM client_grants WHERE account_id = $1")
        .bind(&a.id).fetch_all(pool).await?
        .iter().map(|r| Ok::<_, sqlx::Error>(serde_json::json!({ "client_id": r.try_get::<String, _>("client_id")?, "scope": r.try_get::<String, _>("scope")?, "granted_at": rfc3339(r.try_get("granted_at")?) })))
        .collect::<Result<_, _>>()?;
    let sessions: Vec<serde_json::Value> = sqlx::query("SELECT client_id, created_at, expires_at, revoked_at FROM refresh_tokens WHERE account_id = $1 ORDER BY created_at")
        .bind(&a.id).fetch_all(pool).await?
        .iter().map(|r| Ok::<_, sqlx::Error>(serde_json::json!({ "client_id": r.try_get::<String, _>("client_id")?, "issued_at": rfc3339(r.try_get("created_at")?), "expires_at": rfc3339(r.try_get("expires_at")?), "revoked": r.try_get::<Option<i64>, _>("revoked_at")?.is_some() })))
        .collect::<Result<_, _>>()?;
    let events: Vec<serde_json::Value> = sqlx::query("SELECT at, kind, ip, details FROM audit_log WHERE account_id = $1 ORDER BY at")
        .bind(&a.id).fetch_all(pool).await?
        .iter().map(|r| Ok::<_, sqlx::Error>(serde_json::json!({ "at": rfc3339(r.try_get("at")?), "kind": r.try_get::<String, _>("kind")?, "ip": r.try_get::<Option<String>, _>("ip")?, "details": serde_json::from_str::<serde_json::Value>(&r.try_get::<String, _>("details")?).unwrap_or_default() })))
        .collect::<Result<_, _>>()?;
    Ok(Envelope::ok(serde_json::json!({
        "format": "kreki-id-export/1",
        "exported_at": rfc3339(now_micros()),
        "account": UserView::from(&a),
        "mfa": { "totp_enabled": a.totp_enabled },
        "password": { "set": a.password_hash.is_some() },
        "consents": consents,
        "client_grants": grants,
        "refresh_tokens": sessions,
        "security_events": events,
    })))
}

pub const CONSENT_PURPOSES: &[&str] = &[
    "emergency_location",
    "health_data_sharing",
    "training_records",
    "marketing",
];

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub purpose: String,
    pub granted: bool,
    pub at: String,
}

async fn current_consents(idp: &Idp, account: &str) -> Result<Vec<ConsentView>, ApiError> {
    let rows =
        sqlx::query("SELECT purpose, granted, at FROM consents WHERE account_id = $1 ORDER BY at")
            .bind(account)
            .fetch_all(idp.store.db.pool())
            .await?;
    let mut latest: Vec<ConsentView> = Vec::new();
    for r in rows {
        let v = ConsentView {
            purpose: r.try_get("purpose")?,
            granted: r.try_get::<i64, _>("granted")? != 0,
            at: rfc3339(r.try_get("at")?),
        };
        latest.retain(|c| c.purpose != v.purpose);
        latest.push(v);
    }
    Ok(latest)
}

#[utoipa::path(get, path = "/me/consents", tag = "privacy",
    responses((status = 200, description = "The current consent per purpose, with when it was given or withdrawn", body = inline(Envelope<Vec<ConsentView>>))),
    security(("bearer" = [])))]
async fn consents_get(State(idp): St, caller: Caller) -> ApiResult<Envelope<Vec<ConsentView>>> {
    Ok(Envelope::ok(current_consents(&idp, &caller.0.sub).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// `emergency_location`, `health_data_sharing`, `training_records` or `marketing`.
    pub purpose: String,
    pub granted: bool,
}

#[utoipa::path(put, path = "/me/consents", tag = "privacy", request_body = ConsentBody,
    responses((status = 200, description = "Recorded (every change is kept with its time)", body = inline(Envelope<Vec<ConsentView>>)),
        (status = 422, description = "VALIDATION_PURPOSE_INVALID", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn consents_put(
    State(idp): St,
    caller: Caller,
    ApiJson(b): ApiJson<ConsentBody>,
) -> ApiResult<Envelope<Vec<ConsentView>>> {
    if !CONSENT_PURPOSES.contains(&b.purpose.as_str()) {
        return Err(field_invalid(
            "VALIDATION_PURPOSE_INVALID",
            "Tujuan persetujuan tidak dikenal",
            "Unknown consent purpose",
        ));
    }
    let mut tx = idp.store.db.begin().await?;
    sqlx::query(
        "INSERT INTO consents (id, account_id, purpose, granted, at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&caller.0.sub)
    .bind(&b.purpose)
    .bind(b.granted as i64)
    .bind(now_micros())
    .execute(&mut *tx)
    .await?;
    audit(
        &mut tx,
        "consent_changed",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        None,
        serde_json::json!({ "purpose": b.purpose, "granted": b.granted }),
    )
    .await?;
    tx.commit().await?;
    Ok(Envelope::ok(current_consents(&idp, &caller.0.sub).await?))
}

// ---- passwords and e-mail ---------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    pub current_password: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/change-password", tag = "account", request_body = ChangePasswordBody,
    responses((status = 200, description = "Changed; every other session is signed out", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS", body = ErrorEnvelope),
        (status = 422, description = "AUTH_PASSWORD_*", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn change_password(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<ChangePasswordBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    let mut a = caller.account(&idp).await?;
    if !idp
        .verify_password(&b.current_password, a.password_hash.clone())
        .await
    {
        return Err(invalid_credentials());
    }
    let personal = a.personal();
    password::check(&b.new_password, &personal).map_err(weak)?;
    a.password_hash = Some(
        idp.hash_password(&b.new_password)
            .await
            .map_err(ApiError::internal)?,
    );
    let mut tx = idp.store.db.begin().await?;
    Store::save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    Store::revoke_account_tokens(&mut tx, &a.id).await?;
    audit(
        &mut tx,
        "password_changed",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    idp.relay.poke();
    Ok(Envelope::ok(serde_json::json!({ "changed": true })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    pub email: String,
}

#[utoipa::path(post, path = "/forgot-password", tag = "account", request_body = ForgotBody,
    responses((status = 202, description = "Always accepted: a reset link is e-mailed if the address is registered (no enumeration)", body = inline(Envelope<serde_json::Value>))))]
async fn forgot_password(
    State(idp): St,
    ApiJson(b): ApiJson<ForgotBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    forgot(&idp, &b.email).await?;
    Ok(Envelope::accepted(
        serde_json::json!({ "sent_if_registered": true }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    pub token: String,
    pub new_password: String,
}

#[utoipa::path(post, path = "/reset-password", tag = "account", request_body = ResetBody,
    responses((status = 200, description = "Password set; all sessions signed out", body = inline(Envelope<serde_json::Value>)),
        (status = 400, description = "AUTH_RESET_TOKEN_INVALID", body = ErrorEnvelope),
        (status = 422, description = "AUTH_PASSWORD_*", body = ErrorEnvelope)))]
async fn reset_password(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<ResetBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    reset(&idp, &b.token, &b.new_password, ip).await?;
    Ok(Envelope::ok(serde_json::json!({ "reset": true })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailBody {
    pub token: String,
}

pub async fn verify_email_token(idp: &Idp, token: &str) -> Result<Account, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "AUTH_VERIFY_TOKEN_INVALID",
            Msg::new(
                "Tautan verifikasi tidak valid atau kedaluwarsa",
                "The verification link is invalid or has expired",
            ),
        )
    };
    let c = idp
        .store
        .take_token("email_verify", token)
        .await?
        .ok_or_else(invalid)?;
    let mut a = idp
        .store
        .account(c.account_id.as_deref().unwrap_or_default())
        .await?
        .ok_or_else(invalid)?;
    if a.pending_email.as_deref() == Some(c.target.as_str()) {
        // A new e-mail replaces the old one once its link is followed.
        a.email = Some(c.target.clone());
        a.pending_email = None;
    } else if a.email.as_deref() != Some(c.target.as_str()) {
        return Err(invalid());
    }
    a.email_verified = true;
    idp.save(&mut a).await.map_err(store_err)?;
    Ok(a)
}

#[utoipa::path(post, path = "/verify-email", tag = "account", request_body = VerifyEmailBody,
    responses((status = 200, description = "E-mail verified", body = inline(Envelope<UserView>)),
        (status = 400, description = "AUTH_VERIFY_TOKEN_INVALID", body = ErrorEnvelope)))]
async fn verify_email(
    State(idp): St,
    ApiJson(b): ApiJson<VerifyEmailBody>,
) -> ApiResult<Envelope<UserView>> {
    let a = verify_email_token(&idp, &b.token).await?;
    Ok(Envelope::ok((&a).into()))
}

#[utoipa::path(post, path = "/verify-email/resend", tag = "account",
    responses((status = 202, description = "A new link was sent (to the pending new e-mail if there is one)", body = inline(Envelope<serde_json::Value>)),
        (status = 409, description = "AUTH_EMAIL_ALREADY_VERIFIED", body = ErrorEnvelope),
        (status = 429, description = "AUTH_OTP_COOLDOWN", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn verify_email_resend(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
) -> ApiResult<Envelope<serde_json::Value>> {
    let a = caller.account(&idp).await?;
    let pending = a.pending_email.clone();
    let Some(email) = pending
        .clone()
        .or_else(|| a.email.clone().filter(|_| !a.email_verified))
    else {
        return Err(ApiError::conflict(
            "AUTH_EMAIL_ALREADY_VERIFIED",
            Msg::new(
                "Tidak ada e-mail yang perlu diverifikasi",
                "There is no e-mail to verify",
            ),
        ));
    };
    if idp
        .store
        .count_codes_since("email_verify", &email, now_micros() - 60_000_000)
        .await?
        > 0
    {
        return Err(otp_err(
            "AUTH_OTP_COOLDOWN",
            "Tunggu sebelum meminta tautan baru",
            "Wait before asking for a new link",
            60,
        ));
    }
    if pending.is_some() {
        send_to_new_address(&idp, &a, &email, ip).await?;
    } else {
        send_email_link(
            &idp,
            &a,
            &email,
            "email_verify",
            Template::EmailVerification,
            "/akun/verifikasi-email",
            86_400,
        )
        .await?;
    }
    Ok(Envelope::accepted(
        serde_json::json!({ "sent_to": mask_email(&email) }),
    ))
}

// ---- MFA management ---------------------------------------------------------------------

#[utoipa::path(post, path = "/mfa/totp/setup", tag = "mfa",
    responses((status = 200, description = "A new TOTP secret (QR); confirm with `POST /mfa/totp/enable`", body = inline(Envelope<TotpSetup>)),
        (status = 409, description = "AUTH_MFA_ALREADY_ENABLED", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn totp_setup(State(idp): St, caller: Caller) -> ApiResult<Envelope<TotpSetup>> {
    let mut a = caller.account(&idp).await?;
    if a.totp_enabled {
        return Err(ApiError::conflict(
            "AUTH_MFA_ALREADY_ENABLED",
            Msg::new("MFA sudah aktif", "MFA is already enabled"),
        ));
    }
    Ok(Envelope::ok(totp_provision(&idp, &mut a).await?))
}

#[utoipa::path(post, path = "/mfa/totp/enable", tag = "mfa", request_body = CodeBody,
    responses((status = 200, description = "Enabled; the recovery codes are shown once", body = inline(Envelope<Vec<String>>)),
        (status = 401, description = "AUTH_MFA_INVALID", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn totp_enable(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Envelope<Vec<String>>> {
    let mut a = caller.account(&idp).await?;
    let secret = a
        .totp_secret
        .clone()
        .filter(|_| !a.totp_enabled)
        .ok_or_else(mfa_invalid)?;
    let step = totp::verify(&secret, &b.code, now_micros() / 1_000_000, a.totp_last_step)
        .ok_or_else(mfa_invalid)?;
    a.totp_enabled = true;
    a.totp_last_step = step;
    let mut tx = idp.store.db.begin().await?;
    let codes = idp
        .new_recovery_codes(&mut tx, &a.id)
        .await
        .map_err(ApiError::internal)?;
    Store::save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    audit(
        &mut tx,
        "mfa_enabled",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({ "method": "totp" }),
    )
    .await?;
    tx.commit().await?;
    idp.relay.poke();
    Ok(Envelope::ok(codes))
}

#[utoipa::path(post, path = "/mfa/totp/disable", tag = "mfa", request_body = CodeBody,
    responses((status = 200, description = "Disabled", body = inline(Envelope<UserView>)),
        (status = 401, description = "AUTH_MFA_INVALID", body = ErrorEnvelope),
        (status = 409, description = "AUTH_MFA_MANDATORY (admin roles)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn totp_disable(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Envelope<UserView>> {
    let mut a = caller.account(&idp).await?;
    if a.role.requires_mfa() {
        return Err(ApiError::conflict(
            "AUTH_MFA_MANDATORY",
            Msg::new(
                "MFA wajib untuk peran ini",
                "MFA is mandatory for this role",
            ),
        ));
    }
    let secret = a
        .totp_secret
        .clone()
        .filter(|_| a.totp_enabled)
        .ok_or_else(mfa_invalid)?;
    totp::verify(&secret, &b.code, now_micros() / 1_000_000, a.totp_last_step)
        .ok_or_else(mfa_invalid)?;
    a.totp_enabled = false;
    a.totp_secret = None;
    let mut tx = idp.store.db.begin().await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
    Store::save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    audit(
        &mut tx,
        "mfa_disabled",
        Some(&a.id),
        Some(&a.id),
        Some(ip),
        serde_json::json!({ "method": "totp" }),
    )
    .await?;
    tx.commit().await?;
    idp.relay.poke();
    Ok(Envelope::ok((&a).into()))
}

// ---- passkeys (WebAuthn) ---------------------------------------------------------------

fn passkey_err(e: crate::passkeys::PasskeyError) -> ApiError {
    use crate::passkeys::PasskeyError as E;
    match e {
        E::Ceremony => ApiError::bad_request(
            "AUTH_PASSKEY_CEREMONY_INVALID",
            Msg::new(
                "Permintaan passkey kedaluwarsa; mulai lagi",
                "The passkey request expired; start again",
            ),
        ),
        E::Refused(why) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_PASSKEY_REFUSED",
            Msg::new("Passkey ditolak", "The passkey was refused"),
        )
        .details(serde_json::json!({ "reason": why })),
        E::Disabled => ApiError::new(
            StatusCode::NOT_FOUND,
            "AUTH_PASSKEYS_OFF",
            Msg::new(
                "Passkey tidak tersedia di situs ini",
                "Passkeys are not available on this site",
            ),
        ),
        E::NoPasskey => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_PASSKEY_UNAVAILABLE",
            Msg::new(
                "Tidak ada passkey untuk akun ini",
                "No passkey for this account",
            ),
        ),
        E::Db(e) => e.into(),
        E::Other(e) => ApiError::internal(e),
    }
}

/// A WebAuthn ceremony to hand to `navigator.credentials.create/get` (options as JSON).
#[derive(Debug, Serialize, ToSchema)]
pub struct Ceremony {
    pub ceremony: String,
    /// `PublicKeyCredentialCreationOptions` / `…RequestOptions` under `publicKey`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

fn ceremony(id: String, options: impl Serialize) -> Result<Ceremony, ApiError> {
    Ok(Ceremony {
        ceremony: id,
        options: serde_json::to_value(options).map_err(ApiError::internal)?,
    })
}

fn credential<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| {
        field_invalid(
            "VALIDATION_CREDENTIAL_INVALID",
            "Data passkey tidak valid",
            "Invalid passkey data",
        )
        .details(serde_json::json!({ "reason": e.to_string() }))
    })
}

#[utoipa::path(post, path = "/mfa/passkeys/register/start", tag = "mfa",
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Creation options for the authenticator", body = inline(Envelope<Ceremony>))),
    security(("bearer" = [])))]
async fn passkey_register_start(State(idp): St, caller: Caller) -> ApiResult<Envelope<Ceremony>> {
    let a = caller.account(&idp).await?;
    let (id, ccr) = idp
        .passkeys()
        .map_err(passkey_err)?
        .start_registration(&a)
        .await
        .map_err(passkey_err)?;
    Ok(Envelope::ok(ceremony(id, ccr)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyFinishBody {
    pub ceremony: String,
    /// A name for the list of passkeys ("HP Android").
    pub name: Option<String>,
    /// The `PublicKeyCredential` from the browser, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[utoipa::path(post, path = "/mfa/passkeys/register/finish", tag = "mfa", request_body = PasskeyFinishBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 201, description = "Registered; sign-ins now need it (or another factor) after the password", body = inline(Envelope<crate::passkeys::PasskeyInfo>)),
        (status = 400, description = "AUTH_PASSKEY_CEREMONY_INVALID", body = ErrorEnvelope),
        (status = 401, description = "AUTH_PASSKEY_REFUSED", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn passkey_register_finish(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<PasskeyFinishBody>,
) -> ApiResult<Envelope<crate::passkeys::PasskeyInfo>> {
    let name = b.name.unwrap_or_else(|| "Passkey".into());
    if name.trim().is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(field_invalid(
            "VALIDATION_NAME_INVALID",
            "Nama passkey 1-60 karakter",
            "Passkey name: 1-60 characters",
        ));
    }
    let cred = credential(b.credential)?;
    let info = idp
        .passkeys()
        .map_err(passkey_err)?
        .finish_registration(&caller.0.sub, &b.ceremony, name.trim(), &cred)
        .await
        .map_err(passkey_err)?;
    idp.audit_now(
        "mfa_enabled",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "method": "passkey" }),
    )
    .await?;
    Ok(Envelope::created(info))
}

#[utoipa::path(get, path = "/mfa/passkeys", tag = "mfa",
    responses((status = 200, description = "The caller's passkeys", body = inline(Envelope<Vec<crate::passkeys::PasskeyInfo>>))),
    security(("bearer" = [])))]
async fn passkeys_list(
    State(idp): St,
    caller: Caller,
) -> ApiResult<Envelope<Vec<crate::passkeys::PasskeyInfo>>> {
    match &idp.passkeys {
        Some(p) => Ok(Envelope::ok(p.list(&caller.0.sub).await?)),
        None => Ok(Envelope::ok(Vec::new())),
    }
}

#[utoipa::path(delete, path = "/mfa/passkeys/{id}", tag = "mfa", params(("id" = String, Path)),
    responses((status = 200, description = "Removed", body = inline(Envelope<serde_json::Value>)),
        (status = 404, description = "AUTH_PASSKEY_NOT_FOUND, or AUTH_PASSKEYS_OFF (passkeys are not available on this site)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn passkey_delete(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<serde_json::Value>> {
    if !idp
        .passkeys()
        .map_err(passkey_err)?
        .delete(&caller.0.sub, &id)
        .await?
    {
        return Err(ApiError::not_found(
            "AUTH_PASSKEY_NOT_FOUND",
            Msg::new("Passkey tidak ditemukan", "Passkey not found"),
        ));
    }
    idp.audit_now(
        "mfa_disabled",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "method": "passkey" }),
    )
    .await?;
    Ok(Envelope::ok(serde_json::json!({ "deleted": true })))
}

#[utoipa::path(post, path = "/login/mfa/passkey/start", tag = "mfa", request_body = TicketBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Request options for the second factor", body = inline(Envelope<Ceremony>)),
        (status = 401, description = "AUTH_MFA_INVALID, AUTH_PASSKEY_UNAVAILABLE", body = ErrorEnvelope)))]
async fn login_mfa_passkey_start(
    State(idp): St,
    ApiJson(b): ApiJson<TicketBody>,
) -> ApiResult<Envelope<Ceremony>> {
    let t = idp
        .store
        .peek_token("mfa", &b.mfa_token)
        .await?
        .ok_or_else(mfa_invalid)?;
    let (id, rcr) = idp
        .passkeys()
        .map_err(passkey_err)?
        .start_authentication(t.account_id.as_deref().unwrap_or_default())
        .await
        .map_err(passkey_err)?;
    Ok(Envelope::ok(ceremony(id, rcr)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertBody {
    #[serde(rename = "mfaToken")]
    pub mfa_token: Option<String>,
    pub ceremony: String,
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[utoipa::path(post, path = "/login/mfa/passkey/finish", tag = "mfa", request_body = PasskeyAssertBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Tokens", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_MFA_INVALID, AUTH_PASSKEY_REFUSED", body = ErrorEnvelope)))]
async fn login_mfa_passkey_finish(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<PasskeyAssertBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let ticket = b.mfa_token.ok_or_else(mfa_invalid)?;
    let t = idp
        .store
        .peek_token("mfa", &ticket)
        .await?
        .ok_or_else(mfa_invalid)?;
    let cred = credential(b.credential)?;
    let (account, _) = idp
        .passkeys()
        .map_err(passkey_err)?
        .finish_authentication(&b.ceremony, &cred)
        .await
        .map_err(passkey_err)?;
    if Some(account.as_str()) != t.account_id.as_deref() || !idp.store.consume_code(&t.id).await? {
        return Err(mfa_invalid());
    }
    let a = idp.store.account(&account).await?.ok_or_else(mfa_invalid)?;
    idp.audit_login(&a, "passkey", ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(&idp, &a, &format!("{} hwk mfa", t.target)).await?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginStart {
    /// E-mail, phone or member number.
    pub identifier: String,
}

#[utoipa::path(post, path = "/login/passkey/start", tag = "account", request_body = PasskeyLoginStart,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Request options (passwordless sign-in)", body = inline(Envelope<Ceremony>)),
        (status = 401, description = "AUTH_PASSKEY_UNAVAILABLE (also for unknown accounts)", body = ErrorEnvelope)))]
async fn login_passkey_start(
    State(idp): St,
    ApiJson(b): ApiJson<PasskeyLoginStart>,
) -> ApiResult<Envelope<Ceremony>> {
    let a = idp
        .find_account(&b.identifier)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| passkey_err(crate::passkeys::PasskeyError::NoPasskey))?;
    let (id, rcr) = idp
        .passkeys()
        .map_err(passkey_err)?
        .start_authentication(&a.id)
        .await
        .map_err(passkey_err)?;
    Ok(Envelope::ok(ceremony(id, rcr)?))
}

#[utoipa::path(post, path = "/login/passkey/finish", tag = "account", request_body = PasskeyAssertBody,
    responses(
        (status = 404, description = "AUTH_PASSKEYS_OFF: passkeys are not available on this site (no host name for WebAuthn)", body = ErrorEnvelope),
        (status = 200, description = "Tokens (a passkey with user verification is multi-factor by itself), or the MFA step", body = inline(Envelope<LoginResult>)),
        (status = 401, description = "AUTH_PASSKEY_REFUSED", body = ErrorEnvelope)))]
async fn login_passkey_finish(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<PasskeyAssertBody>,
) -> ApiResult<Envelope<LoginResult>> {
    let cred = credential(b.credential)?;
    let (account, verified) = idp
        .passkeys()
        .map_err(passkey_err)?
        .finish_authentication(&b.ceremony, &cred)
        .await
        .map_err(passkey_err)?;
    let a = idp
        .store
        .account(&account)
        .await?
        .ok_or_else(invalid_credentials)?;
    if !verified {
        // Possession only: a second factor is still needed where MFA applies.
        return after_first_factor(&idp, a, "hwk", ip).await;
    }
    idp.audit_login(&a, "passkey", ip)
        .await
        .map_err(ApiError::internal)?;
    let t = api_tokens(&idp, &a, "hwk user mfa").await?;
    Ok(Envelope::ok(tokens_result(&a, t, Vec::new())))
}

// ---- admin ------------------------------------------------------------------------------

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub kind: Option<String>,
    pub account_id: Option<String>,
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub kind: String,
    pub account_id: Option<String>,
    pub actor: Option<String>,
    /// Masked.
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, description = "Security events, newest first (personal data masked)", body = inline(Envelope<Vec<AuditEntry>>)),
        (status = 403, description = "Needs audit:read (Ops Admin, System Admin)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_audit(
    State(idp): St,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Envelope<Vec<AuditEntry>>> {
    caller.require(perm::AUDIT_READ)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let filter = "WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR account_id = $2)";
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM audit_log {filter}"))
        .bind(q.kind.clone().unwrap_or_default())
        .bind(q.account_id.clone().unwrap_or_default())
        .fetch_one(idp.store.db.pool())
        .await?;
    let rows = sqlx::query(&format!("SELECT id, at, kind, account_id, actor, ip, details FROM audit_log {filter} ORDER BY at DESC, id DESC LIMIT $3 OFFSET $4"))
        .bind(q.kind.unwrap_or_default())
        .bind(q.account_id.unwrap_or_default())
        .bind(i64::from(limit))
        .bind(i64::from(page - 1) * i64::from(limit))
        .fetch_all(idp.store.db.pool())
        .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok::<_, sqlx::Error>(AuditEntry {
                id: r.try_get("id")?,
                at: rfc3339(r.try_get("at")?),
                kind: r.try_get("kind")?,
                account_id: r.try_get("account_id")?,
                actor: r.try_get("actor")?,
                ip: r.try_get("ip")?,
                details: serde_json::from_str(&r.try_get::<String, _>("details")?)
                    .unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Envelope::ok(items).paged(Meta {
        page,
        limit,
        total: total as u64,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    pub client_id: Option<String>,
    pub name: String,
    pub confidential: bool,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    pub client: Client,
    /// Shown once (confidential clients).
    pub client_secret: Option<String>,
}

fn validate_client(b: &ClientBody) -> Result<(), ApiError> {
    let bad = |id, en| Err(field_invalid("VALIDATION_CLIENT_INVALID", id, en));
    if b.name.trim().is_empty() || b.name.len() > 100 {
        return bad(
            "Nama klien wajib (maks. 100)",
            "Client name is required (max. 100)",
        );
    }
    if b.grant_types.is_empty()
        || b.grant_types
            .iter()
            .any(|g| !crate::store::GRANTS.contains(&g.as_str()))
    {
        return bad("Jenis grant tidak dikenal", "Unknown grant type");
    }
    if b.grant_types.iter().any(|g| g == "client_credentials") && !b.confidential {
        return bad(
            "client_credentials hanya untuk klien rahasia",
            "client_credentials needs a confidential client",
        );
    }
    if b.grant_types.iter().any(|g| g == "authorization_code") && b.redirect_uris.is_empty() {
        return bad(
            "Alamat kembali wajib untuk authorization_code",
            "authorization_code needs redirect URIs",
        );
    }
    for u in b.redirect_uris.iter().chain(&b.post_logout_redirect_uris) {
        let ok = url::Url::parse(u).is_ok_and(|p| {
            p.fragment().is_none()
                && (p.scheme() == "https"
                    || (p.scheme() == "http"
                        && matches!(p.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))))
        });
        if !ok {
            return bad(
                "Alamat kembali harus https (http hanya untuk localhost), tanpa fragmen",
                "Redirect URIs must be https (http only for localhost), without a fragment",
            );
        }
    }
    if b.scopes
        .iter()
        .any(|s| s.is_empty() || s.len() > 64 || s.contains(char::is_whitespace))
    {
        return bad("Scope tidak valid", "Invalid scope");
    }
    if let Some(id) = &b.client_id
        && (id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)))
    {
        return bad(
            "client_id: huruf, angka, - _ . (maks. 64)",
            "client_id: letters, digits, - _ . (max. 64)",
        );
    }
    Ok(())
}

#[utoipa::path(get, path = "/admin/clients", tag = "admin",
    responses((status = 200, description = "Registered clients", body = inline(Envelope<Vec<Client>>)),
        (status = 403, description = "Needs client:manage (System Admin)", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_clients_list(State(idp): St, caller: Caller) -> ApiResult<Envelope<Vec<Client>>> {
    caller.require(perm::CLIENT_MANAGE)?;
    Ok(Envelope::ok(
        idp.clients
            .all()
            .await
            .iter()
            .map(|c| (**c).clone())
            .collect(),
    ))
}

#[utoipa::path(post, path = "/admin/clients", tag = "admin", request_body = ClientBody,
    responses((status = 201, description = "Created; a confidential client's secret is shown once", body = inline(Envelope<ClientCreated>)),
        (status = 409, description = "AUTH_CLIENT_EXISTS", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_CLIENT_INVALID", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_clients_create(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(b): ApiJson<ClientBody>,
) -> ApiResult<Envelope<ClientCreated>> {
    caller.require(perm::CLIENT_MANAGE)?;
    validate_client(&b)?;
    let id = b
        .client_id
        .clone()
        .unwrap_or_else(|| format!("c-{}", uuid::Uuid::now_v7().simple()));
    if idp.clients.get(&id).await.is_some() {
        return Err(ApiError::conflict(
            "AUTH_CLIENT_EXISTS",
            Msg::new("client_id sudah dipakai", "client_id is taken"),
        ));
    }
    let secret = b.confidential.then(random_token);
    let c = Client {
        client_id: id,
        name: b.name.trim().into(),
        confidential: b.confidential,
        first_party: b.first_party,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        grant_types: b.grant_types,
        scopes: b.scopes,
        source: "admin".into(),
        secret_hash: secret
            .as_ref()
            .map(|s| kreki_platform::types::sha256_hex(s.as_bytes())),
    };
    idp.clients.upsert(&c).await.map_err(ApiError::internal)?;
    admin_audit_event(
        &idp,
        "client_created",
        &caller,
        ip,
        serde_json::json!({ "client_id": c.client_id }),
    )
    .await?;
    Ok(Envelope::created(ClientCreated {
        client: c,
        client_secret: secret,
    }))
}

async fn admin_audit_event(
    idp: &Idp,
    kind: &str,
    caller: &Caller,
    ip: IpAddr,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    idp.audit_now(kind, None, Some(&caller.0.sub), Some(ip), details)
        .await?;
    Ok(())
}

fn client_not_found() -> ApiError {
    ApiError::not_found(
        "AUTH_CLIENT_NOT_FOUND",
        Msg::new("Klien tidak ditemukan", "Client not found"),
    )
}

#[utoipa::path(get, path = "/admin/clients/{client_id}", tag = "admin",
    params(("client_id" = String, Path)),
    responses((status = 200, description = "The client", body = inline(Envelope<Client>)),
        (status = 404, description = "AUTH_CLIENT_NOT_FOUND", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_client_get(
    State(idp): St,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<Client>> {
    caller.require(perm::CLIENT_MANAGE)?;
    let c = idp.clients.get(&id).await.ok_or_else(client_not_found)?;
    Ok(Envelope::ok((*c).clone()))
}

#[utoipa::path(put, path = "/admin/clients/{client_id}", tag = "admin",
    params(("client_id" = String, Path)), request_body = ClientBody,
    responses((status = 200, description = "Updated (the secret is kept)", body = inline(Envelope<Client>)),
        (status = 404, description = "AUTH_CLIENT_NOT_FOUND", body = ErrorEnvelope),
        (status = 422, description = "VALIDATION_CLIENT_INVALID", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_client_put(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ClientBody>,
) -> ApiResult<Envelope<Client>> {
    caller.require(perm::CLIENT_MANAGE)?;
    validate_client(&b)?;
    let old = idp.clients.get(&id).await.ok_or_else(client_not_found)?;
    if old.confidential != b.confidential {
        return Err(field_invalid(
            "VALIDATION_CLIENT_INVALID",
            "Jenis klien (rahasia/publik) tidak dapat diubah",
            "A client cannot change between confidential and public",
        ));
    }
    let c = Client {
        client_id: id,
        name: b.name.trim().into(),
        confidential: b.confidential,
        first_party: b.first_party,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        grant_types: b.grant_types,
        scopes: b.scopes,
        source: old.source.clone(),
        secret_hash: old.secret_hash.clone(),
    };
    idp.clients.upsert(&c).await.map_err(ApiError::internal)?;
    admin_audit_event(
        &idp,
        "client_updated",
        &caller,
        ip,
        serde_json::json!({ "client_id": c.client_id }),
    )
    .await?;
    Ok(Envelope::ok(c))
}

#[utoipa::path(delete, path = "/admin/clients/{client_id}", tag = "admin",
    params(("client_id" = String, Path)),
    responses((status = 200, description = "Deleted", body = inline(Envelope<serde_json::Value>)),
        (status = 404, description = "AUTH_CLIENT_NOT_FOUND", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_client_delete(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<serde_json::Value>> {
    caller.require(perm::CLIENT_MANAGE)?;
    if !idp.clients.delete(&id).await.map_err(ApiError::internal)? {
        return Err(client_not_found());
    }
    admin_audit_event(
        &idp,
        "client_deleted",
        &caller,
        ip,
        serde_json::json!({ "client_id": id }),
    )
    .await?;
    Ok(Envelope::ok(serde_json::json!({ "deleted": true })))
}

#[utoipa::path(post, path = "/admin/clients/{client_id}/secret", tag = "admin",
    params(("client_id" = String, Path)),
    responses((status = 200, description = "A new secret (shown once); the old one stops working", body = inline(Envelope<ClientCreated>)),
        (status = 404, description = "AUTH_CLIENT_NOT_FOUND", body = ErrorEnvelope),
        (status = 409, description = "AUTH_CLIENT_PUBLIC", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_client_secret(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Envelope<ClientCreated>> {
    caller.require(perm::CLIENT_MANAGE)?;
    let old = idp.clients.get(&id).await.ok_or_else(client_not_found)?;
    if !old.confidential {
        return Err(ApiError::conflict(
            "AUTH_CLIENT_PUBLIC",
            Msg::new(
                "Klien publik tidak memiliki rahasia",
                "Public clients have no secret",
            ),
        ));
    }
    let secret = random_token();
    let mut c = (*old).clone();
    c.secret_hash = Some(kreki_platform::types::sha256_hex(secret.as_bytes()));
    idp.clients.upsert(&c).await.map_err(ApiError::internal)?;
    admin_audit_event(
        &idp,
        "client_secret_rotated",
        &caller,
        ip,
        serde_json::json!({ "client_id": id }),
    )
    .await?;
    Ok(Envelope::ok(ClientCreated {
        client: c,
        client_secret: Some(secret),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: Role,
}

#[utoipa::path(put, path = "/admin/accounts/{id}/role", tag = "admin",
    params(("id" = String, Path)), request_body = RoleBody,
    responses((status = 200, description = "Role changed (published as identity.account.updated; admin roles must then enrol MFA)", body = inline(Envelope<UserView>)),
        (status = 403, description = "Needs role:assign (System Admin)", body = ErrorEnvelope),
        (status = 404, description = "AUTH_ACCOUNT_NOT_FOUND", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn admin_role(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RoleBody>,
) -> ApiResult<Envelope<UserView>> {
    caller.require(perm::ROLE_ASSIGN)?;
    let mut a = idp.store.account(&id).await?.ok_or_else(|| {
        ApiError::not_found(
            "AUTH_ACCOUNT_NOT_FOUND",
            Msg::new("Akun tidak ditemukan", "Account not found"),
        )
    })?;
    let old = a.role;
    a.role = b.role;
    let mut tx = idp.store.db.begin().await?;
    Store::save_account(&mut tx, &mut a)
        .await
        .map_err(store_err)?;
    // Tokens carry the role: sign the account out so that the new role applies at once.
    Store::revoke_account_tokens(&mut tx, &a.id).await?;
    audit(
        &mut tx,
        "role_changed",
        Some(&a.id),
        Some(&caller.0.sub),
        Some(ip),
        serde_json::json!({ "from": old.as_str(), "to": b.role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    idp.relay.poke();
    Ok(Envelope::ok((&a).into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RolePermissions {
    pub role: Role,
    pub permissions: Vec<String>,
}

#[utoipa::path(get, path = "/admin/permissions", tag = "admin",
    responses((status = 200, description = "The permission matrix in force (resource:action per role)", body = inline(Envelope<Vec<RolePermissions>>))),
    security(("bearer" = [])))]
async fn admin_permissions(
    State(idp): St,
    caller: Caller,
) -> ApiResult<Envelope<Vec<RolePermissions>>> {
    caller.require(perm::AUDIT_READ)?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT role, permission FROM permissions ORDER BY role, permission")
            .fetch_all(idp.store.db.pool())
            .await?;
    let out = Role::ALL
        .iter()
        .map(|r| RolePermissions {
            role: *r,
            permissions: rows
                .iter()
                .filter(|(x, _)| x == r.as_str())
                .map(|(_, p)| p.clone())
                .collect(),
        })
        .collect();
    Ok(Envelope::ok(out))
}

#[utoipa::path(post, path = "/admin/keys/rotate", tag = "admin",
    responses((status = 200, description = "A new signing key; the old one stays in the JWKS until its tokens expired", body = inline(Envelope<serde_json::Value>))),
    security(("bearer" = [])))]
async fn admin_rotate_keys(
    State(idp): St,
    ClientIp(ip): ClientIp,
    caller: Caller,
) -> ApiResult<Envelope<serde_json::Value>> {
    caller.require(perm::KEY_ROTATE)?;
    let kid = idp.keys.rotate().await.map_err(ApiError::internal)?;
    admin_audit_event(
        &idp,
        "signing_key_rotated",
        &caller,
        ip,
        serde_json::json!({ "kid": kid }),
    )
    .await?;
    Ok(Envelope::ok(serde_json::json!({ "kid": kid })))
}

/// Write the contract's permission matrix into the service's table.
pub async fn store_permissions(idp: &Idp) -> anyhow::Result<()> {
    let mut tx = idp.store.db.begin().await?;
    sqlx::query("DELETE FROM permissions")
        .execute(&mut *tx)
        .await?;
    for r in Role::ALL {
        for p in r.permissions() {
            sqlx::query("INSERT INTO permissions (role, permission) VALUES ($1, $2)")
                .bind(r.as_str())
                .bind(*p)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}
