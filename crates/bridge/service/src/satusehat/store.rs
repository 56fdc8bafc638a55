//! The SATUSEHAT job queue and transaction log (one row per completed case, every
//! exchange with SATUSEHAT beside it). The clinical record is health data: it stays in
//! this database and never goes to the logs.

use kreki_emergency_contracts::CaseCompleted;
use kreki_platform::{
    storage::{Db, lease::Claim},
    time_util::rfc3339,
};
use serde::Serialize;
use sqlx::{AnyConnection, Row, any::AnyRow};
use utoipa::ToSchema;

use super::client::Exchange;
use crate::nik::Nik;

/// `last_error` of a job held because the caller withdrew `health_data_sharing`.
pub const WITHDRAWN_NOTE: &str = "consent: the caller withdrew health_data_sharing; Ops decides (replay if the law requires the report, else discard)";

const HEALTH_DATA_SHARING: &str = "health_data_sharing";

/// How long a claimed job is leased before another worker may take it again.
pub const LEASE_MICROS: i64 = 300_000_000;

/// Job states.
pub mod state {
    /// Waiting for its (next) attempt.
    pub const QUEUED: &str = "queued";
    pub const SENDING: &str = "sending";
    /// Encounter and its resources are on SATUSEHAT.
    pub const SENT: &str = "sent";
    /// SATUSEHAT refused the data (400/422), or the NIK is wrong: a human fixes and replays.
    pub const NEEDS_FIX: &str = "needs_fix";
    /// No NIK in the record: an operator completes it and replays.
    pub const UNIDENTIFIED: &str = "unidentified";
    /// No patient with that NIK on SATUSEHAT.
    pub const PATIENT_NOT_FOUND: &str = "patient_not_found";
    /// Transient failures beyond the attempt limit.
    pub const DEAD: &str = "dead";
    pub const DISCARDED: &str = "discarded";
    /// The signed-in caller withdrew `health_data_sharing`: held for Ops review (replay when
    /// the legal duty to report applies, else discard).
    pub const CONSENT_WITHDRAWN: &str = "consent_withdrawn";
    pub const ALL: &[&str] = &[
        QUEUED,
        SENDING,
        SENT,
        NEEDS_FIX,
        UNIDENTIFIED,
        PATIENT_NOT_FOUND,
        DEAD,
        DISCARDED,
        CONSENT_WITHDRAWN,
    ];
}

#[derive(Debug, Clone)]
pub struct Job {
    pub case_id: String,
    pub record: CaseCompleted,
    /// The operator's NIK, else the record's.
    pub nik: Option<String>,
    pub attempts: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobSummary {
    pub case_id: String,
    pub state: String,
    pub attempts: i64,
    /// RFC 3339; for queued jobs the next attempt.
    pub next_attempt_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encounter_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExchangeView {
    pub attempt: i64,
    pub at: String,
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    pub duration_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One read of a job's health data, in the access log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessEntry {
    pub at: String,
    /// Account id of the reader.
    pub actor: String,
    pub case_id: String,
    /// `job_read` (`GET /jobs/{case_id}`), `patient_set` (`PUT /jobs/{case_id}/patient`,
    /// whose answer carries the job) or `consent_override` (a job held for a withdrawn
    /// consent replayed).
    pub action: String,
}

/// Actions of the access log.
pub mod access {
    pub const JOB_READ: &str = "job_read";
    pub const PATIENT_SET: &str = "patient_set";
    /// A job held for a withdrawn consent sent anyway (replay by an operator).
    pub const CONSENT_OVERRIDE: &str = "consent_override";
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub summary: JobSummary,
    /// OperationOutcome issues of the last refusal.
    pub issues: Vec<String>,
    /// The NIK, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nik: Option<String>,
    pub exchanges: Vec<ExchangeView>,
}

/// What the worker decided about one attempt.
#[derive(Debug, Clone)]
pub enum Decision {
    Sent {
        encounter_id: String,
    },
    Retry {
        at: i64,
        error: String,
    },
    Final {
        state: &'static str,
        error: String,
        issues: Vec<String>,
    },
}

#[derive(Clone)]
pub struct Store {
    db: Db,
}

fn decode(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Record a completed case (in the consumer's transaction); a second event of the same
    /// case changes nothing. Returns the state it got, or `None` for a duplicate.
    pub async fn enqueue(
        conn: &mut AnyConnection,
        case: &CaseCompleted,
        now: i64,
    ) -> Result<Option<&'static str>, sqlx::Error> {
        let (mut st, mut err) = match case.clinical.patient.nik.as_deref().map(str::trim) {
            None | Some("") => (state::UNIDENTIFIED, None),
            Some(n) => match Nik::parse(n) {
                Ok(_) => (state::QUEUED, None),
                Err(e) => (state::NEEDS_FIX, Some(format!("{}: {e}", e.code()))),
            },
        };
        if let Some(account) = &case.caller_account
            && Self::consent_withdrawn(&mut *conn, account).await?
        {
            (st, err) = (state::CONSENT_WITHDRAWN, Some(WITHDRAWN_NOTE.to_string()));
        }
        let record = serde_json::to_string(case).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let n = sqlx::query(
            "INSERT INTO satusehat_jobs (case_id, record, state, attempts, next_attempt_at, last_error, created_at, updated_at, caller_account) \
             VALUES ($1, $2, $3, 0, $4, $5, $4, $4, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&case.case_id)
        .bind(record)
        .bind(st)
        .bind(now)
        .bind(err)
        .bind(&case.caller_account)
        .execute(conn)
        .await?
        .rows_affected();
        Ok((n > 0).then_some(st))
    }

    /// Whether `account` withdrew `health_data_sharing` (no decision recorded: not withdrawn).
    async fn consent_withdrawn(
        conn: &mut AnyConnection,
        account: &str,
    ) -> Result<bool, sqlx::Error> {
        let row =
            sqlx::query("SELECT granted FROM consents WHERE account_id = $1 AND purpose = $2")
                .bind(account)
                .bind(HEALTH_DATA_SHARING)
                .fetch_optional(conn)
                .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>(0)? == 0,
            None => false,
        })
    }

    /// A consent decision (from `identity.consent.changed`, in the consumer's transaction):
    /// the latest per account and purpose is kept. A withdrawn `health_data_sharing` holds
    /// the account's jobs that are not sent yet (nor being sent) for Ops review; a consent
    /// given again releases nothing by itself (Ops replays). Returns the jobs held.
    pub async fn consent(
        conn: &mut AnyConnection,
        account: &str,
        purpose: &str,
        granted: bool,
        at: i64,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        sqlx::query(
            "INSERT INTO consents (account_id, purpose, granted, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, purpose) DO UPDATE SET granted = excluded.granted, at = excluded.at \
             WHERE consents.at < excluded.at",
        )
        .bind(account)
        .bind(purpose)
        .bind(i64::from(granted))
        .bind(at)
        .execute(&mut *conn)
        .await?;
        if purpose != HEALTH_DATA_SHARING || !Self::consent_withdrawn(&mut *conn, account).await? {
            return Ok(0);
        }
        Ok(sqlx::query(
            "UPDATE satusehat_jobs SET state = 'consent_withdrawn', last_error = $1, updated_at = $2 \
             WHERE caller_account = $3 AND state IN ('queued', 'unidentified', 'needs_fix', 'patient_not_found', 'dead')",
        )
        .bind(WITHDRAWN_NOTE)
        .bind(now)
        .bind(account)
        .execute(conn)
        .await?
        .rows_affected())
    }

    /// Take up to `limit` due jobs and count the attempt before anything is sent. One
    /// statement (write first: no read-then-write upgrade that SQLite could refuse).
    pub async fn claim_due(&self, now: i64, limit: i64) -> Result<Vec<Job>, sqlx::Error> {
        let claim = Claim {
            table: "satusehat_jobs",
            key: "case_id",
            set: "state = 'sending', attempts = attempts + 1, next_attempt_at = $1, updated_at = $2",
            due: "state IN ('queued', 'sending') AND next_attempt_at <= $2",
            order_by: "next_attempt_at, case_id",
            limit,
            returning: "case_id, record, nik, attempts",
        };
        let rows = sqlx::query(&claim.sql(self.db.backend()))
            .bind(now + LEASE_MICROS)
            .bind(now)
            .fetch_all(self.db.writer())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let record: String = row.try_get(1)?;
            out.push(Job {
                case_id: row.try_get(0)?,
                record: serde_json::from_str(&record).map_err(decode)?,
                nik: row.try_get(2)?,
                attempts: row.try_get(3)?,
            });
        }
        out.sort_by(|a, b| a.case_id.cmp(&b.case_id));
        Ok(out)
    }

    /// Store the attempt's exchanges and its outcome.
    pub async fn record(
        &self,
        job: &Job,
        exchanges: &[Exchange],
        decision: &Decision,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin().await?;
        for ex in exchanges {
            // Never a person in clear in the log (`redact`).
            let ex = &super::redact::exchange(ex);
            sqlx::query(
                "INSERT INTO satusehat_exchanges (case_id, attempt, at, method, url, request, status, response, duration_ms, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&job.case_id)
            .bind(job.attempts)
            .bind(ex.at)
            .bind(&ex.method)
            .bind(&ex.url)
            .bind(&ex.request)
            .bind(ex.status.map(i64::from))
            .bind(&ex.response)
            .bind(ex.duration_ms)
            .bind(&ex.error)
            .execute(&mut *tx)
            .await?;
        }
        let (st, next, enc, err, issues) = match decision {
            Decision::Sent { encounter_id } => {
                (state::SENT, now, Some(encounter_id.clone()), None, None)
            }
            Decision::Retry { at, error } => (state::QUEUED, *at, None, Some(error.clone()), None),
            Decision::Final {
                state,
                error,
                issues,
            } => (
                *state,
                now,
                None,
                Some(error.clone()),
                Some(serde_json::to_string(issues).unwrap_or_else(|_| "[]".into())),
            ),
        };
        sqlx::query(
            "UPDATE satusehat_jobs SET state = $1, next_attempt_at = $2, encounter_id = COALESCE($3, encounter_id), \
             last_error = $4, issues = $5, updated_at = $6 WHERE case_id = $7 AND state = 'sending'",
        )
        .bind(st)
        .bind(next)
        .bind(enc)
        .bind(err)
        .bind(issues)
        .bind(now)
        .bind(&job.case_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    pub async fn list(
        &self,
        state: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<JobSummary>, i64), sqlx::Error> {
        let filter = if state.is_some() {
            "WHERE state = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {SUMMARY} FROM satusehat_jobs {filter} ORDER BY updated_at DESC, case_id LIMIT {limit} OFFSET {offset}"
        );
        let mut q = sqlx::query(&sql);
        if let Some(s) = state {
            q = q.bind(s);
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        let count_sql = format!("SELECT COUNT(*) FROM satusehat_jobs {filter}");
        let mut c = sqlx::query(&count_sql);
        if let Some(s) = state {
            c = c.bind(s);
        }
        let total: i64 = c.fetch_one(self.db.pool()).await?.try_get(0)?;
        Ok((rows.iter().map(summary).collect::<Result<_, _>>()?, total))
    }

    pub async fn get(&self, case_id: &str) -> Result<Option<JobDetail>, sqlx::Error> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {SUMMARY}, issues, nik, record FROM satusehat_jobs WHERE case_id = $1"
        ))
        .bind(case_id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let s = summary(&row)?;
        let issues: Option<String> = row.try_get(8)?;
        let nik: Option<String> = row.try_get(9)?;
        let record: String = row.try_get(10)?;
        let nik = nik.or_else(|| {
            serde_json::from_str::<CaseCompleted>(&record)
                .ok()
                .and_then(|c| c.clinical.patient.nik)
        });
        let exchanges = sqlx::query(
            "SELECT attempt, at, method, url, request, status, response, duration_ms, error \
             FROM satusehat_exchanges WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(ExchangeView {
                attempt: r.try_get(0)?,
                at: rfc3339(r.try_get(1)?),
                method: r.try_get(2)?,
                url: r.try_get(3)?,
                request: r.try_get(4)?,
                status: r.try_get(5)?,
                response: r.try_get(6)?,
                duration_ms: r.try_get(7)?,
                error: r.try_get(8)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(JobDetail {
            summary: s,
            issues: issues
                .and_then(|i| serde_json::from_str(&i).ok())
                .unwrap_or_default(),
            nik: nik.map(|n| match Nik::parse(&n) {
                Ok(n) => n.masked(),
                Err(_) => "(invalid)".into(),
            }),
            exchanges,
        }))
    }

    /// Record a read of a job's health data (before the data is answered: no record, no data).
    pub async fn log_access(
        &self,
        actor: &str,
        case_id: &str,
        action: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO access_log (id, at, actor, case_id, action) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(now)
        .bind(actor)
        .bind(case_id)
        .bind(action)
        .execute(self.db.writer())
        .await?;
        Ok(())
    }

    /// The access log, newest first, of one case or of all; with the total.
    pub async fn access_log(
        &self,
        case_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AccessEntry>, i64), sqlx::Error> {
        let filter = if case_id.is_some() {
            "WHERE case_id = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT at, actor, case_id, action FROM access_log {filter} ORDER BY at DESC, id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut q = sqlx::query(&sql);
        if let Some(c) = case_id {
            q = q.bind(c);
        }
        let rows = q.fetch_all(self.db.pool()).await?;
        let count_sql = format!("SELECT COUNT(*) FROM access_log {filter}");
        let mut c = sqlx::query(&count_sql);
        if let Some(id) = case_id {
            c = c.bind(id);
        }
        let total: i64 = c.fetch_one(self.db.pool()).await?.try_get(0)?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(AccessEntry {
                    at: rfc3339(r.try_get(0)?),
                    actor: r.try_get(1)?,
                    case_id: r.try_get(2)?,
                    action: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok((items, total))
    }

    /// Queue jobs again now (with a fresh attempt budget). Jobs being sent, without a NIK
    /// or already queued are left alone; returns the case ids queued.
    pub async fn replay(&self, case_ids: &[String], now: i64) -> Result<Vec<String>, sqlx::Error> {
        let mut done = Vec::new();
        let mut tx = self.db.begin().await?;
        for id in case_ids {
            let n = sqlx::query(
                "UPDATE satusehat_jobs SET state = 'queued', attempts = 0, next_attempt_at = $1, updated_at = $1 \
                 WHERE case_id = $2 AND state IN ('dead', 'needs_fix', 'patient_not_found', 'sent', 'discarded')",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                done.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// An operator releases a job held for a withdrawn consent (the report is a legal duty
    /// here): queued now. `false` when it is not held.
    pub async fn release_held(&self, case_id: &str, now: i64) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE satusehat_jobs SET state = 'queued', attempts = 0, next_attempt_at = $1, last_error = NULL, updated_at = $1 \
             WHERE case_id = $2 AND state = 'consent_withdrawn'",
        )
        .bind(now)
        .bind(case_id)
        .execute(self.db.writer())
        .await?
        .rows_affected()
            > 0)
    }

    /// Case ids in `state` (replay of all dead letters).
    pub async fn ids_in(&self, st: &str, limit: i64) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT case_id FROM satusehat_jobs WHERE state = $1 ORDER BY case_id LIMIT {limit}"
        ))
        .bind(st)
        .fetch_all(self.db.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect()
    }

    /// Give up on a job that cannot be sent (dead letter, refused, unidentified).
    pub async fn discard(&self, case_id: &str, now: i64) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE satusehat_jobs SET state = 'discarded', updated_at = $1 \
             WHERE case_id = $2 AND state IN ('dead', 'needs_fix', 'patient_not_found', 'unidentified', 'consent_withdrawn')",
        )
        .bind(now)
        .bind(case_id)
        .execute(self.db.writer())
        .await?
        .rows_affected()
            > 0)
    }

    /// The operator's NIK for a job without (or with a wrong) one; queues it at once.
    pub async fn set_nik(&self, case_id: &str, nik: &Nik, now: i64) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE satusehat_jobs SET nik = $1, state = 'queued', attempts = 0, next_attempt_at = $2, last_error = NULL, \
             issues = NULL, updated_at = $2 WHERE case_id = $3 AND state IN ('unidentified', 'needs_fix', 'patient_not_found', 'discarded')",
        )
        .bind(nik.as_str())
        .bind(now)
        .bind(case_id)
        .execute(self.db.writer())
        .await?
        .rows_affected()
            > 0)
    }

    pub async fn state_of(&self, case_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query("SELECT state FROM satusehat_jobs WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(self.db.pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()
    }

    /// Retention: drop the exchanges of jobs settled (sent or discarded) before `before`;
    /// the job rows stay. Returns the exchanges removed.
    pub async fn prune(&self, before: i64) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "DELETE FROM satusehat_exchanges WHERE case_id IN \
             (SELECT case_id FROM satusehat_jobs WHERE state IN ('sent', 'discarded') AND updated_at < $1)",
        )
        .bind(before)
        .execute(self.db.writer())
        .await?
        .rows_affected())
    }

    /// Jobs per state.
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query("SELECT state, COUNT(*) FROM satusehat_jobs GROUP BY state ORDER BY state")
            .fetch_all(self.db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }
}

const SUMMARY: &str =
    "case_id, state, attempts, next_attempt_at, encounter_id, last_error, created_at, updated_at";

fn summary(r: &AnyRow) -> Result<JobSummary, sqlx::Error> {
    Ok(JobSummary {
        case_id: r.try_get(0)?,
        state: r.try_get(1)?,
        attempts: r.try_get(2)?,
        next_attempt_at: rfc3339(r.try_get(3)?),
        encounter_id: r.try_get(4)?,
        last_error: r.try_get(5)?,
        created_at: rfc3339(r.try_get(6)?),
        updated_at: rfc3339(r.try_get(7)?),
    })
}
