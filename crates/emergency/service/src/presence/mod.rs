//! Live presence: who is on duty, where, and whom they may be offered. In memory (the grid
//! index and the eligibility copy), with the last known locations written to the store in
//! batches (not per ping) and the index rebuilt from them at start. Off duty, nothing about
//! a volunteer's location is kept (privacy rule).

pub mod duty;
pub mod http;

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, RwLock},
};

use kreki_emergency_contracts::Severity;
use kreki_platform::{storage::Db, time_util::now_micros};
use kreki_volunteers_contracts::{CertLevel, EligibilityChanged};
use sqlx::Row;

use crate::geo::{LatLng, index::Grid, shared::SharedGrid, slots::SlotMap};

/// How stale a moved position may be in the queries' snapshot (see [`SharedGrid`]).
pub const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// What dispatch needs to know about a volunteer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Eligibility {
    pub verified: bool,
    pub cert_level: CertLevel,
    /// Unix microseconds.
    pub cert_valid_until: Option<i64>,
    pub health_professional: bool,
    pub version: i64,
}

impl Eligibility {
    fn certified(&self, now_us: i64) -> bool {
        self.cert_level != CertLevel::None && self.cert_valid_until.is_some_and(|t| t > now_us)
    }

    /// Dispatch class for a case of `severity` (lower is offered first), `None`: not offered.
    /// Critical cases: a valid BHD certificate or a verified health professional only.
    /// Urgent and normal: those first, then verified volunteers without a certificate.
    pub fn class(&self, severity: Severity, now_us: i64) -> Option<u8> {
        if !self.verified {
            return None;
        }
        let qualified = self.certified(now_us) || self.health_professional;
        match (severity, qualified) {
            (_, true) => Some(0),
            (Severity::Critical, false) => None,
            (_, false) => Some(1),
        }
    }
}

/// A volunteer who could be offered a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub volunteer_id: String,
    pub distance_m: f64,
    pub class: u8,
    pub location_age_s: u32,
}

/// Who is known (dense slots) and their eligibility: written rarely (a volunteer's first time
/// on duty, an eligibility event), so readers practically never wait on this lock.
#[derive(Default)]
struct Inner {
    slots: SlotMap<String>,
    eligibility: HashMap<String, Eligibility>,
}

/// Changes not yet written to the store: `Some(location)` on duty, `None` off duty.
type Dirty = HashMap<String, Option<(i32, i32, i64)>>;

/// Rows per statement when writing the location snapshot (4 parameters each).
const FLUSH_ROWS: usize = 250;

/// Called after a local presence change (replicas share them through the bus).
pub type SyncFn = Box<dyn Fn(&str, Option<(i32, i32, i64)>) + Send + Sync>;

/// Called after a local eligibility change.
pub type EligibilitySyncFn = Box<dyn Fn(&str, &Eligibility) + Send + Sync>;

/// The live state of volunteers.
pub struct Live {
    inner: RwLock<Inner>,
    /// Positions of on-duty volunteers: queries never wait for location updates.
    grid: SharedGrid,
    dirty: Mutex<Dirty>,
    sync: std::sync::OnceLock<SyncFn>,
    sync_eligibility: std::sync::OnceLock<EligibilitySyncFn>,
    /// Index seconds count from here (Unix seconds).
    epoch_s: i64,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

fn index_seconds(epoch_s: i64, at_us: i64) -> u32 {
    u32::try_from((at_us / 1_000_000 - epoch_s).max(0))
        .unwrap_or(u32::MAX >> 4)
        .min(u32::MAX >> 4)
}

impl Live {
    pub fn new() -> Live {
        Live {
            inner: RwLock::new(Inner::default()),
            grid: SharedGrid::new(Grid::default(), PUBLISH_INTERVAL),
            dirty: Mutex::new(HashMap::new()),
            sync: std::sync::OnceLock::new(),
            sync_eligibility: std::sync::OnceLock::new(),
            epoch_s: now_micros() / 1_000_000 - 86_400,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn mark(&self, volunteer: &str, v: Option<(i32, i32, i64)>) {
        self.dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(volunteer.to_string(), v);
    }

    /// On duty at `loc` (or a location update while on duty).
    pub fn locate(&self, volunteer: &str, loc: LatLng, at_us: i64) {
        let (lat, lng) = loc.to_e6();
        self.apply_remote(volunteer, Some((lat, lng, at_us)));
        self.mark(volunteer, Some((lat, lng, at_us)));
        if let Some(f) = self.sync.get() {
            f(volunteer, Some((lat, lng, at_us)));
        }
    }

    /// Share every local change with the other replicas through `f`.
    pub fn set_sync(&self, f: SyncFn) {
        let _ = self.sync.set(f);
    }

    fn slot_of(&self, volunteer: &str) -> Option<u32> {
        self.read().slots.get(volunteer)
    }

    /// A change made on another replica (that replica writes it to the store).
    pub fn apply_remote(&self, volunteer: &str, at: Option<(i32, i32, i64)>) {
        match at {
            Some((lat, lng, at_us)) => {
                let slot = match self.slot_of(volunteer) {
                    Some(s) => s,
                    None => self.write().slots.slot(volunteer),
                };
                let at_s = index_seconds(self.epoch_s, at_us);
                self.grid.update(|g| {
                    let new = g.get(slot).is_none();
                    g.upsert(slot, lat, lng, at_s, 0);
                    ((), new)
                });
            }
            None => {
                if let Some(slot) = self.slot_of(volunteer) {
                    self.grid.update(|g| ((), g.remove(slot)));
                }
            }
        }
    }

    /// Make moved positions visible to queries (called every [`PUBLISH_INTERVAL`]).
    pub fn publish_pending(&self) {
        self.grid.publish_pending();
    }

    /// Off duty: forget the location.
    pub fn off_duty(&self, volunteer: &str) {
        self.apply_remote(volunteer, None);
        self.mark(volunteer, None);
        if let Some(f) = self.sync.get() {
            f(volunteer, None);
        }
    }

    /// Where an on-duty volunteer is (degrees).
    pub fn nearby_of(&self, volunteer: &str) -> Option<(f64, f64)> {
        let e = self.grid.read().get(self.slot_of(volunteer)?)?;
        Some((f64::from(e.lat_e6) / 1e6, f64::from(e.lng_e6) / 1e6))
    }

    pub fn is_on_duty(&self, volunteer: &str) -> bool {
        self.slot_of(volunteer)
            .is_some_and(|s| self.grid.read().get(s).is_some())
    }

    /// Apply an eligibility event (older versions are ignored). Returns whether it applied.
    pub fn set_eligibility(&self, volunteer: &str, e: Eligibility) -> bool {
        let applied = self.apply_remote_eligibility(volunteer, e.clone());
        if applied && let Some(f) = self.sync_eligibility.get() {
            f(volunteer, &e);
        }
        applied
    }

    /// Share eligibility changes with the other replicas (the bus delivers each event to one
    /// replica of the consumer group).
    pub fn set_eligibility_sync(&self, f: EligibilitySyncFn) {
        let _ = self.sync_eligibility.set(f);
    }

    /// An eligibility change applied on another replica.
    pub fn apply_remote_eligibility(&self, volunteer: &str, e: Eligibility) -> bool {
        let mut g = self.write();
        match g.eligibility.get(volunteer) {
            Some(old) if old.version >= e.version => false,
            _ => {
                g.eligibility.insert(volunteer.to_string(), e);
                true
            }
        }
    }

    pub fn eligibility(&self, volunteer: &str) -> Option<Eligibility> {
        self.read().eligibility.get(volunteer).cloned()
    }

    /// The best `k` volunteers within `radius_m` for a case of `severity`, leaving out
    /// `exclude` and locations older than `max_age_s`.
    pub fn candidates(
        &self,
        center: LatLng,
        radius_m: f64,
        k: usize,
        severity: Severity,
        exclude: &HashSet<String>,
        max_age_s: u32,
    ) -> Vec<Candidate> {
        let now = now_micros();
        let now_s = index_seconds(self.epoch_s, now);
        let g = self.read();
        let grid = self.grid.read();
        let class = |e: &crate::geo::index::Entry| {
            let id = g.slots.key(e.slot)?;
            if exclude.contains(id) {
                return None;
            }
            g.eligibility.get(id)?.class(severity, now)
        };
        grid.nearest(center, radius_m, k, now_s, max_age_s, class)
            .into_iter()
            .filter_map(|h| {
                Some(Candidate {
                    volunteer_id: g.slots.key(h.slot)?.clone(),
                    distance_m: h.distance_m,
                    class: h.class,
                    location_age_s: h.age_s,
                })
            })
            .collect()
    }

    /// Every on-duty volunteer within `radius_m` (Ops), regardless of eligibility.
    pub fn nearby(&self, center: LatLng, radius_m: f64, k: usize) -> Vec<Candidate> {
        let now_s = index_seconds(self.epoch_s, now_micros());
        let g = self.read();
        self.grid
            .read()
            .nearest(center, radius_m, k, now_s, u32::MAX, |_| Some(0))
            .into_iter()
            .filter_map(|h| {
                Some(Candidate {
                    volunteer_id: g.slots.key(h.slot)?.clone(),
                    distance_m: h.distance_m,
                    class: 0,
                    location_age_s: h.age_s,
                })
            })
            .collect()
    }

    /// Write pending location changes in one transaction (called every second or so).
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let batch: Dirty = std::mem::take(
            &mut *self
                .dirty
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        let result = async {
            // Multi-row statements: a few round trips for thousands of changes (10,000
            // volunteers reporting every 3 s change ~3,300 rows a second).
            let mut tx = db.begin().await?;
            let (located, gone): (Vec<_>, Vec<_>) = batch.iter().partition(|(_, v)| v.is_some());
            for chunk in located.chunks(FLUSH_ROWS) {
                let values = (0..chunk.len())
                    .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO presence (volunteer_id, lat_e6, lng_e6, at) VALUES {values} \
                     ON CONFLICT (volunteer_id) DO UPDATE SET lat_e6 = excluded.lat_e6, lng_e6 = excluded.lng_e6, at = excluded.at"
                );
                let mut q = sqlx::query(&sql);
                for (id, v) in chunk {
                    let (lat, lng, at) = v.unwrap_or_default();
                    q = q.bind(*id).bind(i64::from(lat)).bind(i64::from(lng)).bind(at);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in gone.chunks(FLUSH_ROWS) {
                let list = (1..=chunk.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
                let sql = format!("DELETE FROM presence WHERE volunteer_id IN ({list})");
                let mut q = sqlx::query(&sql);
                for (id, _) in chunk {
                    q = q.bind(*id);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            // Put the batch back (newer changes win) and try again later.
            let mut d = self
                .dirty
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (k, v) in batch {
                d.entry(k).or_insert(v);
            }
            return Err(e);
        }
        Ok(n)
    }

    /// Rebuild from the store at start.
    pub async fn load(&self, db: &Db) -> Result<(usize, usize), sqlx::Error> {
        let rows = sqlx::query("SELECT volunteer_id, lat_e6, lng_e6, at FROM presence")
            .fetch_all(db.pool())
            .await?;
        let elig = sqlx::query("SELECT volunteer_id, verified, cert_level, cert_valid_until, health_professional, version FROM eligibility")
            .fetch_all(db.pool())
            .await?;
        let mut g = self.write();
        let mut located = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get(0)?;
            let lat: i64 = r.try_get(1)?;
            let lng: i64 = r.try_get(2)?;
            let at: i64 = r.try_get(3)?;
            located.push((g.slots.slot(&id), lat as i32, lng as i32, at));
        }
        self.grid.update(|grid| {
            for &(slot, lat, lng, at) in &located {
                grid.upsert(slot, lat, lng, index_seconds(self.epoch_s, at), 0);
            }
            ((), false)
        });
        for r in &elig {
            let level: String = r.try_get(2)?;
            g.eligibility.insert(
                r.try_get(0)?,
                Eligibility {
                    verified: r.try_get::<i64, _>(1)? != 0,
                    cert_level: serde_json::from_value(serde_json::Value::String(level))
                        .unwrap_or(CertLevel::None),
                    cert_valid_until: r.try_get(3)?,
                    health_professional: r.try_get::<i64, _>(4)? != 0,
                    version: r.try_get(5)?,
                },
            );
        }
        drop(g);
        self.grid.shrink();
        Ok((rows.len(), elig.len()))
    }
}

/// Convert the event into the local copy (RFC 3339 → microseconds).
pub fn eligibility_from(ev: &EligibilityChanged) -> Eligibility {
    Eligibility {
        verified: ev.verified,
        cert_level: ev.cert_level,
        cert_valid_until: ev
            .cert_valid_until
            .as_deref()
            .and_then(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(kreki_platform::time_util::to_micros),
        health_professional: ev.health_professional,
        version: ev.version,
    }
}

/// Store the eligibility copy (inside the consumer's transaction).
pub async fn store_eligibility(
    tx: &mut kreki_platform::storage::Tx,
    ev: &EligibilityChanged,
    e: &Eligibility,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO eligibility (volunteer_id, verified, cert_level, cert_valid_until, health_professional, skills, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (volunteer_id) DO UPDATE SET verified = excluded.verified, \
         cert_level = excluded.cert_level, cert_valid_until = excluded.cert_valid_until, \
         health_professional = excluded.health_professional, skills = excluded.skills, version = excluded.version \
         WHERE eligibility.version < excluded.version",
    )
    .bind(&ev.volunteer_id)
    .bind(i64::from(e.verified))
    .bind(serde_json::to_value(e.cert_level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
    .bind(e.cert_valid_until)
    .bind(i64::from(e.health_professional))
    .bind(serde_json::to_string(&ev.skills).unwrap_or_else(|_| "[]".into()))
    .bind(e.version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elig(verified: bool, level: CertLevel, valid: Option<i64>, hp: bool) -> Eligibility {
        Eligibility {
            verified,
            cert_level: level,
            cert_valid_until: valid,
            health_professional: hp,
            version: 1,
        }
    }

    #[test]
    fn dispatch_classes() {
        let now = now_micros();
        let future = Some(now + 1_000_000_000);
        let past = Some(now - 1);
        assert_eq!(
            elig(true, CertLevel::Basic, future, false).class(Severity::Critical, now),
            Some(0)
        );
        assert_eq!(
            elig(true, CertLevel::Basic, past, false).class(Severity::Critical, now),
            None,
            "expired certificate"
        );
        assert_eq!(
            elig(true, CertLevel::None, None, true).class(Severity::Critical, now),
            Some(0),
            "health professional"
        );
        assert_eq!(
            elig(true, CertLevel::None, None, false).class(Severity::Critical, now),
            None
        );
        assert_eq!(
            elig(true, CertLevel::None, None, false).class(Severity::Urgent, now),
            Some(1)
        );
        assert_eq!(
            elig(false, CertLevel::Plus, future, true).class(Severity::Normal, now),
            None,
            "unverified"
        );
    }

    #[test]
    fn candidates_respect_eligibility_exclusion_and_duty() {
        let live = Live::new();
        let now = now_micros();
        let here = LatLng::new(-6.2, 106.8).unwrap_or_else(|_| unreachable!());
        let near =
            |m: f64| LatLng::new(-6.2 + m / 111_195.0, 106.8).unwrap_or_else(|_| unreachable!());
        live.locate("cert", near(300.0), now);
        live.locate("plain", near(100.0), now);
        live.locate("unverified", near(50.0), now);
        live.set_eligibility(
            "cert",
            elig(true, CertLevel::Basic, Some(now + 10_000_000_000), false),
        );
        live.set_eligibility("plain", elig(true, CertLevel::None, None, false));
        live.set_eligibility(
            "unverified",
            elig(false, CertLevel::Basic, Some(now + 10_000_000_000), false),
        );
        let ids = |c: Vec<Candidate>| c.into_iter().map(|c| c.volunteer_id).collect::<Vec<_>>();
        assert_eq!(
            ids(live.candidates(here, 1_000.0, 5, Severity::Critical, &HashSet::new(), 300)),
            ["cert"]
        );
        assert_eq!(
            ids(live.candidates(here, 1_000.0, 5, Severity::Urgent, &HashSet::new(), 300)),
            ["cert", "plain"]
        );
        let ex: HashSet<String> = ["cert".to_string()].into();
        assert_eq!(
            ids(live.candidates(here, 1_000.0, 5, Severity::Urgent, &ex, 300)),
            ["plain"]
        );
        live.off_duty("cert");
        assert!(!live.is_on_duty("cert"));
        assert!(
            live.candidates(here, 1_000.0, 5, Severity::Critical, &HashSet::new(), 300)
                .is_empty()
        );
        // Older eligibility versions do not overwrite newer ones.
        assert!(!live.set_eligibility(
            "plain",
            Eligibility {
                version: 0,
                ..elig(false, CertLevel::None, None, false)
            }
        ));
        assert_eq!(live.nearby(here, 1_000.0, 10).len(), 2);
    }
}
