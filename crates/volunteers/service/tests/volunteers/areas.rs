//! A lead's area is set by an admin only (security finding 4).

use crate::app::*;

/// Attack (security finding 4): a Volunteer Lead moves "their area" by editing the city of
/// their own profile, then reads the ID cards (KTP, with NIK) of another city's volunteers
/// and verifies them. A lead's area is set by an admin only; every document read is audited;
/// the Training Admin does not verify volunteers.
async fn a_lead_cannot_escape_their_area(v: &Vol) {
    // A volunteer of Bandung (3273) submits an ID card.
    let bdg = v.token("vol-bandung", &["volunteer"]);
    assert_eq!(
        v.put("/me", &bdg, profile_body("Asep", "3273", "lay", None))
            .await
            .0,
        201
    );
    let (s, doc) = v.post("/me/documents", &bdg, pdf_doc("ktp")).await;
    assert_eq!(s, 201, "{doc}");
    let doc_id = doc["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(v.post("/me/submit", &bdg, json!({})).await.0, 200);
    // The lead of Jakarta Pusat, as an admin set it.
    let ops = v.token("ops-1", &["ops_admin"]);
    let lead = v.token("lead-jakpus", &["volunteer_lead"]);
    set_lead_area(v, &ops, "lead-jakpus", "3171").await;
    // The attack: the lead says they live in Bandung now.
    assert_eq!(
        v.put("/me", &lead, profile_body("Ketua", "3273", "lay", None))
            .await
            .0,
        201
    );
    let outside = (403, Some("VOLUNTEERS_OUTSIDE_AREA"));
    let (s, b) = v.get("/volunteers/vol-bandung", &lead).await;
    assert_eq!((s, code(&b)), outside);
    let (s, b) = v
        .get(
            &format!("/volunteers/vol-bandung/documents/{doc_id}"),
            &lead,
        )
        .await;
    assert_eq!((s, code(&b)), outside, "the KTP stays closed");
    let (s, b) = v.get("/volunteers?city=3273", &lead).await;
    assert_eq!((s, code(&b)), outside);
    let (s, b) = v
        .put(
            "/volunteers/vol-bandung/verification",
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), outside);
    // Nor can the lead set their own area.
    let (s, b) = v
        .put(
            "/leads/lead-jakpus/area",
            &lead,
            json!({"city_code": "3273"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    let (s, b) = v.get("/leads/lead-jakpus/area", &lead).await;
    assert_eq!((s, b["data"]["city_code"].as_str()), (200, Some("3171")));
    // The Training Admin trains; it does not verify identities.
    let trainer = v.token("trainer-1", &["training_admin"]);
    let (s, b) = v
        .get(
            &format!("/volunteers/vol-bandung/documents/{doc_id}"),
            &trainer,
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    // Ops reads the card: the read is recorded, and only auditors see the record.
    let (s, _) = v
        .get(&format!("/volunteers/vol-bandung/documents/{doc_id}"), &ops)
        .await;
    assert_eq!(s, 200);
    let (s, _) = v.get("/volunteers/vol-bandung/access-log", &lead).await;
    assert_eq!(s, 403);
    let (s, log) = v.get("/volunteers/vol-bandung/access-log", &ops).await;
    assert_eq!(s, 200, "{log}");
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(
        (
            entries[0]["actor"].as_str(),
            entries[0]["action"].as_str(),
            entries[0]["details"].as_str()
        ),
        (Some("ops-1"), Some("document_read"), Some(doc_id.as_str()))
    );
    // Bad input: a city code that is not one.
    let (s, b) = v
        .put("/leads/lead-x/area", &ops, json!({"city_code": "31"}))
        .await;
    assert_eq!((s, code(&b)), (422, Some("VOLUNTEERS_AREA_INVALID")));
}
crate::both_stores!(a_lead_cannot_escape_their_area);
