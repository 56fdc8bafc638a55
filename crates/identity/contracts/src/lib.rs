//! Contract of KREKI ID: roles and the account events. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const ACCOUNT_CREATED: &str = "identity.account.created";
pub const ACCOUNT_UPDATED: &str = "identity.account.updated";
pub const ACCOUNT_ERASED: &str = "identity.account.erased";

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
    fn role_names_match_serde() {
        for r in Role::ALL {
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
    }
}
