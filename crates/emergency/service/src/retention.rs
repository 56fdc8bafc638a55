//! Retention (data architecture): cases 10 years after closing with everything recorded
//! about them, raw inbound SMS after 2 years, expired socket tickets.

use crate::store::Store;

impl Store {
    /// Retention: delete cases closed before `closed_before` with everything recorded about
    /// them, raw SMS received before `sms_before`, and expired socket tickets. Open cases are
    /// never touched, whatever their age.
    pub async fn prune(
        &self,
        closed_before: i64,
        sms_before: i64,
        now: i64,
    ) -> Result<Pruned, sqlx::Error> {
        let mut tx = self.db().begin().await?;
        let old = "SELECT id FROM cases WHERE closed_at IS NOT NULL AND closed_at < $1 \
                   AND status NOT IN ('pending', 'assigned', 'responding')";
        for table in [
            "responders",
            "offers",
            "timeline",
            "dispatch_leases",
            "wellbeing_checkins",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE case_id IN ({old})"))
                .bind(closed_before)
                .execute(&mut *tx)
                .await?;
        }
        let cases = sqlx::query(&format!("DELETE FROM cases WHERE id IN ({old})"))
            .bind(closed_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let sms = sqlx::query("DELETE FROM sms_inbound WHERE received_at < $1")
            .bind(sms_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let tickets = sqlx::query("DELETE FROM ws_tickets WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(Pruned {
            cases,
            sms,
            tickets,
        })
    }
}

/// Rows removed by a retention sweep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub cases: u64,
    pub sms: u64,
    pub tickets: u64,
}
