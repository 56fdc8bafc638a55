//! Verifiable credentials of certificates: Open Badges 3.0 `OpenBadgeCredential`s secured as
//! VC-JWT (JOSE compact JWS, EdDSA over Ed25519), the issuer as a `did:key`, revocation
//! through a W3C Bitstring Status List credential.
//!
//! Everything here is pure computation (no I/O), so the offline verifier
//! (`kreki verify-credential`) and the service share it.

use std::io::{Read, Write};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde_json::{Value, json};

/// Context of VC Data Model 2.0.
pub const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// Context of Open Badges 3.0.
pub const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// Entries of a status list (the spec's minimum for group privacy: 131,072).
pub const STATUS_LIST_SIZE: usize = 131_072;
/// JOSE `typ` of our credentials.
pub const TYP: &str = "vc+jwt";

/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, varint 0xed).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// `did:key:z…` of an Ed25519 public key.
pub fn did_key(public: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_PUB);
    bytes.extend_from_slice(public);
    format!("did:key:z{}", bs58::encode(bytes).into_string())
}

/// The public key inside a `did:key` (with or without a `#fragment`).
pub fn did_key_public(did: &str) -> Option<[u8; 32]> {
    let did = did.split('#').next()?;
    let mb = did.strip_prefix("did:key:z")?;
    let bytes = bs58::decode(mb).into_vec().ok()?;
    if bytes.len() != 34 || bytes[..2] != ED25519_PUB {
        return None;
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes[2..]);
    Some(out)
}

/// The verification method id of a `did:key` (`did:key:z…#z…`).
pub fn key_id(did: &str) -> String {
    let frag = did.strip_prefix("did:key:").unwrap_or(did);
    format!("{did}#{frag}")
}

/// The issuer's signing key.
pub struct Issuer {
    pair: Ed25519KeyPair,
    pub did: String,
    pub kid: String,
}

impl Issuer {
    pub fn from_pkcs8(pkcs8: &[u8]) -> anyhow::Result<Issuer> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| anyhow::anyhow!("bad issuer key: {e}"))?;
        let did = did_key(pair.public_key().as_ref());
        let kid = key_id(&did);
        Ok(Issuer { pair, did, kid })
    }

    /// A new random key, as PKCS#8.
    pub fn generate_pkcs8() -> anyhow::Result<Vec<u8>> {
        let rng = ring::rand::SystemRandom::new();
        Ok(Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| anyhow::anyhow!("cannot make a key: {e}"))?
            .as_ref()
            .to_vec())
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public key as a JWK (OKP / Ed25519).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(self.public_key()),
            "kid": self.kid, "alg": "EdDSA", "use": "sig",
        })
    }

    /// Sign `claims` as a compact JWS (`alg` EdDSA, `typ` vc+jwt, `kid` the did:key method).
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "EdDSA", "typ": TYP, "kid": self.kid });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.pair.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// What a certificate's credential says.
pub struct CredentialInput<'a> {
    pub base_url: &'a str,
    pub certificate_id: &'a str,
    pub holder_account: &'a str,
    pub holder_name: &'a str,
    pub course_id: &'a str,
    pub course_name: &'a str,
    pub course_summary: &'a str,
    pub level: &'a str,
    /// Unix seconds.
    pub issued_at: i64,
    pub valid_until: i64,
    pub status_index: i64,
}

pub fn status_list_url(base_url: &str) -> String {
    format!("{base_url}/api/lms/v1/credentials/status/1")
}

fn rfc3339_s(s: i64) -> String {
    kreki_platform::time_util::rfc3339(s.saturating_mul(1_000_000))
}

/// The JWT claims of a certificate's `OpenBadgeCredential`: the credential itself (VC 2.0
/// JOSE: the payload is the credential) with the registered claims `iss`, `sub`, `jti`,
/// `nbf`, `iat`, `exp` beside it (what VC-JWT 1.1 readers and plain JWT libraries check).
pub fn certificate_claims(i: &CredentialInput<'_>, issuer_did: &str) -> Value {
    let id = format!("{}/verify/{}", i.base_url, i.certificate_id);
    let subject = format!("urn:kreki:account:{}", i.holder_account);
    let status_url = status_list_url(i.base_url);
    json!({
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": issuer_did,
            "type": ["Profile"],
            "name": "KREKI (Komunitas Relawan Emergensi Kesehatan Indonesia)",
            "url": i.base_url,
        },
        "name": format!("{} — {}", i.course_name, i.certificate_id),
        "validFrom": rfc3339_s(i.issued_at),
        "validUntil": rfc3339_s(i.valid_until),
        "credentialSubject": {
            "id": subject,
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject", "identityType": "name", "hashed": false,
                "identityHash": i.holder_name,
            }],
            "achievement": {
                "id": format!("{}/api/lms/v1/courses/{}", i.base_url, i.course_id),
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": i.course_name,
                "description": i.course_summary,
                "criteria": { "narrative": "Lulus post-test tertulis dan ujian praktik yang ditandatangani instruktur / Passed the written post-test and an instructor-signed practical." },
                "tag": [i.level],
            },
        },
        "credentialStatus": {
            "id": format!("{status_url}#{}", i.status_index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": i.status_index.to_string(),
            "statusListCredential": status_url,
        },
        "iss": issuer_did,
        "sub": subject,
        "jti": id,
        "nbf": i.issued_at,
        "iat": i.issued_at,
        "exp": i.valid_until,
    })
}

/// GZIP-compress a bitstring and encode it as multibase base64url (`u…`).
pub fn encode_bitstring(bits: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(bits);
    let out = gz.finish().unwrap_or_default();
    format!("u{}", URL_SAFE_NO_PAD.encode(out))
}

/// Inverse of [`encode_bitstring`].
pub fn decode_bitstring(s: &str) -> Option<Vec<u8>> {
    let raw = URL_SAFE_NO_PAD.decode(s.strip_prefix('u')?).ok()?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .take(16 * 1024 * 1024)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// A bitstring with `revoked` indexes set (bit 0 is the most significant bit of byte 0).
pub fn bitstring(revoked: &[i64]) -> Vec<u8> {
    let mut bits = vec![0u8; STATUS_LIST_SIZE / 8];
    for &i in revoked {
        if let Ok(i) = usize::try_from(i)
            && i < STATUS_LIST_SIZE
        {
            bits[i / 8] |= 0x80 >> (i % 8);
        }
    }
    bits
}

pub fn bit(bits: &[u8], index: usize) -> Option<bool> {
    bits.get(index / 8).map(|b| b & (0x80 >> (index % 8)) != 0)
}

/// Claims of the status list credential.
pub fn status_list_claims(base_url: &str, issuer_did: &str, revoked: &[i64], now_s: i64) -> Value {
    let url = status_list_url(base_url);
    json!({
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_did,
        "validFrom": rfc3339_s(now_s),
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_bitstring(&bitstring(revoked)),
        },
        "iss": issuer_did,
        "jti": url,
        "iat": now_s,
        "nbf": now_s,
    })
}

// ---- verification ------------------------------------------------------------------

/// Why a credential is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not three base64url parts of JSON.
    Malformed(String),
    /// `alg` is not EdDSA.
    Algorithm(String),
    /// `kid`/`iss` do not name a did:key, or disagree.
    Issuer(String),
    Signature,
    NotYetValid,
    Expired,
    /// The status list does not come from the credential's issuer, or does not cover it.
    StatusList(String),
    Revoked,
    /// The issuer is not the one the verifier was told to trust.
    UntrustedIssuer(String),
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::Malformed(m) => write!(f, "malformed credential: {m}"),
            Invalid::Algorithm(a) => write!(f, "algorithm {a} is not accepted (EdDSA only)"),
            Invalid::Issuer(m) => write!(f, "issuer key problem: {m}"),
            Invalid::Signature => write!(f, "signature does not verify (forged or altered)"),
            Invalid::NotYetValid => write!(f, "not yet valid"),
            Invalid::Expired => write!(f, "expired"),
            Invalid::StatusList(m) => write!(f, "status list problem: {m}"),
            Invalid::Revoked => write!(f, "revoked"),
            Invalid::UntrustedIssuer(d) => write!(f, "issuer {d} is not the trusted issuer"),
        }
    }
}

/// A credential whose signature verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub issuer: String,
    pub claims: Value,
    /// `None`: revocation was not checked (no status list given).
    pub revoked: Option<bool>,
}

impl Verified {
    pub fn certificate_id(&self) -> Option<&str> {
        self.claims["id"]
            .as_str()
            .and_then(|s| s.rsplit('/').next())
    }
    pub fn holder_name(&self) -> Option<&str> {
        self.claims["credentialSubject"]["identifier"][0]["identityHash"].as_str()
    }
}

fn part(p: &str) -> Result<Value, Invalid> {
    let raw = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| Invalid::Malformed("not base64url".into()))?;
    serde_json::from_slice(&raw).map_err(|_| Invalid::Malformed("not JSON".into()))
}

/// Check the JWS: EdDSA, the key from the `did:key` in `kid` (which must be the `iss`), the
/// signature. Returns the issuer and the claims.
pub fn verify_jws(jwt: &str) -> Result<(String, Value), Invalid> {
    let jwt = jwt.trim();
    let mut it = jwt.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(Invalid::Malformed("not a compact JWS".into()));
    };
    let header = part(h)?;
    let claims = part(p)?;
    let alg = header["alg"].as_str().unwrap_or("");
    if alg != "EdDSA" {
        return Err(Invalid::Algorithm(alg.to_string()));
    }
    let kid = header["kid"]
        .as_str()
        .ok_or_else(|| Invalid::Issuer("no kid".into()))?;
    let did = kid.split('#').next().unwrap_or("");
    let public =
        did_key_public(did).ok_or_else(|| Invalid::Issuer("kid is not a did:key".into()))?;
    let iss = claims["iss"].as_str().unwrap_or("");
    let issuer_id = claims["issuer"]["id"]
        .as_str()
        .or_else(|| claims["issuer"].as_str())
        .unwrap_or("");
    if iss != did || issuer_id != did {
        return Err(Invalid::Issuer("kid, iss and issuer differ".into()));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Invalid::Malformed("signature not base64url".into()))?;
    UnparsedPublicKey::new(&ED25519, public)
        .verify(format!("{h}.{p}").as_bytes(), &sig)
        .map_err(|_| Invalid::Signature)?;
    Ok((did.to_string(), claims))
}

/// Verify a certificate credential offline at `now_s`: signature, validity period, and (when
/// a status list credential is given) revocation. `trusted`: the issuer must be this DID.
pub fn verify_credential(
    jwt: &str,
    status_list: Option<&str>,
    trusted: Option<&str>,
    now_s: i64,
) -> Result<Verified, Invalid> {
    let (issuer, claims) = verify_jws(jwt)?;
    if let Some(t) = trusted
        && t != issuer
    {
        return Err(Invalid::UntrustedIssuer(issuer));
    }
    let types = claims["type"].as_array().cloned().unwrap_or_default();
    if !types.iter().any(|t| t == "OpenBadgeCredential") {
        return Err(Invalid::Malformed("not an OpenBadgeCredential".into()));
    }
    let nbf = claims["nbf"].as_i64().unwrap_or(0);
    if now_s + 60 < nbf {
        return Err(Invalid::NotYetValid);
    }
    let exp = claims["exp"]
        .as_i64()
        .ok_or_else(|| Invalid::Malformed("no exp".into()))?;
    if now_s >= exp {
        return Err(Invalid::Expired);
    }
    let revoked = match status_list {
        None => None,
        Some(list) => Some(check_status(&claims, &issuer, list)?),
    };
    if revoked == Some(true) {
        return Err(Invalid::Revoked);
    }
    Ok(Verified {
        issuer,
        claims,
        revoked,
    })
}

fn check_status(claims: &Value, issuer: &str, list_jwt: &str) -> Result<bool, Invalid> {
    let (list_issuer, list) =
        verify_jws(list_jwt).map_err(|e| Invalid::StatusList(format!("the list itself: {e}")))?;
    if list_issuer != issuer {
        return Err(Invalid::StatusList(
            "issued by someone else than the credential".into(),
        ));
    }
    let status = &claims["credentialStatus"];
    if status["statusListCredential"] != list["id"] {
        return Err(Invalid::StatusList(
            "the credential points to another list".into(),
        ));
    }
    let index: usize = status["statusListIndex"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Invalid::StatusList("no statusListIndex".into()))?;
    let bits = list["credentialSubject"]["encodedList"]
        .as_str()
        .and_then(decode_bitstring)
        .ok_or_else(|| Invalid::StatusList("encodedList unreadable".into()))?;
    bit(&bits, index).ok_or_else(|| Invalid::StatusList("index outside the list".into()))
}

/// Standard base64 (for e-mail attachments).
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

// ---- the offline verifier's report (`kreki verify-credential`) ---------------------

/// The credential in a file: a compact JWS, or JSON with a `credential` field (also inside
/// `data`, as `GET /certificate/{id}/credential` answers).
pub fn extract_jwt(text: &str) -> Option<String> {
    let t = text.trim();
    if t.starts_with('{') {
        let v: Value = serde_json::from_str(t).ok()?;
        return v["credential"]
            .as_str()
            .or_else(|| v["data"]["credential"].as_str())
            .map(str::to_string);
    }
    Some(t.to_string())
}

/// Verify and describe, for people: `(valid, lines)`.
pub fn report(
    credential_text: &str,
    status_list_text: Option<&str>,
    trusted_issuer: Option<&str>,
    now_s: i64,
) -> (bool, Vec<String>) {
    let Some(jwt) = extract_jwt(credential_text) else {
        return (
            false,
            vec!["INVALID: the file holds no credential / berkas tidak berisi kredensial".into()],
        );
    };
    let list = status_list_text.map(|s| extract_jwt(s).unwrap_or_default());
    match verify_credential(&jwt, list.as_deref(), trusted_issuer, now_s) {
        Ok(v) => {
            let c = &v.claims;
            let mut lines = vec![
                "VALID: signature and validity period check out / tanda tangan dan masa berlaku sah"
                    .to_string(),
                format!("certificate: {}", v.certificate_id().unwrap_or("?")),
                format!("holder:      {}", v.holder_name().unwrap_or("?")),
                format!(
                    "achievement: {}",
                    c["credentialSubject"]["achievement"]["name"]
                        .as_str()
                        .unwrap_or("?")
                ),
                format!("valid from:  {}", c["validFrom"].as_str().unwrap_or("?")),
                format!("valid until: {}", c["validUntil"].as_str().unwrap_or("?")),
                format!("issuer:      {}", v.issuer),
            ];
            if trusted_issuer.is_none() {
                lines.push(
                    "issuer not pinned: compare it with the KREKI issuer (GET /api/lms/v1/issuer) or pass --issuer"
                        .into(),
                );
            }
            lines.push(match v.revoked {
                None => {
                    "revocation not checked (no --status-list given) / pencabutan tidak diperiksa"
                        .into()
                }
                Some(_) => "revocation checked: not revoked / tidak dicabut".into(),
            });
            (true, lines)
        }
        Err(e) => (false, vec![format!("INVALID: {e}")]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn issuer() -> Issuer {
        Issuer::from_pkcs8(&Issuer::generate_pkcs8().unwrap()).unwrap()
    }

    fn input(idx: i64) -> CredentialInput<'static> {
        CredentialInput {
            base_url: "https://kreki.test",
            certificate_id: "BHD-BASIC-2026-0001",
            holder_account: "acct-1",
            holder_name: "Siti Rahma",
            course_id: "bhd-basic",
            course_name: "BHD Dasar",
            course_summary: "x",
            level: "basic",
            issued_at: 1_700_000_000,
            valid_until: 1_800_000_000,
            status_index: idx,
        }
    }

    #[test]
    fn did_key_round_trip_and_known_vector() {
        // did:key test vector of the spec (Ed25519).
        let did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let pk = did_key_public(did).unwrap();
        assert_eq!(did_key(&pk), did);
        assert!(
            did_key_public("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme").is_none()
        );
    }

    #[test]
    fn sign_verify_alter_revoke() {
        let i = issuer();
        let jwt = i.sign(&certificate_claims(&input(5), &i.did));
        let now = 1_750_000_000;
        let v = verify_credential(&jwt, None, Some(&i.did), now).unwrap();
        assert_eq!(v.revoked, None);
        assert_eq!(v.certificate_id(), Some("BHD-BASIC-2026-0001"));
        assert_eq!(v.holder_name(), Some("Siti Rahma"));
        assert_eq!(
            verify_credential(&jwt, None, None, 1_800_000_000).unwrap_err(),
            Invalid::Expired
        );
        // Altered payload: signature fails.
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut claims = part(parts[1]).unwrap();
        claims["exp"] = json!(1_900_000_000);
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert_eq!(
            verify_credential(&forged, None, None, now).unwrap_err(),
            Invalid::Signature
        );
        // Signed by another key claiming the same issuer: the kid/iss check catches it.
        let other = issuer();
        let mut c = certificate_claims(&input(5), &i.did);
        c["iss"] = json!(i.did);
        let forged2 = other.sign(&c);
        assert!(verify_credential(&forged2, None, None, now).is_err());
        // Self-issued by another key: not the trusted issuer.
        let own = other.sign(&certificate_claims(&input(5), &other.did));
        assert!(matches!(
            verify_credential(&own, None, Some(&i.did), now),
            Err(Invalid::UntrustedIssuer(_))
        ));
        // Status list.
        let list = i.sign(&status_list_claims("https://kreki.test", &i.did, &[3], now));
        assert_eq!(
            verify_credential(&jwt, Some(&list), None, now)
                .unwrap()
                .revoked,
            Some(false)
        );
        let list = i.sign(&status_list_claims("https://kreki.test", &i.did, &[5], now));
        assert_eq!(
            verify_credential(&jwt, Some(&list), None, now).unwrap_err(),
            Invalid::Revoked
        );
        let foreign = other.sign(&status_list_claims(
            "https://kreki.test",
            &other.did,
            &[],
            now,
        ));
        assert!(matches!(
            verify_credential(&jwt, Some(&foreign), None, now),
            Err(Invalid::StatusList(_))
        ));
    }

    #[test]
    fn report_says_what_was_checked() {
        let i = issuer();
        let now = 1_750_000_000;
        let jwt = i.sign(&certificate_claims(&input(2), &i.did));
        let (ok, lines) = report(&jwt, None, None, now);
        assert!(ok, "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("revocation not checked"))
        );
        assert!(lines.iter().any(|l| l.contains("Siti Rahma")));
        // The JSON answer of the API works as a file too.
        let json = serde_json::json!({"success": true, "data": {"credential": jwt}}).to_string();
        let list = i.sign(&status_list_claims("https://kreki.test", &i.did, &[], now));
        let (ok, lines) = report(&json, Some(&list), Some(&i.did), now);
        assert!(ok);
        assert!(lines.iter().any(|l| l.contains("not revoked")));
        assert!(!lines.iter().any(|l| l.contains("not pinned")));
        let revoked = i.sign(&status_list_claims("https://kreki.test", &i.did, &[2], now));
        let (ok, lines) = report(&jwt, Some(&revoked), None, now);
        assert!(!ok);
        assert_eq!(lines, ["INVALID: revoked"]);
        let mut tampered = jwt.clone();
        tampered.insert(40, 'A');
        assert!(!report(&tampered, None, None, now).0);
        assert!(!report("", None, None, now).0);
    }

    /// How long an offline verification takes (signature, expiry, and with a status list:
    /// its signature, GZIP inflate of 16 KiB, the bit). Printed; bounded loosely.
    #[test]
    fn verification_time() {
        let i = issuer();
        let now = 1_750_000_000;
        let jwt = i.sign(&certificate_claims(&input(77), &i.did));
        let list = i.sign(&status_list_claims(
            "https://kreki.test",
            &i.did,
            &[1, 2, 3],
            now,
        ));
        let n = 200u32;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(verify_credential(&jwt, None, Some(&i.did), now).is_ok());
        }
        let plain = t.elapsed() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert_eq!(
                verify_credential(&jwt, Some(&list), None, now)
                    .unwrap()
                    .revoked,
                Some(false)
            );
        }
        let with_list = t.elapsed() / n;
        eprintln!(
            "credential: {} bytes; status list: {} bytes; verify {plain:?}, with status list {with_list:?} (debug build)",
            jwt.len(),
            list.len()
        );
        assert!(plain < std::time::Duration::from_millis(50), "{plain:?}");
    }

    #[test]
    fn bitstring_is_big_and_round_trips() {
        let enc = encode_bitstring(&bitstring(&[0, 131_071]));
        assert!(enc.starts_with('u'));
        let bits = decode_bitstring(&enc).unwrap();
        assert_eq!(bits.len() * 8, STATUS_LIST_SIZE);
        assert_eq!(bit(&bits, 0), Some(true));
        assert_eq!(bit(&bits, 1), Some(false));
        assert_eq!(bit(&bits, 131_071), Some(true));
    }
}
