//! Contract of the Emergency Core: case events consumed by the bridge and others. No I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const CASE_ESCALATED: &str = "emergency.case.escalated";
pub const CASE_COMPLETED: &str = "emergency.case.completed";
/// A responder accepted a case or reported a new status (points and badges in volunteers).
pub const RESPONDER_STATUS: &str = "emergency.responder.status";

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

/// Kinds of emergency, with the keyword of the SMS fallback (`DARURAT … <JENIS> …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmergencyType {
    CardiacArrest,
    Unconscious,
    Breathing,
    Choking,
    Bleeding,
    Trauma,
    Stroke,
    Seizure,
    Burn,
    Drowning,
    Childbirth,
    Other,
}

impl EmergencyType {
    pub const ALL: &'static [EmergencyType] = &[
        EmergencyType::CardiacArrest,
        EmergencyType::Unconscious,
        EmergencyType::Breathing,
        EmergencyType::Choking,
        EmergencyType::Bleeding,
        EmergencyType::Trauma,
        EmergencyType::Stroke,
        EmergencyType::Seizure,
        EmergencyType::Burn,
        EmergencyType::Drowning,
        EmergencyType::Childbirth,
        EmergencyType::Other,
    ];

    /// The SMS keyword (`JENIS`) → type; an unknown keyword is `other`.
    pub fn from_sms_keyword(word: &str) -> EmergencyType {
        match word.trim().to_ascii_uppercase().as_str() {
            "JANTUNG" => EmergencyType::CardiacArrest,
            "PINGSAN" => EmergencyType::Unconscious,
            "SESAK" | "NAPAS" | "NAFAS" => EmergencyType::Breathing,
            "TERSEDAK" => EmergencyType::Choking,
            "PENDARAHAN" | "PERDARAHAN" => EmergencyType::Bleeding,
            "KECELAKAAN" => EmergencyType::Trauma,
            "STROKE" => EmergencyType::Stroke,
            "KEJANG" => EmergencyType::Seizure,
            "BAKAR" | "LUKA BAKAR" => EmergencyType::Burn,
            "TENGGELAM" => EmergencyType::Drowning,
            "MELAHIRKAN" => EmergencyType::Childbirth,
            _ => EmergencyType::Other,
        }
    }

    /// The wire name (`cardiac_arrest`).
    pub fn as_str(self) -> &'static str {
        match self {
            EmergencyType::CardiacArrest => "cardiac_arrest",
            EmergencyType::Unconscious => "unconscious",
            EmergencyType::Breathing => "breathing",
            EmergencyType::Choking => "choking",
            EmergencyType::Bleeding => "bleeding",
            EmergencyType::Trauma => "trauma",
            EmergencyType::Stroke => "stroke",
            EmergencyType::Seizure => "seizure",
            EmergencyType::Burn => "burn",
            EmergencyType::Drowning => "drowning",
            EmergencyType::Childbirth => "childbirth",
            EmergencyType::Other => "other",
        }
    }
}

/// Case states. Escalation to PSC 119 is a flag with timeline events, not a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// No accept yet.
    Pending,
    /// At least one responder accepted.
    Assigned,
    /// At least one responder arrived.
    Responding,
    Completed,
    Cancelled,
}

impl CaseStatus {
    pub fn is_open(self) -> bool {
        !matches!(self, CaseStatus::Completed | CaseStatus::Cancelled)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Pending => "pending",
            CaseStatus::Assigned => "assigned",
            CaseStatus::Responding => "responding",
            CaseStatus::Completed => "completed",
            CaseStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<CaseStatus> {
        [
            CaseStatus::Pending,
            CaseStatus::Assigned,
            CaseStatus::Responding,
            CaseStatus::Completed,
            CaseStatus::Cancelled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A responder's status: may skip forward, never go back.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResponderStatus {
    Accepted,
    Arrived,
    Intervention,
    Escalating,
    Resolved,
}

impl ResponderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponderStatus::Accepted => "accepted",
            ResponderStatus::Arrived => "arrived",
            ResponderStatus::Intervention => "intervention",
            ResponderStatus::Escalating => "escalating",
            ResponderStatus::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<ResponderStatus> {
        [
            ResponderStatus::Accepted,
            ResponderStatus::Arrived,
            ResponderStatus::Intervention,
            ResponderStatus::Escalating,
            ResponderStatus::Resolved,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn sms_keywords() {
        assert_eq!(
            EmergencyType::from_sms_keyword("jantung"),
            EmergencyType::CardiacArrest
        );
        assert_eq!(
            EmergencyType::from_sms_keyword(" NAPAS "),
            EmergencyType::Breathing
        );
        assert_eq!(
            EmergencyType::from_sms_keyword("tersedak"),
            EmergencyType::Choking
        );
        assert_eq!(
            EmergencyType::from_sms_keyword("banjir"),
            EmergencyType::Other
        );
        for t in EmergencyType::ALL {
            assert_eq!(
                serde_json::to_value(t).ok(),
                Some(serde_json::json!(t.as_str()))
            );
        }
    }

    #[test]
    fn responder_statuses_are_ordered() {
        assert!(ResponderStatus::Accepted < ResponderStatus::Arrived);
        assert!(ResponderStatus::Escalating < ResponderStatus::Resolved);
        assert_eq!(
            ResponderStatus::parse("intervention"),
            Some(ResponderStatus::Intervention)
        );
        assert_eq!(CaseStatus::parse("assigned"), Some(CaseStatus::Assigned));
        assert!(!CaseStatus::Cancelled.is_open());
    }
}

/// `emergency.responder.status`: published when a responder accepts an offer (`accepted`)
/// and at every later status they report (`arrived`, `intervention`, `escalating`,
/// `resolved`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResponderStatusChanged {
    pub case_id: String,
    /// KREKI ID subject of the responder.
    pub volunteer_id: String,
    pub status: ResponderStatus,
    /// RFC 3339.
    pub at: String,
}

/// `emergency.case.escalated`: the bridge hands the case to PSC 119.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseEscalated {
    pub case_id: String,
    pub severity: Severity,
    /// `SEV-1`…`SEV-3`.
    pub sev: String,
    /// PSC 119 priority `P1`…`P3`.
    pub priority: String,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    pub latitude: f64,
    pub longitude: f64,
    /// Callback number of the caller (E.164), for the ambulance crew.
    #[serde(default)]
    pub caller_phone: Option<String>,
    /// `no_accept_in_time`, `responder_escalating` or `ops`.
    pub reason: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Responders on the way or on scene.
    pub responders: u32,
    /// RFC 3339.
    pub at: String,
}

/// Vital signs recorded by responders.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    pub heart_rate: Option<u32>,
    pub respiratory_rate: Option<u32>,
    pub bp_systolic: Option<u32>,
    pub bp_diastolic: Option<u32>,
    pub spo2: Option<u32>,
    pub temperature_c: Option<f64>,
    /// `A`, `V`, `P` or `U`.
    pub avpu: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interventions {
    #[serde(default)]
    pub cpr: bool,
    #[serde(default)]
    pub aed_shocks: u32,
    #[serde(default)]
    pub other: Vec<String>,
}

/// The patient, if known. Without a NIK the bridge records "patient unidentified".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    pub nik: Option<String>,
    pub name: Option<String>,
    /// `male`, `female`, `unknown`.
    pub sex: Option<String>,
    pub estimated_age: Option<u32>,
}

/// The clinical record given with `PUT /:id/complete`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicalRecord {
    #[serde(default)]
    pub vitals: Vitals,
    #[serde(default)]
    pub interventions: Interventions,
    #[serde(default)]
    pub patient: Patient,
    pub working_diagnosis: Option<String>,
    pub notes: Option<String>,
}

/// `emergency.case.completed`: the bridge sends the record to SATUSEHAT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseCompleted {
    pub case_id: String,
    pub severity: Severity,
    #[serde(rename = "type")]
    pub kind: EmergencyType,
    pub latitude: f64,
    pub longitude: f64,
    /// RFC 3339 times of the case.
    pub created_at: String,
    #[serde(default)]
    pub first_arrival_at: Option<String>,
    pub completed_at: String,
    /// `recovered_on_scene`, `transported`, `referred`, `deceased`, `no_patient`, `other`.
    pub outcome: String,
    #[serde(default)]
    pub hospital_referral: Option<String>,
    pub clinical: ClinicalRecord,
    /// KREKI ID subjects of the responders; the first is the team lead.
    pub responders: Vec<String>,
    /// The signed-in caller's KREKI ID subject (none for anonymous and SMS callers): the
    /// bridge honours their `health_data_sharing` consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_account: Option<String>,
}

/// WebSocket messages (`/api/emergency/v1/ws`). The first client frame authenticates
/// with a one-time ticket from `POST /api/emergency/v1/ws-ticket`.
pub mod socket {
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;

    use super::{CaseStatus, EmergencyType, ResponderStatus, Severity};

    /// Client → server.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
    pub enum ClientMsg {
        /// First frame: the one-time ticket.
        Auth {
            ticket: String,
        },
        /// A volunteer's position (only kept while on duty or responding).
        Location {
            latitude: f64,
            longitude: f64,
            #[serde(default)]
            accuracy_m: Option<u32>,
        },
        Ping,
    }

    /// A responder as the caller and the team see them.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
    pub struct TeamMember {
        pub volunteer_id: String,
        pub status: ResponderStatus,
        pub is_lead: bool,
        #[serde(default)]
        pub eta_minutes: Option<i64>,
    }

    /// Server → client.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
    #[serde(tag = "type", rename_all = "snake_case")]
    pub enum ServerMsg {
        /// Authenticated; what this socket will receive.
        Ready {
            role: String,
        },
        /// A case offered to this volunteer (no handshake code before accepting).
        Offer {
            offer_id: String,
            case_id: String,
            severity: Severity,
            #[serde(rename = "case_type")]
            kind: EmergencyType,
            latitude: f64,
            longitude: f64,
            distance_m: i64,
            /// RFC 3339.
            expires_at: String,
            #[serde(default)]
            description: Option<String>,
        },
        /// The offer is no longer needed.
        OfferWithdrawn {
            case_id: String,
        },
        /// The case changed (to its caller, its responders and Ops).
        CaseUpdate {
            case_id: String,
            status: CaseStatus,
            escalated: bool,
            /// Volunteers alerted so far.
            alerted: u32,
            team: Vec<TeamMember>,
        },
        /// A volunteer's position (Ops and the case's team).
        Position {
            volunteer_id: String,
            latitude: f64,
            longitude: f64,
        },
        Pong,
        /// A frame was refused; the socket stays open unless `fatal`.
        Error {
            code: String,
            fatal: bool,
        },
    }
}
