//! The spatial index shared between writers (location updates) and readers (queries) that
//! never wait for them.

use std::sync::Arc;

use super::index::{Grid, Snapshot};

/// The grid shared between one writer side and any number of readers that never wait for
/// it: writers change a master copy under a mutex; readers take the last published snapshot
/// (an atomic pointer load, [`arc_swap`]). A change that adds or removes a volunteer is
/// published at once; moves are published at once too unless the last publication is less
/// than `interval` old, in which case [`SharedGrid::publish_pending`] (called by a ticker
/// every `interval`) publishes them: a query may see a position up to `interval` old, never
/// a volunteer who went off duty. Publishing copies the master into the previous snapshot's
/// buffers once no reader holds it (double buffering, no allocation in the steady state), and
/// the writer side drops old snapshots, so a reader never pays for a deallocation.
pub struct SharedGrid {
    writer: std::sync::Mutex<WriteSide>,
    current: arc_swap::ArcSwap<Snapshot>,
    pending: std::sync::atomic::AtomicBool,
    interval: std::time::Duration,
}

struct WriteSide {
    master: Grid,
    spare: Option<Arc<Snapshot>>,
    last: std::time::Instant,
}

impl SharedGrid {
    pub fn new(mut grid: Grid, interval: std::time::Duration) -> SharedGrid {
        SharedGrid {
            current: arc_swap::ArcSwap::from_pointee(Snapshot::of(&mut grid)),
            writer: std::sync::Mutex::new(WriteSide {
                master: grid,
                spare: None,
                last: std::time::Instant::now(),
            }),
            pending: std::sync::atomic::AtomicBool::new(false),
            interval,
        }
    }

    /// The last published grid (never waits for a writer).
    pub fn read(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// Change the master copy; `f` returns whether volunteers were added or removed (then the
    /// change is published before this returns).
    pub fn update<R>(&self, f: impl FnOnce(&mut Grid) -> (R, bool)) -> R {
        let mut w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (r, structural) = f(&mut w.master);
        if structural || w.last.elapsed() >= self.interval {
            self.publish(&mut w);
        } else {
            self.pending
                .store(true, std::sync::atomic::Ordering::Release);
        }
        r
    }

    /// Publish moves not yet visible (a ticker calls this every `interval`).
    pub fn publish_pending(&self) {
        if self.pending.load(std::sync::atomic::Ordering::Acquire) {
            let mut w = self
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.publish(&mut w);
        }
    }

    fn publish(&self, w: &mut WriteSide) {
        self.pending
            .store(false, std::sync::atomic::Ordering::Release);
        let mut next = match w.spare.take().map(Arc::try_unwrap) {
            Some(Ok(g)) => g,
            // A reader still holds it: let it go and allocate afresh.
            _ => Snapshot::default(),
        };
        next.refresh_from(&mut w.master);
        w.spare = Some(self.current.swap(Arc::new(next)));
        w.last = std::time::Instant::now();
    }

    /// Give back unused capacity (after a bulk load) and publish.
    pub fn shrink(&self) {
        let mut w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.master.shrink();
        w.spare = None;
        self.current.store(Arc::new(Snapshot::of(&mut w.master)));
        self.pending
            .store(false, std::sync::atomic::Ordering::Release);
        w.last = std::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::LatLng;

    fn p(lat: f64, lng: f64) -> LatLng {
        LatLng::new(lat, lng).unwrap_or_else(|_| panic!("bad test point"))
    }

    #[test]
    fn shared_grid_publishes_duty_changes_at_once_and_moves_within_the_interval() {
        let shared = SharedGrid::new(Grid::default(), std::time::Duration::from_secs(3_600));
        let c = p(-6.2, 106.8);
        let near = |s: &SharedGrid| -> Vec<u32> {
            s.read()
                .nearest(c, 5_000.0, 10, 10, u32::MAX, |_| Some(0))
                .iter()
                .map(|h| h.slot)
                .collect()
        };
        // On duty: visible at once (publication is immediate however recent the last one).
        shared.update(|g| {
            g.upsert(1, -6_200_000, 106_800_000, 10, 0);
            ((), true)
        });
        shared.update(|g| {
            g.upsert(2, -6_201_000, 106_800_000, 10, 0);
            ((), true)
        });
        assert_eq!(near(&shared), [1, 2]);
        // A move within the interval waits for the ticker; the reader still sees a whole grid.
        let held = shared.read();
        shared.update(|g| {
            g.upsert(1, -6_230_000, 106_800_000, 10, 0);
            ((), false)
        });
        assert_eq!(near(&shared), [1, 2]);
        shared.publish_pending();
        assert_eq!(near(&shared), [2, 1]);
        // The snapshot a reader holds never changes under it.
        assert_eq!(held.get(1).map(|e| e.lat_e6), Some(-6_200_000));
        drop(held);
        // Off duty: gone at once.
        shared.update(|g| ((), g.remove(2)));
        assert_eq!(near(&shared), [1]);
        // Buffers are reused once no reader holds them (and nothing is lost doing so).
        for i in 0..50 {
            shared.update(|g| {
                g.upsert(3, -6_200_000 - i, 106_800_000, 10, 0);
                ((), true)
            });
        }
        assert_eq!(near(&shared), [3, 1]);
    }
}
