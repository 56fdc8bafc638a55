//! Notify over HTTP in the whole platform: push key and subscriptions, preferences, the
//! operators' search, acknowledgements, and a KREKI ID one-time code that reaches a (fake)
//! SMS gateway through the recipient directory, with its signed delivery receipt.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Bytes, http::HeaderMap};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use kreki_platform::testkit;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};

use crate::up::{ISSUER, UpApp, start_up_with};

type Seen = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

/// A local HTTP endpoint that records requests and answers `status` with `body`.
async fn fake(status: u16, body: &'static str) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app =
        axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, b: Bytes| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((uri.path().to_string(), headers, b));
                (axum::http::StatusCode::from_u16(status).unwrap(), body)
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

async fn call(
    app: &UpApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/notify/v1{path}", app.url);
    let mut req = app.client.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn subscription(endpoint: &str) -> Value {
    let ua = p256::SecretKey::random(&mut rand::rngs::OsRng);
    json!({
        "endpoint": endpoint,
        "expirationTime": null,
        "keys": {
            "p256dh": B64.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": B64.encode([9u8; 16]),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_subscriptions_preferences_search_and_acknowledgement() {
    // The fake push service is on this machine: an explicit test setting (production admits
    // only the browsers' push services on public addresses).
    let app = start_up_with(None, |cfg| {
        cfg.notify.insert(
            "push".into(),
            figment::value::Value::serialize(json!({"allow_loopback": true})).unwrap(),
        );
    })
    .await;
    let vol = app.signer.token(ISSUER, "vol-7", &["volunteer"]);
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);

    // The VAPID key is public.
    let (s, v) = call(&app, "GET", "/push/key", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(
        B64.decode(v["data"]["public_key"].as_str().unwrap())
            .unwrap()
            .len(),
        65
    );

    // Subscribing needs a sign-in and a real subscription.
    let (push_url, pushed) = fake(201, "").await;
    let endpoint = format!("{push_url}/push/abc");
    let (s, _) = call(
        &app,
        "POST",
        "/push/subscriptions",
        None,
        Some(subscription(&endpoint)),
    )
    .await;
    assert_eq!(s, 401);
    let mut bad = subscription(&endpoint);
    bad["keys"]["p256dh"] = json!("AAAA");
    let (s, v) = call(&app, "POST", "/push/subscriptions", Some(&vol), Some(bad)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("NOTIFY_SUBSCRIPTION_INVALID"))
    );
    let mut remote_http = subscription("http://push.example.net/x");
    remote_http["keys"]["auth"] = json!(B64.encode([1u8; 16]));
    let (s, v) = call(
        &app,
        "POST",
        "/push/subscriptions",
        Some(&vol),
        Some(remote_http),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("VALIDATION_PUSH_ENDPOINT")),
        "only the browsers' push services (and, set for this test, this machine)"
    );
    let (s, v) = call(
        &app,
        "POST",
        "/push/subscriptions",
        Some(&vol),
        Some(subscription(&endpoint)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let sub_id = v["data"]["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        &app,
        "POST",
        "/push/subscriptions",
        Some(&vol),
        Some(subscription(&endpoint)),
    )
    .await;
    assert_eq!(
        (s, v["data"]["id"].as_str()),
        (201, Some(sub_id.as_str())),
        "same endpoint, same id"
    );
    let (s, v) = call(
        &app,
        "POST",
        "/push/subscriptions",
        Some(&vol),
        Some(json!({"endpoint": endpoint})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED")),
        "{v}"
    );

    // Preferences: validated, replaced as a whole.
    let (s, v) = call(&app, "GET", "/preferences", Some(&vol), None).await;
    assert_eq!((s, &v["data"]["utc_offset_minutes"]), (200, &json!(420)));
    let (s, v) = call(
        &app,
        "PUT",
        "/preferences",
        Some(&vol),
        Some(json!({"quiet_hours": {"start": "25:00", "end": "06:00"}})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("NOTIFY_PREFERENCES_INVALID"))
    );
    let (s, v) = call(
        &app,
        "PUT",
        "/preferences",
        Some(&vol),
        Some(json!({"opt_out": ["fax"]})),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let prefs = json!({"quiet_hours": {"start": "22:00", "end": "06:00"}, "utc_offset_minutes": 480, "opt_out": ["email"]});
    let (s, v) = call(&app, "PUT", "/preferences", Some(&vol), Some(prefs.clone())).await;
    assert_eq!((s, &v["data"]), (200, &prefs));
    let (_, v) = call(&app, "GET", "/preferences", Some(&vol), None).await;
    assert_eq!(v["data"], prefs);

    // A critical offer goes to the push subscription (the quiet hours do not apply).
    let offer = json!({
        "id": uuid::Uuid::now_v7().to_string(), "dedup_key": "offer-http-1", "recipient_id": "vol-7",
        "template": "dispatch_offer", "priority": "critical", "correlation_id": "case-http-1",
        "vars": {"case_type": "choking", "distance_m": 300, "link": "http://x/relawan/"}
    });
    let (s, v) = call(&app, "POST", "/messages", Some(&vol), Some(offer.clone())).await;
    assert_eq!(s, 403, "volunteers do not send messages: {v}");
    // Bad requests are refused when they are made, and nothing is queued.
    for (body, code) in [
        (
            json!({"id": "b1", "dedup_key": "b1", "address": "not-a-phone", "template": "test_alert", "priority": "high"}),
            "NOTIFY_ADDRESS_INVALID",
        ),
        (
            json!({"id": "b2", "dedup_key": "b2", "address": "a@b.id", "template": "certificate_issued", "priority": "normal",
                   "vars": {"name": "x", "certificate_id": "y", "link": "z"},
                   "attachments": [{"filename": "c.pdf", "content_type": "application/pdf", "content_base64": "%%%"}]}),
            "NOTIFY_ATTACHMENT_INVALID",
        ),
        (
            json!({"id": "b3", "dedup_key": "b3", "address": "a@b.id", "template": "password_reset", "priority": "high"}),
            "NOTIFY_TEMPLATE_VARS_MISSING",
        ),
    ] {
        let (s, v) = call(&app, "POST", "/messages", Some(&ops), Some(body)).await;
        assert_eq!((s, v["error"]["code"].as_str()), (422, Some(code)), "{v}");
    }
    let (s, v) = call(
        &app,
        "POST",
        "/messages/search",
        Some(&ops),
        Some(json!({})),
    )
    .await;
    assert_eq!((s, &v["meta"]["total"]), (200, &json!(0)));
    let (s, v) = call(&app, "POST", "/messages", Some(&ops), Some(offer.clone())).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["data"]["plan"], json!(["push", "console"]));
    let id = v["data"]["id"].as_str().unwrap().to_string();
    let (s, v) = call(&app, "POST", "/messages", Some(&ops), Some(offer)).await;
    assert_eq!((s, v["data"]["status"].as_str()), (202, Some("duplicate")));
    testkit::eventually("the push service got it", Duration::from_secs(10), || {
        let pushed = pushed.clone();
        async move { !pushed.lock().unwrap().is_empty() }
    })
    .await;
    {
        let seen = pushed.lock().unwrap();
        assert_eq!(seen[0].0, "/push/abc");
        assert_eq!(seen[0].1["content-encoding"], "aes128gcm");
        assert!(
            seen[0].1["authorization"]
                .to_str()
                .unwrap()
                .starts_with("vapid t=")
        );
    }
    // Only the recipient acknowledges; then it is delivered and nothing falls back.
    let (s, _) = call(
        &app,
        "POST",
        &format!("/messages/{id}/ack"),
        Some(&ops),
        None,
    )
    .await;
    assert_eq!(s, 404);
    testkit::eventually("sent", Duration::from_secs(5), || {
        let (app_url, ops, id, c) = (app.url.clone(), ops.clone(), id.clone(), app.client.clone());
        async move {
            let v: Value = c
                .get(format!("{app_url}/api/notify/v1/messages/{id}"))
                .bearer_auth(ops)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"]["status"] == "sent"
        }
    })
    .await;
    let (s, v) = call(
        &app,
        "POST",
        &format!("/messages/{id}/ack"),
        Some(&vol),
        None,
    )
    .await;
    assert_eq!((s, &v["data"]["acknowledged"]), (200, &json!(true)));

    // The operators' search (addresses would be personal data: they go in the body).
    let (s, _) = call(
        &app,
        "POST",
        "/messages/search",
        Some(&vol),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, v) = call(
        &app,
        "POST",
        "/messages/search",
        Some(&ops),
        Some(json!({"limit": 1000})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED"))
    );
    let (s, v) = call(
        &app,
        "POST",
        "/messages/search",
        Some(&ops),
        Some(json!({"correlation_id": "case-http-1"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["meta"]["total"], 1);
    let m = &v["data"][0];
    assert_eq!(m["status"], "delivered");
    assert_eq!(m["recipient"], "account:vol-7");
    let history: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["queued", "sent", "acknowledged"]);

    // Unsubscribe.
    let (s, _) = call(
        &app,
        "DELETE",
        "/push/subscriptions",
        Some(&vol),
        Some(json!({"endpoint": endpoint})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = call(
        &app,
        "DELETE",
        "/push/subscriptions",
        Some(&vol),
        Some(json!({"endpoint": endpoint})),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NOTIFY_SUBSCRIPTION_NOT_FOUND"))
    );

    // The operators' page is served with a strict CSP.
    let res = app
        .client
        .get(format!("{}/admin/notify/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_code_reaches_the_sms_gateway_and_its_receipt_comes_back() {
    let (gateway, seen) = fake(202, r#"{"message_id":"gw-42"}"#).await;
    let secret = "receipt-secret-0123456789";
    let app = start_up_with(None, |cfg| {
        cfg.notify.insert(
            "sms".into(),
            figment::value::Value::serialize(json!({
                "url": format!("{gateway}/send"), "api_key": "k-123", "webhook_secret": secret,
            }))
            .unwrap(),
        );
    })
    .await;
    let ops = app.signer.token(ISSUER, "ops-1", &["ops_admin"]);
    // Registration puts the phone in notify's directory (identity.account.created); a code
    // request goes to the gateway, not to any log.
    let res = app
        .client
        .post(format!("{}/api/auth/v1/register", app.url))
        .json(&json!({"phone": "081211112222", "password": "Sandi-Kuat-119!", "full_name": "Siti Rahma"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    // Sign-in codes go to verified numbers only: the code that verifies the number.
    let login: Value = app
        .client
        .post(format!("{}/api/auth/v1/login", app.url))
        .json(&json!({"identifier": "081211112222", "password": "Sandi-Kuat-119!"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["accessToken"].as_str().unwrap();
    let res = app
        .client
        .post(format!("{}/api/auth/v1/otp/send", app.url))
        .bearer_auth(token)
        .json(&json!({"phone": "081211112222", "purpose": "verify_phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    testkit::eventually("the gateway got the code", Duration::from_secs(10), || {
        let seen = seen.clone();
        async move { !seen.lock().unwrap().is_empty() }
    })
    .await;
    let (path, headers, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(path, "/send");
    assert_eq!(headers["authorization"], "Bearer k-123");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["to"], "+6281211112222");
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("Kode KREKI Anda: "), "{text}");
    assert_eq!(body["segments"], 1);
    assert_eq!(
        body["callback_url"],
        format!("{}/api/notify/v1/receipts/sms", app.url)
    );
    let reference = body["reference"].as_str().unwrap().to_string();
    let message_id = reference.rsplit_once('.').unwrap().0.to_string();
    assert!(
        !std::fs::read_to_string(&app.console)
            .unwrap_or_default()
            .contains(&text[17..23]),
        "no console copy"
    );

    let receipt_url = format!("{}/api/notify/v1/receipts/sms", app.url);
    // The gateway signs "<timestamp>.<body>" and sends the timestamp along.
    let ts = kreki_platform::time_util::now_micros() / 1_000_000;
    let post = |raw: String, sig: Option<String>| {
        let mut r = app
            .client
            .post(receipt_url.clone())
            .header("content-type", "application/json")
            .header("x-kreki-timestamp", ts.to_string())
            .body(raw);
        if let Some(s) = sig {
            r = r.header("x-kreki-signature", s);
        }
        r.send()
    };
    let good = json!({"message_id": "gw-42", "status": "DELIVERED"}).to_string();
    let sign = |b: &str| kreki_notify::channel::sms::sign(secret, ts, b.as_bytes());
    // Sent is recorded before the receipt can match the gateway's id.
    testkit::eventually("sent recorded", Duration::from_secs(5), || {
        let (u, ops, id, c) = (
            app.url.clone(),
            ops.clone(),
            message_id.clone(),
            app.client.clone(),
        );
        async move {
            let v: Value = c
                .get(format!("{u}/api/notify/v1/messages/{id}"))
                .bearer_auth(ops)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["data"]["status"] == "sent"
        }
    })
    .await;
    let r = post(
        good.clone(),
        Some(kreki_notify::channel::sms::sign(
            "forged",
            ts,
            good.as_bytes(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(good.clone(), None).await.unwrap();
    assert_eq!(r.status(), 401);
    let r = post("{not json".into(), Some(sign("{not json")))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let unknown = json!({"message_id": "gw-nope", "status": "delivered"}).to_string();
    let r = post(unknown.clone(), Some(sign(&unknown))).await.unwrap();
    assert_eq!(r.status(), 404);
    for _ in 0..2 {
        // A replayed receipt changes nothing.
        let r = post(good.clone(), Some(sign(&good))).await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let v: Value = app
        .client
        .get(format!("{}/api/notify/v1/messages/{message_id}", app.url))
        .bearer_auth(&ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["status"], "delivered");
    assert_eq!(v["data"]["deliveries"][0]["provider_ref"], "gw-42");
    let delivered = v["data"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["status"] == "delivered")
        .count();
    assert_eq!(delivered, 1);
    // The message log masks the raw address.
    assert_eq!(v["data"]["recipient"], "+628*******222");
    // Metrics per channel.
    let metrics = app
        .client
        .get(format!("{}/api/notify/v1/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "kreki_notify_sends_total{service=\"notify\",channel=\"sms\",outcome=\"sent\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains(
        "kreki_notify_provider_call_seconds_count{service=\"notify\",channel=\"sms\"} 1"
    ));
    app.stop().await;
}
