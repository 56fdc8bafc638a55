//! Retention of the kit's own tables, for every service: rate-limit windows, handled-event
//! inbox rows and idempotency keys are bookkeeping and are forgotten once no retry can need
//! them. Runs a few minutes after start, then every hour (`kreki up` and `kreki serve` alike); a service's own
//! data retention (cases, logs) runs beside it in the service.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Db;
use crate::time_util::now_micros;

/// How long the kit's bookkeeping is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Rate-limit windows (the longest limit window is one hour).
    pub rate_limits: Duration,
    /// Handled-event ids (far beyond the bus's redelivery and deduplication horizons).
    pub inbox: Duration,
    /// Idempotency keys and their stored answers (client retries come within minutes).
    pub idempotency: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            rate_limits: Duration::from_secs(86_400),
            inbox: Duration::from_secs(30 * 86_400),
            idempotency: Duration::from_secs(7 * 86_400),
        }
    }
}

/// Rows removed by one sweep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub rate_limits: u64,
    pub inbox: u64,
    pub idempotency: u64,
}

fn before(now_us: i64, d: Duration) -> i64 {
    now_us - i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2)
}

/// One sweep at `now_us`.
pub async fn sweep(db: &Db, r: &Retention, now_us: i64) -> Result<Swept, sqlx::Error> {
    let rate_limits = super::ratelimit::SqlRateLimiter::new(db.clone())
        .prune(before(now_us, r.rate_limits))
        .await?;
    let mut conn = db.writer().acquire().await?;
    let inbox = super::inbox::prune(&mut conn, before(now_us, r.inbox)).await?;
    let idempotency = super::idempotency::prune(&mut conn, before(now_us, r.idempotency)).await?;
    Ok(Swept {
        rate_limits,
        inbox,
        idempotency,
    })
}

/// Run `job` after `first`, then every `every`, until `cancel` (retention sweeps: not during
/// start-up, when seeding and consumers are busiest).
pub async fn periodically<F, Fut>(
    first: Duration,
    every: Duration,
    cancel: CancellationToken,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut wait = first;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        job().await;
        wait = every;
    }
}

/// Sweep the kit's bookkeeping of `db` after `first`, then every `every`, until `cancel`.
pub async fn run(
    db: Db,
    service: &'static str,
    first: Duration,
    every: Duration,
    cancel: CancellationToken,
) {
    let r = Retention::default();
    periodically(first, every, cancel, || async {
        match sweep(&db, &r, now_micros()).await {
            Ok(s) if s != Swept::default() => tracing::info!(
                service,
                rate_limits = s.rate_limits,
                inbox = s.inbox,
                idempotency = s.idempotency,
                "retention sweep"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(service, error = %e, "retention sweep failed; will retry"),
        }
    })
    .await;
}
