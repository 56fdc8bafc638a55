//! How each route of the volunteers service is opened (the one authorisation policy,
//! enforced by the platform: `kreki_platform::http::access`). Listed at
//! `/api/volunteers/v1/permissions`.

use kreki_platform::{
    auth::perm,
    http::access::{RouteAccess as R, scope},
};

/// A path under the API prefix `/api/volunteers/v1`.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/volunteers/v1", $p)
    };
}

pub const ROUTES: &[R] = &[
    // The volunteer's own profile, documents, verification, schedule and stats.
    R::permission("GET", api!("/me"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/me"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/me/schedule"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/me/documents"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/documents"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/documents/{doc_id}"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/me/submit"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/verification"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/stats"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/me/certificates"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/leaderboard"), perm::PROFILE_OWN),
    // Review: leads within the area an admin set for them, Ops Admins everywhere.
    R::permission("GET", api!("/volunteers"), perm::VOLUNTEER_VERIFY).scoped(scope::LEAD_AREA),
    R::permission("GET", api!("/volunteers/{id}"), perm::VOLUNTEER_VERIFY).scoped(scope::LEAD_AREA),
    R::permission(
        "GET",
        api!("/volunteers/{id}/documents/{doc_id}"),
        perm::VOLUNTEER_VERIFY,
    )
    .scoped(scope::LEAD_AREA),
    R::permission(
        "PUT",
        api!("/volunteers/{id}/verification"),
        perm::VOLUNTEER_VERIFY,
    )
    .scoped(scope::LEAD_AREA),
    R::permission("GET", api!("/volunteers/{id}/access-log"), perm::AUDIT_READ),
    R::permission("PUT", api!("/leads/{id}/area"), perm::LEAD_AREA_ASSIGN),
    // A lead reads their own area; admins any lead's.
    R::permission("GET", api!("/leads/{id}/area"), perm::PROFILE_OWN).scoped(scope::OWN),
];
