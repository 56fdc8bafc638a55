//! Privacy rights (UU 27/2022): consents per purpose, export, erasure.

use axum::extract::State;
use kreki_identity_contracts::{ACCOUNT_ERASED, AccountErased, CONSENT_CHANGED, ConsentChanged};
use kreki_platform::{
    ApiError, ApiResult, Envelope,
    error::ErrorEnvelope,
    http::{ApiJson, ClientIp},
    time_util::{now_micros, rfc3339},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    http::{Caller, St, UserView, field_invalid, invalid_credentials, store_err},
    idp::Idp,
    store::{Store, audit, enqueue_event},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    pub password: String,
}

#[utoipa::path(delete, path = "/me", tag = "privacy", request_body = EraseBody,
    responses((status = 200, description = "Account erased; `identity.account.erased` tells every other service", body = inline(Envelope<serde_json::Value>)),
        (status = 401, description = "AUTH_INVALID_CREDENTIALS", body = ErrorEnvelope)),
    security(("bearer" = [])))]
pub async fn me_delete(
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
    Store::erase_account(&mut tx, &a.id).await?;
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
    tracing::info!(account = %a.id, "account erased");
    Ok(Envelope::ok(serde_json::json!({ "erased": true })))
}

#[utoipa::path(get, path = "/me/export", tag = "privacy",
    responses((status = 200, description = "Everything KREKI ID holds about the caller (machine-readable)", body = inline(Envelope<serde_json::Value>))),
    security(("bearer" = [])))]
pub async fn me_export(State(idp): St, caller: Caller) -> ApiResult<Envelope<serde_json::Value>> {
    let a = caller.account(&idp).await?;
    let consents: Vec<serde_json::Value> = idp
        .store
        .consents(&a.id)
        .await?
        .iter()
        .map(|c| serde_json::json!({ "purpose": c.purpose, "granted": c.granted, "at": rfc3339(c.at) }))
        .collect();
    let grants: Vec<serde_json::Value> = idp
        .store
        .client_grants(&a.id)
        .await?
        .iter()
        .map(|(client_id, scope, at)| serde_json::json!({ "client_id": client_id, "scope": scope, "granted_at": rfc3339(*at) }))
        .collect();
    let sessions: Vec<serde_json::Value> = idp
        .store
        .refresh_tokens_of(&a.id)
        .await?
        .iter()
        .map(|r| serde_json::json!({ "client_id": r.client_id, "issued_at": rfc3339(r.created_at), "expires_at": rfc3339(r.expires_at), "revoked": r.revoked_at.is_some() }))
        .collect();
    let events: Vec<serde_json::Value> = idp
        .store
        .audit_of(&a.id)
        .await?
        .iter()
        .map(|e| serde_json::json!({ "at": rfc3339(e.at), "kind": e.kind, "ip": e.ip, "details": serde_json::from_str::<serde_json::Value>(&e.details).unwrap_or_default() }))
        .collect();
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

pub async fn current_consents(idp: &Idp, account: &str) -> Result<Vec<ConsentView>, ApiError> {
    let mut latest: Vec<ConsentView> = Vec::new();
    for c in idp.store.consents(account).await? {
        let v = ConsentView {
            purpose: c.purpose,
            granted: c.granted,
            at: rfc3339(c.at),
        };
        latest.retain(|c| c.purpose != v.purpose);
        latest.push(v);
    }
    Ok(latest)
}

#[utoipa::path(get, path = "/me/consents", tag = "privacy",
    responses((status = 200, description = "The current consent per purpose, with when it was given or withdrawn", body = inline(Envelope<Vec<ConsentView>>))),
    security(("bearer" = [])))]
pub async fn consents_get(State(idp): St, caller: Caller) -> ApiResult<Envelope<Vec<ConsentView>>> {
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
pub async fn consents_put(
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
    Store::add_consent(&mut tx, &caller.0.sub, &b.purpose, b.granted).await?;
    audit(
        &mut tx,
        "consent_changed",
        Some(&caller.0.sub),
        Some(&caller.0.sub),
        None,
        serde_json::json!({ "purpose": b.purpose, "granted": b.granted }),
    )
    .await?;
    // The services that act on a consent keep their own copy (emergency, bridge).
    enqueue_event(
        &mut tx,
        CONSENT_CHANGED,
        &ConsentChanged {
            account_id: caller.0.sub.clone(),
            purpose: b.purpose.clone(),
            granted: b.granted,
            at: now_micros(),
        },
    )
    .await
    .map_err(store_err)?;
    tx.commit().await?;
    Ok(Envelope::ok(current_consents(&idp, &caller.0.sub).await?))
}
