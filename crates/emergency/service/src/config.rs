//! `[emergency]` configuration (defaults from the contracts).

use serde::{Deserialize, Serialize};

use crate::geo::ServiceArea;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmergencyConfig {
    /// Offers sent per wave.
    pub offers_per_wave: u32,
    /// An offer not answered within this is replaced by the next candidate.
    pub offer_timeout_s: u32,
    /// A wave's length before the radius widens.
    pub wave_timeout_s: u32,
    /// Search radii of the waves, in metres.
    pub radius_steps_m: Vec<u32>,
    /// Accepts wanted before the case stops offering (N-to-1).
    pub accepts_wanted: u32,
    /// Escalation to PSC 119 when nobody accepted within (seconds), per severity.
    pub escalate_critical_s: u32,
    pub escalate_urgent_s: u32,
    pub escalate_normal_s: u32,
    /// Locations older than this are not used for dispatch.
    pub max_location_age_s: u32,
    /// Panics are accepted only inside this area.
    pub service_area: ServiceArea,
    /// Largest radius an Ops `GET /nearby` may ask for (metres).
    pub max_nearby_radius_m: u32,
    /// HMAC-SHA256 key shared with the SMS gateway (`X-Kreki-Timestamp: <Unix s>`,
    /// `X-Kreki-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`). Without it the SMS
    /// ingress does not exist (404).
    pub sms_webhook_secret: Option<kreki_platform::config::Secret>,
    /// A signed SMS webhook whose timestamp is further than this from now is refused (a
    /// replay); the message id still de-duplicates the gateway's retries within it.
    pub sms_signature_tolerance_s: u32,
    /// Messages from the same number with the same text within this window are one case.
    pub sms_duplicate_window_s: u32,
    /// Closed cases (with their responders, offers and timeline) are deleted this many days
    /// after closing (data architecture: emergency requests 10 years).
    pub case_retention_days: u32,
    /// Raw inbound SMS are deleted after this many days (response logs: 2 years).
    pub sms_retention_days: u32,
    /// The browser apps (caller `/`, volunteers `/relawan/`, Ops `/ops/`): empty (the
    /// default) serves the copy embedded in the binary at build time; a directory built by
    /// `scripts/setup.sh` (`npm run build` in `web/`) overrides it. Relative to the working
    /// directory.
    pub web_dir: String,
    /// Map tiles of the Ops console (`{z}/{x}/{y}` template; `https:` — see the pages' CSP).
    pub map_tile_url: String,
    /// Number of the SMS gateway shown by the caller app's `DARURAT` SMS fallback (without
    /// it the phone asks whom to send it to).
    pub sms_number: Option<String>,
    /// A responder of a hard case (critical, CPR given, or the patient died) is asked how
    /// they are this long after the completion (volunteer programme: peer support).
    pub wellbeing_checkin_after_s: u32,
    /// Panics one client address may send per second (per replica) before `429` with
    /// `Retry-After`: the only limit on panics from one address (a carrier's NAT carries
    /// thousands of callers; the general per-IP request limit does not apply to panics).
    pub panics_per_address_per_second: u32,
}

impl Default for EmergencyConfig {
    fn default() -> Self {
        EmergencyConfig {
            offers_per_wave: 7,
            offer_timeout_s: 20,
            wave_timeout_s: 30,
            radius_steps_m: vec![1_000, 3_000, 5_000],
            accepts_wanted: 3,
            escalate_critical_s: 30,
            escalate_urgent_s: 60,
            escalate_normal_s: 120,
            max_location_age_s: 300,
            service_area: ServiceArea::default(),
            max_nearby_radius_m: 50_000,
            sms_webhook_secret: None,
            sms_signature_tolerance_s: kreki_platform::signature::DEFAULT_TOLERANCE_S,
            sms_duplicate_window_s: 600,
            case_retention_days: 3_650,
            sms_retention_days: 730,
            web_dir: String::new(),
            map_tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into(),
            sms_number: None,
            wellbeing_checkin_after_s: 7_200,
            panics_per_address_per_second: 120,
        }
    }
}

impl EmergencyConfig {
    pub fn validate(&self) -> Result<(), kreki_platform::config::ConfigError> {
        use kreki_platform::config::ConfigError;
        if self.accepts_wanted == 0 {
            return Err(ConfigError::new(
                "emergency.accepts_wanted",
                "must be at least 1",
            ));
        }
        if self.case_retention_days == 0 || self.sms_retention_days == 0 {
            return Err(ConfigError::new(
                "emergency.case_retention_days",
                "retention periods must be at least one day",
            ));
        }
        if self.sms_signature_tolerance_s == 0 {
            return Err(ConfigError::new(
                "emergency.sms_signature_tolerance_s",
                "must be at least 1",
            ));
        }
        if self.offers_per_wave == 0 {
            return Err(ConfigError::new(
                "emergency.offers_per_wave",
                "must be at least 1",
            ));
        }
        if self.radius_steps_m.is_empty()
            || self.radius_steps_m.windows(2).any(|w| w[0] >= w[1])
            || self.radius_steps_m[0] == 0
        {
            return Err(ConfigError::new(
                "emergency.radius_steps_m",
                "must be increasing positive radii",
            ));
        }
        if !(self.map_tile_url.starts_with("https://") || self.map_tile_url.starts_with('/'))
            || !self.map_tile_url.contains("{z}")
        {
            return Err(ConfigError::new(
                "emergency.map_tile_url",
                "must be an https:// (or site-relative) template with {z}, {x} and {y}",
            ));
        }
        if self.sms_number.as_deref().is_some_and(|n| {
            n.is_empty() || n.len() > 20 || !n.chars().all(|c| c.is_ascii_digit() || c == '+')
        }) {
            return Err(ConfigError::new(
                "emergency.sms_number",
                "must be digits (optionally with a leading +)",
            ));
        }
        let a = &self.service_area;
        if !(a.min_lat < a.max_lat
            && a.min_lng < a.max_lng
            && a.min_lat >= -90.0
            && a.max_lat <= 90.0
            && a.min_lng >= -180.0
            && a.max_lng <= 180.0)
        {
            return Err(ConfigError::new(
                "emergency.service_area",
                "must be a valid latitude/longitude box",
            ));
        }
        Ok(())
    }
}
