//! The in-memory spatial index of on-duty volunteers: "the k best eligible volunteers within
//! r metres of this point", in microseconds, while absorbing location updates.
//!
//! A uniform grid over latitude/longitude (cells of `cell_e6` microdegrees, default 0.01° ≈
//! 1.1 km) with a hash map from occupied cell to its volunteers, kept as two parallel arrays:
//! 4-byte offsets from the cell's corner (all a query scans per volunteer) and slot + meta
//! (read only for those near enough). A query visits cells ring by ring around the centre's
//! cell, filters by a local planar distance against the current k-th best, and stops at the
//! first ring that cannot hold anyone nearer; only the final contenders get the exact
//! great-circle distance. An update is O(1): an in-place write when the volunteer stays in the
//! cell, a swap-remove and a push when they cross into another.
//!
//! Why a grid and not an R-tree: volunteers move every few seconds, and a grid update never
//! rebalances anything; queries have a bounded radius (a few km), so the cells to visit are
//! known up front; and the entries of a cell are contiguous in memory. Queries are bound by
//! memory reads, hence the compact layout.
//!
//! Identity: callers map volunteer ids to dense `u32` slots ([`SlotMap`](super::slots::SlotMap)); the index stores
//! only those, coordinates and a `meta` word (location time and four eligibility bits): 12
//! bytes in a cell plus 8 in the slot table per volunteer.

use std::collections::HashMap;

use super::{Around, EARTH_RADIUS_M, LatLng};

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
#[derive(Debug, Clone)]
pub struct Grid {
    cell_e6: i32,
    cells: CellMap,
    entries: Vec<Cell>,
    pos: Vec<Pos>,
    len: usize,
    /// Cell indices in key order (rows of cells, west to east), refreshed when cells are
    /// added (cells are never removed).
    order: Vec<u32>,
}

/// The volunteers of one cell, as two parallel arrays: what a query scans for every entry
/// (4 bytes: offsets from the cell's corner) apart from what it reads only for the few that
/// are near enough (8 bytes: slot and meta), so a scan touches a quarter of the memory a
/// 16-byte entry would (queries are bound by memory, not arithmetic).
#[derive(Debug, Clone, Default)]
struct Cell {
    lat0: i32,
    lng0: i32,
    /// (latitude, longitude) offsets from (`lat0`, `lng0`) in microdegrees.
    pts: Vec<[u16; 2]>,
    /// (slot, meta) of the entry at the same index.
    ids: Vec<[u32; 2]>,
}

impl Cell {
    fn entry(&self, i: usize) -> Option<Entry> {
        let [la, lo] = *self.pts.get(i)?;
        let [slot, meta] = *self.ids.get(i)?;
        Some(Entry {
            slot,
            lat_e6: self.lat0 + i32::from(la),
            lng_e6: self.lng0 + i32::from(lo),
            meta,
        })
    }

    fn set(&mut self, i: usize, e: &Entry) {
        self.pts[i] = self.offsets(e);
        self.ids[i] = [e.slot, e.meta];
    }

    fn push(&mut self, e: &Entry) {
        self.pts.push(self.offsets(e));
        self.ids.push([e.slot, e.meta]);
    }

    fn offsets(&self, e: &Entry) -> [u16; 2] {
        // In range by construction: the entry lies in this cell, at most 65 535 µ° wide.
        [
            u16::try_from(e.lat_e6 - self.lat0).unwrap_or(u16::MAX),
            u16::try_from(e.lng_e6 - self.lng0).unwrap_or(u16::MAX),
        ]
    }
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
    /// `cell_e6`: cell size in microdegrees (10 000 = 0.01°; 100 to 65 535).
    pub fn new(cell_e6: i32) -> Grid {
        Grid {
            cell_e6: cell_e6.clamp(100, i32::from(u16::MAX)),
            cells: CellMap::default(),
            entries: Vec::new(),
            pos: Vec::new(),
            len: 0,
            order: Vec::new(),
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
            self.entries.push(Cell {
                lat0: ci * self.cell_e6,
                lng0: cj * self.cell_e6,
                ..Cell::default()
            });
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
            let (c, cell) = (self.cell_e6, &mut self.entries[p.cell as usize]);
            if (cell.lat0, cell.lng0) == (ci * c, cj * c) {
                cell.set(p.idx as usize, &entry);
                return;
            }
            self.detach(p);
        } else {
            self.len += 1;
        }
        let cell = self.cell_index(ci, cj);
        let v = &mut self.entries[cell as usize];
        v.push(&entry);
        self.pos[s] = Pos {
            cell,
            idx: (v.pts.len() - 1) as u32,
        };
    }

    fn detach(&mut self, p: Pos) {
        let v = &mut self.entries[p.cell as usize];
        v.pts.swap_remove(p.idx as usize);
        v.ids.swap_remove(p.idx as usize);
        if let Some(&[moved, _]) = v.ids.get(p.idx as usize) {
            self.pos[moved as usize] = p;
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
        self.entries[p.cell as usize].entry(p.idx as usize)
    }

    /// Every entry (snapshots).
    pub fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries
            .iter()
            .flat_map(|c| (0..c.pts.len()).filter_map(|i| c.entry(i)))
    }

    /// Cell indices in row-major key order.
    fn order(&mut self) -> &[u32] {
        if self.order.len() != self.entries.len() {
            let mut keyed: Vec<(u64, u32)> = self.cells.iter().map(|(&k, &i)| (k, i)).collect();
            // Rows (latitude cells) first, then longitude, both as signed numbers.
            keyed.sort_unstable_by_key(|&(k, _)| ((k >> 32) as u32 as i32, k as u32 as i32));
            self.order = keyed.into_iter().map(|(_, i)| i).collect();
        }
        &self.order
    }

    /// Give back unused capacity (after a bulk load).
    pub fn shrink(&mut self) {
        for v in &mut self.entries {
            v.pts.shrink_to_fit();
            v.ids.shrink_to_fit();
        }
        self.entries.shrink_to_fit();
        self.cells.shrink_to_fit();
        self.pos.shrink_to_fit();
    }

    /// Approximate heap bytes of the index.
    pub fn memory_bytes(&self) -> usize {
        let cells =
            self.cells.capacity() * (std::mem::size_of::<u64>() + std::mem::size_of::<u32>() + 1);
        let vecs = self.entries.capacity() * std::mem::size_of::<Cell>()
            + self
                .entries
                .iter()
                .map(|v| v.pts.capacity() * 4 + v.ids.capacity() * 8)
                .sum::<usize>();
        cells + vecs + self.pos.capacity() * std::mem::size_of::<Pos>()
    }
}

/// A read-only, compact copy of a [`Grid`] that queries run on: every cell's volunteers in
/// one pair of arrays, cells in row-major order, so the few neighbouring cells a query reads
/// sit in a few neighbouring pages (queries are bound by memory reads, and a virtual
/// machine's page walks are dear).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    cell_e6: i32,
    /// Rows of cells (latitude index) → the row's cells, dense over its occupied extent: a
    /// query finds a ring's cells with one look-up per row, and neighbouring cells share a
    /// cache line. (Indonesia spans at most 4,700 cells of 0.01° in a row: 19 KiB.)
    rows: HashMap<u64, Row, std::hash::BuildHasherDefault<CellHasher>>,
    spans: Vec<Span>,
    pts: Vec<[u16; 2]>,
    ids: Vec<[u32; 2]>,
    /// Slot → (cell, index in `pts`/`ids`).
    pos: Vec<Pos>,
    len: usize,
}

/// One row of cells: `cells[cj - cj0]` is the index in `spans`, or [`NO_CELL`].
#[derive(Debug, Clone, Default)]
struct Row {
    cj0: i64,
    cells: Vec<u32>,
}

const NO_CELL: u32 = u32::MAX;

fn row_key(ci: i64) -> u64 {
    u64::from(ci as i32 as u32)
}

#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    end: u32,
    lat0: i32,
    lng0: i32,
}

impl Snapshot {
    /// A snapshot of `grid`.
    pub fn of(grid: &mut Grid) -> Snapshot {
        let mut s = Snapshot::default();
        s.refresh_from(grid);
        s
    }

    /// Become a copy of `g`, reusing this snapshot's allocations.
    pub fn refresh_from(&mut self, g: &mut Grid) {
        self.cell_e6 = g.cell_e6;
        self.len = g.len;
        self.spans.clear();
        self.spans.resize(g.entries.len(), Span::default());
        self.pts.clear();
        self.ids.clear();
        self.pos.clear();
        self.pos.resize(g.pos.len(), ABSENT);
        let order = std::mem::take(&mut g.order);
        let order = if order.len() == g.entries.len() {
            order
        } else {
            g.order().to_vec()
        };
        for &ci in &order {
            let c = &g.entries[ci as usize];
            let start = self.pts.len() as u32;
            for (i, &[slot, _]) in c.ids.iter().enumerate() {
                self.pos[slot as usize] = Pos {
                    cell: ci,
                    idx: start + i as u32,
                };
            }
            self.pts.extend_from_slice(&c.pts);
            self.ids.extend_from_slice(&c.ids);
            self.spans[ci as usize] = Span {
                start,
                end: self.pts.len() as u32,
                lat0: c.lat0,
                lng0: c.lng0,
            };
        }
        // Rows: `order` runs row by row, west to east. Rows never disappear (cells are never
        // removed), so each keeps its buffer from one publication to the next.
        let c = i64::from(g.cell_e6);
        let mut i = 0;
        while i < order.len() {
            let first = &g.entries[order[i] as usize];
            let ci = i64::from(first.lat0) / c;
            let mut j = i;
            while j < order.len() && i64::from(g.entries[order[j] as usize].lat0) / c == ci {
                j += 1;
            }
            let cj0 = i64::from(first.lng0) / c;
            let cj1 = i64::from(g.entries[order[j - 1] as usize].lng0) / c;
            let row = self.rows.entry(row_key(ci)).or_default();
            row.cj0 = cj0;
            row.cells.clear();
            row.cells
                .resize(usize::try_from(cj1 - cj0 + 1).unwrap_or(0), NO_CELL);
            for &cell in &order[i..j] {
                let span = self.spans[cell as usize];
                if span.end > span.start
                    && let Ok(at) = usize::try_from(i64::from(span.lng0) / c - cj0)
                    && let Some(slot) = row.cells.get_mut(at)
                {
                    *slot = cell;
                }
            }
            i = j;
        }
        g.order = order;
    }

    /// Volunteers in the snapshot.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn entry(&self, cell: u32, i: usize) -> Option<Entry> {
        let span = self.spans.get(cell as usize)?;
        let [la, lo] = *self.pts.get(i)?;
        let [slot, meta] = *self.ids.get(i)?;
        Some(Entry {
            slot,
            lat_e6: span.lat0 + i32::from(la),
            lng_e6: span.lng0 + i32::from(lo),
            meta,
        })
    }

    /// The volunteer's entry.
    pub fn get(&self, slot: u32) -> Option<Entry> {
        let p = self.pos.get(slot as usize)?;
        if p.cell == u32::MAX {
            return None;
        }
        self.entry(p.cell, p.idx as usize)
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.spans.iter().enumerate().flat_map(move |(c, s)| {
            (s.start as usize..s.end as usize).filter_map(move |i| self.entry(c as u32, i))
        })
    }

    /// Approximate heap bytes.
    pub fn memory_bytes(&self) -> usize {
        self.rows.capacity() * (std::mem::size_of::<u64>() + std::mem::size_of::<Row>() + 1)
            + self
                .rows
                .values()
                .map(|r| r.cells.capacity() * 4)
                .sum::<usize>()
            + self.spans.capacity() * std::mem::size_of::<Span>()
            + self.pts.capacity() * 4
            + self.ids.capacity() * 8
            + self.pos.capacity() * std::mem::size_of::<Pos>()
    }

    /// The best `k` volunteers within `radius_m` of `center`. `class` decides eligibility:
    /// `None` excludes the volunteer, `Some(c)` ranks it in class `c` (lower first); then
    /// distance, then the more recent location. `now_s` is the query time in index seconds;
    /// locations older than `max_age_s` are excluded.
    ///
    /// Cells are visited ring by ring around the centre's cell; once `k` volunteers of the
    /// best class (0) are held, cells and rings that cannot hold anyone nearer are skipped. Candidates are ranked by a local
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
        // The least planar distance² from the centre to any point of a cell.
        let cell_d2 = |ci: i64, cj: i64| {
            let gap = |v: f64, lo: f64, hi: f64| {
                if v < lo {
                    lo - v
                } else if v > hi {
                    v - hi
                } else {
                    0.0
                }
            };
            let dy = gap(cy, (ci * c) as f64, ((ci + 1) * c) as f64) * ky;
            let dx = gap(cx, (cj * c) as f64, ((cj + 1) * c) as f64) * kx;
            dx * dx + dy * dy
        };
        // Pass 1: the k-th best (class, planar distance), visiting cells ring by ring around
        // the centre's cell and stopping at the first ring that cannot hold anyone nearer.
        let mut best: std::collections::BinaryHeap<(u8, u64)> =
            std::collections::BinaryHeap::with_capacity(k + 1);
        // Contenders seen so far: anything that could still be among the best `k` when it was
        // seen (the bar only rises), so the exact pass needs no second scan of the cells.
        let mut contenders: Vec<(u8, f64, Entry)> = Vec::with_capacity(4 * k);
        let around = Around::new(clat, clng);
        // Once `k` of the best class are held, nothing farther than this can enter (before,
        // the radius bounds everything).
        let mut bar = r2;
        let (ci_c, cj_c) = (
            (cy.floor() as i64).div_euclid(c),
            (cx.floor() as i64).div_euclid(c),
        );
        let rings = (ci_c - ci0)
            .max(ci1 - ci_c)
            .max(cj_c - cj0)
            .max(cj1 - cj_c)
            .max(0);
        let mut ring_cells: Vec<(f64, Span)> = Vec::with_capacity(64);
        for ring in 0..=rings {
            if ring > 0 {
                // Every cell of this ring lies outside the block of the inner rings.
                let edge = |v: f64, mid: i64, k: f64| {
                    let (lo, hi) = (((mid - ring + 1) * c) as f64, ((mid + ring) * c) as f64);
                    ((v - lo).min(hi - v) * k).max(0.0)
                };
                let d = edge(cy, ci_c, ky).min(edge(cx, cj_c, kx));
                if d * d > bar {
                    break;
                }
            }
            ring_cells.clear();
            for ci in (ci_c - ring).max(ci0)..=(ci_c + ring).min(ci1) {
                let Some(row) = self.rows.get(&row_key(ci)) else {
                    continue;
                };
                let edge_row = ci == ci_c - ring || ci == ci_c + ring;
                let step = if edge_row { 1 } else { (2 * ring).max(1) };
                let mut cj = cj_c - ring;
                while cj <= cj_c + ring {
                    let this = cj;
                    cj += step;
                    if this < cj0 || this > cj1 {
                        continue;
                    }
                    let Some(&cell) = usize::try_from(this - row.cj0)
                        .ok()
                        .and_then(|at| row.cells.get(at))
                    else {
                        continue;
                    };
                    if cell == NO_CELL {
                        continue;
                    }
                    let d2 = cell_d2(ci, this);
                    if d2 <= bar {
                        ring_cells.push((d2, self.spans[cell as usize]));
                    }
                }
            }
            // All of the ring's look-ups first (their memory reads overlap), then the scans,
            // nearest cell first so that the bar drops as early as possible.
            ring_cells.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            for &(least, v) in &ring_cells {
                if least > bar {
                    continue;
                }
                let (by, bx) = (f64::from(v.lat0) - cy, f64::from(v.lng0) - cx);
                let range = v.start as usize..v.end as usize;
                for (&[la, lo], &[slot, meta]) in
                    self.pts[range.clone()].iter().zip(&self.ids[range])
                {
                    let dy = (f64::from(la) + by) * ky;
                    let dx = (f64::from(lo) + bx) * kx;
                    let d2 = dx * dx + dy * dy;
                    if d2 > bar || now_s.saturating_sub(meta >> 4) > max_age_s {
                        continue;
                    }
                    let e = &Entry {
                        slot,
                        lat_e6: v.lat0 + i32::from(la),
                        lng_e6: v.lng0 + i32::from(lo),
                        meta,
                    };
                    if d2 > r2_sure
                        && around.distance_m(f64::from(e.lat_e6) / 1e6, f64::from(e.lng_e6) / 1e6)
                            > radius_m
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
                    contenders.push((cls, d2, *e));
                    let item = (cls, d2.to_bits());
                    if best.len() < k {
                        best.push(item);
                    } else if best.peek().is_some_and(|w| item < *w) {
                        best.pop();
                        best.push(item);
                    }
                    if best.len() == k
                        && let Some(&(0, wd)) = best.peek()
                    {
                        bar = f64::from_bits(wd) * grow;
                    }
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
            let d = around.distance_m(f64::from(e.lat_e6) / 1e6, f64::from(e.lng_e6) / 1e6);
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
        // Distances are finite and non-negative: their bits order like the numbers.
        hits.sort_unstable_by_key(|h| (h.class, h.distance_m.to_bits(), h.age_s, h.slot));
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::haversine_m;

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
        let snap = Snapshot::of(&mut grid);
        assert_eq!(snap.len(), points.len());
        assert_eq!(snap.iter().count(), points.len());
        for &(s, la, lo, _) in points.iter().step_by(97) {
            assert_eq!(snap.get(s).map(|e| (e.lat_e6, e.lng_e6)), Some((la, lo)));
        }
        for _ in 0..2_000 {
            let c = p(
                -6.2 + (rng.next() - 0.5) * 0.3,
                106.8 + (rng.next() - 0.5) * 0.3,
            );
            let r = 200.0 + rng.next() * 5_000.0;
            let got: Vec<(u32, u8)> = snap
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
                let got: Vec<(u32, u8)> = snap
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
        let s = Snapshot::of(&mut g);
        let hits = s.nearest(c, 1_000.0, 10, 60, 30, |e| {
            (e.bits() & 1 == 1).then_some(e.bits() >> 1)
        });
        let order: Vec<u32> = hits.iter().map(|h| h.slot).collect();
        assert_eq!(order, [2, 1]);
        assert!((hits[1].distance_m - 11.1).abs() < 0.2);
        assert_eq!(hits[0].age_s, 10);
        // Stale included when allowed, with its age.
        let hits = s.nearest(c, 1_000.0, 10, 60, u32::MAX, |_| Some(0));
        assert_eq!(hits[0].slot, 3);
        assert_eq!(hits[0].age_s, 59);
        // Degenerate queries.
        assert!(s.nearest(c, 0.0, 10, 60, 100, |_| Some(0)).is_empty());
        assert!(s.nearest(c, f64::NAN, 10, 60, 100, |_| Some(0)).is_empty());
        assert!(s.nearest(c, 1_000.0, 0, 60, 100, |_| Some(0)).is_empty());
        // Crossing the antimeridian side and negative cells work.
        g.upsert(9, -89_999_000, -179_999_000, 60, 1);
        let s = Snapshot::of(&mut g);
        assert_eq!(
            s.nearest(p(-89.999, -179.999), 10.0, 1, 60, 100, |_| Some(0))[0].slot,
            9
        );
        assert_eq!(g.get(9).map(|e| e.bits()), Some(1));
        assert_eq!(s.get(9).map(|e| e.bits()), Some(1));
        assert_eq!(g.get(77), None);
        assert_eq!(s.get(77), None);
    }

    #[test]
    fn entry_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }
}
