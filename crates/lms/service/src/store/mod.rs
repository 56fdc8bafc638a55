//! The LMS store and its rules: catalogue, enrolment with prerequisites, lessons, attempts
//! with server-side scoring, practical sign-off, certificates (gap-free numbers, credential,
//! revocation, reminders). One adapter over the platform's [`Db`] serves SQLite and
//! PostgreSQL; the tests run every case on both.

use std::sync::Arc;

use kreki_lms_contracts::{
    CERTIFICATE_EXPIRING, CERTIFICATE_ISSUED, CERTIFICATE_REVOKED, CertificateEvent, Level,
};
use kreki_notify_contracts::{
    Attachment, MESSAGE_REQUESTED, MessageRequested, Priority, Recipient, Template,
};
use kreki_platform::{
    bus::{Event, outbox},
    storage::{Backend, Db, Tx},
    time_util::{from_micros, now_micros, rfc3339},
};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use crate::{
    credential::{self, CredentialInput, Issuer},
    domain::{self, CATALOGUE, LevelInfo, level_info, level_str, parse_level, rank},
    pdf,
};

mod error;
pub use error::*;
mod views;
pub use views::*;
mod catalogue;
mod certificates;
mod quizzes;
mod seed;
mod signoff;
use seed::{load_or_create_issuer, seed_catalogue};

pub const SOURCE: &str = "lms";
/// Submissions this long after the deadline are still accepted (network latency).
pub const GRACE_MICROS: i64 = 30_000_000;

// ---- helpers -----------------------------------------------------------------------

/// `(id, en)` text chosen by language.
fn pick(row: &AnyRow, base: &str, en: bool) -> String {
    let col = format!("{base}_{}", if en { "en" } else { "id" });
    row.try_get::<String, _>(col.as_str()).unwrap_or_default()
}

fn level_of(row: &AnyRow) -> Level {
    parse_level(&row.get::<String, _>("level")).unwrap_or(Level::Basic)
}

pub fn add_years(us: i64, years: i64) -> i64 {
    let t = from_micros(us);
    let y = t.year() + i32::try_from(years).unwrap_or(0);
    let d = t.date();
    let date = time::Date::from_calendar_date(y, d.month(), d.day())
        .or_else(|_| time::Date::from_calendar_date(y, d.month(), 28))
        .unwrap_or(d);
    kreki_platform::time_util::to_micros(t.replace_date(date))
}

pub fn sub_months(us: i64, months: i64) -> i64 {
    let t = from_micros(us);
    let d = t.date();
    let total = i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1 - months;
    let y = i32::try_from(total.div_euclid(12)).unwrap_or(d.year());
    let m = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    let month = time::Month::try_from(m).unwrap_or(time::Month::January);
    let day = d.day().min(month.length(y));
    let date = time::Date::from_calendar_date(y, month, day).unwrap_or(d);
    kreki_platform::time_util::to_micros(t.replace_date(date))
}

/// A name as the public may see it: the first name in full, the other names as initials
/// (`Budi Santoso` → `Budi S.`, `Muhammad Rizky Pratama` → `Muhammad R. P.`). Titles before
/// the name (words ending in a full stop: `dr.`, `Ns.`) and degrees after a comma are left
/// out.
pub fn mask_name(name: &str) -> String {
    let base = name.split(',').next().unwrap_or("");
    let mut words = base
        .split_whitespace()
        .skip_while(|w| w.ends_with('.'))
        .filter(|w| w.chars().next().is_some_and(char::is_alphanumeric));
    let Some(first) = words.next() else {
        return String::new();
    };
    let mut out = first.to_string();
    for w in words {
        if let Some(c) = w.chars().next() {
            out.push(' ');
            out.extend(c.to_uppercase());
            out.push('.');
        }
    }
    out
}

/// Crockford base32 (no I, L, O, U): easy to read out and to type.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A certificate's public id: its register number and 80 random bits (16 characters).
pub fn new_public_id(number: &str) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let secret: String = (0..16)
        .map(|_| char::from(CROCKFORD[rng.gen_range(0..32)]))
        .collect();
    format!("{number}-{secret}")
}

/// The register number inside a public id.
pub fn register_number(public_id: &str) -> &str {
    public_id.rsplit_once('-').map_or(public_id, |(n, _)| n)
}

fn date_only(us: i64) -> String {
    rfc3339(us).chars().take(10).collect()
}

/// A write transaction through the platform's single writer ([`Db::begin`]): on SQLite the
/// writer connection, in the order asked for, so a transaction that reads first and writes
/// later never fails to upgrade under concurrency; PostgreSQL locks rows as it goes.
pub async fn write_tx(db: &Db) -> Result<Tx, sqlx::Error> {
    db.begin().await
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    issuer: Arc<Issuer>,
    base_url: String,
}

struct QuizRow {
    id: String,
    course_id: String,
    kind: String,
    question_count: i64,
    time_limit_s: i64,
    max_attempts: i64,
}

#[derive(Serialize, Deserialize)]
struct LayoutEntry {
    question_id: String,
    option_ids: Vec<String>,
}

impl Store {
    /// Seed the catalogue (idempotent), load or make the issuer key.
    pub async fn open(db: Db, base_url: String) -> anyhow::Result<Store> {
        seed_catalogue(&db).await?;
        let issuer = Arc::new(load_or_create_issuer(&db).await?);
        let store = Store {
            db,
            issuer,
            base_url,
        };
        store.backfill_public_ids().await?;
        Ok(store)
    }

    /// Certificates issued before public ids existed get one, and their credential is
    /// signed again with it (its id is the verification URL). Idempotent; replicas starting
    /// together keep the first written.
    async fn backfill_public_ids(&self) -> anyhow::Result<()> {
        let rows = sqlx::query(
            "SELECT t.*, c.title_id, c.summary_id FROM certificates t JOIN courses c ON c.id = t.course_id \
             WHERE t.public_id IS NULL",
        )
        .fetch_all(self.db.pool())
        .await?;
        for r in rows {
            let number: String = r.get("id");
            let public = new_public_id(&number);
            let level = level_of(&r);
            let account: String = r.get("account_id");
            let course_id: String = r.get("course_id");
            let holder: String = r.get("holder_name");
            let title: String = r.get("title_id");
            let summary: String = r.get("summary_id");
            let claims = credential::certificate_claims(
                &CredentialInput {
                    base_url: &self.base_url,
                    certificate_id: &public,
                    holder_account: &account,
                    holder_name: &holder,
                    course_id: &course_id,
                    course_name: &title,
                    course_summary: &summary,
                    level: level_str(level),
                    issued_at: r.get::<i64, _>("issued_at") / 1_000_000,
                    valid_until: r.get::<i64, _>("valid_until") / 1_000_000,
                    status_index: r.get("status_index"),
                },
                &self.issuer.did,
            );
            // An erased holder's entry has no credential to sign again.
            let credential = if erased(&r) {
                String::new()
            } else {
                self.issuer.sign(&claims)
            };
            sqlx::query(
                "UPDATE certificates SET public_id = $1, credential = $2 WHERE id = $3 AND public_id IS NULL",
            )
            .bind(&public)
            .bind(credential)
            .bind(&number)
            .execute(self.db.writer())
            .await?;
        }
        Ok(())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn erased(r: &AnyRow) -> bool {
    r.try_get::<Option<i64>, _>("holder_erased_at")
        .ok()
        .flatten()
        .is_some()
}

fn status_of(revoked_at: Option<i64>, valid_until: i64, now_us: i64) -> &'static str {
    if revoked_at.is_some() {
        "revoked"
    } else if valid_until <= now_us {
        "expired"
    } else {
        "valid"
    }
}

/// Serialise the transactions that may issue a learner's certificate (post-test submission
/// and practical sign-off) so that one of them always sees the other's row. On SQLite
/// the single writer already serialises them.
async fn lock_enrollment(
    tx: &mut Tx,
    backend: Backend,
    account: &str,
    course_id: &str,
) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query(
            "SELECT 1 FROM enrollments WHERE account_id = $1 AND course_id = $2 FOR UPDATE",
        )
        .bind(account)
        .bind(course_id)
        .fetch_optional(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Next value of a counter row, in the caller's transaction: gap-free because a rolled
/// back issue rolls the counter back too; concurrent issuers wait on the row lock.
async fn next_counter(tx: &mut Tx, scope: &str, year: i64) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO cert_counters (scope, year, last) VALUES ($1, $2, 1) \
         ON CONFLICT (scope, year) DO UPDATE SET last = cert_counters.last + 1 RETURNING last",
    )
    .bind(scope)
    .bind(year)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked_for_the_public() {
        for (name, masked) in [
            ("Budi Santoso", "Budi S."),
            ("Muhammad Rizky Pratama", "Muhammad R. P."),
            ("dr. Andi Wijaya", "Andi W."),
            ("Prof. dr. Budi Santoso, Sp.JP(K)", "Budi S."),
            ("Ns. Maya", "Maya"),
            ("Sukarno", "Sukarno"),
            ("  siti   rahma ", "siti R."),
            ("Ébé ñandú", "Ébé Ñ."),
            ("", ""),
            ("dr.", ""),
        ] {
            assert_eq!(mask_name(name), masked, "{name}");
        }
    }

    #[test]
    fn public_ids_hold_the_number_and_80_random_bits() {
        let a = new_public_id("BHD-BASIC-2026-0001");
        let b = new_public_id("BHD-BASIC-2026-0001");
        assert_ne!(a, b);
        assert_eq!(register_number(&a), "BHD-BASIC-2026-0001");
        let secret = a.rsplit('-').next().unwrap_or("");
        assert_eq!(secret.len(), 16);
        assert!(secret.bytes().all(|c| CROCKFORD.contains(&c)));
    }
}
