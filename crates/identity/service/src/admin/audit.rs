//! The security audit log for admins, and how admin actions are recorded in it.

use std::net::IpAddr;

use axum::extract::{Query, State};
use kreki_identity_contracts::perm;
use kreki_platform::{
    ApiError, ApiResult, Envelope,
    error::{ErrorEnvelope, Meta},
    time_util::rfc3339,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    http::{Caller, St},
    idp::Idp,
};

pub async fn admin_audit_event(
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
pub async fn admin_audit(
    State(idp): St,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Envelope<Vec<AuditEntry>>> {
    caller.require(perm::AUDIT_READ)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let page = q.page.unwrap_or(1).max(1);
    let (total, rows) = idp
        .store
        .audit_page(
            q.kind.as_deref().unwrap_or_default(),
            q.account_id.as_deref().unwrap_or_default(),
            i64::from(limit),
            i64::from(page - 1) * i64::from(limit),
        )
        .await?;
    let items: Vec<AuditEntry> = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: rfc3339(r.at),
            kind: r.kind,
            account_id: r.account_id,
            actor: r.actor,
            ip: r.ip,
            details: serde_json::from_str(&r.details).unwrap_or_default(),
        })
        .collect();
    Ok(Envelope::ok(items).paged(Meta {
        page,
        limit,
        total: total as u64,
    }))
}
