//! The in-memory spatial index of on-duty volunteers: "the k best eligible volunteers within
//! r metres of this point", in microseconds, while absorbing location updates.
//!
//! A uniform grid over latitude/longitude (cells of `cell_e6` microdegrees, default 0.01° ≈
//! 1.1 km) with a hash map from occupied cell to a dense vector of 16-byte entries. A query
//! visits the cells covering the circle's bounding box, filters by a cheap planar bound, then
//! by the exact great-circle distance, and keeps the best `k` by (eligibility class,
//! distance, recency). An update is O(1): an in-place write when the volunteer stays in the
//! cell, a swap-remove and a push when they cross into another.
//!
//! Why a grid and not an R-tree: volunteers move every few seconds, and a grid update never
//! rebalances anything; queries have a fixed radius (a few km), so the cells to visit are
//! known up front; and the entries of a cell are contiguous in memory.
//!
//! Identity: callers map volunteer ids to dense `u32` slots ([`SlotMap`]); the index stores
//! only those, coordinates in microdegrees and a `meta` word (location time and four
//! eligibility bits), so a volunteer costs about 16 bytes in a cell plus 8 in the slot table.

use std::collections::HashMap;

use super::{EARTH_RADIUS_M, LatLng, haversine_m};

/// Metres per degree of latitude on the index's sphere.
const M_PER_DEG: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// One indexed volunteer (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Entry {
    pub slot: u32,
    pub lat_e6: i32,
    pub lng_e6: i32,
    /// `seconds since the index epoch << 4 | eligibility bits`.
    pub meta: u32,
}

impl Entry {
    /// The four eligibility bits given at the last update.
    pub fn bits(&self) -> u8 {
        (self.meta & 0xF) as u8
    }
    /// When the location was taken, in seconds since the index's epoch.
    pub fn at_s(&self) -> u32 {
        self.meta >> 4
    }
}

#[derive(Debug, Clone, Copy)]
struct Pos {
    cell: u32,
    idx: u32,
}

const ABSENT: Pos = Pos {
    cell: u32::MAX,
    idx: u32::MAX,
};

/// A query result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub slot: u32,
    pub distance_m: f64,
    /// The class the query's filter gave (lower ranks first).
    pub class: u8,
    /// Age of the location in seconds at query time.
    pub age_s: u32,
    pub lat_e6: i32,
    pub lng_e6: i32,
}

/// The grid.
#[derive(Debug)]
pub struct Grid {
    cell_e6: i32,
    cells: CellMap,
    entries: Vec<Vec<Entry>>,
    pos: Vec<Pos>,
    len: usize,
}

/// A fast hasher for cell keys (already well spread integers; no untrusted keys reach it).
#[derive(Default, Clone, Copy)]
pub struct CellHasher(u64);

impl std::hash::Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type CellMap = HashMap<u64, u32, std::hash::BuildHasherDefault<CellHasher>>;

fn key(ci: i32, cj: i32) -> u64 {
    (u64::from(ci as u32) << 32) | u64::from(cj as u32)
}

impl Default for Grid {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Grid {
    /// `cell_e6`: cell size in microdegrees (10 000 = 0.01°).
    pub fn new(cell_e6: i32) -> Grid {
        Grid {
            cell_e6: cell_e6.max(100),
            cells: CellMap::default(),
            entries: Vec::new(),
            pos: Vec::new(),
            len: 0,
        }
    }

    /// Volunteers in the index.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn cell_of(&self, lat_e6: i32, lng_e6: i32) -> (i32, i32) {
        (
            lat_e6.div_euclid(self.cell_e6),
            lng_e6.div_euclid(self.cell_e6),
        )
    }

    fn cell_index(&mut self, ci: i32, cj: i32) -> u32 {
        let next = self.entries.len() as u32;
        let idx = *self.cells.entry(key(ci, cj)).or_insert(next);
        if idx == next {
            self.entries.push(Vec::new());
        }
        idx
    }

    /// Insert or move a volunteer.
    pub fn upsert(&mut self, slot: u32, lat_e6: i32, lng_e6: i32, at_s: u32, bits: u8) {
        let meta = (at_s << 4) | u32::from(bits & 0xF);
        let s = slot as usize;
        if s >= self.pos.len() {
            self.pos.resize(s + 1, ABSENT);
        }
        let (ci, cj) = self.cell_of(lat_e6, lng_e6);
        let p = self.pos[s];
        let entry = Entry {
            slot,
            lat_e6,
            lng_e6,
            meta,
        };
        if p.cell != u32::MAX {
            let old = self.entries[p.cell as usize][p.idx as usize];
            if self.cell_of(old.lat_e6, old.lng_e6) == (ci, cj) {
                self.entries[p.cell as usize][p.idx as usize] = entry;
                return;
            }
            self.detach(p);
        } else {
            self.len += 1;
        }
        let cell = self.cell_index(ci, cj);
        let v = &mut self.entries[cell as usize];
        v.push(entry);
        self.pos[s] = Pos {
            cell,
            idx: (v.len() - 1) as u32,
        };
    }

    fn detach(&mut self, p: Pos) {
        let v = &mut self.entries[p.cell as usize];
        v.swap_remove(p.idx as usize);
        if let Some(moved) = v.get(p.idx as usize) {
            self.pos[moved.slot as usize] = p;
        }
    }

    /// Remove a volunteer (off duty). Returns whether they were indexed.
    pub fn remove(&mut self, slot: u32) -> bool {
        let Some(&p) = self.pos.get(slot as usize) else {
            return false;
        };
        if p.cell == u32::MAX {
            return false;
        }
        self.detach(p);
        self.pos[slot as usize] = ABSENT;
        self.len -= 1;
        true
    }

    /// The volunteer's indexed entry.
    pub fn get(&self, slot: u32) -> Option<Entry> {
        let p = self.pos.get(slot as usize)?;
        if p.cell == u32::MAX {
            return None;
        }
        self.entries[p.cell as usize].get(p.idx as usize).copied()
    }

    /// Every entry (snapshots).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().flatten()
    }

    /// The best `k` volunteers within `radius_m` of `center`. `class` decides eligibility:
    /// `None` excludes the volunteer, `Some(c)` ranks it in class `c` (lower first); then
    /// distance, then the more recent location. `now_s` is the query time in index seconds;
    /// locations older than `max_age_s` are excluded.
    ///
    /// Cells are visited nearest first; once `k` volunteers of the best class (0) are held,
    /// cells that cannot hold anyone nearer are skipped. Candidates are ranked by a local
    /// planar distance (a few nanoseconds each) with a safety margin that bounds its error
    /// against the great circle, and only the final contenders get the exact distance.
    pub fn nearest<F>(
        &self,
        center: LatLng,
        radius_m: f64,
        k: usize,
        now_s: u32,
        max_age_s: u32,
        class: F,
    ) -> Vec<Hit>
    where
        F: Fn(&Entry) -> Option<u8>,
    {
        if k == 0 || radius_m.is_nan() || radius_m <= 0.0 || self.len == 0 {
            return Vec::new();
        }
        let (clat, clng) = (center.lat(), center.lng());
        let dlat_deg = radius_m / M_PER_DEG;
        let edge_lat = (clat.abs() + dlat_deg).min(89.999_999);
        let dlng_deg = (radius_m / (M_PER_DEG * edge_lat.to_radians().cos())).min(180.0);
        // Relative error of the local planar distance within the circle: the change of
        // cos(latitude) across it, plus a floor for the sphere's curvature.
        let eps = (edge_lat.to_radians().tan() * dlat_deg.to_radians()).abs() + 1e-4;
        let grow = ((1.0 + eps) / (1.0 - eps)).powi(2);
        let to_e6 = |d: f64| (d * 1e6).round() as i64;
        let c = i64::from(self.cell_e6);
        let (ci0, ci1) = (
            to_e6(clat - dlat_deg).div_euclid(c),
            to_e6(clat + dlat_deg).div_euclid(c),
        );
        let (cj0, cj1) = (
            to_e6(clng - dlng_deg).div_euclid(c),
            to_e6(clng + dlng_deg).div_euclid(c),
        );
        let ky = M_PER_DEG / 1e6;
        let kx = M_PER_DEG * clat.to_radians().cos() / 1e6;
        let (cy, cx) = (clat * 1e6, clng * 1e6);
        let r2 = radius_m * radius_m * grow;
        // Inside this the planar distance proves the volunteer is within the radius; in the thin
        // ring between it and `r2` the exact distance decides.
        let r2_sure = radius_m * radius_m / grow;
        // Cells in reach, nearest first, with the least planar distance to any point in them.
        let mut cells: Vec<(f64, u32)> = Vec::new();
        for ci in ci0..=ci1 {
            let (lo, hi) = ((ci * c) as f64, ((ci + 1) * c) as f64);
            let dy = if cy < lo {
                lo - cy
            } else if cy > hi {
                cy - hi
            } else {
                0.0
            } * ky;
            for cj in cj0..=cj1 {
                let Some(&cell) = self.cells.get(&key(ci as i32, cj as i32)) else {
                    continue;
                };
                let (lo, hi) = ((cj * c) as f64, ((cj + 1) * c) as f64);
                let dx = if cx < lo {
                    lo - cx
                } else if cx > hi {
                    cx - hi
                } else {
                    0.0
                } * kx;
                let d2 = dx * dx + dy * dy;
                if d2 <= r2 {
                    cells.push((d2, cell));
                }
            }
        }
        cells.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let planar = |e: &Entry| {
            let dy = (f64::from(e.lat_e6) - cy) * ky;
            let dx = (f64::from(e.lng_e6) - cx) * kx;
            dx * dx + dy * dy
        };
        // Pass 1: the k-th best (class, planar distance), visiting as few cells as possible.
        let mut best: std::collections::BinaryHeap<(u8, u64)> =
            std::collections::BinaryHeap::with_capacity(k + 1);
        // Contenders seen so far: anything that could still be among the best `k` when it was
        // seen (the bar only rises), so the exact pass needs no second scan of the cells.
        let mut contenders: Vec<(u8, f64, &Entry)> = Vec::with_capacity(4 * k);
        for &(cell_d2, cell) in &cells {
            if best.len() == k
                && let Some(&(wc, wd)) = best.peek()
                && wc == 0
                && cell_d2 > f64::from_bits(wd) * grow
            {
                break;
            }
            for e in &self.entries[cell as usize] {
                let d2 = planar(e);
                if d2 > r2 || now_s.saturating_sub(e.at_s()) > max_age_s {
                    continue;
                }
                if d2 > r2_sure
                    && haversine_m(
                        clat,
                        clng,
                        f64::from(e.lat_e6) / 1e6,
                        f64::from(e.lng_e6) / 1e6,
                    ) > radius_m
                {
                    continue;
                }
                let Some(cls) = class(e) else { continue };
                if best.len() == k
                    && let Some(&(wc, wd)) = best.peek()
                    && (cls > wc || (cls == wc && d2 > f64::from_bits(wd) * grow))
                {
                    continue;
                }
                contenders.push((cls, d2, e));
                let item = (cls, d2.to_bits());
                if best.len() < k {
                    best.push(item);
                } else if best.peek().is_some_and(|w| item < *w) {
                    best.pop();
                    best.push(item);
                }
            }
        }
        let Some(&(wc, wd)) = best.peek() else {
            return Vec::new();
        };
        let (worst_class, worst_d2) = if best.len() < k {
            (u8::MAX, r2)
        } else {
            (wc, f64::from_bits(wd) * grow)
        };
        // Exact distances for the final contenders only.
        let mut hits = Vec::with_capacity(k + 8);
        for &(cls, d2, e) in &contenders {
            if cls > worst_class || (cls == worst_class && d2 > worst_d2) {
                continue;
            }
            let d = haversine_m(
                clat,
                clng,
                f64::from(e.lat_e6) / 1e6,
                f64::from(e.lng_e6) / 1e6,
            );
            if d <= radius_m {
                hits.push(Hit {
                    slot: e.slot,
                    distance_m: d,
                    class: cls,
                    age_s: now_s.saturating_sub(e.at_s()),
                    lat_e6: e.lat_e6,
                    lng_e6: e.lng_e6,
                });
            }
        }
        hits.sort_unstable_by(|a, b| {
            a.class
                .cmp(&b.class)
                .then(a.distance_m.total_cmp(&b.distance_m))
                .then(a.age_s.cmp(&b.age_s))
                .then(a.slot.cmp(&b.slot))
        });
        hits.truncate(k);
        hits
    }

    /// Give back unused capacity (after a bulk load).
    pub fn shrink(&mut self) {
        for v in &mut self.entries {
            v.shrink_to_fit();
        }
        self.entries.shrink_to_fit();
        self.cells.shrink_to_fit();
        self.pos.shrink_to_fit();
    }

    /// Approximate heap bytes of the index.
    pub fn memory_bytes(&self) -> usize {
        let cells =
            self.cells.capacity() * (std::mem::size_of::<u64>() + std::mem::size_of::<u32>() + 1);
        let vecs = self.entries.capacity() * std::mem::size_of::<Vec<Entry>>()
            + self
                .entries
                .iter()
                .map(|v| v.capacity() * std::mem::size_of::<Entry>())
                .sum::<usize>();
        cells + vecs + self.pos.capacity() * std::mem::size_of::<Pos>()
    }
}

/// Dense `u32` slots for volunteer ids.
#[derive(Debug, Default)]
pub struct SlotMap<K: std::hash::Hash + Eq + Clone> {
    by_key: HashMap<K, u32>,
    keys: Vec<K>,
}

impl<K: std::hash::Hash + Eq + Clone> SlotMap<K> {
    pub fn new() -> Self {
        SlotMap {
            by_key: HashMap::new(),
            keys: Vec::new(),
        }
    }
    /// The slot of `k`, assigned on first sight.
    pub fn slot(&mut self, k: &K) -> u32 {
        if let Some(&s) = self.by_key.get(k) {
            return s;
        }
        let s = self.keys.len() as u32;
        self.keys.push(k.clone());
        self.by_key.insert(k.clone(), s);
        s
    }
    pub fn get(&self, k: &K) -> Option<u32> {
        self.by_key.get(k).copied()
    }
    pub fn key(&self, slot: u32) -> Option<&K> {
        self.keys.get(slot as usize)
    }
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap_or_else(|_| panic!("bad test point"))
    }

    /// Deterministic pseudo-random numbers for tests (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn brute(points: &[(u32, i32, i32, u8)], c: LatLng, r: f64, k: usize) -> Vec<(u32, u8)> {
        let mut v: Vec<(u8, f64, u32)> = points
            .iter()
            .filter_map(|&(s, la, lo, bits)| {
                if bits & 1 == 0 {
                    return None;
                }
                let d = haversine_m(c.lat(), c.lng(), f64::from(la) / 1e6, f64::from(lo) / 1e6);
                (d <= r).then_some((bits >> 1, d, s))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        v.truncate(k);
        v.into_iter().map(|(c, _, s)| (s, c)).collect()
    }

    #[test]
    fn matches_brute_force_with_moves_and_removals() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut grid = Grid::new(10_000);
        let mut points: Vec<(u32, i32, i32, u8)> = Vec::new();
        for s in 0..5_000u32 {
            let la = (-6.2 + (rng.next() - 0.5) * 0.3) * 1e6;
            let lo = (106.8 + (rng.next() - 0.5) * 0.3) * 1e6;
            let bits = (rng.next() * 8.0) as u8;
            grid.upsert(s, la as i32, lo as i32, 100, bits);
            points.push((s, la as i32, lo as i32, bits));
        }
        // Move half of them, some across cells; remove some.
        for s in (0..5_000u32).step_by(2) {
            let la = (-6.2 + (rng.next() - 0.5) * 0.3) * 1e6;
            let lo = (106.8 + (rng.next() - 0.5) * 0.3) * 1e6;
            let bits = points[s as usize].3;
            grid.upsert(s, la as i32, lo as i32, 100, bits);
            points[s as usize] = (s, la as i32, lo as i32, bits);
        }
        for s in (1..5_000u32).step_by(7) {
            assert!(grid.remove(s));
            assert!(!grid.remove(s));
        }
        points.retain(|&(s, ..)| s == 0 || (s - 1) % 7 != 0);
        assert_eq!(grid.len(), points.len());
        for _ in 0..2_000 {
            let c = p(
                -6.2 + (rng.next() - 0.5) * 0.3,
                106.8 + (rng.next() - 0.5) * 0.3,
            );
            let r = 200.0 + rng.next() * 5_000.0;
            let got: Vec<(u32, u8)> = grid
                .nearest(c, r, 20, 100, u32::MAX, |e| {
                    (e.bits() & 1 == 1).then_some(e.bits() >> 1)
                })
                .iter()
                .map(|h| (h.slot, h.class))
                .collect();
            assert_eq!(got, brute(&points, c, r, 20));
            // Everyone eligible and few wanted: the nearest-cells-first pruning decides.
            let all: Vec<(u32, i32, i32, u8)> =
                points.iter().map(|&(s, a, b, _)| (s, a, b, 1)).collect();
            for k in [1, 5] {
                let got: Vec<(u32, u8)> = grid
                    .nearest(c, r, k, 100, u32::MAX, |_| Some(0))
                    .iter()
                    .map(|h| (h.slot, h.class))
                    .collect();
                assert_eq!(got, brute(&all, c, r, k));
            }
        }
    }

    #[test]
    fn ranking_staleness_and_edges() {
        let mut g = Grid::default();
        let c = p(-6.2, 106.8);
        // Slot 1 closer but class 1; slot 2 further but class 0 ranks first.
        g.upsert(1, -6_200_100, 106_800_000, 50, 0b0011);
        g.upsert(2, -6_201_000, 106_800_000, 50, 0b0001);
        // Slot 3 stale.
        g.upsert(3, -6_200_050, 106_800_000, 1, 0b0001);
        let hits = g.nearest(c, 1_000.0, 10, 60, 30, |e| {
            (e.bits() & 1 == 1).then_some(e.bits() >> 1)
        });
        let order: Vec<u32> = hits.iter().map(|h| h.slot).collect();
        assert_eq!(order, [2, 1]);
        assert!((hits[1].distance_m - 11.1).abs() < 0.2);
        assert_eq!(hits[0].age_s, 10);
        // Stale included when allowed, with its age.
        let hits = g.nearest(c, 1_000.0, 10, 60, u32::MAX, |_| Some(0));
        assert_eq!(hits[0].slot, 3);
        assert_eq!(hits[0].age_s, 59);
        // Degenerate queries.
        assert!(g.nearest(c, 0.0, 10, 60, 100, |_| Some(0)).is_empty());
        assert!(g.nearest(c, f64::NAN, 10, 60, 100, |_| Some(0)).is_empty());
        assert!(g.nearest(c, 1_000.0, 0, 60, 100, |_| Some(0)).is_empty());
        // Crossing the antimeridian side and negative cells work.
        g.upsert(9, -89_999_000, -179_999_000, 60, 1);
        assert_eq!(
            g.nearest(p(-89.999, -179.999), 10.0, 1, 60, 100, |_| Some(0))[0].slot,
            9
        );
        assert_eq!(g.get(9).map(|e| e.bits()), Some(1));
        assert_eq!(g.get(77), None);
    }

    #[test]
    fn entry_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn slot_map() {
        let mut m: SlotMap<String> = SlotMap::new();
        assert_eq!(m.slot(&"a".to_string()), 0);
        assert_eq!(m.slot(&"b".to_string()), 1);
        assert_eq!(m.slot(&"a".to_string()), 0);
        assert_eq!(m.key(1).map(String::as_str), Some("b"));
        assert_eq!(m.get(&"c".to_string()), None);
        assert_eq!(m.len(), 2);
    }
}
