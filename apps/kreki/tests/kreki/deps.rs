//! The dependency rule: a service depends on the platform and on other services'
//! contracts crates, never on another service's internals; contracts crates do no I/O and
//! depend on no KREKI crate but other contracts.

use std::process::Command;

#[test]
fn services_depend_only_on_platform_and_contracts() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut checked = 0;
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let manifest = pkg["manifest_path"].as_str().unwrap();
        // Services and contracts live under crates/; the binary and the benchmarks wire
        // services together on purpose.
        if !manifest.contains("/crates/") || name == "kreki-platform" {
            continue;
        }
        let is_contracts = name.ends_with("-contracts");
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if !dep_name.starts_with("kreki") || dep_name == name {
                continue;
            }
            let allowed = if is_contracts {
                dep_name.ends_with("-contracts")
            } else {
                dep_name == "kreki-platform" || dep_name.ends_with("-contracts")
            };
            assert!(
                allowed,
                "{name} must not depend on {dep_name} (only on kreki-platform and *-contracts)"
            );
        }
        if is_contracts {
            for forbidden in ["sqlx", "tokio", "reqwest", "axum", "async-nats"] {
                assert!(
                    !pkg["dependencies"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|d| d["name"] == forbidden),
                    "{name} is a contracts crate and must not do I/O (depends on {forbidden})"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 12, "checked {checked} crates");
}
