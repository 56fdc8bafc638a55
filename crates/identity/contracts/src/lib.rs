//! Contract of KREKI ID: roles and the account events. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const ACCOUNT_CREATED: &str = "identity.account.created";
pub const ACCOUNT_UPDATED: &str = "identity.account.updated";
pub const ACCOUNT_ERASED: &str = "identity.account.erased";
/// A consent given or withdrawn ([`ConsentChanged`]): services that process data under a
/// purpose keep the latest decision per account in a table of their own.
pub const CONSENT_CHANGED: &str = "identity.consent.changed";

/// Consent purposes (UU 27/2022) that other services act on.
pub mod consent {
    /// Keeping a signed-in caller's precise emergency location after the case (the Emergency
    /// Core). Without it the location of a closed case is kept coarsened (about 1 km).
    pub const EMERGENCY_LOCATION: &str = "emergency_location";
    /// Sending the caller's clinical record to SATUSEHAT (the bridge). Withdrawn: the send is
    /// held for Ops review.
    pub const HEALTH_DATA_SHARING: &str = "health_data_sharing";
}

/// Payload of `identity.consent.changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentChanged {
    pub account_id: String,
    /// `emergency_location`, `health_data_sharing`, `training_records`, `marketing`.
    pub purpose: String,
    pub granted: bool,
    /// Unix microseconds of the decision: a consumer keeps the latest (events may overtake).
    pub at: i64,
}

/// Live (not stored) subject on which KREKI ID publishes the whole list of revoked access
/// tokens every few seconds ([`Revocations`]): every process of every service applies it to
/// its bearer check, so a logout or an erasure closes every API within seconds. A full list
/// each time: a process that starts, or missed a message, is right again at the next one.
pub const REVOCATIONS_SUBJECT: &str = "identity.revocations";

/// Payload on [`REVOCATIONS_SUBJECT`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocations {
    /// Revoked access tokens: `jti` and when the token expires (Unix seconds).
    pub tokens: Vec<RevokedToken>,
    /// Accounts whose every access token issued before `not_before` is revoked (password
    /// change or reset, role change, erasure).
    pub accounts: Vec<RevokedAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedToken {
    pub jti: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedAccount {
    pub account_id: String,
    /// Unix milliseconds: tokens issued before it (`iat_ms`, else the end of the `iat`
    /// second) are refused.
    pub not_before_ms: i64,
    /// Unix seconds: after it no token issued before `not_before` can still be valid.
    pub expires_at: i64,
}

/// Roles of the org standard, as they appear in the `roles` claim of access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Public,
    Volunteer,
    VolunteerLead,
    TrainingAdmin,
    OpsAdmin,
    SystemAdmin,
    Partner,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Public,
        Role::Volunteer,
        Role::VolunteerLead,
        Role::TrainingAdmin,
        Role::OpsAdmin,
        Role::SystemAdmin,
        Role::Partner,
    ];

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Volunteer => "volunteer",
            Role::VolunteerLead => "volunteer_lead",
            Role::TrainingAdmin => "training_admin",
            Role::OpsAdmin => "ops_admin",
            Role::SystemAdmin => "system_admin",
            Role::Partner => "partner",
        }
    }

    /// MFA is mandatory for these roles.
    pub fn requires_mfa(self) -> bool {
        matches!(
            self,
            Role::TrainingAdmin | Role::OpsAdmin | Role::SystemAdmin
        )
    }
}

/// Permissions (resource × action) as `resource:action` strings. The matrix below is the
/// source of truth: KREKI ID stores it (and serves it to admins), and every service checks a
/// caller's roles against it with [`roles_permit`].
pub mod perm {
    pub const CASE_CREATE: &str = "case:create";
    pub const CASE_READ_OWN: &str = "case:read_own";
    pub const CASE_CANCEL_OWN: &str = "case:cancel_own";
    pub const CASE_READ_ASSIGNED: &str = "case:read_assigned";
    pub const CASE_RESPOND: &str = "case:respond";
    pub const CASE_COMPLETE: &str = "case:complete";
    pub const CASE_READ_ALL: &str = "case:read_all";
    pub const CASE_MANAGE: &str = "case:manage";
    pub const VOLUNTEER_NEARBY: &str = "volunteer:nearby";
    pub const PRESENCE_OWN: &str = "presence:manage_own";
    pub const AED_MANAGE: &str = "aed:manage";
    pub const PROFILE_OWN: &str = "profile:manage_own";
    pub const VOLUNTEER_READ_TEAM: &str = "volunteer:read_team";
    /// Review volunteers' documents and decide their verification: within the area an admin
    /// set for a Volunteer Lead ([`LEAD_AREA_ASSIGN`]), everywhere with [`AREA_ANY`].
    pub const VOLUNTEER_VERIFY: &str = "volunteer:verify";
    /// Set the area (BPS city code) in which a Volunteer Lead acts.
    pub const LEAD_AREA_ASSIGN: &str = "lead_area:assign";
    /// Act in every area: area-scoped permissions (volunteer review) are not limited to the
    /// caller's assigned area.
    pub const AREA_ANY: &str = "area:any";
    pub const COURSE_LEARN: &str = "course:learn";
    pub const COURSE_MANAGE: &str = "course:manage";
    pub const CERTIFICATE_ISSUE: &str = "certificate:issue";
    pub const CERTIFICATE_REVOKE: &str = "certificate:revoke";
    pub const BRIDGE_READ: &str = "bridge:read";
    pub const BRIDGE_CALLBACK: &str = "bridge:callback";
    /// Replay, discard or complete (patient identity) SATUSEHAT exchanges.
    pub const BRIDGE_MANAGE: &str = "bridge:manage";
    /// Read health records: a SATUSEHAT job's exchanges with their FHIR bodies. Ops Admins
    /// only (they fix refused sends); every read is written to the bridge's access log.
    pub const HEALTH_RECORD_READ: &str = "health_record:read";
    pub const NOTIFICATION_READ: &str = "notification:read";
    /// Ask notify to send a message (operators; machine clients with the `notify.send` scope).
    pub const NOTIFICATION_SEND: &str = "notification:send";
    pub const AUDIT_READ: &str = "audit:read";
    pub const ACCOUNT_MANAGE: &str = "account:manage";
    pub const ROLE_ASSIGN: &str = "role:assign";
    pub const CLIENT_MANAGE: &str = "client:manage";
    pub const KEY_ROTATE: &str = "key:rotate";
}

use perm::*;

const PUBLIC: &[&str] = &[
    CASE_CREATE,
    CASE_READ_OWN,
    CASE_CANCEL_OWN,
    PROFILE_OWN,
    COURSE_LEARN,
];
const VOLUNTEER: &[&str] = &[
    CASE_CREATE,
    CASE_READ_OWN,
    CASE_CANCEL_OWN,
    PROFILE_OWN,
    COURSE_LEARN,
    PRESENCE_OWN,
    CASE_READ_ASSIGNED,
    CASE_RESPOND,
    CASE_COMPLETE,
];
const VOLUNTEER_LEAD: &[&str] = &[
    CASE_CREATE,
    CASE_READ_OWN,
    CASE_CANCEL_OWN,
    PROFILE_OWN,
    COURSE_LEARN,
    PRESENCE_OWN,
    CASE_READ_ASSIGNED,
    CASE_RESPOND,
    CASE_COMPLETE,
    VOLUNTEER_READ_TEAM,
    VOLUNTEER_VERIFY,
];
const TRAINING_ADMIN: &[&str] = &[
    PROFILE_OWN,
    COURSE_LEARN,
    COURSE_MANAGE,
    CERTIFICATE_ISSUE,
    CERTIFICATE_REVOKE,
    VOLUNTEER_READ_TEAM,
    CASE_READ_OWN,
    CASE_CANCEL_OWN,
];
const OPS_ADMIN: &[&str] = &[
    PROFILE_OWN,
    CASE_CREATE,
    CASE_READ_ALL,
    CASE_MANAGE,
    CASE_COMPLETE,
    VOLUNTEER_NEARBY,
    VOLUNTEER_READ_TEAM,
    VOLUNTEER_VERIFY,
    LEAD_AREA_ASSIGN,
    AREA_ANY,
    AED_MANAGE,
    BRIDGE_READ,
    BRIDGE_MANAGE,
    HEALTH_RECORD_READ,
    NOTIFICATION_READ,
    NOTIFICATION_SEND,
    AUDIT_READ,
    CASE_READ_OWN,
    CASE_CANCEL_OWN,
    COURSE_LEARN,
];
const SYSTEM_ADMIN: &[&str] = &[
    PROFILE_OWN,
    CASE_READ_ALL,
    CASE_MANAGE,
    VOLUNTEER_NEARBY,
    AED_MANAGE,
    BRIDGE_READ,
    BRIDGE_MANAGE,
    NOTIFICATION_READ,
    NOTIFICATION_SEND,
    AUDIT_READ,
    LEAD_AREA_ASSIGN,
    AREA_ANY,
    ACCOUNT_MANAGE,
    ROLE_ASSIGN,
    CLIENT_MANAGE,
    KEY_ROTATE,
    CASE_READ_OWN,
    CASE_CANCEL_OWN,
    CASE_COMPLETE,
    COURSE_LEARN,
];
const PARTNER: &[&str] = &[BRIDGE_CALLBACK];

impl Role {
    /// Parse a claim value.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// What this role may do (`resource:action`).
    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            Role::Public => PUBLIC,
            Role::Volunteer => VOLUNTEER,
            Role::VolunteerLead => VOLUNTEER_LEAD,
            Role::TrainingAdmin => TRAINING_ADMIN,
            Role::OpsAdmin => OPS_ADMIN,
            Role::SystemAdmin => SYSTEM_ADMIN,
            Role::Partner => PARTNER,
        }
    }
}

/// Whether any of `roles` (claim values; unknown ones grant nothing) has `permission`.
pub fn roles_permit<S: AsRef<str>>(roles: &[S], permission: &str) -> bool {
    roles
        .iter()
        .filter_map(|r| Role::parse(r.as_ref()))
        .any(|r| r.permissions().contains(&permission))
}

/// Payload of `identity.account.created|updated` (what notify keeps in its directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountChanged {
    pub account_id: String,
    pub member_number: String,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    pub language: String,
    #[serde(default)]
    pub notification_channels: Vec<String>,
    pub version: i64,
}

/// Payload of `identity.account.erased`: every service erases or anonymises its copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountErased {
    pub account_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix() {
        assert!(roles_permit(&["ops_admin"], perm::CASE_READ_ALL));
        assert!(!roles_permit(&["volunteer"], perm::CASE_READ_ALL));
        assert!(!roles_permit(&["volunteer", "bogus"], perm::AUDIT_READ));
        assert!(roles_permit(&["public", "volunteer"], perm::CASE_RESPOND));
        assert!(!roles_permit::<&str>(&[], perm::CASE_CREATE));
        assert!(Role::ALL.iter().all(|r| !r.permissions().is_empty()));
    }

    #[test]
    fn who_verifies_volunteers() {
        // Leads within the area an admin set for them, Ops Admins everywhere; the Training
        // Admin trains and certifies, but does not verify identities.
        assert!(roles_permit(&["volunteer_lead"], perm::VOLUNTEER_VERIFY));
        assert!(!roles_permit(&["volunteer_lead"], perm::AREA_ANY));
        assert!(!roles_permit(&["volunteer_lead"], perm::LEAD_AREA_ASSIGN));
        assert!(roles_permit(&["ops_admin"], perm::VOLUNTEER_VERIFY));
        assert!(roles_permit(&["ops_admin"], perm::AREA_ANY));
        assert!(!roles_permit(&["training_admin"], perm::VOLUNTEER_VERIFY));
        assert!(roles_permit(&["system_admin"], perm::LEAD_AREA_ASSIGN));
    }

    #[test]
    fn who_reads_health_records() {
        // The exchanges with SATUSEHAT carry FHIR records: Ops Admins, who fix refused sends,
        // read them (each read logged); the System Admin runs the platform, not the cases.
        assert!(roles_permit(&["ops_admin"], perm::HEALTH_RECORD_READ));
        for r in Role::ALL.iter().filter(|r| **r != Role::OpsAdmin) {
            assert!(
                !r.permissions().contains(&perm::HEALTH_RECORD_READ),
                "{r:?}"
            );
        }
    }

    #[test]
    fn role_names_match_serde() {
        for r in Role::ALL {
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
    }
}
