//! Contract of the Emergency Core: case events consumed by the bridge and others. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const CASE_ESCALATED: &str = "emergency.case.escalated";
pub const CASE_COMPLETED: &str = "emergency.case.completed";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Urgent,
    Normal,
}

impl Severity {
    /// PSC 119 priority: critical → SEV-1 → P1, urgent → SEV-2 → P2, normal → SEV-3 → P3.
    pub fn psc119_priority(self) -> &'static str {
        match self {
            Severity::Critical => "P1",
            Severity::Urgent => "P2",
            Severity::Normal => "P3",
        }
    }
    pub fn sev(self) -> &'static str {
        match self {
            Severity::Critical => "SEV-1",
            Severity::Urgent => "SEV-2",
            Severity::Normal => "SEV-3",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_mapping() {
        assert_eq!(Severity::Critical.psc119_priority(), "P1");
        assert_eq!(Severity::Urgent.sev(), "SEV-2");
        assert_eq!(Severity::Normal.psc119_priority(), "P3");
    }
}
