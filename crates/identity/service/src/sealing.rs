//! Secrets at rest (security finding 12): token signing keys and TOTP secrets are stored
//! encrypted with AES-256-GCM (ring) under a data-encryption key that is not in the database,
//! so that a copy of the database (a backup, a dump) holds no usable key.
//!
//! - The key comes from `identity.encryption_secret` (or `KREKI_IDENTITY__ENCRYPTION_SECRET_FILE`):
//!   one or more base64 keys of 32 bytes, separated by commas; the first encrypts, all decrypt.
//!   Without one (`kreki up`) a key is made on the first start in the data directory
//!   (`identity-encryption.key`, mode 0600) and read from there afterwards.
//! - A stored value is `enc1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the key id is the
//!   first 8 hex digits of the key's SHA-256, so a new key can be put first and rows sealed
//!   with an older one still open. The value is bound to its place (the table, column and row
//!   id are the associated data): a sealed value copied to another row does not open.
//! - On every start, rows in clear (written before encryption existed) and rows sealed with a
//!   key that is not the first are sealed again with the first (`Store::reseal`).

use std::{collections::HashMap, path::Path};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64},
};
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};

const PREFIX: &str = "enc1:";
/// The key file `kreki up` makes in the data directory when no key is configured.
pub const KEY_FILE: &str = "identity-encryption.key";

pub struct Sealer {
    current: String,
    keys: HashMap<String, LessSafeKey>,
    rng: SystemRandom,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed with an unknown key {0} (add it to identity.encryption_secret)")]
    UnknownKey(String),
    #[error("the sealed value is damaged or belongs elsewhere")]
    Damaged,
}

fn key_id(raw: &[u8]) -> String {
    kreki_platform::types::sha256_hex(raw)[..8].to_string()
}

impl Sealer {
    /// From a comma-separated list of base64 keys (32 bytes each), the first one current.
    pub fn from_secret(spec: &str) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        let mut current = None;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let raw = STANDARD
                .decode(part)
                .or_else(|_| B64.decode(part))
                .map_err(|_| anyhow::anyhow!("identity.encryption_secret: not base64"))?;
            anyhow::ensure!(
                raw.len() == 32,
                "identity.encryption_secret: each key is 32 bytes (base64 of 32 random bytes)"
            );
            let id = key_id(&raw);
            let key = UnboundKey::new(&AES_256_GCM, &raw)
                .map_err(|_| anyhow::anyhow!("identity.encryption_secret: unusable key"))?;
            current.get_or_insert_with(|| id.clone());
            keys.insert(id, LessSafeKey::new(key));
        }
        let current =
            current.ok_or_else(|| anyhow::anyhow!("identity.encryption_secret: no key"))?;
        Ok(Self {
            current,
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// The key file in `dir`, made (mode 0600) with a new random key when missing.
    pub fn from_key_file(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_secret(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let mut raw = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut raw)
                    .map_err(|_| anyhow::anyhow!("no randomness"))?;
                let text = STANDARD.encode(raw);
                match write_private(&path, &format!("{text}\n")) {
                    Ok(()) => {}
                    // Another process on the same data directory made it first.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Self::from_secret(std::fs::read_to_string(&path)?.trim());
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!("cannot write {}: {e}", path.display()));
                    }
                }
                tracing::warn!(file = %path.display(), "made a new data-encryption key for signing keys and TOTP secrets: back it up apart from the databases (they cannot be opened without it)");
                Self::from_secret(&text)
            }
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    /// Whether a stored value is sealed with the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(id, _)| id == self.current)
    }

    /// Seal `plain` for its place (`aad`, e.g. `accounts.totp_secret:<id>`).
    pub fn seal(&self, plain: &str, aad: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The system's randomness does not fail on supported platforms; an all-zero nonce
        // would still be unique per value only by luck, so refuse to go on instead.
        #[allow(clippy::expect_used)]
        self.rng.fill(&mut nonce).expect("system randomness");
        let mut buf = plain.as_bytes().to_vec();
        let key = &self.keys[&self.current];
        #[allow(clippy::expect_used)]
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut buf,
        )
        .expect("AES-GCM sealing of a short value");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}:{}", self.current, B64.encode(out))
    }

    /// Open a stored value; a value in clear (from before encryption) is returned as it is.
    pub fn open(&self, stored: &str, aad: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, body) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| SealError::UnknownKey(id.to_string()))?;
        let raw = B64.decode(body).map_err(|_| SealError::Damaged)?;
        if raw.len() < NONCE_LEN {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Damaged)?;
        let mut buf = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::Damaged)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_and_with_a_known_key() {
        let old = Sealer::from_secret(&STANDARD.encode([1u8; 32])).unwrap();
        let s = old.seal("JBSWY3DPEHPK3PXP", "accounts.totp_secret:a1");
        assert!(s.starts_with("enc1:") && !s.contains("JBSWY3DP"));
        assert_eq!(
            old.open(&s, "accounts.totp_secret:a1").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(old.open(&s, "accounts.totp_secret:a2").is_err());
        assert_eq!(old.open("clear", "x").unwrap(), "clear");
        // A new key first: old values still open, and are no longer current.
        let both = Sealer::from_secret(&format!(
            "{},{}",
            STANDARD.encode([2u8; 32]),
            STANDARD.encode([1u8; 32])
        ))
        .unwrap();
        assert_eq!(
            both.open(&s, "accounts.totp_secret:a1").unwrap(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(old.is_current(&s) && !both.is_current(&s));
        let new = Sealer::from_secret(&STANDARD.encode([2u8; 32])).unwrap();
        assert!(matches!(
            new.open(&s, "accounts.totp_secret:a1"),
            Err(SealError::UnknownKey(_))
        ));
    }
}
