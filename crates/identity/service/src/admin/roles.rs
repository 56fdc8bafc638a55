//! Roles and the permission matrix, and signing-key rotation.

use axum::extract::{Path, State};
use kreki_identity_contracts::{Role, perm};
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::admin_audit_event;
use crate::{
    http::{Caller, St, UserView, store_err},
    idp::Idp,
    store::{Store, audit},
};

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
pub async fn admin_role(
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
    idp.store
        .save_account(&mut tx, &mut a)
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
pub async fn admin_permissions(
    State(idp): St,
    caller: Caller,
) -> ApiResult<Envelope<Vec<RolePermissions>>> {
    caller.require(perm::AUDIT_READ)?;
    let rows = idp.store.permissions().await?;
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
pub async fn admin_rotate_keys(
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
    let rows: Vec<(&str, &str)> = Role::ALL
        .iter()
        .flat_map(|r| r.permissions().iter().map(move |p| (r.as_str(), *p)))
        .collect();
    idp.store.write_permissions(&rows).await?;
    Ok(())
}
