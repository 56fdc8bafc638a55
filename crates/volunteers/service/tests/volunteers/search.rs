//! The leads' and Ops' search, and erasure from KREKI ID.

use crate::app::*;

async fn search_for_leads_and_ops(v: &Vol) {
    for (i, city) in ["3171", "3171", "3171", "3273"].iter().enumerate() {
        verified_volunteer(v, &format!("v{i}"), city).await;
    }
    let draft = v.token("v-draft", &["volunteer"]);
    let mut body = profile_body("vz draft", "3171", "doctor", None);
    body["skills"] = json!(["aed", "first_aid"]);
    assert_eq!(v.put("/me", &draft, body).await.0, 201);
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-BASIC-2026-0100", "v1", "basic", "2029-01-01T00:00:00Z"),
    )
    .await;
    let ops = v.token("ops-1", &["ops_admin"]);
    testkit::eventually("certificate mirrored", Duration::from_secs(10), || async {
        v.get("/volunteers?cert_level=basic", &ops).await.1["meta"]["total"] == 1
    })
    .await;
    let ids = |b: &Value| -> Vec<String> {
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["volunteer_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, all) = v.get("/volunteers", &ops).await;
    assert_eq!((s, all["meta"]["total"].as_u64()), (200, Some(5)));
    let row = all["data"].as_array().unwrap()[0]
        .as_object()
        .unwrap()
        .clone();
    assert!(
        !row.contains_key("phone") && !row.contains_key("emergency_contact"),
        "no contact data in lists"
    );
    let (_, b) = v.get("/volunteers?city=3171&state=verified", &ops).await;
    assert_eq!(ids(&b), ["v0", "v1", "v2"]);
    let (_, b) = v.get("/volunteers?province=32", &ops).await;
    assert_eq!(ids(&b), ["v3"]);
    let (_, b) = v.get("/volunteers?skill=aed", &ops).await;
    assert_eq!(ids(&b), ["v-draft"]);
    let (_, b) = v.get("/volunteers?skill=first_aid&state=draft", &ops).await;
    assert_eq!(ids(&b), ["v-draft"]);
    let (_, b) = v.get("/volunteers?cert_level=basic", &ops).await;
    assert_eq!(
        (ids(&b), b["data"][0]["cert_level"].as_str()),
        (vec!["v1".to_string()], Some("basic"))
    );
    let (_, b) = v.get("/volunteers?cert_level=none&city=3171", &ops).await;
    assert_eq!(ids(&b), ["v0", "v2", "v-draft"]);
    let (_, b) = v.get("/volunteers?city=3171&limit=2&page=2", &ops).await;
    assert_eq!(
        (ids(&b), b["meta"].clone()),
        (
            vec!["v2".to_string(), "v-draft".to_string()],
            json!({"page": 2, "limit": 2, "total": 4})
        )
    );
    // A lead sees their own city only.
    let lead = v.token("lead-x", &["volunteer_lead"]);
    let (s, e) = v.get("/volunteers", &lead).await;
    assert_eq!(
        (s, code(&e)),
        (403, Some("VOLUNTEERS_OUTSIDE_AREA")),
        "no area set by an admin"
    );
    set_lead_area(v, &ops, "lead-x", "3273").await;
    let (_, b) = v.get("/volunteers?state=verified", &lead).await;
    assert_eq!(ids(&b), ["v3"]);
    let (s, e) = v.get("/volunteers?city=3171", &lead).await;
    assert_eq!((s, code(&e)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, e) = v.get("/volunteers?province=31", &lead).await;
    assert_eq!((s, code(&e)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, e) = v.get("/volunteers/v0", &lead).await;
    assert_eq!((s, code(&e)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, e) = v.get("/volunteers", &draft).await;
    assert_eq!((s, code(&e)), (403, Some("AUTH_FORBIDDEN")));
    for (q, want) in [
        ("?city=abcd", "VOLUNTEERS_AREA_INVALID"),
        ("?province=1", "VOLUNTEERS_AREA_INVALID"),
        ("?skill=A%20B", "VOLUNTEERS_SKILL_INVALID"),
        ("?cert_level=gold", "VALIDATION_FAILED"),
        ("?state=pending", "VALIDATION_FAILED"),
        ("?limit=101", "VALIDATION_FAILED"),
        ("?name=x", "VALIDATION_UNKNOWN_FIELD"),
    ] {
        let (s, e) = v.get(&format!("/volunteers{q}"), &ops).await;
        assert_eq!((s, code(&e)), (422, Some(want)), "{q}");
    }
    let (s, e) = v.get("/volunteers/nobody", &ops).await;
    assert_eq!((s, code(&e)), (404, Some("VOLUNTEERS_NOT_FOUND")));
    // Erasure in KREKI ID removes the profile and tells the Emergency Core.
    v.publish(
        "identity.account.erased",
        "identity",
        json!({"account_id": "v0"}),
    )
    .await;
    testkit::eventually("erased", Duration::from_secs(10), || async {
        v.get("/volunteers/v0", &ops).await.0 == 404
    })
    .await;
    v.wait_eligibility("v0", "last eligibility of the erased", |e| {
        e["verified"] == false
    })
    .await;
}
crate::both_stores!(search_for_leads_and_ops);
