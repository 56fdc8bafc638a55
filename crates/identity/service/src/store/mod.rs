//! KREKI ID's records, one file per aggregate: accounts (`accounts`), refresh tokens,
//! sessions and revocations (`tokens`), one-time codes, recovery codes, authorization codes
//! and sign-in throttles (`codes`), consents and client grants (`consents`), the audit log
//! and the permission table (`audit`). Portable SQL (SQLite and PostgreSQL).

mod accounts;
mod audit;
mod codes;
mod common;
mod consents;
mod tokens;

pub use accounts::{Account, NewAccount, TOTP_AAD, enqueue_account};
pub use audit::{AuditRow, audit, mask_ip};
pub use codes::{AuthCode, OneTimeCode};
pub use common::{GRANTS, Store, StoreError, enqueue_event, hash_token, random_token};
pub use consents::ConsentRow;
pub use tokens::{Grant, RefreshOutcome, RefreshRow};
