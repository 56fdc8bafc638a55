//! Certificates mirrored from the LMS's events, and the eligibility they make.

use crate::app::*;

async fn certification_mirrored_from_lms(v: &Vol) {
    let me = "vol-cert";
    // A certificate issued before the profile exists is kept and shows once it does.
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-BASIC-2026-0001", me, "basic", "2028-12-01T00:00:00Z"),
    )
    .await;
    // Let the consumer handle it before the profile is created.
    let tok = v.token(me, &["volunteer"]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (s, b) = v
        .put(
            "/me",
            &tok,
            profile_body("Cert Person", "3171", "lay", None),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let level = || async { v.get("/me", &tok).await.1["data"]["certification"].clone() };
    testkit::eventually("basic mirrored", Duration::from_secs(10), || async {
        level().await["level"] == "basic"
    })
    .await;
    v.wait_eligibility(me, "basic published", |e| e["cert_level"] == "basic")
        .await;
    // Plus is better; an expired Instructor certificate is not valid.
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert(
            "BHD-INST-2020-0001",
            me,
            "instructor",
            "2023-01-01T00:00:00Z",
        ),
    )
    .await;
    let plus = v
        .publish(
            "lms.certificate.issued",
            "lms",
            cert("BHD-PLUS-2026-0001", me, "plus", "2028-06-01T00:00:00Z"),
        )
        .await;
    testkit::eventually("plus mirrored", Duration::from_secs(10), || async {
        level().await["certificate_id"] == "BHD-PLUS-2026-0001"
    })
    .await;
    let c = level().await;
    assert_eq!(
        (c["level"].as_str(), c["valid_until"].as_str()),
        (Some("plus"), Some("2028-06-01T00:00:00Z"))
    );
    v.wait_eligibility(me, "plus published", |e| {
        e["cert_level"] == "plus" && e["cert_valid_until"] == "2028-06-01T00:00:00Z"
    })
    .await;
    let n = v.eligibility_of(me).await.len();
    // Redelivered (same event id) and `expiring` notices change nothing.
    v.bus.publish(&plus).await.unwrap();
    v.publish(
        "lms.certificate.expiring",
        "lms",
        cert("BHD-PLUS-2026-0001", me, "plus", "2028-06-01T00:00:00Z"),
    )
    .await;
    // A malformed event is rejected without stopping the consumer.
    v.publish(
        "lms.certificate.issued",
        "lms",
        json!({"certificate_id": "x"}),
    )
    .await;
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-BASIC-2026-0009", me, "basic", "not a date"),
    )
    .await;
    // Revoking Plus falls back to Basic.
    v.publish("lms.certificate.revoked", "lms", json!({"certificate_id": "BHD-PLUS-2026-0001", "holder_id": me, "level": "plus", "valid_until": "2028-06-01T00:00:00Z", "reason": "pelanggaran"})).await;
    testkit::eventually("back to basic", Duration::from_secs(10), || async {
        level().await["level"] == "basic"
    })
    .await;
    v.wait_eligibility(me, "basic again", |e| e["cert_level"] == "basic")
        .await;
    let (s, list) = v.get("/me/certificates", &tok).await;
    assert_eq!(s, 200);
    let states: Vec<String> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}:{}:{}",
                c["certificate_id"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["revocation_reason"].as_str().unwrap_or("-"),
                c["expiring_notice_at"].is_string()
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            "BHD-BASIC-2026-0001:valid:-:false",
            "BHD-PLUS-2026-0001:revoked:pelanggaran:true",
            "BHD-INST-2020-0001:expired:-:false",
        ],
        "the expiring notice is recorded, nothing else changed by it"
    );
    assert_eq!(
        v.eligibility_of(me).await.len(),
        n + 1,
        "expiring, duplicates and bad events published nothing"
    );
    // A replayed `issued` never revives a revoked certificate.
    v.publish(
        "lms.certificate.issued",
        "lms",
        cert("BHD-PLUS-2026-0001", me, "plus", "2028-06-01T00:00:00Z"),
    )
    .await;
    v.publish(
        "lms.certificate.revoked",
        "lms",
        cert("BHD-BASIC-2026-0001", me, "basic", "2028-12-01T00:00:00Z"),
    )
    .await;
    testkit::eventually("all revoked", Duration::from_secs(10), || async {
        level().await["level"] == "none"
    })
    .await;
    v.wait_eligibility(me, "none published", |e| {
        e["cert_level"] == "none" && e["cert_valid_until"].is_null()
    })
    .await;
}
crate::both_stores!(certification_mirrored_from_lms);
