//! What every handler shares (the profile and review routes in `http`, the leads' areas in
//! `areas`): the service's database and its outbox relay.

use std::sync::Arc;

use kreki_platform::{bus::outbox::RelayState, storage::Db};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub relay: Arc<RelayState>,
}
