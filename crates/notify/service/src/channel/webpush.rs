//! Web Push: message encryption of RFC 8291 (`aes128gcm` content coding of RFC 8188),
//! VAPID authentication of RFC 8292 (an ES256 JWT per push service origin), delivery of
//! RFC 8030 (`TTL`, `Urgency`, `Topic`). Built from primitives (P-256 ECDH, HKDF-SHA-256,
//! AES-128-GCM, ECDSA); tests decrypt with PyPI `http-ece` and verify the JWT with PyJWT.

use std::{sync::Arc, time::Duration};

use aes_gcm::{Aes128Gcm, KeyInit, aead::Aead};
use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use hkdf::Hkdf;
use kreki_notify_contracts::{Channel as ChannelKind, Priority};
use p256::{PublicKey, ecdh::EphemeralSecret, elliptic_curve::sec1::ToEncodedPoint};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use sha2::Sha256;

use super::{Address, Channel, Outgoing, SendError, Sent, classify, network};
use crate::endpoint::{EndpointPolicy, Guarded, Resolver, refused_by_guard};

/// Record size announced in the header (one record carries the whole payload).
const RECORD_SIZE: u32 = 4096;
/// Push services accept at most 4096 bytes of body; header (86) + tag (16) + delimiter.
pub const MAX_PAYLOAD: usize = 4096 - 86 - 16 - 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the subscription's p256dh key is not a P-256 point")]
    BadPublicKey,
    #[error("the subscription's auth secret is not 16 bytes")]
    BadAuth,
    #[error("payload larger than one push message")]
    TooLarge,
    #[error("encryption failed")]
    Encrypt,
}

/// Encrypt `plaintext` for a subscription (`p256dh`: the browser's uncompressed public key,
/// `auth`: its 16-byte secret; both base64url as `PushSubscription.toJSON()` gives them).
pub fn encrypt(plaintext: &[u8], p256dh: &str, auth: &str) -> Result<Vec<u8>, CryptoError> {
    let ua_public_bytes = decode_b64(p256dh).ok_or(CryptoError::BadPublicKey)?;
    let auth_secret = decode_b64(auth).ok_or(CryptoError::BadAuth)?;
    if auth_secret.len() != 16 {
        return Err(CryptoError::BadAuth);
    }
    if plaintext.len() > MAX_PAYLOAD {
        return Err(CryptoError::TooLarge);
    }
    let ua_public =
        PublicKey::from_sec1_bytes(&ua_public_bytes).map_err(|_| CryptoError::BadPublicKey)?;
    let ua_public_bytes = ua_public.to_encoded_point(false);
    let mut rng = rand::rngs::OsRng;
    let as_secret = EphemeralSecret::random(&mut rng);
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = as_secret.diffie_hellman(&ua_public);

    // RFC 8291 §3.4: IKM from the ECDH secret, keyed by the auth secret, bound to both keys.
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public_bytes.as_bytes());
    key_info.extend_from_slice(as_public.as_bytes());
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&auth_secret), &shared.raw_secret_bytes()[..])
        .expand(&key_info, &mut ikm)
        .map_err(|_| CryptoError::Encrypt)?;

    // RFC 8188 §2.2: content-encryption key and nonce from a random salt.
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rng, &mut salt);
    let hk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    hk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| CryptoError::Encrypt)?;
    hk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| CryptoError::Encrypt)?;

    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(2); // padding delimiter of the last (only) record
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| CryptoError::Encrypt)?;
    let sealed = cipher
        .encrypt(&nonce.into(), record.as_slice())
        .map_err(|_| CryptoError::Encrypt)?;

    let mut out = Vec::with_capacity(86 + sealed.len());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    out.push(65);
    out.extend_from_slice(as_public.as_bytes());
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    B64.decode(s).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s)
            .ok()
    })
}

/// The application server's VAPID key pair.
pub struct Vapid {
    key: EcdsaKeyPair,
    subject: String,
}

impl Vapid {
    /// A new PKCS#8 key (DER, base64url).
    pub fn generate() -> Result<String, ring::error::Unspecified> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())?;
        Ok(B64.encode(pkcs8.as_ref()))
    }

    pub fn from_pkcs8(b64: &str, subject: String) -> anyhow::Result<Vapid> {
        let der = decode_b64(b64).ok_or_else(|| anyhow::anyhow!("VAPID key is not base64url"))?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("VAPID key is not a P-256 PKCS#8 key"))?;
        Ok(Vapid { key, subject })
    }

    /// The public key as the browser's `applicationServerKey` wants it (uncompressed
    /// point, base64url).
    pub fn public_key(&self) -> String {
        B64.encode(self.key.public_key().as_ref())
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push endpoint.
    pub fn authorization(&self, endpoint: &str, now_s: i64) -> Result<String, SendError> {
        let url = url::Url::parse(endpoint)
            .map_err(|_| SendError::Permanent("push endpoint is not a URL".into()))?;
        let aud = url.origin().ascii_serialization();
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims =
            serde_json::json!({ "aud": aud, "exp": now_s + 12 * 3600, "sub": self.subject });
        let claims = B64.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let sig = self
            .key
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| SendError::Transient("VAPID signing failed".into()))?;
        Ok(format!(
            "vapid t={signing_input}.{}, k={}",
            B64.encode(sig.as_ref()),
            self.public_key()
        ))
    }
}

/// RFC 8030 `Urgency` of a priority.
pub fn urgency(p: Priority) -> &'static str {
    match p {
        Priority::Critical | Priority::High => "high",
        Priority::Normal => "normal",
        Priority::Low => "low",
    }
}

pub struct WebPushChannel {
    vapid: Vapid,
    http: reqwest::Client,
    policy: Arc<EndpointPolicy>,
}

impl WebPushChannel {
    /// Sends only to endpoints `policy` admits, connecting to the addresses `resolver` gave
    /// and the policy checked ([`Guarded`]); redirects are not followed.
    pub fn new(
        vapid: Vapid,
        timeout: Duration,
        policy: Arc<EndpointPolicy>,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        let guard = Arc::new(Guarded {
            resolver,
            policy: policy.clone(),
        });
        Self {
            vapid,
            // No proxy from the environment: a proxy would resolve the name itself and
            // connect where the check never looked.
            http: super::client_builder(timeout)
                .no_proxy()
                .dns_resolver(guard)
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
            policy,
        }
    }

    pub fn public_key(&self) -> String {
        self.vapid.public_key()
    }
}

/// What the service worker receives (decrypted): enough to show the notification and open
/// the right screen; apps drop a second copy by `id`.
pub fn payload(m: &Outgoing) -> Vec<u8> {
    serde_json::json!({
        "id": m.id,
        "template": m.template,
        "priority": m.priority,
        "title": m.title,
        "body": m.body,
        "correlation_id": m.correlation_id,
    })
    .to_string()
    .into_bytes()
}

#[async_trait]
impl Channel for WebPushChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Push
    }

    async fn send(&self, m: &Outgoing) -> Result<Sent, SendError> {
        let Address::WebPush {
            endpoint,
            p256dh,
            auth,
        } = &m.to
        else {
            return Err(SendError::Permanent("not a push subscription".into()));
        };
        // Checked again at every send (a subscription may predate the rules): an endpoint
        // that is refused can never work, so it goes as a gone one does.
        self.policy
            .check_url(endpoint)
            .map_err(|e| SendError::Gone(e.to_string()))?;
        let body = encrypt(&payload(m), p256dh, auth).map_err(|e| match e {
            CryptoError::Encrypt => SendError::Transient(e.to_string()),
            _ => SendError::Gone(e.to_string()),
        })?;
        let authorization = self.vapid.authorization(
            endpoint,
            kreki_platform::time_util::now_micros() / 1_000_000,
        )?;
        // Topic: a second copy of the same message replaces an undelivered first one at
        // the push service (at most 32 base64url characters).
        let topic: String = B64
            .encode(ring::digest::digest(
                &ring::digest::SHA256,
                m.reference.as_bytes(),
            ))
            .chars()
            .take(32)
            .collect();
        let res = self
            .http
            .post(endpoint)
            .header("TTL", m.ttl.as_secs().max(1).to_string())
            .header("Urgency", urgency(m.priority))
            .header("Topic", topic)
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", authorization)
            .body(body)
            .send()
            .await
            .map_err(|e| match refused_by_guard(&e) {
                Some(refused) => SendError::Gone(refused.to_string()),
                None => network(&e),
            })?;
        let status = res.status();
        if status.is_success() {
            let location = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Ok(Sent {
                provider_ref: location,
                delivered: false,
            });
        }
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        Err(match status.as_u16() {
            413 => SendError::Permanent("payload too large for the push service".into()),
            // An invalid VAPID signature is ours to fix; the subscription is still good.
            400 | 401 | 403 => {
                SendError::Transient(format!("HTTP {}: {}", status.as_u16(), super::short(&text)))
            }
            _ => classify(status, &headers, &text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_and_sizes() {
        let ua = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let p256dh = B64.encode(ua.public_key().to_encoded_point(false).as_bytes());
        let auth = B64.encode([7u8; 16]);
        let out = encrypt(b"hello", &p256dh, &auth).unwrap();
        assert_eq!(out.len(), 16 + 4 + 1 + 65 + 5 + 1 + 16);
        assert_eq!(&out[16..20], &4096u32.to_be_bytes());
        assert_eq!(out[20], 65);
        assert_eq!(out[21], 4, "uncompressed point");
        assert_eq!(
            encrypt(b"x", "not-a-key", &auth),
            Err(CryptoError::BadPublicKey)
        );
        assert_eq!(
            encrypt(b"x", &p256dh, &B64.encode([1u8; 8])),
            Err(CryptoError::BadAuth)
        );
        assert_eq!(
            encrypt(&vec![b'a'; MAX_PAYLOAD + 1], &p256dh, &auth),
            Err(CryptoError::TooLarge)
        );
    }

    #[test]
    fn vapid_header() {
        let v = Vapid::from_pkcs8(&Vapid::generate().unwrap(), "mailto:ops@example.org".into())
            .unwrap();
        let h = v
            .authorization("https://push.example.net/wpush/v2/abc", 1_700_000_000)
            .unwrap();
        assert!(h.starts_with("vapid t="));
        let jwt = h["vapid t=".len()..].split(',').next().unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["sub"], "mailto:ops@example.org");
        assert_eq!(B64.decode(v.public_key()).unwrap().len(), 65);
    }
}
