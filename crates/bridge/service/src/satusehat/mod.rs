//! SATUSEHAT (the Ministry of Health's FHIR R4 platform): configuration, client, mapping,
//! the job queue with its transaction log, the sender and the simulator.

pub mod client;
pub mod mapping;
pub mod redact;
pub mod sim;
pub mod store;
pub mod worker;

use kreki_platform::config::Secret;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    #[default]
    Staging,
    Production,
}

impl Environment {
    /// SATUSEHAT's API roots (`/oauth2/v1` and `/fhir-r4/v1` below them).
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Development => "https://api-satusehat-dev.dto.kemkes.go.id",
            Environment::Staging => "https://api-satusehat-stg.dto.kemkes.go.id",
            Environment::Production => "https://api-satusehat.kemkes.go.id",
        }
    }
}

/// `[bridge.satusehat]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SatusehatConfig {
    pub environment: Environment,
    /// Overrides the environment's root (the simulator: `http://host:port/sim/satusehat`).
    pub base_url: Option<String>,
    pub organization_id: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// NIK of the organisation's attending practitioner (Encounter.participant ATND).
    pub practitioner_nik: Option<String>,
    /// SATUSEHAT id of the organisation's Location (Encounter.location).
    pub location_id: Option<String>,
    /// Transient failures before a job becomes a dead letter.
    pub max_attempts: u32,
    pub backoff_base_secs: u32,
    pub backoff_max_secs: u32,
    pub timeout_secs: u32,
}

impl Default for SatusehatConfig {
    fn default() -> Self {
        SatusehatConfig {
            environment: Environment::default(),
            base_url: None,
            organization_id: String::new(),
            client_id: String::new(),
            client_secret: None,
            practitioner_nik: None,
            location_id: None,
            max_attempts: 12,
            backoff_base_secs: 30,
            backoff_max_secs: 1800,
            timeout_secs: 15,
        }
    }
}

impl SatusehatConfig {
    /// Sending is on once the credentials are there.
    pub fn configured(&self) -> bool {
        !self.organization_id.is_empty()
            && !self.client_id.is_empty()
            && self.client_secret.is_some()
    }
    pub fn root(&self) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| self.environment.base_url().to_string())
    }
    /// The simulator's settings (demo).
    pub fn simulator(base_url: &str) -> Self {
        SatusehatConfig {
            base_url: Some(format!("{}/sim/satusehat", base_url.trim_end_matches('/'))),
            organization_id: sim::SIM_ORG_ID.into(),
            client_id: sim::SIM_CLIENT_ID.into(),
            client_secret: Some(Secret::new(sim::SIM_CLIENT_SECRET)),
            practitioner_nik: Some(sim::PRACTITIONERS[0].0.into()),
            location_id: Some(sim::SIM_LOCATION_ID.into()),
            ..Default::default()
        }
    }
    pub fn settings(&self) -> worker::Settings {
        worker::Settings {
            org_id: self.organization_id.clone(),
            practitioner_nik: self.practitioner_nik.clone(),
            location_id: self.location_id.clone(),
            max_attempts: i64::from(self.max_attempts.max(1)),
            backoff_base_secs: i64::from(self.backoff_base_secs.max(1)),
            backoff_max_secs: i64::from(self.backoff_max_secs.max(1)),
        }
    }
}
