//! `kreki up --demo`: simulated volunteers on duty around Jakarta and AEDs, and a simulator
//! (`--demo-sim off|move|auto-accept`) that moves them and answers offers, so a newcomer sees
//! a whole case happen. Demo volunteers have ids `demo-relawan-NNNN`.

use std::{sync::Arc, time::Duration};

use kreki_emergency_contracts::ResponderStatus;
use kreki_platform::{service::DemoSim, time_util::now_micros};
use kreki_volunteers_contracts::CertLevel;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::Row;

use crate::{
    aed::AedInput,
    cases::{
        complete::{CompleteRequest, complete_case},
        respond::{RespondAction, answer},
        status::report_status,
    },
    geo::LatLng,
    presence::Eligibility,
    state::AppState,
};

pub const VOLUNTEERS: usize = 3_000;
const PREFIX: &str = "demo-relawan-";

/// Jakarta's districts (lat, lng, spread in degrees).
pub const AREAS: &[(f64, f64, f64)] = &[
    (-6.1754, 106.8272, 0.05),
    (-6.2615, 106.8106, 0.04),
    (-6.2250, 106.9004, 0.04),
    (-6.1676, 106.7637, 0.04),
    (-6.1214, 106.8830, 0.03),
    (-6.2383, 106.9756, 0.04),
    (-6.4025, 106.7942, 0.04),
    (-6.1783, 106.6319, 0.04),
];

/// A random point in one of Jakarta's districts (the demo's and the load benchmark's).
pub fn spot(rng: &mut StdRng) -> (f64, f64) {
    let (lat, lng, s) = AREAS[rng.gen_range(0..AREAS.len())];
    (lat + rng.gen_range(-s..s), lng + rng.gen_range(-s..s))
}

/// Seed volunteers (on duty, eligible) and AEDs.
pub async fn seed(st: &AppState) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(119);
    let now = now_micros();
    let valid = Some(now + 2 * 365 * 86_400 * 1_000_000);
    for i in 0..VOLUNTEERS {
        let id = format!("{PREFIX}{i:04}");
        let roll = rng.gen_range(0..10);
        st.live.set_eligibility(
            &id,
            Eligibility {
                verified: true,
                cert_level: match roll {
                    0..=4 => CertLevel::Basic,
                    5..=6 => CertLevel::Plus,
                    _ => CertLevel::None,
                },
                cert_valid_until: if roll <= 6 { valid } else { None },
                health_professional: roll == 7,
                version: 0,
            },
        );
        let (lat, lng) = spot(&mut rng);
        st.live.locate(&id, LatLng::new(lat, lng)?, now);
    }
    let existing: i64 = sqlx::query("SELECT COUNT(*) FROM aeds")
        .fetch_one(st.store.db().pool())
        .await?
        .try_get(0)?;
    if existing == 0 {
        for i in 0..40 {
            let (lat, lng) = spot(&mut rng);
            let input = AedInput {
                name: format!("AED Demo {:02}", i + 1),
                latitude: lat,
                longitude: lng,
                address: Some(format!("Gedung demo {}, Jakarta", i + 1)),
                access: if i % 4 == 0 { "restricted" } else { "public" }.into(),
                hours: None,
                utc_offset_minutes: 420,
                contact: None,
            };
            st.aeds
                .save(
                    &uuid::Uuid::now_v7().to_string(),
                    &input,
                    LatLng::new(lat, lng)?,
                    true,
                )
                .await?;
        }
    }
    tracing::info!(
        volunteers = VOLUNTEERS,
        "demo volunteers on duty around Jakarta"
    );
    Ok(())
}

/// Run the simulator until shutdown.
pub async fn simulate(st: AppState, sim: DemoSim) {
    if sim == DemoSim::Off {
        return;
    }
    let st = Arc::new(st);
    let mut rng = StdRng::seed_from_u64(7);
    let mut tick: u64 = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tick += 1;
        if tick.is_multiple_of(3) {
            // Everyone takes a small step (about 30 m).
            for i in 0..VOLUNTEERS {
                let id = format!("{PREFIX}{i:04}");
                let Some(c) = st.live.nearby_of(&id) else {
                    continue;
                };
                let (lat, lng) = (
                    c.0 + rng.gen_range(-0.0003..0.0003),
                    c.1 + rng.gen_range(-0.0003..0.0003),
                );
                if let Ok(p) = LatLng::new(lat, lng) {
                    st.live.locate(&id, p, now_micros());
                }
            }
        }
        if sim == DemoSim::AutoAccept
            && let Err(e) = advance(&st).await
        {
            tracing::warn!(error = %e, "demo simulator step failed");
        }
    }
}

/// Answer offers after a few seconds, arrive, resolve and complete.
async fn advance(st: &AppState) -> anyhow::Result<()> {
    let cases = st.cases();
    let now = now_micros();
    let offers = sqlx::query("SELECT case_id, volunteer_id, distance_m FROM offers WHERE state = 'open' AND volunteer_id LIKE $1 AND sent_at < $2")
        .bind(format!("{PREFIX}%"))
        .bind(now - 3_000_000)
        .fetch_all(st.store.db().pool())
        .await?;
    for r in offers {
        let (case_id, vol, dist): (String, String, i64) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        // Riding a motorbike at about 20 km/h.
        let eta = u32::try_from(dist / 333 + 1).unwrap_or(10);
        let _ = answer(&cases, &case_id, &vol, RespondAction::Accept, Some(eta)).await;
    }
    let rows = sqlx::query(
        "SELECT r.case_id, r.volunteer_id, r.status, r.is_lead, r.updated_at FROM responders r JOIN cases c ON c.id = r.case_id \
         WHERE r.volunteer_id LIKE $1 AND c.status IN ('assigned', 'responding')",
    )
    .bind(format!("{PREFIX}%"))
    .fetch_all(st.store.db().pool())
    .await?;
    for r in rows {
        let (case_id, vol, status, lead, at): (String, String, String, i64, i64) = (
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        );
        let age_s = (now - at) / 1_000_000;
        match (ResponderStatus::parse(&status), age_s) {
            (Some(ResponderStatus::Accepted), a) if a >= 15 => {
                let _ = report_status(&cases, &case_id, &vol, ResponderStatus::Arrived, None).await;
            }
            (Some(ResponderStatus::Arrived), a) if a >= 10 => {
                let _ =
                    report_status(&cases, &case_id, &vol, ResponderStatus::Resolved, None).await;
            }
            (Some(ResponderStatus::Resolved), a) if a >= 5 && lead == 1 => {
                let record = CompleteRequest {
                    outcome: "recovered_on_scene".into(),
                    hospital_referral: None,
                    clinical: kreki_emergency_contracts::ClinicalRecord {
                        working_diagnosis: Some("demo".into()),
                        ..Default::default()
                    },
                };
                let _ = complete_case(&cases, &case_id, &vol, false, record).await;
            }
            _ => {}
        }
    }
    Ok(())
}
