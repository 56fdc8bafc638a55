//! Geography: validated coordinates, great-circle distance, and the in-memory spatial index
//! of on-duty volunteers.

pub mod index;

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

#[cfg(test)]
mod tests {
    use super::*;

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
