//! How each route of the bridge is opened (the one authorisation policy, enforced by the
//! platform: `kreki_platform::http::access`). Listed at `/api/satusehat/v1/permissions` and
//! `/api/psc119/v1/permissions`.

use kreki_platform::{
    auth::perm,
    http::access::{RouteAccess as R, scope},
};

const ADMIN_PAGE: &str = "the operators' page; its API calls carry an operator's token";
const SIM: &str = "simulator of SATUSEHAT or PSC 119 (demo and tests only)";

pub const ROUTES: &[R] = &[
    R::permission("GET", "/api/satusehat/v1/jobs", perm::BRIDGE_READ),
    R::permission(
        "GET",
        "/api/satusehat/v1/jobs/{case_id}",
        perm::HEALTH_RECORD_READ,
    ),
    R::permission("GET", "/api/satusehat/v1/access-log", perm::AUDIT_READ),
    R::permission(
        "POST",
        "/api/satusehat/v1/jobs/{case_id}/replay",
        perm::BRIDGE_MANAGE,
    ),
    R::permission("POST", "/api/satusehat/v1/jobs/replay", perm::BRIDGE_MANAGE),
    R::permission(
        "POST",
        "/api/satusehat/v1/jobs/{case_id}/discard",
        perm::BRIDGE_MANAGE,
    ),
    R::permission(
        "PUT",
        "/api/satusehat/v1/jobs/{case_id}/patient",
        perm::BRIDGE_MANAGE,
    ),
    R::public(
        "POST",
        "/api/psc119/v1/callbacks",
        "PSC 119 centres' status callbacks, checked by the centre's HMAC signature",
    )
    .scoped(scope::CENTRE),
    R::permission(
        "GET",
        "/api/psc119/v1/handoffs/{case_id}",
        perm::BRIDGE_READ,
    ),
    R::public("GET", "/admin/bridge/", ADMIN_PAGE),
    R::public("GET", "/admin/bridge/app.js", ADMIN_PAGE),
    R::public("GET", "/sim/psc119/", SIM),
    R::public("GET", "/sim/psc119/_control/handoffs", SIM),
    R::public("POST", "/sim/psc119/handoffs/{case_id}/{status}", SIM),
    R::public("POST", "/sim/psc119/webhook", SIM),
    R::public("GET", "/sim/satusehat/", SIM),
    R::public("GET", "/sim/satusehat/_control/faults", SIM),
    R::public("POST", "/sim/satusehat/_control/faults", SIM),
    R::public("GET", "/sim/satusehat/_control/resources/{kind}", SIM),
    R::public("GET", "/sim/satusehat/_control/stats", SIM),
    R::public("GET", "/sim/satusehat/fhir-r4/v1/{kind}", SIM),
    R::public("POST", "/sim/satusehat/fhir-r4/v1/{kind}", SIM),
    R::public("GET", "/sim/satusehat/fhir-r4/v1/{kind}/{id}", SIM),
    R::public("POST", "/sim/satusehat/oauth2/v1/accesstoken", SIM),
];
