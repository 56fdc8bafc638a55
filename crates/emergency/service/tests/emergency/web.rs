//! The web apps (caller, volunteer, Ops) served by the Emergency Core: entry points not
//! cached, versioned assets immutable, a strict CSP, the apps' configuration; without a
//! build, pages that say how to build them, and a readiness that says why it is not ready.

use crate::app::{self, Setup, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_apps_are_served_with_headers_or_a_build_hint() {
    // A built directory: entry points no-cache, versioned assets immutable, strict CSP.
    let web = kreki_platform::testkit::TempDir::default();
    let w = web.path();
    std::fs::create_dir_all(w.join("relawan")).unwrap();
    std::fs::create_dir_all(w.join("ops")).unwrap();
    std::fs::create_dir_all(w.join("app/b1")).unwrap();
    std::fs::write(w.join("index.html"), "<h1>caller</h1>").unwrap();
    std::fs::write(w.join("sw.js"), "// sw").unwrap();
    std::fs::write(w.join("manifest.webmanifest"), "{}").unwrap();
    std::fs::write(w.join("relawan/index.html"), "<h1>relawan</h1>").unwrap();
    std::fs::write(w.join("relawan/sw.js"), "// sw").unwrap();
    std::fs::write(w.join("ops/index.html"), "<h1>ops</h1>").unwrap();
    std::fs::write(w.join("app/b1/caller.js"), "export {}").unwrap();
    let dir = w.to_string_lossy().to_string();
    let (db, _guard) = app::sqlite().await;
    let app = Setup::default()
        .text("web_dir", &dir)
        .text("sms_number", "+628119")
        .start(db)
        .await;
    let fetch = |path: &'static str| app.client.get(format!("{}{path}", app.url)).send();
    for (path, text) in [
        ("/", "caller"),
        ("/relawan/", "relawan"),
        ("/relawan/callback", "relawan"),
        ("/ops/", "ops"),
    ] {
        let r = fetch(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{path}");
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        assert!(r.text().await.unwrap().contains(text), "{path}");
    }
    let r = fetch("/app/b1/caller.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let r = fetch("/relawan/sw.js").await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["service-worker-allowed"], "/relawan/");
    let r = fetch("/sw.js").await.unwrap();
    assert_eq!(r.headers()["service-worker-allowed"], "/");
    // A missing asset is the platform's 404 envelope, not the page.
    let r = fetch("/app/b1/nope.js").await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()
            .get("cache-control")
            .is_none_or(|v| !v.to_str().unwrap().contains("immutable"))
    );
    assert!(r.json::<Value>().await.unwrap()["error"]["code"].is_string());
    let r = fetch("/relawan").await.unwrap();
    assert_eq!(r.url().path(), "/relawan/");
    let cfg: Value = fetch("/app-config.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cfg["sms_number"], "+628119");
    assert!(
        cfg["map_tile_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    app.stop().await;

    // No directory: the pages say how to build them, in both languages.
    let (db, _guard) = app::sqlite().await;
    let app = Setup::default()
        .text("web_dir", "/nonexistent/kreki-web")
        .start(db)
        .await;
    for path in ["/", "/relawan/", "/ops/"] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let t = r.text().await.unwrap();
        assert!(
            t.contains("belum dibangun") && t.contains("not built"),
            "{t}"
        );
        assert!(t.contains("scripts/setup.sh"));
    }
    // A replica that cannot serve the caller app is not ready, and says why.
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    let services = body["error"]["details"]["services"].as_array().unwrap();
    let emergency = services
        .iter()
        .find(|s| s["service"] == "emergency")
        .unwrap();
    assert_eq!(emergency["status"], "unavailable", "{body}");
    assert_eq!(emergency["reasons"][0]["component"], "web", "{body}");
    app.stop().await;
}
