//! The notify service over real HTTP (port 0) on a given database: the descriptor's build
//! (with an injected DNS resolver), `mount` and the outer stack, as in `kreki up` /
//! `kreki serve`. Events go in through an embedded bus the test publishes to.

use std::{path::PathBuf, sync::Arc, time::Duration};

use kreki_notify::{Options, endpoint::Resolver};
use kreki_platform::{
    bus::{Bus, Event},
    config::Config,
    storage::Db,
    testkit::Harness,
};
use serde_json::Value;

pub struct App {
    pub url: String,
    pub client: reqwest::Client,
    pub bus: Arc<dyn Bus>,
    /// The console channel's file.
    pub console: PathBuf,
    harness: Harness,
}

/// How to start it.
pub struct Start {
    /// The `[notify]` section (`console_file` is set to a file of the test's own).
    pub notify: Value,
    /// DNS of push endpoints; `None`: the system's.
    pub resolver: Option<Arc<dyn Resolver>>,
    pub demo: bool,
}

impl Start {
    pub fn new(notify: Value) -> Self {
        Self {
            notify,
            resolver: None,
            demo: false,
        }
    }

    pub fn resolver(mut self, r: Arc<dyn Resolver>) -> Self {
        self.resolver = Some(r);
        self
    }

    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }
}

pub async fn start(db: Db, how: Start) -> App {
    let mut h = Harness::new("notify", db, Config::default()).await;
    let console = h.dir.path().join("console.jsonl");
    let mut notify = how.notify;
    notify["console_file"] = Value::String(console.display().to_string());
    let mut config = Config::default();
    match figment::value::Value::serialize(&notify).unwrap() {
        figment::value::Value::Dict(_, d) => config.notify = d,
        other => panic!("[notify] must be a table: {other:?}"),
    }
    h.ctx.config = Arc::new(config);
    let mut options = Options {
        demo: how.demo,
        ..Options::default()
    };
    if let Some(r) = how.resolver {
        options.resolver = r;
    }
    let desc = kreki_notify::descriptor();
    let built = kreki_notify::build_with(h.ctx.clone(), options)
        .await
        .unwrap();
    h.serve(&desc, built);
    App {
        url: h.url.clone(),
        client: h.client.clone(),
        bus: h.bus.clone(),
        console,
        harness: h,
    }
}

impl App {
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.harness.token(sub, roles)
    }

    pub fn operator(&self) -> String {
        self.token("ops-1", &["ops_admin"])
    }

    /// `method` `/api/notify/v1{path}`: status and JSON body (`Null` when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.client.request(
            method.parse().unwrap(),
            format!("{}/api/notify/v1{path}", self.url),
        );
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let s = res.status().as_u16();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    /// An event as if another service had published it.
    pub async fn publish(&self, subject: &str, data: &Value) {
        let event = Event::new("identity", subject, data).unwrap();
        self.bus.publish(&event).await.unwrap();
    }

    /// The message as the operators' API shows it.
    pub async fn message(&self, id: &str) -> Value {
        let (s, v) = self
            .call(
                "GET",
                &format!("/messages/{id}"),
                Some(&self.operator()),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["data"].clone()
    }

    /// Wait until the message has `status`; returns its view.
    pub async fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let m = self.message(id).await;
            if m["status"] == status {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "message {id} never became {status}: {m}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        let ctx = &self.harness.ctx;
        ctx.shutdown.cancel();
        ctx.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(10), ctx.tasks.wait()).await;
    }
}
