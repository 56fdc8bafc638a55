//! Deterministic volunteers clustered like Greater Jakarta plus the rest of Java.

use kreki_emergency::geo::LatLng;
use rand::{Rng, SeedableRng, rngs::StdRng};

#[derive(Debug, Clone, Copy)]
pub struct Volunteer {
    pub id: u32,
    pub lat_e6: i32,
    pub lng_e6: i32,
    pub on_duty: bool,
}

/// (lat, lng, sigma km, weight)
const CENTRES: &[(f64, f64, f64, f64)] = &[
    // Greater Jakarta (Jabodetabek): 55 %.
    (-6.1754, 106.8272, 6.0, 20.0),
    (-6.2615, 106.8106, 5.0, 12.0),
    (-6.2250, 106.9004, 5.0, 10.0),
    (-6.1676, 106.7637, 5.0, 10.0),
    (-6.1214, 106.8830, 4.0, 6.0),
    (-6.2383, 106.9756, 6.0, 10.0),
    (-6.4025, 106.7942, 5.0, 8.0),
    (-6.1783, 106.6319, 6.0, 9.0),
    (-6.2886, 106.7179, 4.0, 6.0),
    (-6.5971, 106.8060, 6.0, 9.0),
    // Rest of Java: cities.
    (-6.9175, 107.6191, 8.0, 12.0),
    (-6.9667, 110.4167, 7.0, 7.0),
    (-7.7956, 110.3695, 7.0, 7.0),
    (-7.2575, 112.7521, 8.0, 12.0),
    (-7.9666, 112.6326, 6.0, 5.0),
    (-7.5755, 110.8243, 5.0, 4.0),
    (-6.7320, 108.5523, 5.0, 3.0),
    (-7.3274, 108.2207, 5.0, 2.0),
    (-7.4245, 109.2302, 5.0, 2.0),
    (-7.8480, 112.0178, 5.0, 2.0),
    (-8.1845, 113.6681, 5.0, 2.0),
    (-6.1200, 106.1503, 5.0, 2.0),
];
/// Weight of volunteers spread over all of Java (villages, roads).
const SPREAD_WEIGHT: f64 = 8.0;

fn total() -> f64 {
    CENTRES.iter().map(|c| c.3).sum::<f64>() + SPREAD_WEIGHT
}

fn gauss(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn point(rng: &mut StdRng) -> (i32, i32) {
    let mut pick = rng.gen_range(0.0..total());
    for &(lat, lng, sigma_km, w) in CENTRES {
        if pick < w {
            let dlat = gauss(rng) * sigma_km / 111.2;
            let dlng = gauss(rng) * sigma_km / (111.2 * lat.to_radians().cos());
            return (
                ((lat + dlat) * 1e6).round() as i32,
                ((lng + dlng) * 1e6).round() as i32,
            );
        }
        pick -= w;
    }
    let lat = rng.gen_range(-8.6..-6.0);
    let lng = rng.gen_range(105.3..114.5);
    (
        (lat * 1e6_f64).round() as i32,
        (lng * 1e6_f64).round() as i32,
    )
}

/// `n` volunteers, 10 % on duty, from `seed`.
pub fn generate(n: usize, seed: u64) -> Vec<Volunteer> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let (lat_e6, lng_e6) = point(&mut rng);
            Volunteer {
                id: i as u32,
                lat_e6,
                lng_e6,
                on_duty: rng.gen_range(0..10) == 0,
            }
        })
        .collect()
}

/// Query points from the same distribution.
pub fn queries(n: usize, seed: u64) -> Vec<LatLng> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (la, lo) = point(&mut rng);
            LatLng::from_e6(la, lo)
        })
        .collect()
}
