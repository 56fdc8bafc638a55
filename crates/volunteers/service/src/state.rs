//! What every handler shares (the profile and review routes in `http`, the leads' areas in
//! `areas`): the service's database.

use kreki_platform::storage::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
}
