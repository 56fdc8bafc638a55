//! Each service's OpenAPI document is generated from the code; a committed snapshot next to
//! the service makes every contract change visible in review.

use std::path::PathBuf;

use kreki_platform::testkit::assert_json_snapshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_snapshots() {
    let app = crate::up::start_up(None).await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for desc in kreki::services() {
        for seg in desc.segments {
            let doc: serde_json::Value = app
                .client
                .get(format!("{}/api/{seg}/v1/openapi.json", app.url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(doc["openapi"], "3.1.0");
            assert!(
                doc["paths"][format!("/api/{seg}/v1/healthz")].is_object(),
                "{seg}"
            );
            let file = root.join(format!("crates/{}/service/openapi-{seg}.json", desc.name));
            assert_json_snapshot(&file, &doc);
        }
    }
}

/// The WebSocket messages the apps rely on, one example of each, as committed JSON.
#[test]
fn socket_message_snapshot() {
    use kreki_emergency_contracts::{
        CaseStatus, EmergencyType, ResponderStatus, Severity,
        socket::{ClientMsg, ServerMsg, TeamMember},
    };
    let server = vec![
        ServerMsg::Ready {
            role: "volunteer".into(),
        },
        ServerMsg::Offer {
            offer_id: "o1".into(),
            case_id: "c1".into(),
            severity: Severity::Critical,
            kind: EmergencyType::CardiacArrest,
            latitude: -6.2,
            longitude: 106.8,
            distance_m: 420,
            expires_at: "2026-11-25T10:00:20Z".into(),
            description: Some("pria 50 tahun".into()),
        },
        ServerMsg::OfferWithdrawn {
            case_id: "c1".into(),
        },
        ServerMsg::CaseUpdate {
            case_id: "c1".into(),
            status: CaseStatus::Assigned,
            escalated: false,
            alerted: 7,
            team: vec![TeamMember {
                volunteer_id: "v1".into(),
                status: ResponderStatus::Accepted,
                is_lead: true,
                eta_minutes: Some(4),
            }],
        },
        ServerMsg::Position {
            volunteer_id: "v1".into(),
            latitude: -6.2,
            longitude: 106.8,
        },
        ServerMsg::Pong,
        ServerMsg::Error {
            code: "WS_MALFORMED_FRAME".into(),
            fatal: false,
        },
    ];
    let client = vec![
        ClientMsg::Auth { ticket: "t".into() },
        ClientMsg::Location {
            latitude: -6.2,
            longitude: 106.8,
            accuracy_m: Some(12),
        },
        ClientMsg::Ping,
    ];
    let doc = serde_json::json!({ "server": server, "client": client });
    // Round trip: what we send, we can read.
    for m in &client {
        let back: ClientMsg = serde_json::from_value(serde_json::to_value(m).unwrap()).unwrap();
        assert_eq!(&back, m);
    }
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/emergency/contracts/socket-messages.json");
    assert_json_snapshot(&file, &doc);
}
