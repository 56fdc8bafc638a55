//! Time as the bridge's retry logic sees it: the system clock in production, a clock the
//! tests move forward (an hour of downtime without waiting an hour).

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

pub trait Clock: Send + Sync + 'static {
    /// Unix microseconds.
    fn now_micros(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        kreki_platform::time_util::now_micros()
    }
}

/// A clock that only moves when told to.
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn starting_now() -> Self {
        ManualClock(Arc::new(AtomicI64::new(
            kreki_platform::time_util::now_micros(),
        )))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl ManualClock {
    /// Same as [`Clock::now_micros`], without importing the trait.
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
