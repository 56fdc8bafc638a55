//! Administration: the audit log (`audit`), roles, the permission matrix and signing keys
//! (`roles`), OAuth clients (`clients`).

pub mod audit;
pub mod clients;
pub mod roles;
