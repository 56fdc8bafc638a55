//! How each route of the LMS is opened (the one authorisation policy, enforced by the
//! platform: `kreki_platform::http::access`). Listed at `/api/lms/v1/permissions`.

use kreki_platform::{
    auth::perm,
    http::access::{RouteAccess as R, scope},
};

/// A path under the API prefix `/api/lms/v1`.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/lms/v1", $p)
    };
}

const PAGE: &str = "server-rendered pages with their own KREKI ID web session";
const VERIFY: &str = "public certificate verification (the holder's name masked)";
const ISSUER: &str = "the certificate issuer's public keys and revocation list";

pub const ROUTES: &[R] = &[
    R::public("GET", api!("/courses"), "the course catalogue is public"),
    R::public(
        "GET",
        api!("/courses/{id}"),
        "the course catalogue is public",
    ),
    R::permission("POST", api!("/enroll"), perm::COURSE_LEARN).scoped(scope::OWN),
    R::permission("GET", api!("/progress"), perm::COURSE_LEARN).scoped(scope::OWN),
    R::permission("POST", api!("/lessons/{id}/complete"), perm::COURSE_LEARN).scoped(scope::OWN),
    R::permission("POST", api!("/quiz/{id}/start"), perm::COURSE_LEARN).scoped(scope::OWN),
    R::permission("POST", api!("/quiz/{id}/submit"), perm::COURSE_LEARN).scoped(scope::OWN),
    R::permission("GET", api!("/results"), perm::COURSE_LEARN).scoped(scope::INSTRUCTOR),
    R::permission("POST", api!("/practical/signoff"), perm::COURSE_LEARN).scoped(scope::INSTRUCTOR),
    R::permission("GET", api!("/instructor/participants"), perm::COURSE_LEARN)
        .scoped(scope::INSTRUCTOR),
    R::permission("GET", api!("/certificates/mine"), perm::COURSE_LEARN).scoped(scope::OWN),
    R::public("GET", api!("/certificate/{id}"), VERIFY),
    R::permission("GET", api!("/certificate/{id}/pdf"), perm::COURSE_LEARN)
        .scoped(scope::CERTIFICATE_HOLDER),
    R::permission(
        "GET",
        api!("/certificate/{id}/credential"),
        perm::COURSE_LEARN,
    )
    .scoped(scope::CERTIFICATE_HOLDER),
    R::permission(
        "POST",
        api!("/certificate/{id}/revoke"),
        perm::CERTIFICATE_REVOKE,
    ),
    R::public("GET", api!("/credentials/status/1"), ISSUER),
    R::public("GET", api!("/.well-known/jwks.json"), ISSUER),
    R::public("GET", api!("/issuer"), ISSUER),
    R::public("GET", "/verify/{id}", VERIFY),
    R::public("GET", "/belajar", PAGE),
    R::public("GET", "/belajar/", PAGE),
    R::public("GET", "/belajar/callback", PAGE),
    R::public("GET", "/belajar/masuk", PAGE),
    R::public("POST", "/belajar/daftar", PAGE),
    R::public("POST", "/belajar/keluar", PAGE),
    R::public("GET", "/belajar/kursus/{id}", PAGE),
    R::public("POST", "/belajar/materi/{id}/selesai", PAGE),
    R::public("GET", "/belajar/kuis/{id}", PAGE),
    R::public("POST", "/belajar/kuis/{id}", PAGE),
    R::public("POST", "/belajar/kuis/{id}/mulai", PAGE),
    R::public("GET", "/belajar/sertifikat", PAGE),
    R::public("GET", "/belajar/sertifikat/{id}/pdf", PAGE),
    R::public("GET", "/belajar/instruktur", PAGE),
    R::public("POST", "/belajar/instruktur/tandatangan", PAGE),
    R::public("GET", "/belajar/media/{name}", "the lessons' pictures"),
];
