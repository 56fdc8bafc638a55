//! The observability pack (`deploy/observability/`): every metric its rules and dashboard
//! read is one the services export (asked of a real `kreki up`), or an exporter's the kit
//! deploys beside them; the Prometheus Operator's copy of the rules is in step.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{kubernetes::parse_docs, proxy::repo_root};
use crate::up::start_up;

/// Metrics of other exporters the kit runs: Prometheus's own `up`, the NATS exporter
/// (`-jsz=all`) beside each NATS node, CloudNativePG's instance exporter.
fn external(name: &str) -> bool {
    name == "up" || name.starts_with("jetstream_") || name.starts_with("cnpg_")
}

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
];

/// Metric names in a PromQL expression.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    // Drop string literals, label matchers, range selectors and grouping lists.
    let mut s = regex::Regex::new(r#""(?:[^"\\]|\\.)*""#)
        .unwrap()
        .replace_all(expr, "")
        .into_owned();
    for re in [
        r"\{[^}]*\}",
        r"\[[^\]]*\]",
        // Numbers and durations (`5m`, `0.5`, `26`).
        r"\b\d+(?:\.\d+)?[a-zA-Z]*\b",
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
    ] {
        s = regex::Regex::new(re)
            .unwrap()
            .replace_all(&s, " ")
            .into_owned();
    }
    let ident = regex::Regex::new(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?").unwrap();
    ident
        .captures_iter(&s)
        .filter(|c| c.get(1).is_none())
        .map(|c| c[0].trim().to_string())
        .filter(|n| !KEYWORDS.contains(&n.to_ascii_lowercase().as_str()))
        .filter(|n| !n.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

fn rule_groups() -> Vec<Value> {
    let dir = repo_root().join("deploy/observability/rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let doc = parse_docs(&std::fs::read_to_string(f).unwrap()).remove(0);
            doc["groups"].as_array().unwrap().clone()
        })
        .collect()
}

fn rules() -> Vec<Value> {
    rule_groups()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let dir = repo_root().join("deploy/observability/grafana");
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let d: Value = serde_json::from_str(&std::fs::read_to_string(f.unwrap().path()).unwrap())
            .expect("dashboard JSON");
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                out.push(t["expr"].as_str().unwrap().to_string());
            }
        }
        for v in d["templating"]["list"].as_array().unwrap() {
            if let Some(q) = v["definition"].as_str() {
                // label_values(metric, label)
                let inner = q.trim_start_matches("label_values(");
                out.push(inner.split(',').next().unwrap().to_string());
            }
        }
    }
    out
}

/// Every sample name `kreki up` exports (counters as `_total`, histograms as
/// `_bucket`/`_sum`/`_count`), from its `/metrics` after some traffic. Families without a
/// sample yet (a dispatch time before any case) are not printed at all.
async fn exported() -> BTreeSet<String> {
    let app = start_up(None).await;
    for d in kreki::services() {
        for seg in d.segments {
            let _ = app
                .client
                .get(format!("{}/api/{seg}/v1/healthz", app.url))
                .send()
                .await
                .unwrap();
        }
    }
    let text = app
        .client
        .get(format!("{}/metrics", app.metrics_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    app.stop().await;
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(name) = line.split(['{', ' ']).next() {
            names.insert(name.to_string());
        }
    }
    assert!(names.contains("kreki_http_requests_total"), "{text}");
    assert!(names.contains("kreki_db_pool_connections"), "{text}");
    names
}

/// Metric names the services register (string literals `"kreki_…"` in their sources; a
/// `{placeholder}` in a `format!` stands for any word), as patterns over sample names.
fn registered() -> Vec<regex::Regex> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("service/src");
        if src.is_dir() {
            walk(&src, &mut files);
        }
    }
    files.push(repo_root().join("crates/platform/src/metrics.rs"));
    let literal =
        regex::Regex::new(r#"(?s)register\(\s*&?(?:format!\()?"(kreki_[a-z0-9_{}]+)""#).unwrap();
    let placeholder = regex::Regex::new(r"\{[a-z_]*\}").unwrap();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for c in literal.captures_iter(&text) {
            let pattern = placeholder
                .replace_all(
                    &regex::escape(&c[1]).replace("\\{", "{").replace("\\}", "}"),
                    "[a-z0-9_]+",
                )
                .into_owned();
            out.push(
                regex::Regex::new(&format!("^{pattern}(?:_total|_bucket|_sum|_count)?$")).unwrap(),
            );
        }
    }
    assert!(out.len() >= 10, "registrations found: {out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_in_rules_and_dashboards_is_exported() {
    let exported = exported().await;
    let registered = registered();
    let recorded: BTreeSet<String> = rules()
        .iter()
        .filter_map(|r| r["record"].as_str().map(str::to_string))
        .collect();
    let mut used: Vec<(String, String)> = Vec::new();
    for r in rules() {
        let what = r["record"]
            .as_str()
            .or(r["alert"].as_str())
            .unwrap()
            .to_string();
        for n in metric_names(r["expr"].as_str().unwrap()) {
            used.push((what.clone(), n));
        }
    }
    for e in dashboard_exprs() {
        for n in metric_names(&e) {
            used.push(("dashboard".into(), n));
        }
    }
    assert!(used.len() > 40, "{used:?}");
    let missing: Vec<_> = used
        .iter()
        .filter(|(_, n)| {
            !(exported.contains(n)
                || registered.iter().any(|r| r.is_match(n))
                || recorded.contains(n)
                || external(n))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "metrics used but not exported: {missing:?}\nexported: {exported:?}"
    );
}

#[test]
fn alerts_say_how_urgent_and_what() {
    let mut alerts = 0;
    for r in rules() {
        let Some(name) = r["alert"].as_str() else {
            continue;
        };
        alerts += 1;
        let sev = r["labels"]["severity"].as_str().unwrap_or("");
        assert!(
            ["critical", "warning"].contains(&sev),
            "{name}: severity {sev}"
        );
        assert!(r["annotations"]["summary"].is_string(), "{name}: summary");
    }
    assert!(alerts >= 20);
    // One burn-rate alert pair per tier.
    for tier in 1..=3 {
        for speed in ["Fast", "Slow"] {
            let name = format!("KrekiTier{tier}ErrorBudgetBurn{speed}");
            assert!(
                rules().iter().any(|r| r["alert"] == name.as_str()),
                "{name}"
            );
        }
    }
}

#[test]
fn the_operators_copy_of_the_rules_is_in_step() {
    let text =
        std::fs::read_to_string(repo_root().join("deploy/kubernetes/base/prometheus-rules.yaml"))
            .unwrap();
    let doc = parse_docs(&text).remove(0);
    assert_eq!(doc["kind"], "PrometheusRule");
    assert_eq!(
        doc["spec"]["groups"],
        Value::Array(rule_groups()),
        "run scripts/gen-prometheus-rules.py"
    );
}

#[test]
fn the_expression_reader_finds_metric_names() {
    let names = metric_names(
        r#"sum by (service, le) (rate(kreki_x_bucket{route!~".*/ws",a="b"}[5m])) / ignoring(state) kreki:y:z > 0.5 and on(pod) up offset 5m"#,
    );
    let want: BTreeSet<String> = ["kreki_x_bucket", "kreki:y:z", "up"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, want);
    assert_eq!(
        metric_names(
            r#"time() - max by (namespace) (cnpg_collector_last_available_backup_timestamp) > 26 * 3600"#
        ),
        ["cnpg_collector_last_available_backup_timestamp".to_string()].into()
    );
}
