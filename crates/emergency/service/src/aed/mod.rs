//! AED registry: where the defibrillators are, when they can be reached, and the nearest
//! ones for a caller or a responder (an in-memory grid of active AEDs, rebuilt at start).

pub mod http;

use std::sync::RwLock;

use kreki_platform::{storage::Db, time_util::now_micros};
use serde::{Deserialize, Serialize};
use sqlx::{Row, any::AnyRow};
use utoipa::ToSchema;

use crate::geo::{
    LatLng,
    index::{Grid, Snapshot},
    slots::SlotMap,
};

/// Opening hours of one day (0 = Monday … 6 = Sunday), local time `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub day: u8,
    pub open: String,
    pub close: String,
}

fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24
        && m < 60
        && h * 60 + m <= 1440
        && h.to_string().len() <= 2
        && m.to_string().len() <= 2)
        .then_some(h * 60 + m)
}

/// Is it open at `now_us`? `None` hours: always (24/7).
pub fn open_at(hours: Option<&[Hours]>, utc_offset_minutes: i32, now_us: i64) -> bool {
    let Some(hours) = hours else { return true };
    let local_min = now_us / 60_000_000 + i64::from(utc_offset_minutes);
    let day_index = local_min.div_euclid(1440);
    // 1970-01-01 was a Thursday (day 3 with Monday = 0).
    let weekday = (day_index + 3).rem_euclid(7) as u8;
    let minute = local_min.rem_euclid(1440) as u32;
    hours.iter().any(|h| {
        h.day == weekday
            && matches!((minutes(&h.open), minutes(&h.close)), (Some(o), Some(c)) if o <= minute && minute < c)
    })
}

/// Body of create and update.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AedInput {
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub address: Option<String>,
    /// `public` (anyone may fetch it) or `restricted` (ask the contact).
    pub access: String,
    /// Opening hours; absent means 24/7.
    #[serde(default)]
    pub hours: Option<Vec<Hours>>,
    /// Local time offset (WIB +420, WITA +480, WIT +540).
    #[serde(default = "default_offset")]
    pub utc_offset_minutes: i32,
    #[serde(default)]
    pub contact: Option<String>,
}

fn default_offset() -> i32 {
    420
}

impl AedInput {
    /// Problems with the input, for a 422.
    pub fn problem(&self) -> Option<&'static str> {
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Some("name");
        }
        if !matches!(self.access.as_str(), "public" | "restricted") {
            return Some("access");
        }
        if ![420, 480, 540].contains(&self.utc_offset_minutes) {
            return Some("utc_offset_minutes");
        }
        if let Some(h) = &self.hours
            && (h.len() > 21
                || h.iter().any(|h| {
                    h.day > 6 || minutes(&h.open).is_none() || minutes(&h.close).is_none()
                }))
        {
            return Some("hours");
        }
        None
    }
}

/// An AED as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Aed {
    pub id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<Hours>>,
    pub utc_offset_minutes: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    pub active: bool,
    /// Whether it can be reached now.
    pub open_now: bool,
    /// From the point asked about (nearest queries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
}

fn aed_from(r: &AnyRow) -> Result<Aed, sqlx::Error> {
    let hours: Option<String> = r.try_get(6)?;
    let hours: Option<Vec<Hours>> = hours.and_then(|h| serde_json::from_str(&h).ok());
    let offset = i32::try_from(r.try_get::<i64, _>(7)?).unwrap_or(420);
    Ok(Aed {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        latitude: r.try_get::<i64, _>(2)? as f64 / 1e6,
        longitude: r.try_get::<i64, _>(3)? as f64 / 1e6,
        address: r.try_get(4)?,
        access: r.try_get(5)?,
        open_now: open_at(hours.as_deref(), offset, now_micros()),
        hours,
        utc_offset_minutes: offset,
        contact: r.try_get(8)?,
        active: r.try_get::<i64, _>(9)? != 0,
        distance_m: None,
    })
}

const COLUMNS: &str =
    "id, name, lat_e6, lng_e6, address, access, hours, utc_offset_minutes, contact, active";

/// The registry: the table and the index of active AEDs.
pub struct Registry {
    db: Db,
    /// Ids, the grid, and its snapshot for queries (refreshed on each change: AEDs change
    /// rarely).
    index: RwLock<(SlotMap<String>, Grid, Snapshot)>,
}

impl Registry {
    pub async fn load(db: Db) -> Result<Registry, sqlx::Error> {
        let reg = Registry {
            db,
            index: RwLock::new((SlotMap::new(), Grid::default(), Snapshot::default())),
        };
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM aeds WHERE active = 1"))
            .fetch_all(reg.db.pool())
            .await?;
        for r in &rows {
            let a = aed_from(r)?;
            reg.put_index(&a);
        }
        Ok(reg)
    }

    fn put_index(&self, a: &Aed) {
        let mut g = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = g.0.slot(&a.id);
        if a.active {
            g.1.upsert(
                slot,
                (a.latitude * 1e6).round() as i32,
                (a.longitude * 1e6).round() as i32,
                0,
                0,
            );
        } else {
            g.1.remove(slot);
        }
        let (_, grid, snapshot) = &mut *g;
        snapshot.refresh_from(grid);
    }

    /// Create (`id` new) or replace an AED.
    pub async fn save(
        &self,
        id: &str,
        input: &AedInput,
        location: LatLng,
        active: bool,
    ) -> Result<Aed, sqlx::Error> {
        let (lat, lng) = location.to_e6();
        let hours = input
            .hours
            .as_ref()
            .map(|h| serde_json::to_string(h).unwrap_or_default());
        sqlx::query(
            "INSERT INTO aeds (id, name, lat_e6, lng_e6, address, access, hours, utc_offset_minutes, contact, active, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             lat_e6 = excluded.lat_e6, lng_e6 = excluded.lng_e6, address = excluded.address, access = excluded.access, \
             hours = excluded.hours, utc_offset_minutes = excluded.utc_offset_minutes, contact = excluded.contact, \
             active = excluded.active, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(input.name.trim())
        .bind(i64::from(lat))
        .bind(i64::from(lng))
        .bind(&input.address)
        .bind(&input.access)
        .bind(hours)
        .bind(i64::from(input.utc_offset_minutes))
        .bind(&input.contact)
        .bind(i64::from(active))
        .bind(now_micros())
        .execute(self.db.writer())
        .await?;
        let a = self.get(id).await?.ok_or(sqlx::Error::RowNotFound)?;
        self.put_index(&a);
        Ok(a)
    }

    pub async fn get(&self, id: &str) -> Result<Option<Aed>, sqlx::Error> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM aeds WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?
            .as_ref()
            .map(aed_from)
            .transpose()
    }

    /// Take an AED out of service; `false` if unknown.
    pub async fn deactivate(&self, id: &str) -> Result<bool, sqlx::Error> {
        let n = sqlx::query("UPDATE aeds SET active = 0, updated_at = $1 WHERE id = $2")
            .bind(now_micros())
            .bind(id)
            .execute(self.db.writer())
            .await?
            .rows_affected();
        if let Some(a) = self.get(id).await? {
            self.put_index(&a);
        }
        Ok(n == 1)
    }

    /// The nearest active AEDs within `radius_m`, open ones first.
    pub async fn nearest(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
    ) -> Result<Vec<Aed>, sqlx::Error> {
        let hits: Vec<(String, f64)> = {
            let g = self
                .index
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            g.2.nearest(at, radius_m, limit * 2, 0, u32::MAX, |_| Some(0))
                .into_iter()
                .filter_map(|h| Some((g.0.key(h.slot)?.clone(), h.distance_m)))
                .collect()
        };
        let mut out = Vec::with_capacity(hits.len());
        for (id, d) in hits {
            if let Some(mut a) = self.get(&id).await?
                && a.active
            {
                a.distance_m = Some((d * 10.0).round() / 10.0);
                out.push(a);
            }
        }
        out.sort_by(|a, b| {
            b.open_now.cmp(&a.open_now).then(
                a.distance_m
                    .unwrap_or(0.0)
                    .total_cmp(&b.distance_m.unwrap_or(0.0)),
            )
        });
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours() {
        // 2026-11-25 is a Wednesday (day 2). 03:00 UTC = 10:00 WIB.
        let wed_10_wib = 1_795_575_600_000_000; // 2026-11-25T03:00:00Z
        let h = vec![Hours {
            day: 2,
            open: "08:00".into(),
            close: "17:00".into(),
        }];
        assert!(open_at(Some(&h), 420, wed_10_wib));
        assert!(
            !open_at(Some(&h), 420, wed_10_wib + 8 * 3_600_000_000),
            "18:00 WIB"
        );
        assert!(!open_at(Some(&[]), 420, wed_10_wib));
        assert!(open_at(None, 420, wed_10_wib), "24/7");
        assert_eq!(minutes("24:00"), Some(1440));
        assert_eq!(minutes("7:5"), Some(425));
        assert_eq!(minutes("25:00"), None);
        assert_eq!(minutes("noon"), None);
    }
}
