//! `/api/notify/v1`: request a message, look one up.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, State},
};
use kreki_notify_contracts::MessageRequested;
use kreki_platform::{
    ApiError, ApiResult, Envelope, Msg, auth::Auth, bus::outbox::RelayState, error::ErrorEnvelope,
    http::ApiJson,
};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::store::{Enqueued, MessageView, Store};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub wake: Arc<Notify>,
    pub relay: Arc<RelayState>,
}

/// Roles allowed to send arbitrary messages and read the message log.
const OPERATORS: &[&str] = &["ops_admin", "system_admin"];
/// Scope of service clients that send messages.
const SEND_SCOPE: &str = "notify:send";

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub id: String,
    /// `queued`, or `duplicate` when the dedup key was seen before.
    pub status: String,
}

#[derive(OpenApi)]
#[openapi(tags((name = "messages", description = "Message requests and their delivery status")))]
struct ApiDoc;

pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/notify/v1",
            OpenApiRouter::new()
                .routes(routes!(request_message))
                .routes(routes!(get_message)),
        )
        .with_state(state)
        .split_for_parts();
    (router, api)
}

/// Request a message (authenticated: a 401 comes before the body is read).
#[utoipa::path(post, path = "/messages", tag = "messages",
    request_body = MessageRequested,
    responses(
        (status = 202, description = "Queued (or a duplicate of an earlier request)", body = inline(Envelope<Accepted>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Not allowed to send messages", body = ErrorEnvelope),
        (status = 422, description = "Invalid request (unknown template, missing variables, recipient)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn request_message(
    State(st): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<MessageRequested>, ApiError>,
) -> ApiResult<Envelope<Accepted>> {
    // Who may send is decided before the body is looked at.
    if !(OPERATORS.iter().any(|r| p.has_role(r)) || p.has_scope(SEND_SCOPE)) {
        return Err(ApiError::forbidden());
    }
    let ApiJson(req) = body?;
    let expires = crate::validate(&req)?;
    let mut tx = st.store.db().begin().await?;
    let outcome = Store::enqueue(&mut tx, &req, expires).await?;
    tx.commit().await?;
    st.wake.notify_one();
    let (id, status) = match outcome {
        Enqueued::New => (req.id, "queued"),
        Enqueued::Duplicate { existing_id } => (existing_id, "duplicate"),
    };
    Ok(Envelope::accepted(Accepted {
        id,
        status: status.into(),
    }))
}

/// A message with its delivery history (operators).
#[utoipa::path(get, path = "/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = inline(Envelope<MessageView>)),
        (status = 404, description = "Unknown id (NOTIFY_MESSAGE_NOT_FOUND)", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
async fn get_message(
    State(st): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Envelope<MessageView>> {
    p.require_any_role(OPERATORS)?;
    match st.store.get(&id).await? {
        Some(m) => Ok(Envelope::ok(m)),
        None => Err(ApiError::not_found(
            "NOTIFY_MESSAGE_NOT_FOUND",
            Msg::new("Pesan tidak ditemukan", "Message not found"),
        )),
    }
}
