//! OAuth 2.0 / OIDC clients, managed by a System Admin.

use axum::extract::{Path, State};
use kreki_identity_contracts::perm;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::admin_audit_event;
use crate::{
    clients::Client,
    http::{Caller, St, field_invalid},
    store::random_token,
};

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
    /// The algorithm of the client's ID tokens: `ES256` (the default) or `RS256`
    /// (OpenID Connect Dynamic Client Registration's name). Left out on an update: kept.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    pub client: Client,
    /// Shown once (confidential clients).
    pub client_secret: Option<String>,
}

pub fn validate_client(b: &ClientBody) -> Result<(), ApiError> {
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
    if let Some(alg) = &b.id_token_signed_response_alg
        && crate::keys::Alg::parse(alg).is_none()
    {
        return bad(
            "id_token_signed_response_alg: ES256 atau RS256",
            "id_token_signed_response_alg: ES256 or RS256",
        );
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
pub async fn admin_clients_list(
    State(idp): St,
    caller: Caller,
) -> ApiResult<Envelope<Vec<Client>>> {
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
pub async fn admin_clients_create(
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
        id_token_signed_response_alg: b
            .id_token_signed_response_alg
            .unwrap_or_else(|| "ES256".into()),
        secret_hash: secret
            .as_ref()
            .map(|s| kreki_platform::types::sha256_hex(s.as_bytes())),
    };
    ensure_key(&idp, &c).await?;
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

/// An RS256 client needs the RSA key in the JWKS before its first ID token.
async fn ensure_key(idp: &crate::idp::Idp, c: &Client) -> Result<(), ApiError> {
    if c.id_token_alg() == crate::keys::Alg::Rs256 {
        idp.keys.ensure_rsa().await.map_err(ApiError::internal)?;
    }
    Ok(())
}

pub fn client_not_found() -> ApiError {
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
pub async fn admin_client_get(
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
pub async fn admin_client_put(
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
        id_token_signed_response_alg: b
            .id_token_signed_response_alg
            .unwrap_or_else(|| old.id_token_signed_response_alg.clone()),
        secret_hash: old.secret_hash.clone(),
    };
    ensure_key(&idp, &c).await?;
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
pub async fn admin_client_delete(
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
pub async fn admin_client_secret(
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
