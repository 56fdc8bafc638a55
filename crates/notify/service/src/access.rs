//! How each route of notify is opened (the one authorisation policy, enforced by the
//! platform: `kreki_platform::http::access`). Listed at `/api/notify/v1/permissions`.

use kreki_platform::{
    auth::perm,
    http::access::{RouteAccess as R, scope},
};

/// A path under the API prefix `/api/notify/v1`.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/notify/v1", $p)
    };
}

const ADMIN_PAGE: &str =
    "the operators' notification log page; its API calls carry an operator's token";

pub const ROUTES: &[R] = &[
    R::permission("POST", api!("/messages"), perm::NOTIFICATION_SEND).scoped(scope::CLIENT_SCOPE),
    R::permission("POST", api!("/messages/search"), perm::NOTIFICATION_READ),
    R::permission("GET", api!("/messages/{id}"), perm::NOTIFICATION_READ),
    R::permission("POST", api!("/messages/{id}/ack"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::public(
        "GET",
        api!("/push/key"),
        "the public VAPID key browsers subscribe with",
    ),
    R::permission("POST", api!("/push/subscriptions"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("DELETE", api!("/push/subscriptions"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/devices"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("DELETE", api!("/devices"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/preferences"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/preferences"), perm::PROFILE_OWN).scoped(scope::OWN),
    R::public(
        "POST",
        api!("/receipts/sms"),
        "the SMS gateway's delivery receipts, checked by their HMAC signature",
    ),
    R::public(
        "POST",
        api!("/receipts/whatsapp"),
        "WhatsApp's webhook, checked by its signature",
    ),
    R::public(
        "GET",
        api!("/receipts/whatsapp"),
        "WhatsApp's webhook verification handshake (verify token)",
    ),
    R::public("GET", "/admin/notify/", ADMIN_PAGE),
    R::public("GET", "/admin/notify/admin.css", ADMIN_PAGE),
    R::public("GET", "/admin/notify/admin.js", ADMIN_PAGE),
];
