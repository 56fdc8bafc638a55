//! Demo profiles (`kreki up --demo`) for the demo volunteer accounts of KREKI ID
//! (`relawan@demo.kreki.id`, `ketua@demo.kreki.id`): verified, in Jakarta Pusat (3171), with a
//! weekly schedule. The volunteer is a nurse with an STR, so the Emergency Core may offer them
//! critical cases before any LMS certificate exists. Never in production.

use sqlx::AnyConnection;

use crate::{
    model::{Background, EmergencyContact, Profile, Schedule, Slot, VerificationState},
    store,
};

pub struct Spec {
    pub email: &'static str,
    pub name: &'static str,
    pub phone: &'static str,
    pub background: Background,
    pub registration_number: Option<&'static str>,
    pub skills: &'static [&'static str],
}

pub const SPECS: &[Spec] = &[
    Spec {
        email: "relawan@demo.kreki.id",
        name: "Budi Relawan",
        phone: "+6281100000002",
        background: Background::Nurse,
        registration_number: Some("STR-DEMO-0002"),
        skills: &["aed", "cpr", "first_aid"],
    },
    Spec {
        email: "ketua@demo.kreki.id",
        name: "Dewi Ketua Tim",
        phone: "+6281100000003",
        background: Background::Lay,
        registration_number: None,
        skills: &["cpr", "first_aid", "team_lead"],
    },
];

pub fn spec_for(email: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.email.eq_ignore_ascii_case(email))
}

fn slot(day: &str, start: &str, end: &str) -> Slot {
    Slot {
        day: day.into(),
        start: start.into(),
        end: end.into(),
    }
}

/// The demo lead reviews Jakarta Pusat (3171), as an admin would have set it. Idempotent.
pub async fn seed_lead_area(conn: &mut AnyConnection, account_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO lead_areas (lead_id, city_code, set_by, set_at) VALUES ($1, '3171', 'demo', $2) \
         ON CONFLICT (lead_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(kreki_platform::time_util::now_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Create the profile, verify it (actor `demo`) and publish its eligibility. Idempotent: an
/// existing profile is left alone.
pub async fn seed_profile(
    conn: &mut kreki_platform::storage::Tx,
    account_id: &str,
    spec: &Spec,
) -> Result<(), sqlx::Error> {
    if store::profile(&mut *conn, account_id).await?.is_some() {
        return Ok(());
    }
    let profile = Profile {
        display_name: spec.name.into(),
        phone: spec.phone.into(),
        province_code: "31".into(),
        city_code: "3171".into(),
        languages: vec!["en".into(), "id".into()],
        skills: spec.skills.iter().map(|s| s.to_string()).collect(),
        background: spec.background,
        registration_number: spec.registration_number.map(str::to_string),
        emergency_contact: EmergencyContact {
            name: "Keluarga Demo".into(),
            phone: "+6281100000099".into(),
            relationship: Some("keluarga".into()),
        },
        location_consent: true,
    };
    store::save_profile(&mut *conn, account_id, &profile).await?;
    let mut days: Vec<Slot> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| slot(d, "18:00", "22:00"))
        .collect();
    days.push(slot("sat", "08:00", "17:00"));
    store::save_schedule(
        &mut *conn,
        account_id,
        &Schedule {
            timezone: "Asia/Jakarta".into(),
            slots: days,
        },
    )
    .await?;
    for (action, to) in [
        ("submit", VerificationState::Submitted),
        ("approve", VerificationState::Verified),
    ] {
        let row = store::profile(&mut *conn, account_id)
            .await?
            .ok_or_else(|| sqlx::Error::RowNotFound)?;
        store::set_state(&mut *conn, &row, action, to, "demo", Some("demo")).await?;
    }
    store::refresh_eligibility(conn, account_id).await?;
    tracing::info!(account = %account_id, "demo volunteer profile ready");
    Ok(())
}
