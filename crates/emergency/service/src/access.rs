//! How each route of the Emergency Core is opened (the one authorisation policy, enforced by
//! the platform: `kreki_platform::http::access`). Listed at `/api/emergency/v1/permissions`.

use kreki_platform::{
    auth::perm,
    http::access::{RouteAccess as R, scope},
};

/// A path under the API prefix `/api/emergency/v1`.
macro_rules! api {
    ($p:literal) => {
        concat!("/api/emergency/v1", $p)
    };
}

const STATIC: &str = "the apps' static files and pages; their API calls carry the tokens";

pub const ROUTES: &[R] = &[
    // The panic button and its SMS fallback: never behind a sign-in, and with limits of
    // their own instead of the general per-IP one (thousands of callers share a carrier's NAT
    // address; the SMS gateway sends every SMS panic from one address).
    R::public(
        "POST",
        api!("/panic"),
        "the panic button needs no account; a signed-in caller is recognised",
    )
    .own_rate_limit(),
    R::public(
        "POST",
        api!("/sms/inbound"),
        "the SMS gateway's webhook, checked by its HMAC signature",
    )
    .own_rate_limit(),
    // A case: its caller (the anonymous caller's case token too), its responders, Ops.
    R::permission("GET", api!("/{id}"), perm::CASE_READ_OWN)
        .scoped(scope::CASE_PARTY)
        .or_case_token(),
    R::permission("GET", api!("/{id}/timeline"), perm::CASE_READ_OWN)
        .scoped(scope::CASE_PARTY)
        .or_case_token(),
    R::permission("PUT", api!("/{id}/cancel"), perm::CASE_CANCEL_OWN)
        .scoped(scope::CASE_CALLER)
        .or_case_token(),
    R::permission("POST", api!("/ws-ticket"), perm::CASE_READ_OWN)
        .scoped(scope::CASE_PARTY)
        .or_case_token(),
    R::public(
        "GET",
        api!("/ws"),
        "opened by a one-time ticket or a token in the first frame",
    ),
    // Volunteers.
    R::permission("PUT", api!("/presence"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/presence/location"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("POST", api!("/presence/test-alert"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/offers/mine"), perm::CASE_RESPOND).scoped(scope::OWN),
    R::permission("PUT", api!("/{id}/respond"), perm::CASE_RESPOND).scoped(scope::OWN),
    R::permission("PUT", api!("/{id}/status"), perm::CASE_RESPOND).scoped(scope::CASE_RESPONDER),
    R::permission("PUT", api!("/{id}/complete"), perm::CASE_COMPLETE).scoped(scope::CASE_RESPONDER),
    R::permission("GET", api!("/history/mine"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("GET", api!("/wellbeing/mine"), perm::PRESENCE_OWN).scoped(scope::OWN),
    R::permission("PUT", api!("/{id}/wellbeing"), perm::PRESENCE_OWN).scoped(scope::CASE_RESPONDER),
    // Ops.
    R::permission("GET", api!("/active"), perm::CASE_READ_ALL),
    R::permission("GET", api!("/stats"), perm::CASE_READ_ALL),
    R::permission("GET", api!("/ops/outbox"), perm::CASE_READ_ALL),
    R::permission("PUT", api!("/{id}/escalate"), perm::CASE_MANAGE),
    R::permission("PUT", api!("/{id}/offer"), perm::CASE_MANAGE),
    R::permission("GET", api!("/nearby"), perm::VOLUNTEER_NEARBY),
    // AEDs: where they are is public; the registry is Ops'.
    R::public(
        "GET",
        api!("/aeds/{aed_id}"),
        "AED locations are public information",
    ),
    R::public(
        "POST",
        api!("/aeds/nearest"),
        "AED locations are public information",
    ),
    R::permission("POST", api!("/aeds"), perm::AED_MANAGE),
    R::permission("PUT", api!("/aeds/{aed_id}"), perm::AED_MANAGE),
    R::permission("DELETE", api!("/aeds/{aed_id}"), perm::AED_MANAGE),
    // The caller, volunteer and Ops apps.
    R::public("GET", "/", STATIC),
    R::public("GET", "/index.html", STATIC),
    R::public("GET", "/app-config.json", STATIC),
    R::public("*", "/sw.js", STATIC),
    R::public("*", "/manifest.webmanifest", STATIC),
    R::public("*", "/app", STATIC),
    R::public("*", "/app/", STATIC),
    R::public("*", "/app/{*__private__axum_nest_tail_param}", STATIC),
    R::public("GET", "/relawan", STATIC),
    R::public("GET", "/relawan/", STATIC),
    R::public("GET", "/relawan/callback", STATIC),
    R::public("*", "/relawan/sw.js", STATIC),
    R::public("*", "/relawan/manifest.webmanifest", STATIC),
    R::public("GET", "/ops", STATIC),
    R::public("GET", "/ops/", STATIC),
    R::public("GET", "/ops/callback", STATIC),
    R::public("*", "/ops/sw.js", STATIC),
    R::public("*", "/ops/manifest.webmanifest", STATIC),
];

#[cfg(test)]
mod tests {
    #[test]
    fn paths_carry_the_prefix() {
        assert!(
            super::ROUTES
                .iter()
                .all(|r| r.path.starts_with("/api/emergency/v1/") || !r.path.starts_with("/api"))
        );
    }
}
