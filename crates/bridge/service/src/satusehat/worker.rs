//! Sends queued cases to SATUSEHAT under the error policy:
//! 400/422 + OperationOutcome → needs a human fix (no retry); 401 → one token refresh
//! (in the client); 404 on a lookup → "not found" (a missing practitioner is recorded and
//! the Encounter goes without one; a missing patient stops the job for the operator);
//! 429 → wait `Retry-After`; 5xx, timeouts, connection errors and token failures →
//! exponential backoff with jitter, dead letter after `max_attempts`.
//! Every resource is sent as a conditional create on its identifier, so a replay or a
//! retry after a lost answer never makes a second Encounter.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use reqwest::Method;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{
    client::{Client, Exchange, Outcome, issues},
    mapping::{self, Refs},
    store::{Decision, Job, Store, state},
};
use crate::{
    fhir::{self, Bundle},
    nik::Nik,
};

#[derive(Debug, Clone)]
pub struct Settings {
    pub org_id: String,
    /// NIK of the organisation's attending practitioner (looked up once per job).
    pub practitioner_nik: Option<String>,
    pub location_id: Option<String>,
    pub max_attempts: i64,
    pub backoff_base_secs: i64,
    pub backoff_max_secs: i64,
}

pub struct Worker {
    pub store: Store,
    pub client: Arc<Client>,
    pub settings: Settings,
    pub wake: Arc<Notify>,
    pub metrics: crate::metrics::BridgeMetrics,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Worker {
    /// Exponential backoff with "equal jitter": half the delay fixed, half random.
    pub fn backoff_micros(&self, attempts: i64) -> i64 {
        let exp = u32::try_from((attempts - 1).clamp(0, 20)).unwrap_or(20);
        let delay = self
            .settings
            .backoff_base_secs
            .saturating_mul(1i64 << exp)
            .min(self.settings.backoff_max_secs)
            .max(1)
            * 1_000_000;
        delay / 2 + rand::thread_rng().gen_range(0..=delay / 2)
    }

    pub async fn run(self, cancel: CancellationToken) {
        loop {
            let n = self.run_once().await;
            if n > 0 {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Send every due job once; returns how many were tried.
    pub async fn run_once(&self) -> usize {
        let now = self.client.clock().now_micros();
        let jobs = match self.store.claim_due(now, 16).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "SATUSEHAT queue unavailable");
                return 0;
            }
        };
        let n = jobs.len();
        // One case at a time: SATUSEHAT throttles per client.
        for job in &jobs {
            let (log, decision) = self.attempt(job).await;
            let now = self.client.clock().now_micros();
            self.metrics.satusehat(match &decision {
                Decision::Sent { .. } => "sent",
                Decision::Retry { .. } => "retry",
                Decision::Final { state, .. } => state,
            });
            match &decision {
                Decision::Sent { .. } => {
                    tracing::info!(case_id = %job.case_id, attempt = job.attempts, "sent to SATUSEHAT")
                }
                Decision::Retry { error, .. } => {
                    tracing::info!(case_id = %job.case_id, attempt = job.attempts, error = %error, "SATUSEHAT send will be retried")
                }
                Decision::Final { state, error, .. } => {
                    tracing::warn!(case_id = %job.case_id, state, error = %error, "SATUSEHAT send needs an operator")
                }
            }
            if let Err(e) = self.store.record(job, &log, &decision, now).await {
                // The lease expires and the job is tried again (sends are idempotent).
                tracing::warn!(case_id = %job.case_id, error = %e, "cannot record SATUSEHAT outcome");
            }
        }
        n
    }

    fn failure(&self, job: &Job, outcome: Outcome) -> Decision {
        let now = self.client.clock().now_micros();
        let retry = |error: String, at: i64| {
            if job.attempts >= self.settings.max_attempts {
                Decision::Final {
                    state: state::DEAD,
                    error: format!("gave up after {} attempts: {error}", job.attempts),
                    issues: Vec::new(),
                }
            } else {
                Decision::Retry { at, error }
            }
        };
        match outcome {
            Outcome::Invalid { status, outcome } => {
                let iss = issues(&outcome);
                Decision::Final {
                    state: state::NEEDS_FIX,
                    error: format!("SATUSEHAT refused the data ({status})"),
                    issues: iss,
                }
            }
            // Rate limiting is SATUSEHAT's pace, not a failure of ours: it does not use up
            // the attempt budget.
            Outcome::RateLimited { retry_after_secs } => Decision::Retry {
                at: now + retry_after_secs * 1_000_000,
                error: format!("429: retry after {retry_after_secs} s"),
            },
            Outcome::Transient(e) => retry(e, now + self.backoff_micros(job.attempts)),
            Outcome::NoToken { retry_at, reason } => retry(
                reason,
                retry_at.max(now + self.backoff_micros(job.attempts)),
            ),
            Outcome::NotFound => retry("HTTP 404".into(), now + self.backoff_micros(job.attempts)),
            Outcome::Ok { status, .. } => retry(
                format!("unexpected answer {status}"),
                now + self.backoff_micros(job.attempts),
            ),
        }
    }

    /// A lookup by NIK: `Ok(Some(id))`, `Ok(None)` when SATUSEHAT has no such person.
    async fn lookup(
        &self,
        kind: &str,
        nik: &str,
        log: &mut Vec<Exchange>,
    ) -> Result<Option<String>, Outcome> {
        let q = format!(
            "/{kind}?identifier={}",
            enc(&format!("{}|{nik}", fhir::NIK_SYSTEM))
        );
        match self.client.fhir(Method::GET, &q, None, None, log).await {
            Outcome::Ok { body, .. } => Ok(serde_json::from_value::<Bundle>(body)
                .ok()
                .and_then(|b| b.ids().into_iter().next())),
            Outcome::NotFound => Ok(None),
            other => Err(other),
        }
    }

    /// Conditional create; the id of the created or existing resource.
    async fn create(
        &self,
        kind: &str,
        resource: serde_json::Value,
        identifier: Option<(&str, &str)>,
        log: &mut Vec<Exchange>,
    ) -> Result<String, Outcome> {
        let cond = identifier.map(|(s, v)| format!("identifier={}", enc(&format!("{s}|{v}"))));
        match self
            .client
            .fhir(
                Method::POST,
                &format!("/{kind}"),
                Some(&resource),
                cond.as_deref(),
                log,
            )
            .await
        {
            Outcome::Ok { body, status } => body
                .get("id")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or(Outcome::Transient(format!("{status} without an id"))),
            other => Err(other),
        }
    }

    /// One attempt at a job: the exchanges and what to do next.
    pub async fn attempt(&self, job: &Job) -> (Vec<Exchange>, Decision) {
        let mut log = Vec::new();
        let decision = match self.steps(job, &mut log).await {
            Ok(d) => d,
            Err(o) => self.failure(job, o),
        };
        (log, decision)
    }

    async fn steps(&self, job: &Job, log: &mut Vec<Exchange>) -> Result<Decision, Outcome> {
        let case = &job.record;
        let raw = job
            .nik
            .clone()
            .or_else(|| case.clinical.patient.nik.clone());
        let nik = match raw.as_deref().map(str::trim) {
            None | Some("") => {
                return Ok(Decision::Final {
                    state: state::UNIDENTIFIED,
                    error: "patient unidentified (no NIK)".into(),
                    issues: Vec::new(),
                });
            }
            Some(n) => match Nik::parse(n) {
                Ok(n) => n,
                Err(e) => {
                    return Ok(Decision::Final {
                        state: state::NEEDS_FIX,
                        error: format!("{}: {e}", e.code()),
                        issues: Vec::new(),
                    });
                }
            },
        };
        let Some(patient_id) = self.lookup("Patient", nik.as_str(), log).await? else {
            return Ok(Decision::Final {
                state: state::PATIENT_NOT_FOUND,
                error: "no patient with this NIK on SATUSEHAT".into(),
                issues: Vec::new(),
            });
        };
        let practitioner_id = match &self.settings.practitioner_nik {
            Some(p) => self.lookup("Practitioner", p, log).await?,
            None => None,
        };
        let refs = Refs {
            org_id: self.settings.org_id.clone(),
            patient_id,
            patient_name: case.clinical.patient.name.clone(),
            practitioner_id,
            location_id: self.settings.location_id.clone(),
        };
        let enc_system = fhir::sys_ids("encounter", &refs.org_id);
        let encounter = mapping::encounter(case, &refs);
        let encounter_id = self
            .create(
                "Encounter",
                serde_json::to_value(&encounter).unwrap_or_default(),
                Some((&enc_system, &case.case_id)),
                log,
            )
            .await?;
        for o in mapping::observations(case, &refs, &encounter_id) {
            let (s, v) = ident(&o.identifier);
            self.create(
                "Observation",
                serde_json::to_value(&o).unwrap_or_default(),
                Some((&s, &v)),
                log,
            )
            .await?;
        }
        if let Some(c) = mapping::condition(case, &refs, &encounter_id) {
            let (s, v) = ident(&c.identifier);
            self.create(
                "Condition",
                serde_json::to_value(&c).unwrap_or_default(),
                Some((&s, &v)),
                log,
            )
            .await?;
        }
        Ok(Decision::Sent { encounter_id })
    }
}

fn ident(ids: &[fhir::Identifier]) -> (String, String) {
    ids.first()
        .map(|i| {
            (
                i.system.clone().unwrap_or_default(),
                i.value.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}
