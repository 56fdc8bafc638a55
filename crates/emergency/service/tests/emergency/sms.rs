//! The SMS fallback (`POST /sms/inbound`, HMAC-signed by the gateway): absent without a
//! gateway, forged messages refused, a `DARURAT` SMS made a critical case once (carrier
//! retries and repeats deduplicated), an unreadable one answered with the format through
//! notify and kept for an operator. That notify really delivers the help reply is checked
//! with every service together (`apps/kreki/tests/kreki/emergency.rs`).

use kreki_platform::storage::Db;
use sqlx::Row;

use crate::{
    app::{self, Em, Setup, Value, code, json},
    both_stores,
};

const SECRET: &str = "gateway-shared-secret";

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, computed here independently of the
/// service.
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

async fn sms(app: &Em, secret: Option<&str>, msg: Value) -> (u16, Value) {
    let raw = serde_json::to_vec(&msg).unwrap();
    let mut r = app
        .client
        .post(format!("{}/sms/inbound", app.base))
        .header("content-type", "application/json")
        .body(raw.clone());
    if let Some(s) = secret {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        r = r
            .header("x-kreki-timestamp", ts.to_string())
            .header("x-kreki-signature", sign(s, ts, &raw));
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn msg(id: &str, text: &str) -> Value {
    json!({"from": "0812-3456-7890", "text": text, "message_id": id, "received_at": "2026-11-25T10:00:00Z"})
}

async fn with_gateway(db: Db) -> Em {
    Setup::default()
        .text("sms_webhook_secret", SECRET)
        .start(db)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_gateway_the_sms_webhook_does_not_exist() {
    let (db, _guard) = app::sqlite().await;
    let app = app::start(db).await;
    let (s, b) = sms(&app, Some("x"), json!({"from": "+6281234567890", "text": "DARURAT 0 -6.2,106.8", "message_id": "m0", "received_at": "2026-11-25T10:00:00Z"})).await;
    assert_eq!((s, code(&b)), (404, Some("EMERGENCY_SMS_NOT_CONFIGURED")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_unsigned_sms_is_refused() {
    let (db, _guard) = app::sqlite().await;
    let app = with_gateway(db).await;
    let (s, b) = sms(
        &app,
        Some("wrong"),
        msg("m1", "DARURAT 0 -6.2088,106.8456 JANTUNG"),
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (401, Some("EMERGENCY_SMS_SIGNATURE_INVALID"))
    );
    assert_eq!(
        sms(&app, None, msg("m1", "DARURAT 0 -6.2088,106.8456 JANTUNG"))
            .await
            .0,
        401
    );
    // Nothing was stored.
    let ops = app.ops("ops");
    assert_eq!(app.get("/active", &ops).await.1["meta"]["total"], 0);
    app.stop().await;
}

async fn an_sms_panic_becomes_one_critical_case(db: Db) {
    let app = with_gateway(db).await;
    let (s, b) = sms(
        &app,
        Some(SECRET),
        msg(
            "m1",
            "darurat 0  -6,2088 106,8456 jantung pria pingsan di pasar",
        ),
    )
    .await;
    assert_eq!(
        (s, b["data"]["status"].as_str()),
        (200, Some("created")),
        "{b}"
    );
    let case_id = b["data"]["case_id"].as_str().unwrap().to_string();
    // The carrier retries (same id) and the sender repeats (same text): one case.
    let (_, b) = sms(
        &app,
        Some(SECRET),
        msg(
            "m1",
            "darurat 0  -6,2088 106,8456 jantung pria pingsan di pasar",
        ),
    )
    .await;
    assert_eq!(
        (b["data"]["status"].as_str(), b["data"]["case_id"].as_str()),
        (Some("duplicate"), Some(case_id.as_str()))
    );
    let (_, b) = sms(
        &app,
        Some(SECRET),
        msg(
            "m2",
            "DARURAT 0 -6,2088 106,8456 JANTUNG pria pingsan di pasar",
        ),
    )
    .await;
    assert_eq!(
        (b["data"]["status"].as_str(), b["data"]["case_id"].as_str()),
        (Some("duplicate"), Some(case_id.as_str()))
    );
    let ops = app.ops("ops");
    let (s, case) = app.get(&format!("/{case_id}"), &ops).await;
    assert_eq!(
        (
            s,
            case["data"]["type"].as_str(),
            case["data"]["severity"].as_str()
        ),
        (200, Some("cardiac_arrest"), Some("critical"))
    );
    assert_eq!(case["data"]["description"], "pria pingsan di pasar");
    let t = app.timeline(&case_id, &ops).await;
    assert_eq!(t[1]["kind"], "sms_received");
    app.stop().await;
}
both_stores!(an_sms_panic_becomes_one_critical_case);

async fn an_unreadable_sms_gets_a_help_reply_and_is_kept(db: Db) {
    let app = with_gateway(db).await;
    let (_, b) = sms(
        &app,
        Some(SECRET),
        msg("m3", "DARURAT tolong di dekat pasar"),
    )
    .await;
    assert_eq!(b["data"]["status"], "unparsed");
    // The help reply goes to the sender through notify, as an SMS.
    let replies: Vec<Value> = app
        .messages()
        .await
        .into_iter()
        .filter(|m| m["template"] == "sms_help_reply")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["address"], "+6281234567890");
    assert_eq!(replies[0]["channels"], json!(["sms"]));
    // The message is kept for an operator, with why it could not be read.
    let row = sqlx::query("SELECT status, error FROM sms_inbound WHERE message_id = $1")
        .bind("m3")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let (status, error): (String, Option<String>) = (row.get(0), row.get(1));
    assert_eq!(status, "unparsed");
    assert!(error.is_some_and(|e| !e.is_empty()));
    app.stop().await;
}
both_stores!(an_unreadable_sms_gets_a_help_reply_and_is_kept);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_from_an_invalid_number_is_refused() {
    let (db, _guard) = app::sqlite().await;
    let app = with_gateway(db).await;
    let (s, b) = sms(&app, Some(SECRET), json!({"from": "12", "text": "DARURAT 0 -6.2,106.8", "message_id": "m4", "received_at": "x"})).await;
    assert_eq!((s, code(&b)), (422, Some("EMERGENCY_CALLER_PHONE_INVALID")));
    app.stop().await;
}
