//! The PSC 119 simulator (`kreki sim psc119`, `/sim/psc119/` in the demo, the tests): a
//! dispatch centre's console that receives signed hand-offs, lets an operator (or a test)
//! acknowledge and report ambulance statuses, and posts them back as signed callbacks.
//! With auto-ack it acknowledges every hand-off at once (the demo). Its forms carry no
//! CSRF token: it is a simulator for demos and tests, never for production data.

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Serialize;
use serde_json::json;

use super::{
    CALLBACK_STATUSES, CENTRE_HEADER, Handoff, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify,
};
use crate::satusehat::sim::html;

pub const SIM_CENTRE: &str = "psc119-sim";
pub const SIM_SECRET: &str = "kreki-psc119-sim-secret";

#[derive(Debug, Clone, Serialize)]
pub struct Received {
    pub handoff: Handoff,
    pub received_at: String,
    /// Statuses this console reported, with the bridge's answer.
    pub reported: Vec<(String, u16)>,
}

struct SimState {
    handoffs: Vec<Received>,
    auto_ack: bool,
    refused: u64,
}

#[derive(Clone)]
pub struct Psc119Sim {
    state: Arc<Mutex<SimState>>,
    secret: String,
    centre: String,
    http: reqwest::Client,
}

impl Psc119Sim {
    pub fn new(auto_ack: bool) -> Self {
        Psc119Sim {
            state: Arc::new(Mutex::new(SimState {
                handoffs: Vec::new(),
                auto_ack,
                refused: 0,
            })),
            secret: SIM_SECRET.into(),
            centre: SIM_CENTRE.into(),
            http: reqwest::Client::new(),
        }
    }

    /// A second simulated centre (tests of the fallback).
    pub fn named(centre: &str, secret: &str, auto_ack: bool) -> Self {
        Psc119Sim {
            secret: secret.into(),
            centre: centre.into(),
            ..Self::new(auto_ack)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn handoffs(&self) -> Vec<Received> {
        self.lock().handoffs.clone()
    }

    pub fn refused(&self) -> u64 {
        self.lock().refused
    }

    pub fn set_auto_ack(&self, on: bool) {
        self.lock().auto_ack = on;
    }

    /// Report `status` for the case to the bridge (signed); the bridge's HTTP status.
    pub async fn report(&self, case_id: &str, status: &str) -> Result<u16, String> {
        let url = self
            .lock()
            .handoffs
            .iter()
            .rev()
            .find(|h| h.handoff.case_id == case_id)
            .map(|h| h.handoff.callback_url.clone())
            .ok_or_else(|| "no such hand-off".to_string())?;
        let body = serde_json::to_vec(&json!({
            "callback_id": uuid::Uuid::new_v4().to_string(),
            "case_id": case_id,
            "status": status,
            "at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "details": {"unit": "AMB-119-07"}
        }))
        .map_err(|e| e.to_string())?;
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let res = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(CENTRE_HEADER, &self.centre)
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&self.secret, ts, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let code = res.status().as_u16();
        if let Some(h) = self
            .lock()
            .handoffs
            .iter_mut()
            .rev()
            .find(|h| h.handoff.case_id == case_id)
        {
            h.reported.push((status.to_string(), code));
        }
        Ok(code)
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/sim/psc119/", get(console))
            .route("/sim/psc119/webhook", post(webhook))
            .route("/sim/psc119/handoffs/{case_id}/{status}", post(report))
            .route("/sim/psc119/_control/handoffs", get(list))
            .with_state(self.clone())
    }
}

async fn webhook(State(sim): State<Psc119Sim>, headers: HeaderMap, body: Bytes) -> Response {
    let ts = headers
        .get(TIMESTAMP_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let sig = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let ok = matches!((ts, sig), (Some(t), Some(s)) if verify(&sim.secret, t, &body, s));
    if !ok {
        sim.lock().refused += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad signature"})),
        )
            .into_response();
    }
    let Ok(h) = serde_json::from_slice::<Handoff>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "bad hand-off"})),
        )
            .into_response();
    };
    let case_id = h.case_id.clone();
    let auto = {
        let mut st = sim.lock();
        st.handoffs.push(Received {
            handoff: h,
            received_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            reported: Vec::new(),
        });
        st.auto_ack
    };
    if auto {
        let s = sim.clone();
        tokio::spawn(async move {
            let _ = s.report(&case_id, "acknowledged").await;
        });
    }
    (StatusCode::ACCEPTED, Json(json!({"received": true}))).into_response()
}

async fn report(
    State(sim): State<Psc119Sim>,
    Path((case_id, status)): Path<(String, String)>,
) -> Response {
    if !CALLBACK_STATUSES.contains(&status.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown status").into_response();
    }
    match sim.report(&case_id, &status).await {
        Ok(_) => Redirect::to("/sim/psc119/").into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    }
}

async fn list(State(sim): State<Psc119Sim>) -> Response {
    Json(sim.handoffs()).into_response()
}

async fn console(State(sim): State<Psc119Sim>) -> Response {
    let mut rows = String::new();
    for r in sim.handoffs().iter().rev().take(50) {
        let h = &r.handoff;
        let id = html(&h.case_id);
        let mut buttons = String::new();
        for s in CALLBACK_STATUSES {
            buttons.push_str(&format!(
                "<form method=\"post\" action=\"/sim/psc119/handoffs/{id}/{s}\"><button>{s}</button></form>"
            ));
        }
        let reported: Vec<String> = r
            .reported
            .iter()
            .map(|(s, c)| format!("{s} ({c})"))
            .collect();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{id}</td><td>{}</td><td>{:.5}, {:.5}</td><td>{}</td><td>{}</td><td>{}</td><td>{buttons}</td></tr>",
            html(&r.received_at),
            html(&h.priority),
            h.latitude,
            h.longitude,
            html(h.caller_phone.as_deref().unwrap_or("-")),
            html(h.notes.as_deref().unwrap_or("-")),
            html(&reported.join(", ")),
        ));
    }
    let mut res = Html(format!(
        "<!doctype html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>Simulator PSC 119</title>\
         <style>form{{display:inline}}td{{border-bottom:1px solid #ccc;padding:.2rem}}</style></head><body>\
         <h1>Simulator PSC 119 <small>(PSC 119 simulator)</small></h1>\
         <p>Serah terima masuk / incoming hand-offs. Tekan status untuk mengirim callback bertanda tangan ke KREKI / press a status to send a signed callback.</p>\
         <table><thead><tr><th>Diterima / received</th><th>Kasus / case</th><th>Prioritas</th><th>Lokasi</th><th>Penelepon / caller</th><th>Catatan / notes</th><th>Dilaporkan / reported</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>"
    ))
    .into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    res
}
