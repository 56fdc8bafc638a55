//! Registration: the same answer whether an address is free or taken, throttled before the
//! (deliberately slow) password hash.

use std::net::IpAddr;

use axum::extract::State;
use kreki_identity_contracts::Role;
use kreki_notify_contracts::Template;
use kreki_platform::{
    ApiError, ApiResult, Envelope,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    http::{St, field_invalid, normalize_email, normalize_phone, store_err, weak},
    idp::Idp,
    notices::{notify_address, send_email_link},
    password,
    store::{Account, NewAccount, StoreError},
};

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
pub async fn registration_hash(idp: &Idp, pw: &str, ip: IpAddr) -> Result<String, ApiError> {
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
pub fn ip_block(ip: IpAddr) -> String {
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

#[utoipa::path(post, path = "/register", tag = "account", request_body = RegisterBody,
    responses(
        (status = 202, description = "Accepted, the same answer whether the e-mail or phone was free or already registered (no account enumeration): a new account is created and a verification e-mail sent; the owner of an address already registered is told by e-mail or SMS instead. Sign in next.", body = inline(Envelope<serde_json::Value>)),
        (status = 422, description = "AUTH_PASSWORD_*, VALIDATION_*", body = ErrorEnvelope),
        (status = 429, description = "RATE_LIMITED (per IP, overall, or the registration queue is full) with Retry-After", body = ErrorEnvelope),
    ))]
pub async fn register(
    State(idp): St,
    ClientIp(ip): ClientIp,
    ApiJson(b): ApiJson<RegisterBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    register_account(&idp, b, ip).await?;
    Ok(Envelope::accepted(
        serde_json::json!({ "status": "accepted" }),
    ))
}
