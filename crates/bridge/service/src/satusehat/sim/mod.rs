//! The SATUSEHAT simulator (`kreki sim satusehat`, `/sim/satusehat/` in the demo, the tests):
//! the token endpoint with SATUSEHAT's quirks (form body, `expires_in` as a string), FHIR
//! endpoints that check what they receive (required fields, identifier systems, code
//! systems, UTC times, references) and answer with OperationOutcomes, seeded patients
//! and practitioners from SATUSEHAT's sandbox documentation, and switchable faults.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::fhir::*;

mod validate;
use validate::validate;

/// Organisation id of the simulator (SATUSEHAT's sandbox organisation of the docs).
pub const SIM_ORG_ID: &str = "10000004";
pub const SIM_CLIENT_ID: &str = "kreki-sim-client";
pub const SIM_CLIENT_SECRET: &str = "kreki-sim-secret";
pub const SIM_LOCATION_ID: &str = "ef011065-38c9-46f8-9c35-d1fe68966a3e";
/// Seeded people: (NIK, id, name, gender, birth date).
pub const PATIENTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "9271060312000001",
        "100000030009",
        "Ardianto Putra",
        "male",
        "1992-01-09",
    ),
    (
        "9204014804000002",
        "100000030004",
        "Claudia Sintia",
        "female",
        "1989-11-03",
    ),
    (
        "9104224509000003",
        "100000030005",
        "Elizabeth Dior",
        "female",
        "1976-07-07",
    ),
    (
        "9201076001000007",
        "100000030006",
        "Dr. Alan Bagus Prasetya",
        "male",
        "1977-09-03",
    ),
];
pub const PRACTITIONERS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "7209061211900001",
        "N10000001",
        "Dokter Bronsig",
        "male",
        "1994-01-01",
    ),
    (
        "3322071302900002",
        "N10000002",
        "Dokter Syarifudin",
        "male",
        "1988-02-02",
    ),
];

/// Faults a test (or the demo operator) switches on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Every request answers 503.
    pub outage: bool,
    /// The next N requests answer 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_next: u32,
    pub retry_after_secs: u64,
    /// Delay before each answer.
    pub slow_ms: u64,
    /// Tokens issued so far stop working (401), as after expiry.
    pub expire_tokens: bool,
    /// Lifetime of new tokens (default 14399 s as SATUSEHAT).
    pub token_lifetime_secs: Option<u64>,
}

#[derive(Default)]
struct SimState {
    faults: Faults,
    tokens: HashMap<String, Instant>,
    token_requests: u64,
    /// kind → resources in arrival order.
    resources: HashMap<String, Vec<Value>>,
    /// Conditional creates answered with an existing resource.
    deduplicated: u64,
    refused: u64,
}

#[derive(Clone, Default)]
pub struct SatusehatSim {
    state: Arc<Mutex<SimState>>,
}

impl SatusehatSim {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_faults(&self, f: Faults) {
        let mut st = self.lock();
        if f.expire_tokens {
            st.tokens.clear();
        }
        st.faults = Faults {
            expire_tokens: false,
            ..f
        };
    }

    pub fn resources(&self, kind: &str) -> Vec<Value> {
        self.lock().resources.get(kind).cloned().unwrap_or_default()
    }

    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    pub fn stats(&self) -> Value {
        let st = self.lock();
        let counts: HashMap<&String, usize> =
            st.resources.iter().map(|(k, v)| (k, v.len())).collect();
        json!({"token_requests": st.token_requests, "resources": counts,
               "deduplicated": st.deduplicated, "refused": st.refused, "faults": st.faults})
    }

    /// Routes at `/sim/satusehat/...` (SATUSEHAT's own paths below it).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/sim/satusehat/", get(console))
            .route("/sim/satusehat/oauth2/v1/accesstoken", post(token))
            .route("/sim/satusehat/fhir-r4/v1/{kind}", get(search).post(create))
            .route("/sim/satusehat/fhir-r4/v1/{kind}/{id}", get(read))
            .route(
                "/sim/satusehat/_control/faults",
                post(set_faults).get(get_faults),
            )
            .route("/sim/satusehat/_control/stats", get(stats))
            .route("/sim/satusehat/_control/resources/{kind}", get(list))
            .with_state(self.clone())
    }

    /// Validate a resource as the simulator does (also used by the tests).
    pub fn validate(&self, kind: &str, v: &Value) -> Result<(), OperationOutcome> {
        let st = self.lock();
        validate(&st, kind, v)
    }
}

fn outcome(status: StatusCode, o: OperationOutcome) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/fhir+json")],
        Json(o),
    )
        .into_response()
}

/// Faults that apply to every request; `None` to go on.
async fn faults(sim: &SatusehatSim) -> Option<Response> {
    let (slow, out, limited, retry) = {
        let mut st = sim.lock();
        let limited = st.faults.rate_limit_next > 0;
        if limited {
            st.faults.rate_limit_next -= 1;
        }
        (
            st.faults.slow_ms,
            st.faults.outage,
            limited,
            st.faults.retry_after_secs.max(1),
        )
    };
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    if out {
        return Some(outcome(
            StatusCode::SERVICE_UNAVAILABLE,
            OperationOutcome::error("transient", "Service Unavailable", ""),
        ));
    }
    if limited {
        let mut r = outcome(
            StatusCode::TOO_MANY_REQUESTS,
            OperationOutcome::error("throttled", "Too many requests", ""),
        );
        if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Some(r);
    }
    None
}

fn authorized(sim: &SatusehatSim, headers: &HeaderMap) -> bool {
    let Some(t) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let st = sim.lock();
    st.tokens.get(t).is_some_and(|exp| Instant::now() < *exp)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"fault": {"faultstring": "Invalid access token", "detail": {"errorcode": "keymanagement.service.invalid_access_token"}}})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct GrantQuery {
    grant_type: Option<String>,
}

async fn token(
    State(sim): State<SatusehatSim>,
    Query(q): Query<GrantQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = faults(&sim).await {
        sim.lock().token_requests += 1;
        return r;
    }
    sim.lock().token_requests += 1;
    if q.grant_type.as_deref() != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let form_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if !form_ct
        || form.get("client_id").map(String::as_str) != Some(SIM_CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(SIM_CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}})),
        )
            .into_response();
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut st = sim.lock();
    let life = st.faults.token_lifetime_secs.unwrap_or(14399);
    st.tokens
        .insert(token.clone(), Instant::now() + Duration::from_secs(life));
    let issued = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    // SATUSEHAT's answer, strings and all.
    Json(json!({
        "refresh_token_expires_in": "0",
        "api_product_list": "[api-satusehat-stg]",
        "organization_name": "ihs-prod-1",
        "developer.email": "kreki@example.org",
        "token_type": "BearerToken",
        "issued_at": issued.to_string(),
        "client_id": SIM_CLIENT_ID,
        "access_token": token,
        "application_name": "kreki-sim",
        "scope": "",
        "expires_in": life.to_string(),
        "refresh_count": "0",
        "status": "approved"
    }))
    .into_response()
}

fn person(kind: &str, p: &(&str, &str, &str, &str, &str)) -> Value {
    json!({"resourceType": kind, "id": p.1, "identifier": [{"use": "official", "system": NIK_SYSTEM, "value": p.0}],
           "name": [{"use": "official", "text": p.2}], "gender": p.3, "birthDate": p.4, "active": true})
}

fn find_id(st: &SimState, kind: &str, id: &str) -> Option<Value> {
    match kind {
        "Patient" => PATIENTS.iter().find(|p| p.1 == id).map(|p| person(kind, p)),
        "Practitioner" => PRACTITIONERS
            .iter()
            .find(|p| p.1 == id)
            .map(|p| person(kind, p)),
        "Organization" if id == SIM_ORG_ID => {
            Some(json!({"resourceType": "Organization", "id": SIM_ORG_ID,
            "identifier": [{"use": "official", "system": sys_ids("organization", SIM_ORG_ID), "value": "KREKI"}],
            "active": true, "name": "KREKI HELP 119 (simulator)"}))
        }
        "Location" if id == SIM_LOCATION_ID => {
            Some(json!({"resourceType": "Location", "id": SIM_LOCATION_ID,
            "identifier": [{"system": sys_ids("location", SIM_ORG_ID), "value": "POS-KREKI-1"}],
            "status": "active", "name": "Pos KREKI Monas", "mode": "instance",
            "position": {"longitude": 106.8272, "latitude": -6.1754},
            "managingOrganization": {"reference": format!("Organization/{SIM_ORG_ID}")}}))
        }
        _ => st
            .resources
            .get(kind)?
            .iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
            .cloned(),
    }
}

fn has_identifier(r: &Value, system: &str, value: &str) -> bool {
    r.get("identifier")
        .and_then(Value::as_array)
        .is_some_and(|ids| {
            ids.iter().any(|i| {
                i.get("system").and_then(Value::as_str) == Some(system)
                    && i.get("value").and_then(Value::as_str) == Some(value)
            })
        })
}

fn search_all(st: &SimState, kind: &str, identifier: &str) -> Vec<Value> {
    let (system, value) = identifier.split_once('|').unwrap_or(("", identifier));
    let people = match kind {
        "Patient" => PATIENTS,
        "Practitioner" => PRACTITIONERS,
        _ => &[],
    };
    if !people.is_empty() {
        if system != NIK_SYSTEM {
            return Vec::new();
        }
        return people
            .iter()
            .filter(|p| p.0 == value)
            .map(|p| person(kind, p))
            .collect();
    }
    st.resources
        .get(kind)
        .map(|v| {
            v.iter()
                .filter(|r| has_identifier(r, system, value))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct SearchQuery {
    identifier: Option<String>,
}

const KINDS: &[&str] = &[
    "Patient",
    "Practitioner",
    "Organization",
    "Location",
    "Encounter",
    "Observation",
    "Condition",
];

async fn search(
    State(sim): State<SatusehatSim>,
    Path(kind): Path<String>,
    Query(q): Query<SearchQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = faults(&sim).await {
        return r;
    }
    if !authorized(&sim, &headers) {
        return unauthorized();
    }
    if !KINDS.contains(&kind.as_str()) {
        return outcome(
            StatusCode::NOT_FOUND,
            OperationOutcome::error("not-supported", format!("Unknown resource type {kind}"), ""),
        );
    }
    let Some(identifier) = q.identifier else {
        return outcome(
            StatusCode::BAD_REQUEST,
            OperationOutcome::error(
                "required",
                "Search parameter identifier is required",
                "identifier",
            ),
        );
    };
    let found = search_all(&sim.lock(), &kind, &identifier);
    Json(Bundle::searchset(found)).into_response()
}

async fn read(
    State(sim): State<SatusehatSim>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = faults(&sim).await {
        return r;
    }
    if !authorized(&sim, &headers) {
        return unauthorized();
    }
    match find_id(&sim.lock(), &kind, &id) {
        Some(r) => Json(r).into_response(),
        None => outcome(
            StatusCode::NOT_FOUND,
            OperationOutcome::error(
                "not-found",
                format!("Resource {kind}/{id} is not known"),
                "",
            ),
        ),
    }
}

async fn create(
    State(sim): State<SatusehatSim>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = faults(&sim).await {
        return r;
    }
    if !authorized(&sim, &headers) {
        return unauthorized();
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            sim.lock().refused += 1;
            return outcome(
                StatusCode::BAD_REQUEST,
                OperationOutcome::error(
                    "structure",
                    format!("Failed to parse request body as JSON resource: {e}"),
                    "",
                ),
            );
        }
    };
    let mut st = sim.lock();
    if let Some(cond) = headers
        .get("if-none-exist")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.strip_prefix("identifier="))
    {
        let cond: String = url::form_urlencoded::parse(format!("x={cond}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if let Some(existing) = search_all(&st, &kind, &cond).into_iter().next() {
            st.deduplicated += 1;
            return (StatusCode::OK, Json(existing)).into_response();
        }
    }
    if let Err(o) = validate(&st, &kind, &v) {
        st.refused += 1;
        return outcome(StatusCode::BAD_REQUEST, o);
    }
    let mut stored = v;
    let id = uuid::Uuid::new_v4().to_string();
    stored["id"] = json!(id);
    stored["meta"] = json!({"versionId": "1", "lastUpdated": time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339).unwrap_or_default()});
    st.resources.entry(kind).or_default().push(stored.clone());
    (StatusCode::CREATED, Json(stored)).into_response()
}

async fn set_faults(State(sim): State<SatusehatSim>, Json(f): Json<Faults>) -> Response {
    sim.set_faults(f);
    Json(sim.stats()).into_response()
}

async fn get_faults(State(sim): State<SatusehatSim>) -> Response {
    Json(sim.lock().faults.clone()).into_response()
}

async fn stats(State(sim): State<SatusehatSim>) -> Response {
    Json(sim.stats()).into_response()
}

async fn list(State(sim): State<SatusehatSim>, Path(kind): Path<String>) -> Response {
    Json(Bundle::searchset(sim.resources(&kind))).into_response()
}

async fn console(State(sim): State<SatusehatSim>) -> Response {
    let encounters = sim.resources("Encounter");
    let mut rows = String::new();
    for e in encounters.iter().rev().take(50) {
        let id = html(e.get("id").and_then(Value::as_str).unwrap_or_default());
        let ident = html(
            e.pointer("/identifier/0/value")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let start = html(
            e.pointer("/period/start")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        rows.push_str(&format!(
            "<tr><td>{id}</td><td>{ident}</td><td>{start}</td></tr>"
        ));
    }
    let stats = html(&sim.stats().to_string());
    let mut r = Html(format!(
        "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>Simulator SATUSEHAT</title></head><body>\
         <h1>Simulator SATUSEHAT <small>(SATUSEHAT simulator)</small></h1><p><code>{stats}</code></p>\
         <table><thead><tr><th>Encounter</th><th>Kasus / case</th><th>Mulai / start (UTC)</th></tr></thead><tbody>{rows}</tbody></table>\
         </body></html>"
    ))
    .into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    r
}

pub fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
