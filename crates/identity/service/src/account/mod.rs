//! The own account: registration (`register`), profile and contact changes (`profile`),
//! passwords (`password`), e-mail verification (`email`), and the privacy rights of
//! UU 27/2022 (`privacy`: consents, export, erasure).

pub mod email;
pub mod password;
pub mod privacy;
pub mod profile;
pub mod register;
