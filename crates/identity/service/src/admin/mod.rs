//! Administration: the audit log (`audit`), roles, the permission matrix and signing keys
//! (`roles`), OAuth clients (`clients`), the first System Admin (`bootstrap`).

pub mod audit;
pub mod bootstrap;
pub mod clients;
pub mod roles;
