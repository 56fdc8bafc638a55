//! Contract of the volunteers service: the eligibility event the Emergency Core keeps a
//! local copy of. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const ELIGIBILITY_CHANGED: &str = "volunteers.eligibility.changed";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertLevel {
    None,
    Basic,
    Plus,
    Instructor,
}

/// `volunteers.eligibility.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EligibilityChanged {
    /// = KREKI ID subject.
    pub volunteer_id: String,
    pub verified: bool,
    pub cert_level: CertLevel,
    /// RFC 3339; the Emergency Core checks expiry itself.
    #[serde(default)]
    pub cert_valid_until: Option<String>,
    pub health_professional: bool,
    #[serde(default)]
    pub skills: Vec<String>,
    /// Weekly availability, opaque to consumers that do not use it.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub schedule: serde_json::Value,
    /// Monotonic per volunteer; consumers ignore older versions.
    pub version: i64,
}
