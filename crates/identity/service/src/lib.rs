//! KREKI ID: the identity service and OpenID Connect provider every KREKI app signs in
//! through. Accounts with member numbers, password / phone-code / TOTP sign-in, the REST API
//! of the org standard (`/api/auth/v1`), an OIDC provider at the site root (authorization code
//! with PKCE, refresh rotation with reuse detection, client credentials, userinfo,
//! revocation, introspection, RP-initiated logout), login pages at `/akun/`, roles and the
//! permission matrix, the security audit log, consents, export and erasure.

//!
//! Folders by feature, over lower shared modules:
//! - `account/` registration, profile, passwords, e-mail verification, privacy rights;
//! - `login/` password, phone codes, MFA, passkeys (and what a first factor leads to);
//! - `oidc/` the OpenID Connect provider (with its consent page);
//! - `admin/` audit log, roles, permission matrix, keys, clients;
//! - `pages/` the login pages at `/akun/`;
//! - below them: `http` (caller, views, error mapping), `notices` (messages through notify),
//!   `ui` (page building blocks), `idp` (token issuance, sign-in throttles, MFA tickets),
//!   `store/` (SQL by aggregate), `webauthn`, `keys`, `clients`, `password`, `totp`, `web`,
//!   `reauth` (proving it is the holder again before a sensitive change), `sealing`
//!   (signing keys and TOTP secrets encrypted at rest);
//! - `routes` wires the REST API and its OpenAPI document.

pub mod access;
pub mod account;
pub mod admin;
pub mod clients;
pub mod config;
pub mod demo;
pub mod http;
pub mod idp;
pub mod keys;
pub mod login;
pub mod notices;
pub mod oidc;
pub mod pages;
pub mod password;
pub mod reauth;
pub mod routes;
pub mod sealing;
pub mod store;
pub mod totp;
pub mod ui;
pub mod web;
pub mod webauthn;

use std::{collections::HashMap, sync::Arc, time::Duration};

use kreki_platform::{
    config::{Config, ConfigError},
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::Migration,
};
use tokio::sync::RwLock;

use crate::config::IdentityConfig;

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "identity",
        sqlite: include_str!("../migrations/sqlite/0001_identity.sql"),
        postgres: include_str!("../migrations/postgres/0001_identity.sql"),
    },
    Migration {
        version: 2,
        name: "passkeys",
        sqlite: include_str!("../migrations/sqlite/0002_passkeys.sql"),
        postgres: include_str!("../migrations/postgres/0002_passkeys.sql"),
    },
    Migration {
        version: 3,
        name: "revoked_accounts",
        sqlite: include_str!("../migrations/sqlite/0003_revoked_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0003_revoked_accounts.sql"),
    },
    Migration {
        version: 4,
        name: "pending_contacts",
        sqlite: include_str!("../migrations/sqlite/0004_pending_contacts.sql"),
        postgres: include_str!("../migrations/postgres/0004_pending_contacts.sql"),
    },
    Migration {
        version: 5,
        name: "id_token_alg",
        sqlite: include_str!("../migrations/sqlite/0005_id_token_alg.sql"),
        postgres: include_str!("../migrations/postgres/0005_id_token_alg.sql"),
    },
];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "identity",
        segments: &["auth"],
        default_port: 8201,
        migrations: MIGRATIONS,
        build,
        check_config,
        routes: access::ROUTES,
    }
}

fn check_config(cfg: &Config) -> Result<(), ConfigError> {
    cfg.service_section::<IdentityConfig>("identity")?
        .validate()
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let cfg = Arc::new(ctx.config.service_section::<IdentityConfig>("identity")?);
        cfg.validate()?;
        let longest = Duration::from_secs(cfg.access_token_ttl_s.max(cfg.id_token_ttl_s));
        // Signing keys and TOTP secrets are sealed at rest; rows from before are sealed now.
        let sealer = Arc::new(match &cfg.encryption_secret {
            Some(s) => sealing::Sealer::from_secret(s.expose())?,
            None => sealing::Sealer::from_key_file(&ctx.config.data_dir)?,
        });
        let store = store::Store::with_sealer(ctx.db.clone(), sealer.clone());
        let resealed = store.reseal().await?;
        if resealed > 0 {
            tracing::info!(
                resealed,
                "secrets at rest sealed with the current data-encryption key"
            );
        }
        let keys = Arc::new(
            keys::KeyRing::open(
                ctx.db.clone(),
                sealer,
                Duration::from_secs(cfg.key_rotation_days * 86_400),
                longest,
            )
            .await?,
        );
        let mut seeds = clients::builtin(&ctx.base_url);
        seeds.extend(cfg.clients.iter().map(clients::from_seed));
        let registry = clients::Registry::open(ctx.db.clone(), seeds).await?;
        if registry
            .all()
            .await
            .iter()
            .any(|c| c.id_token_signed_response_alg == keys::Alg::Rs256.as_str())
        {
            keys.ensure_rsa().await?;
        }
        let issuer = ctx.base_url.trim_end_matches('/').to_string();
        let rp_id = match &cfg.webauthn_rp_id {
            Some(r) => r.clone(),
            None => url::Url::parse(&issuer)?
                .host_str()
                .unwrap_or("localhost")
                .to_string(),
        };
        // WebAuthn needs a domain (not an IP address) as relying-party id.
        let passkeys = match webauthn::Passkeys::new(ctx.db.clone(), &rp_id, &issuer) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(rp_id = %rp_id, error = %e, "passkeys are off: the public base URL needs a host name (e.g. http://localhost:8119) or set identity.webauthn_rp_id");
                None
            }
        };
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        let idp = Arc::new(idp::Idp {
            store,
            passkeys,
            keys,
            clients: registry,
            cfg,
            secure_cookies: issuer.starts_with("https://"),
            issuer,
            limiter: ctx.limiter.clone(),
            revoked: RwLock::new(HashMap::new()),
            revoked_accounts: RwLock::new(HashMap::new()),
            hash_slots: tokio::sync::Semaphore::new(slots),
            register_slots: tokio::sync::Semaphore::new((slots / 2).max(1)),
            register_queue: tokio::sync::Semaphore::new(slots.max(2) * 4),
        });
        idp.reload_revoked().await?;
        admin::roles::store_permissions(&idp).await?;
        if ctx.demo.is_some() {
            demo::seed(&idp).await?;
        }
        ctx.spawn(idp.clone().upkeep());
        ctx.spawn(idp.clone().publish_revocations(ctx.bus.clone()));
        let (api, openapi) = routes::router(idp.clone());
        let mut pages = oidc::router(idp.clone()).merge(pages::router(idp.clone()));
        if idp.secure() {
            // Every cookie of the pages is `Secure` when the site is served over https.
            pages = pages.layer(axum::middleware::map_response(
                |res: axum::response::Response| async move { ui::secure_cookies(res) },
            ));
        }
        Ok(Built {
            api,
            openapi,
            pages,
            verifier: Some(Arc::new(idp::OwnTokens(idp))),
        })
    })
}
