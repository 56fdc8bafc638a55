//! Demo accounts for every role (`kreki up --demo`), with fixed passwords and, for the admin
//! roles, fixed TOTP seeds — so that people and browser tests can sign in. Never in production:
//! only `kreki up --demo` calls this.

use kreki_identity_contracts::Role;

use crate::{
    idp::Idp,
    store::{NewAccount, StoreError},
};

/// (role, e-mail, phone, name, TOTP seed).
pub const ACCOUNTS: &[(Role, &str, &str, &str, Option<&str>)] = &[
    (
        Role::Public,
        "warga@demo.kreki.id",
        "+6281100000001",
        "Siti Warga",
        None,
    ),
    (
        Role::Volunteer,
        "relawan@demo.kreki.id",
        "+6281100000002",
        "Budi Relawan",
        None,
    ),
    (
        Role::VolunteerLead,
        "ketua@demo.kreki.id",
        "+6281100000003",
        "Dewi Ketua Tim",
        None,
    ),
    (
        Role::TrainingAdmin,
        "pelatihan@demo.kreki.id",
        "+6281100000004",
        "Agus Admin Pelatihan",
        Some("KREKITRAININGADMINDEMOSEED234567"),
    ),
    (
        Role::OpsAdmin,
        "ops@demo.kreki.id",
        "+6281100000005",
        "Rina Admin Ops",
        Some("KREKIOPSADMINDEMOSEED234567ABCDE"),
    ),
    (
        Role::SystemAdmin,
        "sysadmin@demo.kreki.id",
        "+6281100000006",
        "Joko Admin Sistem",
        Some("KREKISYSTEMADMINDEMOSEED234567AB"),
    ),
    (
        Role::Partner,
        "mitra@demo.kreki.id",
        "+6281100000007",
        "Mitra PSC 119",
        None,
    ),
];

/// The demo password of every demo account.
pub const PASSWORD: &str = "Demo-Kreki-119!";

pub async fn seed(idp: &Idp) -> anyhow::Result<()> {
    let hash = idp.hash_password(PASSWORD).await?;
    let mut created = 0;
    for (role, email, phone, name, seed) in ACCOUNTS {
        if idp.store.account_by("email", email).await?.is_some() {
            continue;
        }
        let n = NewAccount {
            email: Some((*email).into()),
            phone: Some((*phone).into()),
            full_name: (*name).into(),
            password_hash: Some(hash.clone()),
            role: *role,
            language: "id".into(),
            email_verified: true,
            phone_verified: true,
            totp_secret: seed.map(str::to_string),
        };
        match idp.store.create_account(n, None).await {
            Ok(_) | Err(StoreError::Taken) => created += 1,
            Err(e) => return Err(anyhow::anyhow!(e)),
        }
    }
    tracing::info!(created, "demo accounts ready (password {PASSWORD})");
    Ok(())
}
