//! PostGIS, as the standards write the query (a) and at its best (b), plus the correctness
//! check of the grid against PostGIS computing on the sphere.

use std::time::Instant;

use kreki_emergency::geo::{LatLng, index::Snapshot};
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::{K, RADIUS_M, Stats, data::Volunteer, grid_query, stats};

const PT: &str = "ST_SetSRID(ST_MakePoint($1, $2), 4326)";

pub fn run(
    vols: &[Volunteer],
    queries: &[LatLng],
    grid: &Snapshot,
    ids: &[u32],
) -> anyhow::Result<Vec<(String, Stats)>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(vols, queries, grid, ids))
}

async fn run_async(
    vols: &[Volunteer],
    queries: &[LatLng],
    grid: &Snapshot,
    ids: &[u32],
) -> anyhow::Result<Vec<(String, Stats)>> {
    let admin_url = std::env::var("KREKI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = PgConnection::connect(&admin_url).await?;
    admin
        .execute("DROP DATABASE IF EXISTS kreki_bench_geo WITH (FORCE)")
        .await?;
    admin.execute("CREATE DATABASE kreki_bench_geo").await?;
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/kreki_bench_geo"),
        None => anyhow::bail!("bad database URL"),
    };
    let mut c = PgConnection::connect(&url).await?;
    c.execute("CREATE EXTENSION postgis").await?;
    let t = Instant::now();
    c.execute("CREATE TABLE staging (id int, on_duty boolean, lat double precision, lng double precision)").await?;
    let mut copy = c
        .copy_in_raw("COPY staging FROM STDIN (FORMAT csv)")
        .await?;
    let mut buf = String::with_capacity(48 * 10_000);
    for chunk in vols.chunks(10_000) {
        buf.clear();
        for v in chunk {
            buf.push_str(&format!(
                "{},{},{:.6},{:.6}\n",
                v.id,
                v.on_duty,
                f64::from(v.lat_e6) / 1e6,
                f64::from(v.lng_e6) / 1e6
            ));
        }
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await?;
    c.execute(
        "CREATE TABLE volunteers AS SELECT id, on_duty, \
         ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography AS geog, \
         ST_SetSRID(ST_MakePoint(lng, lat), 4326) AS geom FROM staging",
    )
    .await?;
    c.execute("DROP TABLE staging; ALTER TABLE volunteers ADD PRIMARY KEY (id)")
        .await?;
    c.execute("CREATE INDEX volunteers_geog ON volunteers USING gist (geog)")
        .await?;
    c.execute("CREATE INDEX volunteers_geom_on_duty ON volunteers USING gist (geom) WHERE on_duty")
        .await?;
    c.execute("VACUUM ANALYZE volunteers").await?;
    println!(
        "postgis: loaded and indexed {} volunteers in {:.1} s",
        vols.len(),
        t.elapsed().as_secs_f64()
    );

    let standard = format!(
        "SELECT id FROM volunteers WHERE on_duty AND ST_DWithin(geog, {PT}::geography, {RADIUS_M}) \
         ORDER BY ST_Distance(geog, {PT}::geography) LIMIT {K}"
    );
    let best = format!(
        "SELECT id FROM (SELECT id, geog FROM volunteers WHERE on_duty ORDER BY geom <-> {PT} LIMIT {K}) s \
         WHERE ST_DWithin(geog, {PT}::geography, {RADIUS_M}) ORDER BY ST_Distance(geog, {PT}::geography)"
    );
    let sphere = format!(
        "SELECT id, ST_Distance(geog, {PT}::geography, false) AS d FROM volunteers \
         WHERE on_duty AND ST_DWithin(geog, {PT}::geography, {RADIUS_M}, false) ORDER BY d LIMIT {K}"
    );
    let mut out = Vec::new();
    for (name, sql, n) in [
        (
            "(a) PostGIS ST_DWithin(geography) + ORDER BY ST_Distance",
            &standard,
            300usize,
        ),
        (
            "(b) PostGIS KNN geom <-> pt, partial GiST, 3 km cut outside",
            &best,
            20_000,
        ),
    ] {
        // Warm-up.
        for q in queries.iter().take(20) {
            sqlx::query(sql)
                .bind(q.lng())
                .bind(q.lat())
                .fetch_all(&mut c)
                .await?;
        }
        let mut lat = Vec::with_capacity(n);
        let wall = Instant::now();
        for q in queries.iter().take(n) {
            let t = Instant::now();
            let rows = sqlx::query(sql)
                .bind(q.lng())
                .bind(q.lat())
                .fetch_all(&mut c)
                .await?;
            lat.push(t.elapsed().as_nanos() as u64);
            std::hint::black_box(rows);
        }
        out.push((name.to_string(), stats(lat, wall.elapsed())));
    }

    // Correctness: the grid against PostGIS on the sphere.
    let checks = 500.min(queries.len());
    let (mut same, mut ties, mut differ) = (0, 0, 0);
    for q in queries.iter().take(checks) {
        let rows = sqlx::query(&sphere)
            .bind(q.lng())
            .bind(q.lat())
            .fetch_all(&mut c)
            .await?;
        let pg: Vec<(u32, f64)> = rows
            .iter()
            .map(|r| (r.get::<i32, _>(0) as u32, r.get::<f64, _>(1)))
            .collect();
        let ours = grid_query(grid, ids, *q);
        let pg_ids: Vec<u32> = pg.iter().map(|r| r.0).collect();
        if pg_ids == ours {
            same += 1;
            continue;
        }
        // Allowed: order among equal distances, and the k-th place or the 3 km edge being a tie
        // within a millimetre (the two formulas round differently).
        let mut a = pg_ids.clone();
        let mut b = ours.clone();
        a.sort_unstable();
        b.sort_unstable();
        let last = pg.last().map(|r| r.1).unwrap_or(0.0);
        let hits = grid.nearest(*q, RADIUS_M + 0.01, K + 5, 0, u32::MAX, |_| Some(0));
        let dist = |id: u32| {
            hits.iter()
                .find(|h| ids[h.slot as usize] == id)
                .map(|h| h.distance_m)
        };
        let only_ties = a
            .iter()
            .chain(b.iter())
            .filter(|id| !(a.contains(id) && b.contains(id)))
            .all(|id| {
                let d = dist(*id).unwrap_or(f64::MAX);
                (d - last).abs() < 1e-3 || (d - RADIUS_M).abs() < 1e-3
            });
        if a == b || only_ties {
            ties += 1;
        } else {
            differ += 1;
            eprintln!("mismatch at {q:?}: postgis {pg_ids:?} grid {ours:?}");
        }
    }
    println!(
        "correctness vs PostGIS on the sphere ({checks} queries): {same} identical, {ties} equal apart from distance ties, {differ} different"
    );
    drop(c);
    admin
        .execute("DROP DATABASE IF EXISTS kreki_bench_geo WITH (FORCE)")
        .await?;
    Ok(out)
}
