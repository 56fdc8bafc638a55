//! The security audit log (IPs masked, no personal data) and the permission table.

use kreki_platform::{storage::Tx, time_util::now_micros};
use sqlx::Row;

use super::common::Store;

/// Write one audit record inside a transaction. `ip` is stored masked (last octet/segment).
pub async fn audit(
    tx: &mut Tx,
    kind: &str,
    account_id: Option<&str>,
    actor: Option<&str>,
    ip: Option<std::net::IpAddr>,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, kind, account_id, actor, ip, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now_micros())
    .bind(kind)
    .bind(account_id)
    .bind(actor)
    .bind(ip.map(mask_ip))
    .bind(details.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub fn mask_ip(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.x", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::x", s[0], s[1], s[2])
        }
    }
}

/// One audit record as stored (`details` is JSON text).
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub account_id: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub details: String,
}

impl Store {
    /// A page of the audit log, newest first, filtered by kind and account ("" = any), and
    /// the number of matching records.
    pub async fn audit_page(
        &self,
        kind: &str,
        account_id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<AuditRow>), sqlx::Error> {
        let filter = "WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR account_id = $2)";
        let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM audit_log {filter}"))
            .bind(kind)
            .bind(account_id)
            .fetch_one(self.db.pool())
            .await?;
        let rows = sqlx::query(&format!("SELECT id, at, kind, account_id, actor, ip, details FROM audit_log {filter} ORDER BY at DESC, id DESC LIMIT $3 OFFSET $4"))
            .bind(kind)
            .bind(account_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.db.pool())
            .await?;
        Ok((total, rows.iter().map(audit_row).collect::<Result<_, _>>()?))
    }

    /// Every audit record of one account, oldest first (for its export).
    pub async fn audit_of(&self, account_id: &str) -> Result<Vec<AuditRow>, sqlx::Error> {
        sqlx::query("SELECT id, at, kind, account_id, actor, ip, details FROM audit_log WHERE account_id = $1 ORDER BY at")
            .bind(account_id)
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(audit_row)
            .collect()
    }

    /// Replace the permission table with `rows` (role, permission).
    pub async fn write_permissions(&self, rows: &[(&str, &str)]) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM permissions")
            .execute(&mut *tx)
            .await?;
        for (role, permission) in rows {
            sqlx::query("INSERT INTO permissions (role, permission) VALUES ($1, $2)")
                .bind(*role)
                .bind(*permission)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// The permission table: (role, permission), ordered.
    pub async fn permissions(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as("SELECT role, permission FROM permissions ORDER BY role, permission")
            .fetch_all(self.db.pool())
            .await
    }
}

fn audit_row(r: &sqlx::any::AnyRow) -> Result<AuditRow, sqlx::Error> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        account_id: r.try_get("account_id")?,
        actor: r.try_get("actor")?,
        ip: r.try_get("ip")?,
        details: r.try_get("details")?,
    })
}
