//! An independent JOSE implementation (npm `jose`, run with node) verifies our credentials
//! and refuses altered or foreign-signed ones. The package is installed from its lockfile
//! on first use (idempotent).

use std::{path::PathBuf, process::Command};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use kreki_lms::credential::{Issuer, certificate_claims};
use kreki_platform::testkit::{self, TempDir};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/jose")
}

/// `None`: node is missing (a loud skip outside CI, a failure in CI).
fn ensure_installed() -> Option<()> {
    if let Err(e) = Command::new("node").arg("--version").output() {
        return testkit::server_missing("node", &e);
    }
    if !dir().join("node_modules/jose/package.json").exists() {
        // Tests run in parallel processes: install into a folder of our own, then move it
        // into place (whoever comes second finds it there).
        let tmp = dir().join(format!(".install-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&tmp).unwrap();
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(dir().join(f), tmp.join(f)).unwrap();
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&tmp)
            .output()
            .expect("npm");
        assert!(
            out.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::rename(tmp.join("node_modules"), dir().join("node_modules"));
        let _ = std::fs::remove_dir_all(&tmp);
        assert!(dir().join("node_modules/jose/package.json").exists());
    }
    Some(())
}

fn jose_verify(jwt: &str, jwks: &Value) -> Value {
    let tmp = TempDir::new();
    let (jf, kf) = (tmp.path().join("c.jwt"), tmp.path().join("jwks.json"));
    std::fs::write(&jf, jwt).unwrap();
    std::fs::write(&kf, jwks.to_string()).unwrap();
    let out = Command::new("node")
        .arg(dir().join("verify.mjs"))
        .arg(&jf)
        .arg(&kf)
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub async fn check_with_jose(jwt: &str, jwks: &Value) {
    if ensure_installed().is_none() {
        return;
    }
    let ok = jose_verify(jwt, jwks);
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(ok["alg"], "EdDSA");
    assert!(
        ok["iss"].as_str().unwrap().starts_with("did:key:z6Mk"),
        "{ok}"
    );
    assert_eq!(ok["type"][1], "OpenBadgeCredential");
    // Altered: a later expiry in the payload, same signature.
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = Value::from(claims["exp"].as_i64().unwrap() + 10 * 365 * 86_400);
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let bad = jose_verify(&altered, jwks);
    assert_eq!(bad["ok"], false, "{bad}");
    assert_eq!(bad["code"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    // Forged: another key signs the same claims under our kid.
    let other = Issuer::from_pkcs8(&Issuer::generate_pkcs8().unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let forged_sig = {
        let own = other.sign(&claims);
        own.rsplit('.').next().unwrap().to_string()
    };
    let forged = format!(
        "{}.{}.{forged_sig}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_eq!(jose_verify(&forged, jwks)["ok"], false);
    // A credential of a foreign issuer is not verified by our key set.
    let foreign = other.sign(&certificate_claims(
        &kreki_lms::credential::CredentialInput {
            base_url: "https://evil.test",
            certificate_id: "BHD-BASIC-2026-0001",
            holder_account: "x",
            holder_name: "Palsu",
            course_id: "bhd-basic",
            course_name: "BHD Dasar",
            course_summary: "",
            level: "basic",
            issued_at: 1_700_000_000,
            valid_until: 4_000_000_000,
            status_index: 0,
        },
        &other.did,
    ));
    assert_eq!(jose_verify(&foreign, jwks)["ok"], false);
}
