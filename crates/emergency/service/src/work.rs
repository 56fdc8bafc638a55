//! A transaction of the Emergency Core that wakes the outbox relay by itself: events go into
//! the outbox through [`Work::enqueue`], in the transaction of the change they announce, and
//! committing a transaction that holds any wakes the relay (no `poke()` after a commit).
//! Everything else about it is the storage kit's transaction ([`Tx`], through `Deref`).

use std::{
    ops::{Deref, DerefMut},
    sync::Arc,
};

use kreki_platform::{
    bus::{
        Event,
        outbox::{self, RelayState},
    },
    storage::{Db, Tx},
};

pub struct Work {
    tx: Tx,
    relay: Arc<RelayState>,
    events: bool,
}

impl Work {
    pub async fn begin(db: &Db, relay: &Arc<RelayState>) -> Result<Work, sqlx::Error> {
        Ok(Work {
            tx: db.begin().await?,
            relay: relay.clone(),
            events: false,
        })
    }

    /// Put an event in the outbox (published once this transaction commits).
    pub async fn enqueue(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        outbox::enqueue(&mut self.tx, event).await?;
        self.events = true;
        Ok(())
    }

    /// Commit; the relay wakes if events were written.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await?;
        if self.events {
            self.relay.poke();
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for Work {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for Work {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}
