//! The events the Emergency Core consumes: volunteers' eligibility (kept in memory and in the
//! store), PSC 119's status callbacks (added to the case timeline) and callers'
//! `emergency_location` consents (kept in `consents`, applied to closed cases).

use std::sync::Arc;

use kreki_bridge_contracts::Psc119Status;
use kreki_platform::{
    bus::{
        Event,
        consumer::{AfterCommit, HandleError, Handler},
    },
    storage::Tx,
};
use kreki_volunteers_contracts::EligibilityChanged;

use crate::{
    presence::{Live, eligibility_from, store_eligibility},
    store::{Store, timeline_add},
};

/// `identity.consent.changed`: the latest `emergency_location` decision per account. A
/// withdrawal coarsens the locations of the account's closed cases at once (open ones when
/// they close); the location of an open case stays exact (help is on its way).
pub struct ConsentHandler;

#[async_trait::async_trait]
impl Handler for ConsentHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let c: kreki_identity_contracts::ConsentChanged = event.decode()?;
        if c.purpose != kreki_identity_contracts::consent::EMERGENCY_LOCATION {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO consents (account_id, purpose, granted, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, purpose) DO UPDATE SET granted = excluded.granted, at = excluded.at \
             WHERE consents.at < excluded.at",
        )
        .bind(&c.account_id)
        .bind(&c.purpose)
        .bind(i64::from(c.granted))
        .bind(c.at)
        .execute(&mut **tx)
        .await?;
        Store::coarsen_closed_locations(tx, &c.account_id).await?;
        Ok(())
    }
}

pub struct EligibilityHandler {
    pub live: Arc<Live>,
}

#[async_trait::async_trait]
impl Handler for EligibilityHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let ev: EligibilityChanged = event.decode()?;
        let e = eligibility_from(&ev);
        store_eligibility(tx, &ev, &e).await?;
        let live = self.live.clone();
        after.then(move || {
            live.set_eligibility(&ev.volunteer_id, e);
        });
        Ok(())
    }
}

/// PSC 119 status callbacks (from the bridge) go into the case timeline.
pub struct Psc119Handler;

#[async_trait::async_trait]
impl Handler for Psc119Handler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let ev: Psc119Status = event.decode()?;
        let known = sqlx::query("SELECT 1 FROM cases WHERE id = $1")
            .bind(&ev.case_id)
            .fetch_optional(&mut **tx)
            .await?;
        if known.is_none() {
            return Err(HandleError::Reject(anyhow::anyhow!(
                "PSC 119 status for an unknown case"
            )));
        }
        let kind = format!("psc119_{}", ev.status);
        timeline_add(
            tx,
            &ev.case_id,
            &kind,
            Some("psc119"),
            &serde_json::json!({ "at": ev.at, "details": ev.details }),
        )
        .await?;
        Ok(())
    }
}
