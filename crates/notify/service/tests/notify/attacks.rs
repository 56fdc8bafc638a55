//! Attacks of the outside security review, each performed over HTTP against a running
//! instance ([`super::app`]) and expected to fail: server-side request forgery through Web
//! Push (finding 5), secrets kept in clear (6), incomplete erasure (7).
//!
//! Only loopback is ever connected to. Private addresses appear solely as answers of the
//! test's own resolver, which the service must refuse before it connects.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use axum::{body::Bytes, http::HeaderMap};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_notify::endpoint::Resolver;
use kreki_platform::{storage::Db, storage_conformance, testkit};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};
use sqlx::Row;

use super::app::{App, Start, start};

/// A resolver with a fixed table the test can change (DNS rebinding), counting lookups.
#[derive(Default)]
struct Table {
    names: Mutex<HashMap<String, Vec<IpAddr>>>,
    lookups: AtomicUsize,
}

impl Table {
    fn set(&self, host: &str, ip: &str) {
        self.names
            .lock()
            .unwrap()
            .insert(host.to_string(), vec![ip.parse().unwrap()]);
    }
}

#[async_trait]
impl Resolver for Table {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.names
            .lock()
            .unwrap()
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::other("no such host"))
    }
}

type Hits = Arc<Mutex<Vec<String>>>;

/// A loopback HTTP server answering every request with `status` (+ `Location`).
async fn server(status: u16, location: Option<String>) -> (u16, Hits) {
    let hits: Hits = Arc::default();
    let h = hits.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, _headers: HeaderMap, _b: Bytes| {
            let h = h.clone();
            let location = location.clone();
            async move {
                h.lock().unwrap().push(uri.path().to_string());
                let mut res = axum::response::Response::new(axum::body::Body::empty());
                *res.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                // Every request on a new connection: a pooled one would skip the lookup
                // (safely: it goes to the address checked when it was opened).
                res.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
                if let Some(l) = location {
                    res.headers_mut()
                        .insert(axum::http::header::LOCATION, l.parse().unwrap());
                }
                res
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, hits)
}

fn subscription(endpoint: &str) -> Value {
    let ua = p256::SecretKey::random(&mut rand::rngs::OsRng);
    json!({
        "endpoint": endpoint,
        "keys": {
            "p256dh": B64.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": B64.encode([9u8; 16]),
        }
    })
}

async fn subscribe(app: &App, account: &str, endpoint: &str) -> (u16, Value) {
    let token = app.token(account, &["volunteer"]);
    app.call(
        "POST",
        "/push/subscriptions",
        Some(&token),
        Some(subscription(endpoint)),
    )
    .await
}

/// A test alert to an account by push only; returns the message id.
async fn push_to(app: &App, account: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let (s, v) = app
        .call(
            "POST",
            "/messages",
            Some(&app.operator()),
            Some(json!({
                "id": id, "dedup_key": format!("attack-{id}"), "recipient_id": account,
                "template": "test_alert", "priority": "high", "channels": ["push"],
            })),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    id
}

// ---- finding 5: server-side request forgery through Web Push -----------------------------

/// The production rules: only the push services' hosts, https on the default port, and only
/// when every address the name resolves to is public. Nothing is sent in this test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_ssrf_subscriptions_to_other_hosts_or_private_addresses_are_refused() {
    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let dns = Arc::new(Table::default());
    // Poisoned DNS: an allowed push host that answers with a private address.
    dns.set("fcm.googleapis.com", "10.0.0.7");
    dns.set("web.push.apple.com", "169.254.169.254");
    // A public answer (never connected to: subscribing sends nothing).
    dns.set("updates.push.services.mozilla.com", "142.250.4.95");
    let app = start(db, Start::new(json!({})).resolver(dns.clone())).await;
    for endpoint in [
        "https://evil.example.net/push",
        "https://fcm.googleapis.com.evil.example.net/push",
        "https://127.0.0.1/push",
        "https://localhost/push",
        "http://127.0.0.1:9/push",
        "https://[::1]/push",
        "https://169.254.169.254/latest/meta-data/",
        "http://fcm.googleapis.com/fcm/send/x",
        "https://fcm.googleapis.com:8443/fcm/send/x",
        // allowed hosts whose DNS answers a private or link-local address
        "https://fcm.googleapis.com/fcm/send/x",
        "https://web.push.apple.com/QGx",
    ] {
        let (s, v) = subscribe(&app, "vol-1", endpoint).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("VALIDATION_PUSH_ENDPOINT")),
            "{endpoint}: {v}"
        );
    }
    let (s, v) = subscribe(
        &app,
        "vol-1",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
    )
    .await;
    assert_eq!(s, 201, "a real push service is accepted: {v}");
    app.stop().await;
}

/// DNS rebinding: the name resolved to an admitted address when the subscription was made
/// and to a private one at send time. The send is refused by the resolver check, before any
/// connection; the connection that is made goes to the checked address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_ssrf_dns_rebinding_to_a_private_address_is_refused_without_connecting() {
    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let dns = Arc::new(Table::default());
    dns.set("push.kreki.test", "127.0.0.1");
    let (port, hits) = server(201, None).await;
    let app = start(
        db,
        Start::new(json!({"console": "off", "push": {
            "allowed_hosts": ["push.kreki.test"], "allow_loopback": true,
        }}))
        .resolver(dns.clone()),
    )
    .await;
    let endpoint = format!("http://push.kreki.test:{port}/push/1");
    let (s, v) = subscribe(&app, "vol-2", &endpoint).await;
    assert_eq!(s, 201, "{v}");
    // Reached through the injected resolver's (loopback) answer: `.test` is in no DNS.
    let first = push_to(&app, "vol-2").await;
    app.wait_status(&first, "sent").await;
    assert_eq!(hits.lock().unwrap().len(), 1);

    dns.set("push.kreki.test", "10.0.0.7");
    let before = dns.lookups.load(Ordering::SeqCst);
    let second = push_to(&app, "vol-2").await;
    let m = app.wait_status(&second, "failed").await;
    assert!(
        dns.lookups.load(Ordering::SeqCst) > before,
        "the name was looked up again at send time"
    );
    assert!(
        m.to_string().contains("non-public address"),
        "refused by the address check, not by a failed connection: {m}"
    );
    assert_eq!(hits.lock().unwrap().len(), 1, "nothing more was sent");
    app.stop().await;
}

/// A push endpoint that redirects elsewhere (here: another loopback server standing in for
/// an internal one) is not followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_ssrf_push_redirects_are_not_followed() {
    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let (internal, stolen) = server(201, None).await;
    let (redirector, asked) = server(
        307,
        Some(format!("http://127.0.0.1:{internal}/internal/admin")),
    )
    .await;
    let app = start(
        db,
        Start::new(json!({"console": "off", "push": {"allow_loopback": true}})),
    )
    .await;
    let (s, v) = subscribe(
        &app,
        "vol-3",
        &format!("http://127.0.0.1:{redirector}/push/1"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let id = push_to(&app, "vol-3").await;
    testkit::eventually(
        "the push endpoint was called",
        Duration::from_secs(10),
        || {
            let n = asked.lock().unwrap().len();
            async move { n > 0 }
        },
    )
    .await;
    let m = app.wait_status(&id, "failed").await;
    assert!(m.to_string().contains("HTTP 307"), "{m}");
    assert!(
        stolen.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
    app.stop().await;
}

// ---- finding 6: secrets kept in clear ------------------------------------------------------

const CODE: &str = "493817";
const TOKEN: &str = "Zq9TOKENsecretXy7";

/// A one-time code and a password-reset link go out on the (explicitly enabled) console:
/// afterwards neither the operators' API nor the database row nor the console holds them.
async fn secrets_are_gone_after_delivery(db: Db) {
    let app = start(db.clone(), Start::new(json!({"console": "on"}))).await;
    let ops = app.operator();
    let otp = uuid::Uuid::now_v7().to_string();
    let reset = uuid::Uuid::now_v7().to_string();
    for body in [
        json!({"id": otp, "dedup_key": format!("otp-{otp}"), "address": "+6281234567890",
               "template": "otp_code", "priority": "high", "vars": {"code": CODE, "minutes": 5}}),
        json!({"id": reset, "dedup_key": format!("reset-{reset}"), "address": "putri@example.org",
               "template": "password_reset", "priority": "high",
               "vars": {"name": "Putri", "link": format!("https://id.kreki.test/akun/reset?token={TOKEN}")}}),
    ] {
        let (s, v) = app.call("POST", "/messages", Some(&ops), Some(body)).await;
        assert_eq!(s, 202, "{v}");
    }
    for id in [&otp, &reset] {
        let view = app.wait_status(id, "delivered").await;
        assert!(!view.to_string().contains(CODE) && !view.to_string().contains(TOKEN));
    }
    let (s, found) = app
        .call(
            "POST",
            "/messages/search",
            Some(&ops),
            Some(json!({"status": "delivered"})),
        )
        .await;
    assert_eq!(
        (s, found["meta"]["total"].as_u64()),
        (200, Some(2)),
        "{found}"
    );
    assert!(!found.to_string().contains(CODE) && !found.to_string().contains(TOKEN));

    // The stored rows: messages, their history and deliveries.
    for (table, id_col) in [
        ("messages", "id"),
        ("message_events", "message_id"),
        ("deliveries", "message_id"),
    ] {
        let rows = sqlx::query(&format!("SELECT * FROM {table} WHERE {id_col} IN ($1, $2)"))
            .bind(&otp)
            .bind(&reset)
            .fetch_all(db.pool())
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table}");
        for r in rows {
            for i in 0..r.len() {
                let text = r
                    .try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                assert!(
                    !text.contains(CODE) && !text.contains(TOKEN),
                    "{table} keeps a secret: {text}"
                );
            }
        }
    }
    let vars: String = sqlx::query("SELECT vars FROM messages WHERE id = $1")
        .bind(&otp)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let vars: Value = serde_json::from_str(&vars).unwrap();
    assert_eq!(vars["code"], "", "blanked");
    assert_eq!(vars["minutes"], 5, "the other variables stay");

    // The console printed both messages, masked.
    let console = std::fs::read_to_string(&app.console).unwrap();
    assert!(
        console.contains(&otp) && console.contains(&reset),
        "{console}"
    );
    assert!(
        !console.contains(CODE) && !console.contains(TOKEN),
        "the console is a log: {console}"
    );
    assert!(console.contains("Kode KREKI Anda: ******"), "{console}");
    app.stop().await;
}

storage_conformance!(
    attack_secrets_are_blanked_after_delivery_and_masked_on_the_console,
    "notify",
    kreki_notify::MIGRATIONS,
    super::secrets_are_gone_after_delivery
);

/// A deployment with Web Push only (the default) has no console channel unless it is the
/// demo or configured: a code never ends up in the log because nothing else was set up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_secrets_no_console_channel_unless_demo_or_configured() {
    let code = |id: &str| {
        json!({"id": id, "dedup_key": format!("otp-{id}"), "address": "+6281234567890",
               "template": "otp_code", "priority": "high", "vars": {"code": CODE, "minutes": 5}})
    };
    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let app = start(db, Start::new(json!({}))).await;
    let (s, v) = app
        .call(
            "POST",
            "/messages",
            Some(&app.operator()),
            Some(code("c-1")),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        (v["data"]["status"].as_str(), &v["data"]["plan"]),
        (Some("failed"), &json!([])),
        "no console in a deployment: {v}"
    );
    assert!(
        !app.console.exists()
            || !std::fs::read_to_string(&app.console)
                .unwrap()
                .contains(CODE)
    );
    app.stop().await;

    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let app = start(db, Start::new(json!({})).demo()).await;
    let (s, v) = app
        .call(
            "POST",
            "/messages",
            Some(&app.operator()),
            Some(code("c-2")),
        )
        .await;
    assert_eq!(
        (s, &v["data"]["plan"]),
        (202, &json!(["console"])),
        "the demo: {v}"
    );
    app.stop().await;
}

// ---- finding 7: erasure ---------------------------------------------------------------------

/// After `identity.account.erased`, notify keeps nothing that leads to the person: not the
/// messages to their account, nor those to the raw e-mail addresses and phone number the
/// account had (the current ones and earlier ones), nor their directory entry.
async fn erasure_reaches_messages_to_raw_addresses(db: Db) {
    let app = start(db.clone(), Start::new(json!({"console": "on"}))).await;
    let ops = app.operator();
    let account = |version: i64, email: &str| {
        json!({"account_id": "acct-7f3a", "member_number": "20260001", "roles": ["volunteer"],
               "email": email, "phone": "+6281299990000", "language": "id",
               "notification_channels": [], "version": version})
    };
    app.publish(
        "identity.account.created",
        &account(1, "Erin.Old@Example.org"),
    )
    .await;
    app.publish("identity.account.updated", &account(2, "erin@example.org"))
        .await;
    testkit::eventually(
        "the directory has version 2",
        Duration::from_secs(10),
        || {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "SELECT version FROM recipients WHERE account_id = 'acct-7f3a'",
                )
                .fetch_optional(db.pool())
                .await
                .unwrap()
                    == Some(2)
            }
        },
    )
    .await;
    let mut ids = Vec::new();
    for (i, to) in [
        json!({"address": "erin.old@example.org"}),
        json!({"address": "erin@example.org"}),
        json!({"address": "+6281299990000"}),
        json!({"recipient_id": "acct-7f3a"}),
        json!({"address": "other@example.org"}),
    ]
    .into_iter()
    .enumerate()
    {
        let id = uuid::Uuid::now_v7().to_string();
        let mut body = json!({"id": id, "dedup_key": format!("erase-{i}-{id}"),
            "template": "wellbeing_checkin", "priority": "normal",
            "vars": {"name": if i == 4 { "Budi" } else { "Erin" }}});
        body.as_object_mut()
            .unwrap()
            .extend(to.as_object().unwrap().clone());
        let (s, v) = app.call("POST", "/messages", Some(&ops), Some(body)).await;
        assert_eq!(s, 202, "{v}");
        ids.push(id);
    }
    for id in &ids {
        app.wait_status(id, "delivered").await;
    }
    let search = |address: &str| json!({"address": address});
    let (_, v) = app
        .call(
            "POST",
            "/messages/search",
            Some(&ops),
            Some(search("+6281299990000")),
        )
        .await;
    assert_eq!(v["meta"]["total"], 1, "{v}");

    app.publish(
        "identity.account.erased",
        &json!({"account_id": "acct-7f3a"}),
    )
    .await;
    testkit::eventually(
        "the directory entry is gone",
        Duration::from_secs(10),
        || {
            let db = db.clone();
            async move {
                sqlx::query("SELECT 1 FROM recipients WHERE account_id = 'acct-7f3a'")
                    .fetch_optional(db.pool())
                    .await
                    .unwrap()
                    .is_none()
            }
        },
    )
    .await;
    for address in [
        "+6281299990000",
        "erin@example.org",
        "erin.old@example.org",
        "Erin.Old@Example.org",
    ] {
        let (s, v) = app
            .call(
                "POST",
                "/messages/search",
                Some(&ops),
                Some(search(address)),
            )
            .await;
        assert_eq!((s, &v["meta"]["total"]), (200, &json!(0)), "{address}: {v}");
    }
    for id in &ids[..4] {
        let m = app.message(id).await;
        assert!(
            !m.to_string().to_lowercase().contains("erin") && !m.to_string().contains("99990000"),
            "{m}"
        );
    }
    let (_, v) = app
        .call(
            "POST",
            "/messages/search",
            Some(&ops),
            Some(search("other@example.org")),
        )
        .await;
    assert_eq!(v["meta"]["total"], 1, "another person's message stays: {v}");

    // Nothing stored by notify leads to Erin any more.
    for table in [
        "messages",
        "message_events",
        "deliveries",
        "recipients",
        "push_subscriptions",
    ] {
        for r in sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(db.pool())
            .await
            .unwrap()
        {
            for i in 0..r.len() {
                let text = r
                    .try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                    .to_lowercase();
                assert!(
                    !text.contains("erin") && !text.contains("99990000"),
                    "{table} keeps {text}"
                );
            }
        }
    }
    app.stop().await;
}

storage_conformance!(
    attack_erasure_removes_messages_to_the_accounts_raw_addresses,
    "notify",
    kreki_notify::MIGRATIONS,
    super::erasure_reaches_messages_to_raw_addresses
);

// ---- finding 12: SMS delivery receipts signed with a timestamp ------------------------------

/// A delivery receipt is signed over `"<X-Kreki-Timestamp>.<body>"`: a validly signed receipt
/// replayed outside the freshness window is refused (401 `NOTIFY_RECEIPT_SIGNATURE_EXPIRED`),
/// and so is the old body-only signature, with or without a timestamp (401
/// `NOTIFY_RECEIPT_SIGNATURE_INVALID`). A fresh one passes the signature check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_sms_receipt_replayed_late_or_signed_without_timestamp_is_refused() {
    const SECRET: &str = "receipt-secret-0123456789";
    let (db, _guard) = testkit::sqlite_db("notify", kreki_notify::MIGRATIONS).await;
    let app = start(
        db,
        Start::new(json!({"console": "off", "sms": {
            "url": "http://127.0.0.1:9/send", "api_key": "k-1", "webhook_secret": SECRET}})),
    )
    .await;
    let body = json!({"message_id": "gw-1", "status": "delivered"}).to_string();
    let signed_at = |ts: i64| {
        kreki_platform::signature::sign(
            SECRET.as_bytes(),
            &[ts.to_string().as_bytes(), b".", body.as_bytes()],
        )
    };
    let body_only = kreki_platform::signature::sign(SECRET.as_bytes(), &[body.as_bytes()]);
    let post = |ts: Option<i64>, sig: String| {
        let mut r = app
            .client
            .post(format!("{}/api/notify/v1/receipts/sms", app.url))
            .header("content-type", "application/json")
            .header("x-kreki-signature", sig)
            .body(body.clone());
        if let Some(ts) = ts {
            r = r.header("x-kreki-timestamp", ts.to_string());
        }
        async move {
            let res = r.send().await.unwrap();
            let s = res.status().as_u16();
            let v: Value = res.json().await.unwrap_or(Value::Null);
            (
                s,
                v["error"]["code"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let now = kreki_platform::time_util::now_micros() / 1_000_000;
    // Fresh: the signature holds (the message is unknown to this instance).
    assert_eq!(
        post(Some(now), signed_at(now)).await,
        (404, "NOTIFY_RECEIPT_UNKNOWN".into())
    );
    // A captured receipt replayed an hour later, or dated ahead: refused.
    for ts in [now - 3_600, now - 301, now + 3_600] {
        assert_eq!(
            post(Some(ts), signed_at(ts)).await,
            (401, "NOTIFY_RECEIPT_SIGNATURE_EXPIRED".into()),
            "timestamp {ts}"
        );
    }
    // The body-only signature: without a timestamp, or with one it does not cover.
    assert_eq!(
        post(None, body_only.clone()).await,
        (401, "NOTIFY_RECEIPT_SIGNATURE_INVALID".into())
    );
    assert_eq!(
        post(Some(now), body_only).await,
        (401, "NOTIFY_RECEIPT_SIGNATURE_INVALID".into())
    );
    // An old signature with the timestamp header moved to now.
    assert_eq!(
        post(Some(now), signed_at(now - 3_600)).await,
        (401, "NOTIFY_RECEIPT_SIGNATURE_INVALID".into())
    );
    app.stop().await;
}
