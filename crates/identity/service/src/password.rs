//! Human passwords: the org policy (≥ 8 characters, an upper-case letter, a digit) plus a
//! strength estimate (zxcvbn: common, guessable and personal passwords are refused), hashed
//! with Argon2id whose parameters are recorded in each hash (PHC string) so they can be raised.

use std::sync::LazyLock;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
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
    let mut inputs: Vec<&str> = personal.iter().copied().filter(|s| !s.is_empty()).collect();
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

fn hasher(cost: Cost) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.lanes, None)
        .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash(password: &str, cost: Cost) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Verify with the parameters recorded in the hash (constant time inside argon2).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
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
}
