//! Live channels: `POST /ws-ticket` gives a one-time ticket (30 s) to a signed-in volunteer,
//! an Ops user, or an anonymous caller with their case token; `GET /ws` upgrades, and the
//! first frame must be `{"type":"auth","ticket":…}` (nothing secret ever in the URL).
//! Volunteers get offers and team updates and stream their position; callers get their case's
//! updates; Ops get every case update and position.

use std::time::Duration;

use axum::{
    extract::{
        State,
        ws::{Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use base64::Engine;
use kreki_emergency_contracts::socket::{ClientMsg, ServerMsg};
use kreki_platform::{ApiError, ApiResult, Envelope, error::ErrorEnvelope, time_util::now_micros};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use crate::{
    actor::{CaseActor, token_hash},
    dispatch::case_update,
    geo::LatLng,
    hub::Peer,
    state::AppState,
};

const TICKET_TTL_US: i64 = 30_000_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct Ticket {
    /// Send it as the first frame: `{"type":"auth","ticket":"…"}`. Valid once, for 30 s.
    pub ticket: String,
    /// `volunteer`, `caller` or `ops`.
    pub role: String,
}

/// A one-time ticket for the live socket.
#[utoipa::path(post, path = "/ws-ticket", tag = "live",
    responses(
        (status = 200, description = "The ticket", body = inline(Envelope<Ticket>)),
        (status = 401, description = "No or invalid token", body = ErrorEnvelope),
        (status = 403, description = "Nothing to follow for this account", body = ErrorEnvelope),
    ),
    security(("bearer" = [])))]
pub async fn ws_ticket(
    State(st): State<AppState>,
    actor: CaseActor,
) -> ApiResult<Envelope<Ticket>> {
    let peer = match actor {
        CaseActor::Caller { token_hash } => {
            let row = sqlx::query(
                "SELECT id FROM cases WHERE caller_token_hash = $1 AND caller_token_hash <> ''",
            )
            .bind(&token_hash)
            .fetch_optional(st.store.db().pool())
            .await?
            .ok_or_else(|| ApiError::unauthorized("AUTH_TOKEN_INVALID"))?;
            Peer::Caller(row.try_get(0)?)
        }
        CaseActor::User(p) => {
            if p.can(kreki_platform::auth::perm::CASE_READ_ALL) {
                Peer::Ops(p.subject)
            } else if p.can(kreki_platform::auth::perm::PRESENCE_OWN) {
                Peer::Volunteer(p.subject)
            } else if let Some(c) = st.store.open_case_of(Some(&p.subject), None).await? {
                Peer::Caller(c.id)
            } else {
                return Err(ApiError::forbidden());
            }
        }
    };
    let (kind, id) = match &peer {
        Peer::Volunteer(v) => ("volunteer", v.clone()),
        Peer::Caller(c) => ("caller", c.clone()),
        Peer::Ops(o) => ("ops", o.clone()),
    };
    let bytes: [u8; 24] = rand::random();
    let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = now_micros();
    sqlx::query("DELETE FROM ws_tickets WHERE expires_at < $1")
        .bind(now)
        .execute(st.store.db().writer())
        .await?;
    sqlx::query(
        "INSERT INTO ws_tickets (hash, peer_kind, peer_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash(&ticket))
    .bind(kind)
    .bind(&id)
    .bind(now + TICKET_TTL_US)
    .execute(st.store.db().writer())
    .await?;
    Ok(Envelope::ok(Ticket {
        ticket,
        role: kind.into(),
    }))
}

async fn redeem(st: &AppState, ticket: &str) -> Result<Option<Peer>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM ws_tickets WHERE hash = $1 AND expires_at > $2 RETURNING peer_kind, peer_id",
    )
    .bind(token_hash(ticket))
    .bind(now_micros())
    .fetch_optional(st.store.db().writer())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kind: String = row.try_get(0)?;
    let id: String = row.try_get(1)?;
    Ok(Some(match kind.as_str() {
        "volunteer" => Peer::Volunteer(id),
        "caller" => Peer::Caller(id),
        _ => Peer::Ops(id),
    }))
}

/// The live socket (authenticate with the first frame).
#[utoipa::path(get, path = "/ws", tag = "live",
    responses((status = 101, description = "WebSocket; messages in the emergency contracts crate (`socket` module)")))]
pub async fn ws(State(st): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    // Small buffers: thousands of volunteers hold a socket each, and frames are tiny (the
    // library's defaults, 128 KiB each way, would cost ~150 KiB per socket).
    upgrade
        .max_message_size(16 * 1024)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| run(st, socket))
}

fn frame(msg: &ServerMsg) -> Message {
    Message::Text(serde_json::to_string(msg).unwrap_or_default().into())
}

async fn run(st: AppState, mut socket: WebSocket) {
    // Authenticate within 10 seconds.
    let first = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await;
    let ticket = match first {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientMsg>(&t) {
            Ok(ClientMsg::Auth { ticket }) => Some(ticket),
            _ => None,
        },
        _ => None,
    };
    let peer = match ticket {
        Some(t) => redeem(&st, &t).await.ok().flatten(),
        None => None,
    };
    let Some(peer) = peer else {
        let _ = socket
            .send(frame(&ServerMsg::Error {
                code: "WS_AUTH_REQUIRED".into(),
                fatal: true,
            }))
            .await;
        let _ = socket.send(Message::Close(None)).await;
        return;
    };
    let role = match &peer {
        Peer::Volunteer(_) => "volunteer",
        Peer::Caller(_) => "caller",
        Peer::Ops(_) => "ops",
    };
    if socket
        .send(frame(&ServerMsg::Ready { role: role.into() }))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ServerMsg>(256);
    let id = st.dispatcher.hub.join(&peer, tx);
    if let Peer::Caller(case_id) = &peer
        && let Ok(Some((msg, _))) = case_update(&st.store, case_id).await
    {
        let _ = socket.send(frame(&msg)).await;
    }
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(msg) = out else { break };
                if socket.send(frame(&msg)).await.is_err() {
                    break;
                }
            }
            inc = socket.recv() => {
                let Some(Ok(m)) = inc else { break };
                let reply = match m {
                    Message::Text(t) => handle_frame(&st, &peer, &t),
                    Message::Binary(_) => Some(ServerMsg::Error { code: "WS_MALFORMED_FRAME".into(), fatal: false }),
                    Message::Close(_) => break,
                    _ => None,
                };
                if let Some(r) = reply
                    && socket.send(frame(&r)).await.is_err()
                {
                    break;
                }
            }
            _ = st.dispatcher.shutdown.cancelled() => break,
        }
    }
    st.dispatcher.hub.leave(&peer, id);
}

fn handle_frame(st: &AppState, peer: &Peer, text: &str) -> Option<ServerMsg> {
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(ClientMsg::Ping) => Some(ServerMsg::Pong),
        Ok(ClientMsg::Auth { .. }) => Some(ServerMsg::Error {
            code: "WS_ALREADY_AUTHENTICATED".into(),
            fatal: false,
        }),
        Ok(ClientMsg::Location {
            latitude,
            longitude,
            ..
        }) => {
            let Peer::Volunteer(v) = peer else {
                return Some(ServerMsg::Error {
                    code: "WS_NOT_A_VOLUNTEER".into(),
                    fatal: false,
                });
            };
            let Ok(at) =
                LatLng::new(latitude, longitude).and_then(|p| st.config.service_area.check(p))
            else {
                return Some(ServerMsg::Error {
                    code: "EMERGENCY_LOCATION_INVALID".into(),
                    fatal: false,
                });
            };
            if !st.live.is_on_duty(v) {
                return Some(ServerMsg::Error {
                    code: "EMERGENCY_NOT_ON_DUTY".into(),
                    fatal: false,
                });
            }
            st.live.locate(v, at, now_micros());
            st.dispatcher.hub.to_ops(&ServerMsg::Position {
                volunteer_id: v.clone(),
                latitude,
                longitude,
            });
            None
        }
        Err(_) => Some(ServerMsg::Error {
            code: "WS_MALFORMED_FRAME".into(),
            fatal: false,
        }),
    }
}
