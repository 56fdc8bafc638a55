//! Nearest-volunteer search, same data, one run: PostGIS as the standards write it, PostGIS
//! at its best, Redis GEOSEARCH, and the Emergency Core's in-memory grid; then ingest rates.
//! Run through `bench/geo.sh` (release build; installs PostGIS if missing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

mod data;
mod postgis;
mod redis;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use kreki_emergency::{
    geo::{
        LatLng,
        index::{Grid, Snapshot},
        shared::SharedGrid,
    },
    presence::PUBLISH_INTERVAL,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

pub const RADIUS_M: f64 = 3_000.0;
pub const K: usize = 20;

/// Latency summary in microseconds.
pub struct Stats {
    pub qps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub n: usize,
}

pub fn stats(mut lat_ns: Vec<u64>, wall: Duration) -> Stats {
    lat_ns.sort_unstable();
    let pick = |q: f64| lat_ns[((lat_ns.len() as f64 - 1.0) * q).round() as usize] as f64 / 1_000.0;
    Stats {
        qps: lat_ns.len() as f64 / wall.as_secs_f64(),
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        n: lat_ns.len(),
    }
}

pub fn print(name: &str, s: &Stats) {
    println!(
        "{name:<58} {:>12.0} q/s   p50 {:>9.2} µs   p99 {:>9.2} µs   ({} queries)",
        s.qps, s.p50_us, s.p99_us, s.n
    );
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// The grid's answer as volunteer ids (`ids[slot]`).
fn grid_query(g: &Snapshot, ids: &[u32], q: LatLng) -> Vec<u32> {
    g.nearest(q, RADIUS_M, K, 0, u32::MAX, |_| Some(0))
        .iter()
        .map(|h| ids[h.slot as usize])
        .collect()
}

fn main() -> anyhow::Result<()> {
    let n = arg("--volunteers", 1_000_000);
    let nq = arg("--queries", 200_000);
    println!(
        "# geo-bench — {n} volunteers (10 % on duty), query: {K} nearest on duty within {RADIUS_M} m"
    );
    println!(
        "# machine: {} cores; each measurement is one client on one core, sequential queries",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let t = Instant::now();
    let vols = data::generate(n, 0x4B52_454B_4931_3139);
    let queries = data::queries(nq.max(20_000), 0x5155_4552_5931_3139);
    println!("generated in {:.1} s", t.elapsed().as_secs_f64());

    // (d) the in-memory grid.
    let t = Instant::now();
    // Like the service: a volunteer gets a dense slot when they first go on duty.
    let mut grid = Grid::new(arg("--cell-e6", 10_000) as i32);
    let ids: Vec<u32> = vols.iter().filter(|v| v.on_duty).map(|v| v.id).collect();
    for (slot, v) in vols.iter().filter(|v| v.on_duty).enumerate() {
        grid.upsert(slot as u32, v.lat_e6, v.lng_e6, 0, 0);
    }
    grid.shrink();
    // Queries run on the compact snapshot the service publishes.
    let snapshot = Snapshot::of(&mut grid);
    let on_duty = ids.len();
    println!(
        "grid built with {on_duty} on-duty volunteers in {:.0} ms; index memory {:.1} bytes per indexed volunteer",
        t.elapsed().as_secs_f64() * 1e3,
        grid.memory_bytes() as f64 / on_duty as f64
    );
    println!(
        "query snapshot: {:.1} bytes per indexed volunteer",
        snapshot.memory_bytes() as f64 / on_duty as f64
    );
    let mut lat = Vec::with_capacity(nq);
    let mut found = 0usize;
    let wall = Instant::now();
    for q in queries.iter().take(nq) {
        let t = Instant::now();
        let r = snapshot.nearest(*q, RADIUS_M, K, 0, u32::MAX, |_| Some(0));
        lat.push(t.elapsed().as_nanos() as u64);
        found += r.len();
    }
    let grid_stats = stats(lat, wall.elapsed());
    println!("average hits per query: {:.1}", found as f64 / nq as f64);

    let mut rows: Vec<(String, Stats)> = Vec::new();
    if !flag("--skip-postgis") {
        let pg = postgis::run(&vols, &queries, &snapshot, &ids)?;
        rows.extend(pg);
    }
    if !flag("--skip-redis") {
        rows.push((
            "(c) Redis GEOSEARCH BYRADIUS 3000 m ASC COUNT 20".into(),
            redis::run(&vols, &queries)?,
        ));
    }
    rows.push(("(d) KREKI in-memory grid, in process".into(), grid_stats));
    println!();
    for (name, s) in &rows {
        print(name, s);
    }
    let d = &rows.last().unwrap().1;
    for (name, s) in rows.iter().take(rows.len() - 1) {
        println!(
            "(d) vs {}: {:.0}× the queries per second, p50 {:.0}× lower",
            &name[..3],
            d.qps / s.qps,
            s.p50_us / d.p50_us
        );
    }

    ingest(&vols, &queries, grid);
    Ok(())
}

/// Location updates: one core alone, then beside a querying thread, then query latency while
/// 33 000 updates/s arrive.
fn ingest(vols: &[data::Volunteer], queries: &[LatLng], grid: Grid) {
    println!();
    let onduty: Vec<&data::Volunteer> = vols.iter().filter(|v| v.on_duty).collect();
    let mut rng = StdRng::seed_from_u64(7);
    // Pre-computed moves: each a step of up to ~50 m (a few crossing cells), like a walking or
    // riding volunteer reporting every 3 s.
    let moves: Vec<(u32, i32, i32)> = (0..2_000_000)
        .map(|_| {
            let slot = rng.gen_range(0..onduty.len());
            let v = onduty[slot];
            (
                slot as u32,
                v.lat_e6 + rng.gen_range(-450..=450),
                v.lng_e6 + rng.gen_range(-450..=450),
            )
        })
        .collect();
    let mut grid = grid;
    let t = Instant::now();
    for (i, &(id, la, lo)) in moves.iter().enumerate() {
        grid.upsert(id, la, lo, (i / 100_000) as u32, 0);
    }
    let rate = moves.len() as f64 / t.elapsed().as_secs_f64();
    println!("ingest, one core, no queries:                 {rate:>12.0} updates/s");

    // As in the service: writers change a master copy, queries read the published snapshot
    // (they never wait for a writer); moves are published at least every PUBLISH_INTERVAL.
    let grid_bytes = grid.memory_bytes();
    let shared = Arc::new(SharedGrid::new(grid, PUBLISH_INTERVAL));
    println!(
        "shared index: {:.1} bytes per indexed volunteer in all (master grid, published snapshot, spare snapshot)",
        (grid_bytes + 2 * shared.read().memory_bytes()) as f64 / onduty.len() as f64
    );
    let measure_queries = |shared: &Arc<SharedGrid>, dur: Duration| {
        let mut lat = Vec::new();
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < dur {
            let q = queries[i % queries.len()];
            let t = Instant::now();
            let g = shared.read();
            std::hint::black_box(g.nearest(q, RADIUS_M, K, 0, u32::MAX, |_| Some(0)));
            drop(g);
            lat.push(t.elapsed().as_nanos() as u64);
            i += 1;
        }
        stats(lat, start.elapsed())
    };
    let idle = measure_queries(&shared, Duration::from_secs(3));
    print("queries, idle (published snapshot)", &idle);

    // Unpaced writer beside a reader: what ingest reaches while queries run.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (shared, stop, moves) = (shared.clone(), stop.clone(), moves.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                shared.update(|g| {
                    for &(id, la, lo) in moves.iter().skip(n % moves.len()).take(64) {
                        g.upsert(id, la, lo, 30, 0);
                    }
                    ((), false)
                });
                n += 64;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
    };
    let busy = measure_queries(&shared, Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let rate = writer.join().unwrap();
    println!("ingest beside a querying thread (batches of 64): {rate:>10.0} updates/s");
    print("queries during unpaced ingest", &busy);

    // Paced: 33 000 updates/s in batches every millisecond.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (shared, stop, moves) = (shared.clone(), stop.clone(), moves.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut tick = start;
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let due = (start.elapsed().as_secs_f64() * 33_000.0) as usize;
                if due > n {
                    shared.update(|g| {
                        for &(id, la, lo) in moves.iter().skip(n % moves.len()).take(due - n) {
                            g.upsert(id, la, lo, 40, 0);
                        }
                        ((), false)
                    });
                    n = due;
                }
                // The service's ticker.
                if tick.elapsed() >= PUBLISH_INTERVAL {
                    shared.publish_pending();
                    tick = Instant::now();
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
    };
    let paced = measure_queries(&shared, Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    let rate = writer.join().unwrap();
    println!("paced ingest achieved:                         {rate:>12.0} updates/s");
    print("queries while ingesting 33 000 updates/s", &paced);
    println!(
        "query p99 under 33 000 updates/s vs idle: {:.2}×",
        paced.p99_us / idle.p99_us
    );
}
