//! Rate limiting: fixed windows keyed by a bucket name (e.g. `login:ip:1.2.3.4`).
//!
//! [`MemoryRateLimiter`] is per process (`kreki up`); [`SqlRateLimiter`] keeps the counters
//! in the service's database so every replica sees them (`kreki serve`).

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_trait::async_trait;
use sqlx::Row;

use super::Db;
use crate::time_util::now_micros;

/// The outcome of one hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_after_s: u64,
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Count one hit on `bucket`; allowed while the window's count ≤ `limit`.
    async fn hit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, sqlx::Error>;
}

fn window_of(now_us: i64, window: Duration) -> (i64, i64) {
    let w = i64::try_from(window.as_micros()).unwrap_or(i64::MAX).max(1);
    let start = now_us - now_us.rem_euclid(w);
    (start, start + w)
}

fn decide(count: i64, limit: u32, end_us: i64, now_us: i64) -> RateDecision {
    let limit_i = i64::from(limit);
    RateDecision {
        allowed: count <= limit_i,
        limit,
        remaining: u32::try_from((limit_i - count).max(0)).unwrap_or(0),
        reset_after_s: u64::try_from((end_us - now_us + 999_999) / 1_000_000)
            .unwrap_or(1)
            .max(1),
    }
}

/// In-memory limiter (one process).
#[derive(Default)]
pub struct MemoryRateLimiter {
    buckets: Mutex<HashMap<String, (i64, i64)>>,
}

impl MemoryRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, sqlx::Error> {
        let now = now_micros();
        let (start, end) = window_of(now, window);
        let mut map = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            map.retain(|_, (s, _)| *s >= start);
        }
        let entry = map.entry(bucket.to_string()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 += 1;
        Ok(decide(entry.1, limit, end, now))
    }
}

/// Database-backed limiter (shared by replicas).
pub struct SqlRateLimiter {
    db: Db,
}

impl SqlRateLimiter {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Remove windows that ended before `before_micros`.
    pub async fn prune(&self, before_micros: i64) -> Result<u64, sqlx::Error> {
        Ok(
            sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                .bind(before_micros)
                .execute(self.db.writer())
                .await?
                .rows_affected(),
        )
    }
}

#[async_trait]
impl RateLimiter for SqlRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, sqlx::Error> {
        let now = now_micros();
        let (start, end) = window_of(now, window);
        let row = sqlx::query(
            "INSERT INTO rate_limits (bucket, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket) DO UPDATE SET \
               count = CASE WHEN rate_limits.window_start = excluded.window_start \
                            THEN rate_limits.count + 1 ELSE 1 END, \
               window_start = excluded.window_start \
             RETURNING count",
        )
        .bind(bucket)
        .bind(start)
        .fetch_one(self.db.writer())
        .await?;
        let count: i64 = row.try_get(0)?;
        Ok(decide(count, limit, end, now))
    }
}
