//! Contract of the LMS: certificate events. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const CERTIFICATE_ISSUED: &str = "lms.certificate.issued";
pub const CERTIFICATE_REVOKED: &str = "lms.certificate.revoked";
pub const CERTIFICATE_EXPIRING: &str = "lms.certificate.expiring";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Basic,
    Plus,
    Instructor,
}

/// Payload of the three certificate events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CertificateEvent {
    /// `BHD-BASIC-2026-0001`.
    pub certificate_id: String,
    /// KREKI ID subject of the holder.
    pub holder_id: String,
    pub level: Level,
    /// RFC 3339.
    pub valid_until: String,
    #[serde(default)]
    pub reason: Option<String>,
}
