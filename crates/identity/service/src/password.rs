//! Human passwords: the org policy (≥ 8 characters, an upper-case letter, a digit) plus a
//! strength estimate (zxcvbn: common, guessable and personal passwords are refused), hashed
//! with Argon2id whose parameters are recorded in each hash (PHC string) so they can be raised.

use std::sync::LazyLock;

use std::sync::Mutex;

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, SaltString},
};

#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weakness {
    TooShort,
    TooLong,
    NoUpper,
    NoDigit,
    /// zxcvbn's estimate is below 3 ("safely unguessable").
    Guessable,
}

pub const MAX_LEN: usize = 128;

/// Check a new password against the policy; `personal` are the user's own details (name,
/// e-mail, phone), which a password must not be built from.
pub fn check(password: &str, personal: &[&str]) -> Result<(), Weakness> {
    let n = password.chars().count();
    if n < 8 {
        return Err(Weakness::TooShort);
    }
    if n > MAX_LEN {
        return Err(Weakness::TooLong);
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        return Err(Weakness::NoUpper);
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(Weakness::NoDigit);
    }
    // The user's details as zxcvbn dictionary words: whole, without spaces, word by word, and
    // an e-mail's local part, so that "Budisantoso1990" is caught for "Budi Santoso".
    let mut owned: Vec<String> = Vec::new();
    for p in personal
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
    {
        owned.push(p.replace(' ', ""));
        owned.extend(
            p.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 3)
                .map(str::to_string),
        );
        if let Some((local, _)) = p.split_once('@') {
            owned.push(local.to_string());
        }
        owned.push(p);
    }
    let mut inputs: Vec<&str> = owned.iter().map(String::as_str).collect();
    inputs.extend([
        "kreki",
        "relawan",
        "help119",
        "darurat",
        "indonesia",
        "password",
    ]);
    if (zxcvbn::zxcvbn(password, &inputs).score() as u8) < 3 {
        return Err(Weakness::Guessable);
    }
    Ok(())
}

fn params(cost: Cost) -> anyhow::Result<Params> {
    Params::new(cost.memory_kib, cost.iterations, cost.lanes, None)
        .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))
}

/// Argon2's working memory (19 MiB by default), kept for the next hash instead of being
/// freed: the allocator would otherwise keep a copy per thread arena, and a burst of sign-ins
/// would leave hundreds of MiB behind. At most one buffer per concurrent hash (the caller
/// bounds concurrency to one hash per core).
static BUFFERS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

fn with_blocks<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let mut blocks = BUFFERS
        .lock()
        .ok()
        .and_then(|mut b| b.pop())
        .unwrap_or_default();
    if blocks.len() < count {
        blocks.resize(count, Block::default());
    }
    let out = f(&mut blocks[..count]);
    if let Ok(mut b) = BUFFERS.lock()
        && b.len() < 16
    {
        b.push(blocks);
    }
    out
}

fn compute(
    algorithm: Algorithm,
    version: Version,
    p: Params,
    pw: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    let count = p.block_count();
    let a = Argon2::new(algorithm, version, p);
    with_blocks(count, |blocks| {
        a.hash_password_into_with_memory(pw, salt, out, blocks)
    })
    .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

/// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) of a new random salt.
pub fn hash(password: &str, cost: Cost) -> anyhow::Result<String> {
    let p = params(cost)?;
    let salt_raw: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_raw).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = [0u8; 32];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        p.clone(),
        password.as_bytes(),
        &salt_raw,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&p).map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Verify with the parameters recorded in the hash; the comparison is constant-time.
pub fn verify(password: &str, phc: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed
            .version
            .map_or(Some(Version::V0x13), |v| Version::try_from(v).ok())?;
        let p = Params::try_from(&parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let mut out = vec![0u8; expected.len()];
        compute(algorithm, version, p, password.as_bytes(), salt, &mut out).ok()?;
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}
/// Whether a stored hash was made with weaker parameters than `cost`.
pub fn needs_rehash(phc: &str, cost: Cost) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(p) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || p.m_cost() < cost.memory_kib
        || p.t_cost() < cost.iterations
}

static DUMMY: LazyLock<String> = LazyLock::new(|| {
    hash(
        "dummy-Password-1-for-timing",
        Cost {
            memory_kib: 19_456,
            iterations: 2,
            lanes: 1,
        },
    )
    .unwrap_or_default()
});

/// Spend the time of one verification when there is no account, so that an unknown
/// identifier cannot be told from a wrong password by timing.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: Cost = Cost {
        memory_kib: 8192,
        iterations: 1,
        lanes: 1,
    };

    #[test]
    fn policy() {
        assert_eq!(check("Ab1", &[]), Err(Weakness::TooShort));
        assert_eq!(check("abcdefgh1", &[]), Err(Weakness::NoUpper));
        assert_eq!(check("Abcdefghi", &[]), Err(Weakness::NoDigit));
        assert_eq!(check("Password1", &[]), Err(Weakness::Guessable));
        assert_eq!(check("Jakarta2024", &[]), Err(Weakness::Guessable));
        assert_eq!(
            check(
                "Budisantoso1990",
                &["Budi Santoso", "budisantoso1990@example.org"]
            ),
            Err(Weakness::Guessable)
        );
        assert_eq!(check(&"Aa1".repeat(50), &[]), Err(Weakness::TooLong));
        assert!(check("Kopi-Tubruk-Senja-77", &[]).is_ok());
    }

    #[test]
    fn hash_records_parameters_and_verifies() {
        let h = hash("Kopi-Tubruk-Senja-77", LOW).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{h}");
        assert!(verify("Kopi-Tubruk-Senja-77", &h));
        assert!(!verify("Kopi-Tubruk-Senja-78", &h));
        assert!(!verify("x", "not a hash"));
        assert!(needs_rehash(
            &h,
            Cost {
                memory_kib: 19_456,
                iterations: 2,
                lanes: 1
            }
        ));
        assert!(!needs_rehash(&h, LOW));
    }

    #[test]
    fn interoperates_with_the_argon2_crate_own_phc_api() {
        use argon2::{PasswordHasher, PasswordVerifier};
        // Ours → theirs.
        let ours = hash("Kopi-Tubruk-Senja-77", LOW).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"Kopi-Tubruk-Senja-77", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"Kopi-Tubruk-Senja-78", &parsed)
                .is_err()
        );
        // Theirs (other parameters, argon2i too) → ours.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        for alg in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let a = Argon2::new(alg, Version::V0x13, Params::new(9000, 2, 2, None).unwrap());
            let theirs = a
                .hash_password(b"Sate-Padang-31", &salt)
                .unwrap()
                .to_string();
            assert!(verify("Sate-Padang-31", &theirs), "{theirs}");
            assert!(!verify("Sate-Padang-32", &theirs));
        }
    }
}
