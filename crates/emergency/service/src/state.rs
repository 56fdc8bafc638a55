//! What the service shares, and the narrow part each feature's routes take from it.
//!
//! The features do not import this module: each declares what its use-cases work with
//! ([`Cases`], [`Presence`], [`Aeds`], the database for well-being) and axum hands it to
//! their handlers through the [`FromRef`] impls below. Only the router (`http.rs`), the
//! descriptor (`lib.rs`) and the modules that need most of it (the Ops console, the sockets,
//! the outbox alarm, the demo) use `AppState` itself.

use std::sync::Arc;

use axum::extract::FromRef;
use kreki_platform::{
    bus::outbox::RelayState,
    storage::{
        Db,
        ratelimit::{MemoryRateLimiter, RateLimiter},
    },
};

use crate::{
    aed::{Registry, http::Aeds},
    cases::Cases,
    config::EmergencyConfig,
    dispatch::Dispatcher,
    presence::{Live, duty::Presence},
    store::Store,
};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub live: Arc<Live>,
    pub dispatcher: Arc<Dispatcher>,
    pub aeds: Arc<Registry>,
    pub relay: Arc<RelayState>,
    pub limiter: Arc<dyn RateLimiter>,
    /// The per-address ceiling of panics, in this process's memory (a second's window).
    pub panic_ceiling: Arc<MemoryRateLimiter>,
    pub config: Arc<EmergencyConfig>,
    /// `kreki up --demo`: volunteer accounts without an eligibility record yet are made
    /// dispatchable when they go on duty (see `presence::duty::demo_eligible_on_duty`).
    pub demo: bool,
}

impl AppState {
    /// What the case use-cases work with.
    pub fn cases(&self) -> Cases {
        Cases {
            store: self.store.clone(),
            relay: self.relay.clone(),
            dispatcher: self.dispatcher.clone(),
            aeds: self.aeds.clone(),
            limiter: self.limiter.clone(),
            panic_ceiling: self.panic_ceiling.clone(),
            config: self.config.clone(),
        }
    }
}

impl FromRef<AppState> for Cases {
    fn from_ref(st: &AppState) -> Cases {
        st.cases()
    }
}

impl FromRef<AppState> for Presence {
    fn from_ref(st: &AppState) -> Presence {
        Presence {
            live: st.live.clone(),
            db: st.store.db().clone(),
            relay: st.relay.clone(),
            limiter: st.limiter.clone(),
            config: st.config.clone(),
            demo: st.demo,
        }
    }
}

impl FromRef<AppState> for Aeds {
    fn from_ref(st: &AppState) -> Aeds {
        Aeds {
            aeds: st.aeds.clone(),
            config: st.config.clone(),
        }
    }
}

impl FromRef<AppState> for Db {
    fn from_ref(st: &AppState) -> Db {
        st.store.db().clone()
    }
}
