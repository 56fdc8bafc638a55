//! `/api/emergency/v1`: the router of every feature's routes and the OpenAPI document. The
//! handlers live next to their features (`cases/http.rs`, `ops/http.rs`, `presence/http.rs`,
//! `aed/http.rs`, `wellbeing/http.rs`, `sms/http.rs`, `ws.rs`); the error mapping is in
//! `errors.rs`, the shared state in `state.rs`.

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(tags(
    (name = "cases", description = "Panic, cases and their timeline"),
    (name = "presence", description = "Volunteer presence and alert self-test"),
    (name = "aeds", description = "AED registry and the nearest AEDs"),
    (name = "live", description = "Live WebSocket channels"),
))]
struct ApiDoc;

pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/emergency/v1",
            OpenApiRouter::new()
                .routes(routes!(crate::cases::http::panic))
                .routes(routes!(crate::cases::http::active))
                .routes(routes!(crate::ops::http::stats))
                .routes(routes!(crate::outbox_alarm::outbox_alarm))
                .routes(routes!(crate::ops::http::ops_escalate))
                .routes(routes!(crate::ops::http::ops_offer))
                .routes(routes!(crate::wellbeing::http::history_mine))
                .routes(routes!(crate::wellbeing::http::wellbeing_mine))
                .routes(routes!(crate::wellbeing::http::wellbeing_answer))
                .routes(routes!(crate::cases::http::get_case))
                .routes(routes!(crate::cases::http::cancel))
                .routes(routes!(crate::cases::http::timeline))
                .routes(routes!(crate::presence::http::test_alert))
                .routes(routes!(crate::presence::http::presence))
                .routes(routes!(crate::presence::http::location))
                .routes(routes!(crate::cases::http::offers_mine))
                .routes(routes!(crate::cases::http::respond))
                .routes(routes!(crate::cases::http::status))
                .routes(routes!(crate::cases::http::complete))
                .routes(routes!(crate::sms::http::sms_inbound))
                .routes(routes!(crate::ops::http::nearby))
                .routes(routes!(crate::aed::http::aed_create))
                .routes(routes!(
                    crate::aed::http::aed_update,
                    crate::aed::http::aed_delete,
                    crate::aed::http::aed_get
                ))
                .routes(routes!(crate::aed::http::aed_nearest))
                .routes(routes!(crate::ws::ws_ticket))
                .routes(routes!(crate::ws::ws)),
        )
        .with_state(state)
        .split_for_parts()
}
