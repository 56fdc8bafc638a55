//! What every handler and use-case of the Emergency Core shares. No module below the HTTP
//! handlers imports them; this module imports only the parts it holds.

use std::sync::Arc;

use kreki_platform::{
    bus::outbox::RelayState,
    storage::ratelimit::{MemoryRateLimiter, RateLimiter},
};

use crate::{
    aed::Registry, config::EmergencyConfig, dispatch::Dispatcher, presence::Live, store::Store,
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
    /// dispatchable when they go on duty (see `demo::eligible_on_duty`).
    pub demo: bool,
}
