//! The events the Emergency Core consumes: volunteers' eligibility (kept in memory and in the
//! store) and PSC 119's status callbacks (added to the case timeline).

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
    store::timeline_add,
};

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
