//! Geography: validated coordinates, great-circle distance, and the in-memory spatial index
//! of on-duty volunteers.

pub mod index;
pub mod shared;
pub mod slots;

use serde::{Deserialize, Serialize};

/// Mean Earth radius (m), the sphere PostGIS uses for `ST_Distance(geography, geography, false)`.
pub const EARTH_RADIUS_M: f64 = 6_371_008.771_4;

/// A point on Earth, validated: finite, latitude in [-90, 90], longitude in [-180, 180].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    lat: f64,
    lng: f64,
}

/// Why coordinates were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    #[error("coordinates must be finite numbers")]
    NotFinite,
    #[error("latitude must be between -90 and 90, longitude between -180 and 180")]
    OutOfRange,
    #[error("location is outside the service area")]
    OutsideServiceArea,
}

impl LatLng {
    pub fn new(lat: f64, lng: f64) -> Result<LatLng, CoordError> {
        if !lat.is_finite() || !lng.is_finite() {
            return Err(CoordError::NotFinite);
        }
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
            return Err(CoordError::OutOfRange);
        }
        Ok(LatLng { lat, lng })
    }
    pub fn lat(self) -> f64 {
        self.lat
    }
    pub fn lng(self) -> f64 {
        self.lng
    }
    /// Microdegrees (≈ 0.11 m), the index's storage unit.
    pub fn to_e6(self) -> (i32, i32) {
        (
            (self.lat * 1e6).round() as i32,
            (self.lng * 1e6).round() as i32,
        )
    }
    pub fn from_e6(lat: i32, lng: i32) -> LatLng {
        LatLng {
            lat: f64::from(lat) / 1e6,
            lng: f64::from(lng) / 1e6,
        }
    }
}

/// A rectangular service area (default: Indonesia with a margin), configurable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceArea {
    pub min_lat: f64,
    pub max_lat: f64,
    pub min_lng: f64,
    pub max_lng: f64,
}

impl Default for ServiceArea {
    fn default() -> Self {
        // Indonesia spans about 6°N–11°S and 95°E–141°E.
        ServiceArea {
            min_lat: -11.5,
            max_lat: 6.5,
            min_lng: 94.5,
            max_lng: 141.5,
        }
    }
}

impl ServiceArea {
    pub fn check(&self, p: LatLng) -> Result<LatLng, CoordError> {
        if (self.min_lat..=self.max_lat).contains(&p.lat)
            && (self.min_lng..=self.max_lng).contains(&p.lng)
        {
            Ok(p)
        } else {
            Err(CoordError::OutsideServiceArea)
        }
    }
}

/// Great-circle distance in metres (haversine on the mean-radius sphere).
pub fn distance_m(a: LatLng, b: LatLng) -> f64 {
    haversine_m(a.lat, a.lng, b.lat, b.lng)
}

#[inline]
pub(crate) fn haversine_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let p1 = lat1.to_radians();
    let p2 = lat2.to_radians();
    let dphi = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let s1 = (dphi * 0.5).sin();
    let s2 = (dl * 0.5).sin();
    let h = (s1 * s1 + p1.cos() * p2.cos() * s2 * s2).min(1.0);
    2.0 * EARTH_RADIUS_M * h.sqrt().asin()
}

/// Distances from one point (a query's centre) to many nearby ones: the same haversine, with
/// the centre's trigonometry computed once and, for the small angles of a neighbourhood
/// search, `sin`, `cos` and `asin` by their Taylor series (truncation below 1e-20 relative,
/// so the result agrees with [`haversine_m`] to the last few bits), several times faster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Around {
    lat: f64,
    lng: f64,
    cos_p1: f64,
    sin_p1: f64,
}

/// Series are used below this angle (radians, about 127 km of arc).
const SMALL: f64 = 0.02;

#[inline]
fn sin_small(x: f64) -> f64 {
    if x.abs() < SMALL {
        let x2 = x * x;
        x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0))))
    } else {
        x.sin()
    }
}

#[inline]
fn cos_small(x: f64) -> f64 {
    if x.abs() < SMALL {
        let x2 = x * x;
        1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0)))
    } else {
        x.cos()
    }
}

#[inline]
fn asin_small(y: f64) -> f64 {
    if y < SMALL / 2.0 {
        let y2 = y * y;
        y * (1.0 + y2 * (1.0 / 6.0 + y2 * (3.0 / 40.0 + y2 * (5.0 / 112.0 + y2 * (35.0 / 1152.0)))))
    } else {
        y.asin()
    }
}

impl Around {
    pub(crate) fn new(lat: f64, lng: f64) -> Around {
        let p1 = lat.to_radians();
        Around {
            lat,
            lng,
            cos_p1: p1.cos(),
            sin_p1: p1.sin(),
        }
    }

    /// Great-circle distance in metres from the centre to (`lat`, `lng`) in degrees.
    #[inline]
    pub(crate) fn distance_m(&self, lat: f64, lng: f64) -> f64 {
        let dphi = (lat - self.lat).to_radians();
        let dl = (lng - self.lng).to_radians();
        if dphi.abs() >= SMALL || dl.abs() >= SMALL {
            return haversine_m(self.lat, self.lng, lat, lng);
        }
        // cos(p1 + dphi) without a call.
        let cos_p2 = self.cos_p1 * cos_small(dphi) - self.sin_p1 * sin_small(dphi);
        let s1 = sin_small(dphi * 0.5);
        let s2 = sin_small(dl * 0.5);
        let h = (s1 * s1 + self.cos_p1 * cos_p2 * s2 * s2).clamp(0.0, 1.0);
        2.0 * EARTH_RADIUS_M * asin_small(h.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn around_agrees_with_haversine() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200_000 {
            let lat = -89.0 + next() * 178.0;
            let lng = -179.0 + next() * 358.0;
            // Up to about 1.5° away (beyond the series' range too).
            let (dlat, dlng) = ((next() - 0.5) * 3.0 * next(), (next() - 0.5) * 3.0 * next());
            let (la2, lo2) = ((lat + dlat).clamp(-90.0, 90.0), lng + dlng);
            let exact = haversine_m(lat, lng, la2, lo2);
            let fast = Around::new(lat, lng).distance_m(la2, lo2);
            assert!(
                (exact - fast).abs() <= 1e-9 * exact.max(1.0),
                "{lat},{lng} → {la2},{lo2}: {exact} vs {fast}"
            );
        }
        assert_eq!(Around::new(-6.2, 106.8).distance_m(-6.2, 106.8), 0.0);
    }

    #[test]
    fn validation() {
        assert!(LatLng::new(-6.2, 106.8).is_ok());
        assert_eq!(LatLng::new(f64::NAN, 0.0), Err(CoordError::NotFinite));
        assert_eq!(LatLng::new(0.0, f64::INFINITY), Err(CoordError::NotFinite));
        assert_eq!(LatLng::new(91.0, 0.0), Err(CoordError::OutOfRange));
        assert_eq!(LatLng::new(0.0, -180.5), Err(CoordError::OutOfRange));
        let area = ServiceArea::default();
        assert!(area.check(LatLng::new(-6.2, 106.8).unwrap()).is_ok());
        assert_eq!(
            area.check(LatLng::new(51.5, -0.1).unwrap()),
            Err(CoordError::OutsideServiceArea)
        );
    }

    #[test]
    fn distances() {
        // Monas to Bundaran HI, Jakarta: about 2.2 km.
        let monas = LatLng::new(-6.175392, 106.827153).unwrap();
        let hi = LatLng::new(-6.194958, 106.823050).unwrap();
        let d = distance_m(monas, hi);
        assert!((2150.0..2250.0).contains(&d), "{d}");
        // One degree of latitude on this sphere.
        let d = distance_m(
            LatLng::new(0.0, 0.0).unwrap(),
            LatLng::new(1.0, 0.0).unwrap(),
        );
        assert!((d - 111_195.08).abs() < 0.1, "{d}");
        assert_eq!(distance_m(monas, monas), 0.0);
    }
}
