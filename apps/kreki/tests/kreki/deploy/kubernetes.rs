//! The Kubernetes kit (`deploy/kubernetes/`): every overlay rendered with `kubectl kustomize`
//! and checked for what a schema cannot see — the services' probes, drain and security
//! settings, Secrets only by reference, the Ingress against `kreki routes`, network policies,
//! and the CloudNativePG, NATS and monitoring resources (built-in kinds are also validated
//! against the Kubernetes schemas by `scripts/check-deploy.sh`).

use std::{collections::BTreeMap, path::Path, process::Command};

use kreki::routes::{self, Route};
use serde::Deserialize;
use serde_json::Value;

use super::proxy::{paths_of, repo_root, segments};

const OVERLAYS: &[&str] = &["base", "single-node", "production"];

/// `kubectl kustomize <dir>` (or `$KREKI_KUSTOMIZE kustomize <dir>`), parsed. `None` when no
/// renderer is installed outside CI; in CI that is a failure.
fn render(overlay: &str) -> Option<Vec<Value>> {
    let kubectl = std::env::var("KREKI_KUSTOMIZE").unwrap_or_else(|_| {
        // Without kubectl, the pinned renderer that scripts/check-deploy.sh unpacks.
        let pinned = std::env::var("HOME")
            .map(|h| format!("{h}/.cache/kreki-deploy/kubernetes-client/usr/bin/kubectl"))
            .unwrap_or_default();
        let on_path = Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output();
        if on_path.is_err() && Path::new(&pinned).exists() {
            pinned
        } else {
            "kubectl".into()
        }
    });
    let dir = repo_root().join("deploy/kubernetes").join(overlay);
    let out = match Command::new(&kubectl).arg("kustomize").arg(&dir).output() {
        Ok(out) => out,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no kustomize renderer ({kubectl}: {e}); run scripts/check-deploy.sh to install one"
            );
            eprintln!("SKIP: no kustomize renderer ({kubectl}: {e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{kubectl} kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(parse_docs(&String::from_utf8_lossy(&out.stdout)))
}

pub fn parse_docs(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    docs.iter().filter(move |d| d["kind"] == kind)
}

fn named<'a>(docs: &'a [Value], k: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == k && d["metadata"]["name"] == name)
}

/// A ConfigMap by the name before kustomize's hash suffix.
fn config_map<'a>(docs: &'a [Value], base: &str) -> &'a Value {
    kind(docs, "ConfigMap")
        .find(|d| {
            let n = d["metadata"]["name"].as_str().unwrap_or("");
            n == base
                || n.strip_prefix(base)
                    .and_then(|r| r.strip_prefix('-'))
                    .is_some_and(|h| h.len() == 10 && !h.contains('-'))
        })
        .unwrap_or_else(|| panic!("ConfigMap {base}"))
}

fn config(docs: &[Value], key: &str) -> Option<String> {
    config_map(docs, "kreki-config")["data"][key]
        .as_str()
        .map(str::to_string)
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// `16GB`, `8Gi`, `512MB`, `1048576` → bytes.
fn bytes(s: &str) -> u64 {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().expect("number");
    let unit = match s[split..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "KI" => 1 << 10,
        "M" | "MB" | "MI" => 1 << 20,
        "G" | "GB" | "GI" => 1 << 30,
        "T" | "TB" | "TI" => 1 << 40,
        other => panic!("unit {other}"),
    };
    n * unit
}

/// Every object that carries a pod template, with the template.
fn pod_templates(docs: &[Value]) -> Vec<(String, &Value)> {
    docs.iter()
        .filter_map(|d| {
            let t = &d["spec"]["template"];
            t.is_object().then(|| {
                (
                    format!("{}/{}", d["kind"], d["metadata"]["name"]).replace('"', ""),
                    t,
                )
            })
        })
        .collect()
}

fn check_all(check: impl Fn(&str, &[Value])) {
    for overlay in OVERLAYS {
        let Some(docs) = render(overlay) else {
            return;
        };
        check(overlay, &docs);
    }
}

#[test]
fn secrets_are_only_referenced() {
    check_all(|overlay, docs| {
        assert_eq!(
            kind(docs, "Secret").count(),
            0,
            "{overlay}: a Secret inlined"
        );
        let secretish = |name: &str| {
            let n = name.to_ascii_uppercase();
            !n.ends_with("_FILE")
                && (n == "KREKI_DATABASE_URL"
                    || n == "KREKI_BUS__URL"
                    || ["SECRET", "PASSWORD", "TOKEN", "API_KEY", "PRIVATE_KEY"]
                        .iter()
                        .any(|s| n.contains(s)))
        };
        for (what, t) in pod_templates(docs) {
            let spec = &t["spec"];
            let containers = spec["containers"]
                .as_array()
                .into_iter()
                .chain(spec["initContainers"].as_array())
                .flatten();
            for c in containers {
                for e in c["env"].as_array().into_iter().flatten() {
                    let name = e["name"].as_str().unwrap();
                    if let Some(v) = e["value"].as_str() {
                        assert!(
                            !(secretish(name) || (v.contains("://") && v.contains('@'))),
                            "{overlay} {what}: {name} holds a secret value"
                        );
                    }
                }
            }
        }
        for cm in kind(docs, "ConfigMap") {
            for (k, v) in cm["data"].as_object().into_iter().flatten() {
                assert!(!secretish(k), "{overlay}: ConfigMap key {k}");
                let v = v.as_str().unwrap_or("");
                assert!(
                    !(v.contains("://") && v.contains('@')),
                    "{overlay}: ConfigMap {k} holds credentials"
                );
            }
        }
    });
}

#[test]
fn every_service_has_a_safe_deployment_service_and_budget() {
    check_all(|overlay, docs| {
        let grace_ms: u64 = config(docs, "KREKI_HTTP__SHUTDOWN_GRACE_MS")
            .map(|s| s.parse().unwrap())
            .unwrap_or(kreki_platform::config::HttpConfig::default().shutdown_grace_ms);
        let mut images = Vec::new();
        for desc in kreki::services() {
            let name = format!("kreki-{}", desc.name);
            let at = format!("{overlay} {name}");
            let d = named(docs, "Deployment", &name).unwrap_or_else(|| panic!("{at}"));
            let pod = &d["spec"]["template"]["spec"];
            assert_eq!(pod["enableServiceLinks"], false, "{at}");
            assert_eq!(pod["automountServiceAccountToken"], false, "{at}");
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{at}");
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
                "{at}"
            );
            let c = pod["containers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "kreki")
                .unwrap_or_else(|| panic!("{at}: container kreki"));
            images.push(c["image"].as_str().unwrap().to_string());
            assert_eq!(c["args"], serde_json::json!(["serve", desc.name]), "{at}");
            let http = c["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "http")
                .unwrap_or_else(|| panic!("{at}: port http"));
            assert_eq!(int(&http["containerPort"]), i64::from(desc.default_port));
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{at}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{at}");
            assert!(
                sc["capabilities"]["drop"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|c| c == "ALL")),
                "{at}: drop ALL"
            );
            for r in ["cpu", "memory"] {
                assert!(
                    c["resources"]["requests"][r].is_string(),
                    "{at}: request {r}"
                );
            }
            assert!(c["resources"]["limits"]["memory"].is_string(), "{at}");
            // Probes.
            assert!(c["startupProbe"].is_object(), "{at}: startupProbe");
            assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{at}");
            assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http", "{at}");
            assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{at}");
            assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http", "{at}");
            // Drain: preStop sleep, then the process's own grace for requests and again for
            // its background tasks, all within the termination grace period.
            let pre_stop = int(&c["lifecycle"]["preStop"]["sleep"]["seconds"]);
            assert!(pre_stop >= 3, "{at}: preStop sleep");
            let tgps = int(&pod["terminationGracePeriodSeconds"]);
            let drain = i64::try_from(2 * grace_ms.div_ceil(1000)).unwrap();
            assert!(
                tgps > pre_stop + drain,
                "{at}: terminationGracePeriodSeconds {tgps} <= preStop {pre_stop} + drain {drain}"
            );
            // Secrets as files from Secrets.
            let env: BTreeMap<&str, &str> = c["env"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
                .collect();
            let mut secrets = vec![
                ("KREKI_DATABASE_URL_FILE", format!("kreki-{}-db", desc.name)),
                ("KREKI_BUS__URL_FILE", "kreki-nats-client".to_string()),
            ];
            if desc.name == "identity" {
                // Every replica must seal with the same key, which is never in the database.
                secrets.push((
                    "KREKI_IDENTITY__ENCRYPTION_SECRET_FILE",
                    "kreki-identity-sealing".to_string(),
                ));
            }
            for (var, secret) in secrets {
                let file = Path::new(env.get(var).unwrap_or_else(|| panic!("{at}: {var}")));
                let dir = file.parent().unwrap().to_str().unwrap();
                let mount = c["volumeMounts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["mountPath"] == dir)
                    .unwrap_or_else(|| panic!("{at}: nothing mounted at {dir}"));
                let vol = pod["volumes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["name"] == mount["name"])
                    .unwrap();
                assert_eq!(vol["secret"]["secretName"], secret.as_str(), "{at}");
            }
            // Its Service, on the service's port.
            let labels = &d["spec"]["template"]["metadata"]["labels"];
            let s = named(docs, "Service", &name).unwrap_or_else(|| panic!("{at}: Service"));
            for (k, v) in s["spec"]["selector"].as_object().unwrap() {
                assert_eq!(&labels[k], v, "{at}: Service selector");
            }
            let sp = s["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "http")
                .unwrap();
            assert_eq!(int(&sp["port"]), i64::from(desc.default_port), "{at}");
            assert_eq!(sp["targetPort"], "http", "{at}");
            // A disruption budget whenever there is more than one replica to keep.
            let replicas = int(&d["spec"]["replicas"]);
            if replicas > 1 {
                let pdb = named(docs, "PodDisruptionBudget", &name)
                    .unwrap_or_else(|| panic!("{at}: PodDisruptionBudget"));
                assert!(int(&pdb["spec"]["minAvailable"]) < replicas, "{at}");
                for (k, v) in pdb["spec"]["selector"]["matchLabels"].as_object().unwrap() {
                    assert_eq!(&labels[k], v, "{at}: PDB selector");
                }
            }
        }
        images.dedup();
        assert_eq!(images.len(), 1, "{overlay}: one image for every service");
        // The Emergency Core scales by itself.
        let hpa = named(docs, "HorizontalPodAutoscaler", "kreki-emergency")
            .unwrap_or_else(|| panic!("{overlay}: HPA"));
        assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "kreki-emergency");
        let (min, max) = (
            int(&hpa["spec"]["minReplicas"]),
            int(&hpa["spec"]["maxReplicas"]),
        );
        assert!(min >= 1 && max > min, "{overlay}: HPA {min}..{max}");
        if overlay != "single-node" {
            assert!(min >= 2, "{overlay}: tier 1 keeps two replicas at least");
        }
        // Migrations: every service's, from its own database secret.
        let job = named(docs, "Job", "kreki-migrate").expect("migration Job");
        let inits = job["spec"]["template"]["spec"]["initContainers"]
            .as_array()
            .unwrap();
        for desc in kreki::services() {
            assert!(
                inits
                    .iter()
                    .any(|c| c["args"] == serde_json::json!(["migrate", "--service", desc.name])),
                "{overlay}: no migration of {}",
                desc.name
            );
        }
    });
}

/// One path of an Ingress.
struct IngressPath {
    ingress: String,
    path: String,
    exact: bool,
    service: String,
    port: String,
    annotations: serde_json::Map<String, Value>,
}

fn ingress_paths(docs: &[Value]) -> Vec<IngressPath> {
    let mut out = Vec::new();
    for ing in kind(docs, "Ingress") {
        let annotations = ing["metadata"]["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for rule in ing["spec"]["rules"].as_array().unwrap() {
            for p in rule["http"]["paths"].as_array().unwrap() {
                let exact = match p["pathType"].as_str() {
                    Some("Exact") => true,
                    Some("Prefix") => false,
                    other => panic!("pathType {other:?}: use Prefix or Exact"),
                };
                out.push(IngressPath {
                    ingress: ing["metadata"]["name"].as_str().unwrap().into(),
                    path: p["path"].as_str().unwrap().into(),
                    exact,
                    service: p["backend"]["service"]["name"].as_str().unwrap().into(),
                    port: p["backend"]["service"]["port"]["name"]
                        .as_str()
                        .expect("port by name")
                        .into(),
                    annotations: annotations.clone(),
                });
            }
        }
    }
    out
}

/// The Ingress rules of Kubernetes: an Exact match, else the longest Prefix match by path
/// element (`/akun` matches `/akun` and `/akun/x`, not `/akunx`).
fn ingress_match<'a>(paths: &'a [IngressPath], path: &str) -> Option<&'a IngressPath> {
    if let Some(p) = paths.iter().find(|p| p.exact && p.path == path) {
        return Some(p);
    }
    paths
        .iter()
        .filter(|p| {
            !p.exact && {
                let pre = p.path.trim_end_matches('/');
                pre.is_empty()
                    || path == pre
                    || path
                        .strip_prefix(pre)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        })
        .max_by_key(|p| p.path.trim_end_matches('/').len())
}

#[test]
fn the_ingress_follows_kreki_routes() {
    check_all(|overlay, docs| {
        let paths = ingress_paths(docs);
        let route_ok = |r: &Route, path: &str| {
            let m = ingress_match(&paths, path)
                .unwrap_or_else(|| panic!("{overlay}: {path} is not routed"));
            if r.proxied() {
                assert_eq!(
                    m.service,
                    format!("kreki-{}", r.service),
                    "{overlay}: {path} (prefix {})",
                    r.prefix
                );
                if r.prefix != "/" {
                    assert_ne!(m.path, "/", "{overlay}: {path} has no path of its own");
                }
                if r.websocket {
                    let t = m
                        .annotations
                        .get("nginx.ingress.kubernetes.io/proxy-read-timeout")
                        .and_then(Value::as_str)
                        .unwrap_or("60");
                    assert!(
                        t.parse::<u64>().unwrap() >= 3600,
                        "{overlay}: sockets of {path} closed after {t} s"
                    );
                }
            } else {
                assert_eq!(m.path, "/", "{overlay}: {path} must not be routed");
            }
        };
        for r in routes::routes() {
            for p in paths_of(&r) {
                route_ok(&r, &p);
            }
        }
        for p in &paths {
            let owner = routes::owner(&p.path).unwrap();
            if p.annotations
                .contains_key("nginx.ingress.kubernetes.io/denylist-source-range")
            {
                continue;
            }
            assert_eq!(p.service, format!("kreki-{}", owner.service), "{}", p.path);
            assert!(owner.proxied(), "{overlay}: {} is routed", p.path);
            // The backend port exists on the Service.
            let svc = named(docs, "Service", &p.service).unwrap();
            assert!(
                svc["spec"]["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|sp| sp["name"] == p.port.as_str()),
                "{overlay}: {} has no port {}",
                p.service,
                p.port
            );
        }
        for private in routes::private_paths(&segments()) {
            let m = ingress_match(&paths, &private).unwrap();
            let deny = m
                .annotations
                .get("nginx.ingress.kubernetes.io/denylist-source-range")
                .and_then(Value::as_str)
                .unwrap_or("");
            assert!(
                m.exact && deny.contains("0.0.0.0/0") && deny.contains("::/0"),
                "{overlay}: {private} is public through {}",
                m.ingress
            );
        }
    });
}

#[test]
fn network_policies_deny_by_default() {
    check_all(|overlay, docs| {
        let policies: Vec<&Value> = kind(docs, "NetworkPolicy").collect();
        assert!(
            policies.iter().any(|p| {
                p["spec"]["podSelector"]
                    .as_object()
                    .is_none_or(|o| o.is_empty())
                    && p["spec"]["policyTypes"] == serde_json::json!(["Ingress", "Egress"])
                    && p["spec"]["ingress"].is_null()
                    && p["spec"]["egress"].is_null()
            }),
            "{overlay}: default deny"
        );
        assert!(
            policies.iter().any(|p| {
                p["spec"]["egress"].as_array().is_some_and(|rules| {
                    rules.iter().any(|r| {
                        r["ports"]
                            .as_array()
                            .is_some_and(|ps| ps.iter().any(|p| int(&p["port"]) == 53))
                    })
                })
            }),
            "{overlay}: DNS"
        );
        // Nothing is open to every source: each ingress rule names who.
        for p in &policies {
            for rule in p["spec"]["ingress"].as_array().into_iter().flatten() {
                let from = rule["from"].as_array();
                assert!(
                    from.is_some_and(|f| !f.is_empty()),
                    "{overlay}: {} allows every source",
                    p["metadata"]["name"]
                );
                for peer in from.unwrap() {
                    if let Some(ns) = peer["namespaceSelector"].as_object() {
                        let name = ns
                            .get("matchLabels")
                            .and_then(|l| l.get("kubernetes.io/metadata.name"))
                            .and_then(Value::as_str)
                            .unwrap_or_else(|| panic!("{overlay}: namespace by name"));
                        assert!(
                            ["ingress-nginx", "monitoring", "cnpg-system"].contains(&name),
                            "{overlay}: from namespace {name}"
                        );
                    } else {
                        assert!(peer["podSelector"].is_object() && peer["ipBlock"].is_null());
                    }
                }
            }
        }
        // The services are reached from outside only through the ingress controller.
        let app_ingress: Vec<&Value> = policies
            .iter()
            .filter(|p| p["spec"]["podSelector"]["matchLabels"]["kreki.id/role"] == "app")
            .flat_map(|p| p["spec"]["ingress"].as_array().into_iter().flatten())
            .flat_map(|r| r["from"].as_array().into_iter().flatten())
            .collect();
        assert!(
            app_ingress.iter().any(
                |p| p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    == "ingress-nginx"
            ),
            "{overlay}: ingress controller → services"
        );
        // The services reach PostgreSQL and NATS.
        let app_egress: Vec<&Value> = policies
            .iter()
            .filter(|p| p["spec"]["podSelector"]["matchLabels"]["kreki.id/role"] == "app")
            .flat_map(|p| p["spec"]["egress"].as_array().into_iter().flatten())
            .collect();
        for port in [5432, 4222] {
            assert!(
                app_egress.iter().any(|r| r["ports"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| int(&p["port"]) == port))),
                "{overlay}: services → port {port}"
            );
        }
    });
}

#[test]
fn nats_is_a_jetstream_cluster_matching_the_stream_settings() {
    check_all(|overlay, docs| {
        let sts = named(docs, "StatefulSet", "kreki-nats").expect("NATS StatefulSet");
        let nodes = int(&sts["spec"]["replicas"]);
        let conf = config_map(docs, "kreki-nats-config")["data"]["nats.conf"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(conf.contains("jetstream {"), "{overlay}");
        let routes = conf.matches("nats://kreki-nats-").count();
        if nodes > 1 {
            assert!(conf.contains("cluster {"), "{overlay}: cluster block");
            assert_eq!(i64::try_from(routes).unwrap(), nodes, "{overlay}: routes");
        } else {
            assert!(
                !conf.contains("cluster {"),
                "{overlay}: a lone member has no quorum"
            );
        }
        if overlay != "single-node" {
            assert_eq!(nodes, 3, "{overlay}: 3-node cluster");
        }
        let replicas: i64 = config(docs, "KREKI_BUS__REPLICAS")
            .unwrap()
            .parse()
            .unwrap();
        assert!(replicas <= nodes, "{overlay}: stream replicas > NATS nodes");
        assert_eq!(
            replicas,
            nodes.min(3),
            "{overlay}: a copy per node, up to 3"
        );
        let max_bytes: u64 = config(docs, "KREKI_BUS__MAX_BYTES")
            .expect("stream size limit")
            .parse()
            .unwrap();
        let store = conf
            .lines()
            .find_map(|l| l.trim().strip_prefix("max_file_store:"))
            .map(bytes)
            .expect("max_file_store");
        assert!(store > max_bytes, "{overlay}: stream larger than the store");
        let volume = bytes(
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
                .as_str()
                .unwrap(),
        );
        assert!(volume > store, "{overlay}: store larger than the volume");
        let c = &sts["spec"]["template"]["spec"]["containers"][0];
        assert!(
            c["lifecycle"]["preStop"].is_object(),
            "{overlay}: lame duck"
        );
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        if nodes > 1 {
            let pdb = named(docs, "PodDisruptionBudget", "kreki-nats").expect("NATS PDB");
            assert_eq!(int(&pdb["spec"]["maxUnavailable"]), 1, "{overlay}: quorum");
        }
    });
}

#[test]
fn postgres_is_a_backed_up_cloudnativepg_cluster_with_room_for_every_pool() {
    check_all(|overlay, docs| {
        let cluster = kind(docs, "Cluster")
            .find(|c| {
                c["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("postgresql.cnpg.io/"))
            })
            .expect("CloudNativePG Cluster");
        let spec = &cluster["spec"];
        let name = cluster["metadata"]["name"].as_str().unwrap();
        let instances = int(&spec["instances"]);
        if overlay == "single-node" {
            assert_eq!(instances, 1);
            assert_eq!(int(&spec["minSyncReplicas"]), 0, "nothing to wait for");
        } else {
            assert_eq!(instances, 3, "{overlay}");
            assert!(
                int(&spec["minSyncReplicas"]) >= 1,
                "{overlay}: synchronous standby"
            );
            assert_eq!(spec["affinity"]["enablePodAntiAffinity"], true);
        }
        // WAL archiving to an object store, encrypted and compressed, within the RPO.
        let store = &spec["backup"]["barmanObjectStore"];
        assert!(
            store["destinationPath"]
                .as_str()
                .is_some_and(|p| p.starts_with("s3://")),
            "{overlay}: destinationPath"
        );
        assert!(
            store["endpointURL"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://"))
        );
        for key in ["accessKeyId", "secretAccessKey"] {
            assert!(
                store["s3Credentials"][key]["name"].is_string(),
                "{overlay}: {key}"
            );
            assert!(
                store["s3Credentials"][key]["key"].is_string(),
                "{overlay}: {key}"
            );
        }
        assert_eq!(store["wal"]["compression"], "gzip", "{overlay}");
        assert_eq!(store["wal"]["encryption"], "AES256", "{overlay}");
        assert_eq!(store["data"]["encryption"], "AES256", "{overlay}");
        assert!(spec["backup"]["retentionPolicy"].is_string(), "{overlay}");
        let params = &spec["postgresql"]["parameters"];
        let archive = params["archive_timeout"].as_str().unwrap_or("5min");
        let minutes: i64 = archive.trim_end_matches("min").parse().unwrap();
        assert!(
            minutes <= 5,
            "{overlay}: archive_timeout above the tier-1 RPO"
        );
        assert_eq!(spec["monitoring"]["enablePodMonitor"], true, "{overlay}");
        let backup = kind(docs, "ScheduledBackup")
            .next()
            .expect("ScheduledBackup");
        assert_eq!(backup["spec"]["cluster"]["name"], name);
        assert_eq!(
            backup["spec"]["schedule"]
                .as_str()
                .unwrap()
                .split(' ')
                .count(),
            6,
            "CloudNativePG schedules have six fields (seconds first)"
        );
        // One role and one database per service; every pool fits.
        let pool: i64 = config(docs, "KREKI_STORAGE__MAX_CONNECTIONS")
            .map(|s| s.parse().unwrap())
            .unwrap_or(16);
        let max_connections = int(&params["max_connections"]);
        let roles = spec["managed"]["roles"].as_array().expect("managed roles");
        let mut total = 0;
        for desc in kreki::services() {
            let role = format!("kreki_{}", desc.name);
            let r = roles
                .iter()
                .find(|r| r["name"] == role.as_str())
                .unwrap_or_else(|| panic!("{overlay}: role {role}"));
            assert!(r["passwordSecret"]["name"].is_string(), "{overlay}: {role}");
            assert_eq!(r["login"], true);
            let db = kind(docs, "Database")
                .find(|d| d["spec"]["name"] == desc.name)
                .unwrap_or_else(|| panic!("{overlay}: database {}", desc.name));
            assert_eq!(db["spec"]["owner"], role.as_str());
            assert_eq!(db["spec"]["cluster"]["name"], name);
            // Processes at most: the HPA's maximum (or the replicas) plus one surge pod.
            let dep = named(docs, "Deployment", &format!("kreki-{}", desc.name)).unwrap();
            let hpa_max = kind(docs, "HorizontalPodAutoscaler")
                .find(|h| h["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"])
                .map(|h| int(&h["spec"]["maxReplicas"]))
                .unwrap_or(0);
            let surge = dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
                .as_i64()
                .unwrap_or(1);
            let need = (int(&dep["spec"]["replicas"]).max(hpa_max) + surge) * pool;
            if let Some(limit) = r["connectionLimit"].as_i64().filter(|l| *l >= 0) {
                assert!(
                    need <= limit,
                    "{overlay}: {role} needs {need} connections, limit {limit}"
                );
            }
            total += need;
        }
        // The migration job's pools, and the superuser's and the operator's reserve.
        total += pool + 10;
        assert!(
            total <= max_connections,
            "{overlay}: pools need {total} connections, max_connections is {max_connections}"
        );
    });
}

#[test]
fn prometheus_scrapes_every_service_and_nats() {
    check_all(|overlay, docs| {
        let monitors: Vec<&Value> = kind(docs, "PodMonitor").collect();
        let scraped = |labels: &Value, ports: &[Value]| {
            monitors.iter().any(|m| {
                m["spec"]["selector"]["matchLabels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| &labels[k] == v)
                    && m["spec"]["podMetricsEndpoints"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|e| ports.iter().any(|p| p["name"] == e["port"]))
            })
        };
        for (what, t) in pod_templates(docs) {
            if !(what.starts_with("Deployment/kreki-") || what == "StatefulSet/kreki-nats") {
                continue;
            }
            let ports: Vec<Value> = t["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .collect();
            assert!(
                scraped(&t["metadata"]["labels"], &ports),
                "{overlay}: {what} is not scraped"
            );
        }
    });
}

#[test]
fn every_priority_class_named_by_a_pod_is_in_the_cluster_kit() {
    let Some(cluster) = render("cluster") else {
        return;
    };
    let classes: Vec<&str> = kind(&cluster, "PriorityClass")
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert!(cluster.iter().all(|d| d["kind"] == "PriorityClass"));
    check_all(|overlay, docs| {
        assert_eq!(
            kind(docs, "PriorityClass").count(),
            0,
            "{overlay}: cluster-scoped"
        );
        for (what, t) in pod_templates(docs) {
            if let Some(pc) = t["spec"]["priorityClassName"].as_str() {
                assert!(classes.contains(&pc), "{overlay}: {what} names {pc}");
            }
        }
        let pg = kind(docs, "Cluster").next().unwrap();
        let pc = pg["spec"]["priorityClassName"].as_str().unwrap();
        assert!(classes.contains(&pc), "{overlay}: kreki-pg names {pc}");
        // Tier 1 first.
        let emergency = named(docs, "Deployment", "kreki-emergency").unwrap();
        assert_eq!(
            emergency["spec"]["template"]["spec"]["priorityClassName"],
            "kreki-tier1"
        );
    });
}

#[test]
fn units_are_read_as_kubernetes_and_nats_write_them() {
    assert_eq!(bytes("16GB"), 16 << 30);
    assert_eq!(bytes("20Gi"), 20 << 30);
    assert_eq!(bytes("1024"), 1024);
}
