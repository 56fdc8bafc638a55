//! The Emergency Core with the other services in one process (`kreki up`): what it asks notify
//! to send is delivered (dispatch offers to volunteers without a socket, the SMS fallback's
//! help reply), and an install without an SMS gateway has none of its webhooks. The
//! service's own HTTP tests are in `crates/emergency/service/tests/emergency/` (with the
//! platform harness, `cargo nextest run -p kreki-emergency`).

use std::time::Duration;

use kreki_platform::{bus::Event, testkit};
use serde_json::{Value, json};

use crate::up::{ISSUER, UpApp, console_lines, start_up, start_up_with};

const CENTER: (f64, f64) = (-6.2088, 106.8456);

fn north(m: f64) -> (f64, f64) {
    (CENTER.0 + m / 111_195.0, CENTER.1)
}

async fn eligible(app: &UpApp, volunteer: &str, certified: bool) {
    let ev = json!({
        "volunteer_id": volunteer, "verified": true,
        "cert_level": if certified { "basic" } else { "none" },
        "cert_valid_until": if certified { Some("2030-01-01T00:00:00Z") } else { None },
        "health_professional": false, "skills": [], "schedule": {}, "version": 1,
    });
    let event = Event::new("volunteers", "volunteers.eligibility.changed", &ev).unwrap();
    app.running
        .as_ref()
        .unwrap()
        .bus
        .publish(&event)
        .await
        .unwrap();
}

async fn on_duty(app: &UpApp, token: &str, at: (f64, f64)) -> Value {
    let res = app
        .client
        .put(format!("{}/api/emergency/v1/presence", app.url))
        .bearer_auth(token)
        .json(&json!({"on_duty": true, "latitude": at.0, "longitude": at.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The gateway's signature: HMAC-SHA256 of `"<timestamp>.<body>"`.
fn sign(secret: &str, ts: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={sig}")
}

async fn sms(app: &UpApp, secret: Option<&str>, msg: Value) -> (u16, Value) {
    let raw = serde_json::to_vec(&msg).unwrap();
    let mut r = app
        .client
        .post(format!("{}/api/emergency/v1/sms/inbound", app.url))
        .header("content-type", "application/json")
        .body(raw.clone());
    if let Some(s) = secret {
        let ts = kreki_platform::time_util::now_micros() / 1_000_000;
        r = r
            .header("x-kreki-timestamp", ts.to_string())
            .header("x-kreki-signature", sign(s, ts, &raw));
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// A certified volunteer without an open socket gets the offer through notify as a critical
/// `DARURAT` message, an uncertified one nearer gets nothing; an unreadable `DARURAT` SMS is
/// answered with the format by SMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_offers_and_sms_help_replies_are_delivered_through_notify() {
    let secret = "gateway-shared-secret";
    let app = start_up_with(None, |cfg| {
        cfg.emergency
            .insert("sms_webhook_secret".into(), secret.into());
    })
    .await;
    let tok = |sub: &str| app.signer.token(ISSUER, sub, &["volunteer"]);
    eligible(&app, "vol-a", true).await;
    eligible(&app, "vol-uncertified", false).await;
    testkit::eventually("eligibility copied", Duration::from_secs(10), || async {
        on_duty(&app, &tok("vol-a"), north(300.0)).await["data"]["dispatchable"] == true
    })
    .await;
    on_duty(&app, &tok("vol-uncertified"), north(100.0)).await;
    let res = app
        .client
        .post(format!("{}/api/emergency/v1/panic", app.url))
        .json(&json!({"latitude": CENTER.0, "longitude": CENTER.1, "severity": "critical", "type": "cardiac_arrest", "caller_phone": "081234567890"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let console = app.console.clone();
    testkit::eventually(
        "the dispatch offer delivered",
        Duration::from_secs(10),
        || {
            let console = console.clone();
            async move {
                console_lines(&console).iter().any(|l| {
                    l["message"]["to"] == "account:vol-a"
                        && l["message"]["priority"] == "critical"
                        && l["message"]["title"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("DARURAT"))
                })
            }
        },
    )
    .await;
    assert!(
        !console_lines(&app.console)
            .iter()
            .any(|l| l["message"]["to"] == "account:vol-uncertified")
    );
    // Unreadable: a help reply goes back.
    let (_, b) = sms(
        &app,
        Some(secret),
        json!({"from": "0812-3456-7890", "text": "DARURAT tolong di dekat pasar", "message_id": "m3", "received_at": "2026-11-25T10:00:00Z"}),
    )
    .await;
    assert_eq!(b["data"]["status"], "unparsed");
    testkit::eventually("help reply sent", Duration::from_secs(10), || {
        let console = console.clone();
        async move {
            console_lines(&console).iter().any(|l| {
                l["message"]["to"] == "+6281234567890"
                    && l["message"]["body"]
                        .as_str()
                        .is_some_and(|b| b.starts_with("Format: DARURAT"))
            })
        }
    })
    .await;
    app.stop().await;
}

/// Without an SMS gateway, neither the Emergency Core's SMS webhook nor notify's receipt
/// webhooks of the unconfigured channels exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gateway_no_sms_webhook_exists() {
    let unconfigured = start_up(None).await;
    let (s, b) = sms(&unconfigured, Some("x"), json!({"from": "+6281234567890", "text": "DARURAT 0 -6.2,106.8", "message_id": "m0", "received_at": "2026-11-25T10:00:00Z"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("EMERGENCY_SMS_NOT_CONFIGURED"))
    );
    for path in [
        "/api/notify/v1/receipts/sms",
        "/api/notify/v1/receipts/whatsapp",
    ] {
        let res = unconfigured
            .client
            .post(format!("{}{path}", unconfigured.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    unconfigured.stop().await;
}
