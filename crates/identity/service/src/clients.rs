//! Registered OAuth 2.0 / OIDC clients: the KREKI web apps (built-in public clients),
//! clients from configuration, and clients made by a System Admin through the admin API.

use std::{collections::HashMap, sync::Arc};

use kreki_platform::{storage::Db, time_util::now_micros, types::sha256_hex};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use subtle::ConstantTimeEq;
use tokio::sync::RwLock;
use utoipa::ToSchema;

use crate::config::ClientSeed;

/// A client as the admin API shows it (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub first_party: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// `builtin`, `config` or `admin`.
    pub source: String,
    /// The algorithm of this client's ID tokens: `ES256` (the default) or `RS256`.
    #[serde(default = "default_alg")]
    pub id_token_signed_response_alg: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
}

fn default_alg() -> String {
    "ES256".into()
}

impl Client {
    /// The algorithm of this client's ID tokens.
    pub fn id_token_alg(&self) -> crate::keys::Alg {
        crate::keys::Alg::parse(&self.id_token_signed_response_alg)
            .unwrap_or(crate::keys::Alg::Es256)
    }

    pub fn allows_grant(&self, g: &str) -> bool {
        self.grant_types.iter().any(|x| x == g)
    }

    pub fn check_secret(&self, secret: &str) -> bool {
        match &self.secret_hash {
            Some(h) => {
                let got = sha256_hex(secret.as_bytes());
                bool::from(got.as_bytes().ct_eq(h.as_bytes()))
            }
            None => false,
        }
    }

    /// Scopes of `requested` this client may ask for (unknown ones are dropped).
    pub fn allowed_scopes(&self, requested: &str) -> Vec<String> {
        requested
            .split_whitespace()
            .filter(|s| self.scopes.iter().any(|a| a == s))
            .map(str::to_string)
            .collect()
    }
}

/// Pages of the admin area (one per service that has one) that `kreki-admin` may return to.
pub const ADMIN_PAGES: &[&str] = &["/admin/notify/", "/admin/bridge/"];

/// The KREKI web apps: public clients (authorization code + PKCE), first party.
pub fn builtin(base_url: &str) -> Vec<Client> {
    let base = base_url.trim_end_matches('/');
    [
        ("kreki-caller", "HELP 119", "/"),
        ("kreki-relawan", "HELP 119 Relawan", "/relawan/"),
        ("kreki-ops", "HELP 119 Ops", "/ops/"),
        ("kreki-belajar", "KREKI Belajar", "/belajar/"),
        ("kreki-admin", "KREKI Admin", "/admin/"),
    ]
    .into_iter()
    .map(|(id, name, path)| Client {
        client_id: id.into(),
        name: name.into(),
        confidential: false,
        first_party: true,
        redirect_uris: {
            let mut uris = vec![format!("{base}{path}"), format!("{base}{path}callback")];
            if id == "kreki-admin" {
                uris.extend(ADMIN_PAGES.iter().map(|p| format!("{base}{p}")));
            }
            uris
        },
        post_logout_redirect_uris: vec![format!("{base}{path}")],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: ["openid", "profile", "email", "phone", "offline_access"]
            .map(String::from)
            .to_vec(),
        source: "builtin".into(),
        id_token_signed_response_alg: default_alg(),
        secret_hash: None,
    })
    .collect()
}

pub fn from_seed(s: &ClientSeed) -> Client {
    Client {
        client_id: s.client_id.clone(),
        name: s.name.clone(),
        confidential: s.confidential,
        first_party: s.first_party,
        redirect_uris: s.redirect_uris.clone(),
        post_logout_redirect_uris: s.post_logout_redirect_uris.clone(),
        grant_types: s.grant_types.clone(),
        scopes: s.scopes.clone(),
        source: "config".into(),
        id_token_signed_response_alg: s
            .id_token_signed_response_alg
            .clone()
            .unwrap_or_else(default_alg),
        secret_hash: s
            .client_secret
            .as_ref()
            .map(|x| sha256_hex(x.expose().as_bytes())),
    }
}

fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn unlist(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// A client's columns bound as $1..$12 (`now` is $11, the ID token algorithm $12).
fn bind_client<'q>(
    sql: &'q str,
    c: &'q Client,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(sql)
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(c.confidential as i64)
        .bind(c.first_party as i64)
        .bind(list(&c.redirect_uris))
        .bind(list(&c.post_logout_redirect_uris))
        .bind(list(&c.grant_types))
        .bind(list(&c.scopes))
        .bind(&c.source)
        .bind(now)
        .bind(&c.id_token_signed_response_alg)
}

/// Clients, cached in memory (every token request needs one); admin changes write through.
pub struct Registry {
    db: Db,
    cache: RwLock<HashMap<String, Arc<Client>>>,
}

impl Registry {
    pub async fn open(db: Db, seeds: Vec<Client>) -> anyhow::Result<Self> {
        let r = Self {
            db,
            cache: RwLock::new(HashMap::new()),
        };
        for c in seeds {
            r.upsert(&c).await?;
        }
        r.reload().await?;
        Ok(r)
    }

    pub async fn reload(&self) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "SELECT client_id, name, secret_hash, confidential, first_party, redirect_uris, post_logout_redirect_uris, grant_types, scopes, source, id_token_alg FROM clients",
        )
        .fetch_all(self.db.pool())
        .await?;
        let mut map = HashMap::new();
        for r in rows {
            let c = Client {
                client_id: r.try_get("client_id")?,
                name: r.try_get("name")?,
                secret_hash: r.try_get("secret_hash")?,
                confidential: r.try_get::<i64, _>("confidential")? != 0,
                first_party: r.try_get::<i64, _>("first_party")? != 0,
                redirect_uris: unlist(&r.try_get::<String, _>("redirect_uris")?),
                post_logout_redirect_uris: unlist(
                    &r.try_get::<String, _>("post_logout_redirect_uris")?,
                ),
                grant_types: unlist(&r.try_get::<String, _>("grant_types")?),
                scopes: unlist(&r.try_get::<String, _>("scopes")?),
                source: r.try_get("source")?,
                id_token_signed_response_alg: r.try_get("id_token_alg")?,
            };
            map.insert(c.client_id.clone(), Arc::new(c));
        }
        *self.cache.write().await = map;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.cache.read().await.get(id).cloned()
    }

    pub async fn all(&self) -> Vec<Arc<Client>> {
        let mut v: Vec<_> = self.cache.read().await.values().cloned().collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }

    /// Insert or replace a client (keeps the stored secret when `c` has none and is confidential).
    pub async fn upsert(&self, c: &Client) -> anyhow::Result<()> {
        let now = now_micros();
        // Write first (a SQLite transaction that starts with a read may not become a
        // writer). A confidential client without a new secret keeps its stored one.
        let mut tx = self.db.begin().await?;
        let updated = bind_client(
            "UPDATE clients SET name = $2, secret_hash = CASE WHEN $4 = 0 THEN NULL ELSE COALESCE($3, secret_hash) END, \
             confidential = $4, first_party = $5, redirect_uris = $6, post_logout_redirect_uris = $7, grant_types = $8, \
             scopes = $9, source = $10, updated_at = $11, id_token_alg = $12 WHERE client_id = $1",
            c,
            now,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            bind_client(
                "INSERT INTO clients (client_id, name, secret_hash, confidential, first_party, redirect_uris, \
                 post_logout_redirect_uris, grant_types, scopes, source, created_at, updated_at, id_token_alg) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)",
                c,
                now,
            )
            .execute(&mut *tx)
            .await?;
        }
        let (secret,): (Option<String>,) =
            sqlx::query_as("SELECT secret_hash FROM clients WHERE client_id = $1")
                .bind(&c.client_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        let mut stored = c.clone();
        stored.secret_hash = secret;
        self.cache
            .write()
            .await
            .insert(c.client_id.clone(), Arc::new(stored));
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> anyhow::Result<bool> {
        let n = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(id)
            .execute(self.db.writer())
            .await?
            .rows_affected();
        self.cache.write().await.remove(id);
        Ok(n == 1)
    }
}
