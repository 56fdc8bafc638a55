//! Contract of the integration bridge: PSC 119 status events. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PSC119_STATUS: &str = "bridge.psc119.status";

/// `bridge.psc119.status`, added by the Emergency Core to the case timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Psc119Status {
    pub case_id: String,
    /// `handed_off`, `acknowledged`, `ambulance_dispatched`, `en_route`, `arrived`,
    /// `patient_transferred`, `failed`.
    pub status: String,
    /// RFC 3339.
    pub at: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}
