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
