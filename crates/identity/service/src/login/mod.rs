//! Signing in: password, refresh and sign-out (`password`), phone codes (`codes`), the
//! second factor and its management (`mfa`), passkeys (`passkeys`); what a completed first
//! factor leads to, tokens or the MFA step (`outcome`).

pub mod codes;
pub mod mfa;
pub mod outcome;
pub mod passkeys;
pub mod password;
