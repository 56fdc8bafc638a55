//! Cases: from the panic (app or SMS) to completion. Use-cases here own their transactions and
//! know nothing of axum; `http.rs` holds the thin handlers of the case routes.
//!
//! - `intake`: a new case from `POST /panic` or the SMS webhook (validation, limits, the
//!   record, the dispatch start);
//! - `respond`: a volunteer's answer to an offer and their open offers;
//! - `status`: a responder's status, and a cancellation;
//! - `complete`: completion with the outcome and the clinical record;
//! - `view`: a case as its caller, responders and Ops see it.

pub mod complete;
pub mod http;
pub mod intake;
pub mod respond;
pub mod status;
pub mod view;

use std::sync::Arc;

use kreki_platform::{
    bus::outbox::RelayState,
    storage::ratelimit::{MemoryRateLimiter, RateLimiter},
};

use crate::{aed::Registry, config::EmergencyConfig, dispatch::Dispatcher, store::Store};

/// What the case use-cases work with: the store and its outbox relay, the dispatch tasks
/// they start and wake, the AED registry shown with a case, the limits of the panic button,
/// the configuration. Built from the service's state for each request (`state.rs`).
#[derive(Clone)]
pub struct Cases {
    pub store: Store,
    pub relay: Arc<RelayState>,
    pub dispatcher: Arc<Dispatcher>,
    pub aeds: Arc<Registry>,
    pub limiter: Arc<dyn RateLimiter>,
    /// The per-address ceiling of panics, in this process's memory (a second's window).
    pub panic_ceiling: Arc<MemoryRateLimiter>,
    pub config: Arc<EmergencyConfig>,
}
