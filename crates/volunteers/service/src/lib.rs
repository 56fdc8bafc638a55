//! Volunteer service (`/api/volunteers/v1`): profiles linked to the KREKI ID account,
//! verification by a Volunteer Lead of the area (or Ops) with its history, weekly
//! availability, certification mirrored from the LMS, points and badges from the Emergency
//! Core's events, search for leads and Ops. Whatever the Emergency Core must know is
//! published as `volunteers.eligibility.changed` through the outbox (see [`store`]).

pub mod access;
pub mod areas;
pub mod demo;
pub mod http;
pub mod model;
pub mod state;
pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use kreki_emergency_contracts::{
    CASE_COMPLETED, CaseCompleted, RESPONDER_STATUS, ResponderStatus, ResponderStatusChanged,
};
use kreki_identity_contracts::{ACCOUNT_CREATED, ACCOUNT_ERASED, AccountChanged, AccountErased};
use kreki_lms_contracts::{
    CERTIFICATE_EXPIRING, CERTIFICATE_ISSUED, CERTIFICATE_REVOKED, CertificateEvent, Level,
};
use kreki_platform::{
    bus::{
        Event,
        consumer::{AfterCommit, HandleError, Handler},
        outbox,
    },
    service::{BuildFuture, Built, ServiceContext, ServiceDescriptor},
    storage::{Migration, Tx},
    time_util::to_micros,
};
use kreki_volunteers_contracts::{CertLevel, ELIGIBILITY_CHANGED};

/// The service's own migrations (the platform's tables are applied before them).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "volunteers",
        sqlite: include_str!("../migrations/sqlite/0001_volunteers.sql"),
        postgres: include_str!("../migrations/postgres/0001_volunteers.sql"),
    },
    Migration {
        version: 2,
        name: "lead_areas_access_log",
        sqlite: include_str!("../migrations/sqlite/0002_lead_areas_access_log.sql"),
        postgres: include_str!("../migrations/postgres/0002_lead_areas_access_log.sql"),
    },
];

pub fn descriptor() -> ServiceDescriptor {
    ServiceDescriptor {
        name: "volunteers",
        segments: &["volunteers"],
        default_port: 8203,
        migrations: MIGRATIONS,
        build,
        check_config,
        routes: access::ROUTES,
    }
}

fn check_config(
    cfg: &kreki_platform::config::Config,
) -> Result<(), kreki_platform::config::ConfigError> {
    kreki_platform::service::no_config_section(cfg, "volunteers")
}

pub fn cert_level(l: Level) -> CertLevel {
    match l {
        Level::Basic => CertLevel::Basic,
        Level::Plus => CertLevel::Plus,
        Level::Instructor => CertLevel::Instructor,
    }
}

fn reject(why: &str) -> HandleError {
    HandleError::Reject(anyhow::anyhow!("{why}"))
}

/// `lms.certificate.issued|revoked|expiring` → the mirrored certification (best valid level)
/// and, when it changed, a new eligibility version. `expiring` is recorded only.
pub struct CertificateHandler;

#[async_trait]
impl Handler for CertificateHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let ev: CertificateEvent = event.decode()?;
        if ev.certificate_id.is_empty()
            || ev.certificate_id.len() > 64
            || ev.holder_id.is_empty()
            || ev.holder_id.len() > 128
        {
            return Err(reject("certificate event without certificate or holder id"));
        }
        let until = time::OffsetDateTime::parse(
            &ev.valid_until,
            &time::format_description::well_known::Rfc3339,
        )
        .map(to_micros)
        .map_err(|_| reject("valid_until is not RFC 3339"))?;
        let level = cert_level(ev.level);
        match event.subject.as_str() {
            CERTIFICATE_EXPIRING => {
                store::note_expiring(tx, &ev.certificate_id, &ev.holder_id, level, until).await?;
                return Ok(());
            }
            CERTIFICATE_ISSUED => {
                store::save_certificate(
                    tx,
                    &ev.certificate_id,
                    &ev.holder_id,
                    level,
                    until,
                    "valid",
                    None,
                )
                .await?
            }
            CERTIFICATE_REVOKED => {
                store::save_certificate(
                    tx,
                    &ev.certificate_id,
                    &ev.holder_id,
                    level,
                    until,
                    "revoked",
                    ev.reason.as_deref(),
                )
                .await?
            }
            _ => return Err(reject("unexpected subject")),
        }
        store::recompute_certification(tx, &ev.holder_id).await?;
        store::refresh_eligibility(tx, &ev.holder_id).await?;
        tracing::info!(certificate = %ev.certificate_id, subject = %event.subject, "certificate mirrored");
        Ok(())
    }
}

/// `emergency.responder.status` and `emergency.case.completed` → points and badges, once
/// per volunteer, case and kind.
pub struct CaseHandler;

#[async_trait]
impl Handler for CaseHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        match event.subject.as_str() {
            RESPONDER_STATUS => {
                let ev: ResponderStatusChanged = event.decode()?;
                let kind = match ev.status {
                    ResponderStatus::Accepted => "accepted",
                    ResponderStatus::Arrived => "arrived",
                    ResponderStatus::Resolved => "resolved",
                    ResponderStatus::Intervention | ResponderStatus::Escalating => return Ok(()),
                };
                store::credit(tx, &ev.volunteer_id, &ev.case_id, kind).await?;
            }
            CASE_COMPLETED => {
                let ev: CaseCompleted = event.decode()?;
                for (i, v) in ev.responders.iter().enumerate() {
                    store::credit(tx, v, &ev.case_id, "completed").await?;
                    if i == 0 {
                        store::credit(tx, v, &ev.case_id, "lead").await?;
                    }
                }
            }
            _ => return Err(reject("unexpected subject")),
        }
        Ok(())
    }
}

/// `identity.account.erased`: tell the Emergency Core the volunteer is gone (a last
/// eligibility version, not verified), then erase everything held about them.
pub struct ErasureHandler;

#[async_trait]
impl Handler for ErasureHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let ev: AccountErased = event.decode()?;
        if let Some(row) = store::profile(tx, &ev.account_id).await? {
            let mut last = row.eligibility_event(row.eligibility_version + 1);
            last.verified = false;
            last.health_professional = false;
            last.cert_level = CertLevel::None;
            last.cert_valid_until = None;
            last.skills.clear();
            last.schedule = serde_json::json!({});
            let e = Event::new(store::SOURCE, ELIGIBILITY_CHANGED, &last)
                .map_err(|e| HandleError::Reject(e.into()))?;
            outbox::enqueue(tx, &e).await?;
        }
        store::erase(tx, &ev.account_id).await?;
        Ok(())
    }
}

/// `kreki up --demo`: the demo accounts get their volunteer profiles when KREKI ID creates
/// them (their subjects are UUIDs made at creation, known only from the event).
pub struct DemoAccountsHandler;

#[async_trait]
impl Handler for DemoAccountsHandler {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        _after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        let ev: AccountChanged = event.decode()?;
        if let Some(spec) = ev.email.as_deref().and_then(demo::spec_for) {
            demo::seed_profile(tx, &ev.account_id, spec).await?;
            if ev
                .roles
                .contains(&kreki_identity_contracts::Role::VolunteerLead)
            {
                demo::seed_lead_area(tx, &ev.account_id).await?;
            }
        }
        Ok(())
    }
}

/// Every event the service reacts to, in one durable consumer group (one fetcher on the bus
/// instead of one per kind), each handed to its handler inside the inbox transaction.
pub struct Events {
    /// `kreki up --demo`: seed the demo accounts' profiles.
    pub demo: bool,
}

/// The subjects of [`Events`].
pub const SUBJECTS: &[&str] = &[
    CERTIFICATE_ISSUED,
    CERTIFICATE_REVOKED,
    CERTIFICATE_EXPIRING,
    RESPONDER_STATUS,
    CASE_COMPLETED,
    ACCOUNT_CREATED,
    ACCOUNT_ERASED,
];

#[async_trait]
impl Handler for Events {
    async fn handle(
        &self,
        event: &Event,
        tx: &mut Tx,
        after: &mut AfterCommit,
    ) -> Result<(), HandleError> {
        match event.subject.as_str() {
            CERTIFICATE_ISSUED | CERTIFICATE_REVOKED | CERTIFICATE_EXPIRING => {
                CertificateHandler.handle(event, tx, after).await
            }
            RESPONDER_STATUS | CASE_COMPLETED => CaseHandler.handle(event, tx, after).await,
            ACCOUNT_ERASED => ErasureHandler.handle(event, tx, after).await,
            ACCOUNT_CREATED if self.demo => DemoAccountsHandler.handle(event, tx, after).await,
            _ => Ok(()),
        }
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        ctx.spawn_consumer(
            "volunteers-events",
            SUBJECTS,
            Arc::new(Events {
                demo: ctx.demo.is_some(),
            }),
        );
        let (api, openapi) = http::router(http::AppState { db: ctx.db.clone() });
        Ok(Built {
            api,
            openapi,
            verifier: None,
            pages: axum::Router::new(),
        })
    })
}
