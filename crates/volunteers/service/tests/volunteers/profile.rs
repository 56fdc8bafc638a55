//! A volunteer's own profile, documents, verification by leads and Ops, and schedule.

use crate::app::*;

async fn profile_documents_verification_schedule(v: &Vol) {
    let me = "vol-nurse";
    let tok = v.token(me, &["volunteer"]);
    // Who may call.
    let (s, b) = v.call(reqwest::Method::GET, "/me", None, None).await;
    assert_eq!((s, code(&b)), (401, Some("AUTH_TOKEN_MISSING")));
    let (s, b) = v.get("/me", &v.token("warga", &["public"])).await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    let (s, b) = v.get("/me", &tok).await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_PROFILE_NOT_FOUND")));

    // Bad input: stable codes, nothing stored.
    let good = profile_body("Sari Perawat", "3171", "nurse", Some("str-3171-0001"));
    for (field, value, status, want) in [
        ("phone", json!("12ab"), 422, "VOLUNTEERS_PHONE_INVALID"),
        ("city_code", json!("3273"), 422, "VOLUNTEERS_AREA_INVALID"),
        ("province_code", json!("99"), 422, "VOLUNTEERS_AREA_INVALID"),
        ("city_code", json!("3100"), 422, "VOLUNTEERS_AREA_INVALID"),
        ("skills", json!(["CPR!"]), 422, "VOLUNTEERS_SKILL_INVALID"),
        (
            "languages",
            json!(["indonesian"]),
            422,
            "VOLUNTEERS_LANGUAGE_INVALID",
        ),
        ("background", json!("wizard"), 422, "VALIDATION_FAILED"),
        (
            "registration_number",
            json!("x"),
            422,
            "VOLUNTEERS_REGISTRATION_INVALID",
        ),
        ("display_name", json!("  "), 422, "VALIDATION_FAILED"),
        (
            "nik",
            json!("3171234567890123"),
            422,
            "VALIDATION_UNKNOWN_FIELD",
        ),
        (
            "emergency_contact",
            json!({"name": "Sendiri", "phone": "081234567890"}),
            422,
            "VOLUNTEERS_EMERGENCY_CONTACT_INVALID",
        ),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (s, b) = v.put("/me", &tok, body).await;
        assert_eq!((s, code(&b)), (status, Some(want)), "{field}: {b}");
    }
    let res = v
        .client
        .put(format!("{}/api/volunteers/v1/me", v.url))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(v.get("/me", &tok).await.0, 404, "nothing stored");

    // Create, then update.
    let (s, b) = v.put("/me", &tok, good.clone()).await;
    assert_eq!(s, 201, "{b}");
    let p = &b["data"];
    assert_eq!(p["volunteer_id"], me);
    assert_eq!(p["phone"], "+6281234567890");
    assert_eq!(p["languages"], json!(["en", "id"]));
    assert_eq!(p["registration_number"], "STR-3171-0001");
    assert_eq!(p["verification_state"], "draft");
    assert_eq!(p["certification"]["level"], "none");
    let consent_at = p["location_consent_at"].as_str().unwrap().to_string();
    let mut renamed = good.clone();
    renamed["display_name"] = json!("Sari Perawati");
    let (s, b) = v.put("/me", &tok, renamed.clone()).await;
    assert_eq!(
        (s, b["data"]["display_name"].as_str()),
        (200, Some("Sari Perawati"))
    );
    assert_eq!(
        b["data"]["location_consent_at"],
        consent_at.as_str(),
        "consent time kept"
    );
    let mut bad = renamed.clone();
    bad["city_code"] = json!("9999");
    assert_eq!(v.put("/me", &tok, bad).await.0, 422);
    assert_eq!(
        v.get("/me", &tok).await.1["data"]["city_code"],
        "3171",
        "data intact"
    );
    let mut withdrawn = renamed.clone();
    withdrawn["location_consent"] = json!(false);
    let (_, b) = v.put("/me", &tok, withdrawn).await;
    assert!(b["data"].get("location_consent_at").is_none());
    let (_, b) = v.put("/me", &tok, renamed.clone()).await;
    assert!(b["data"]["location_consent_at"].is_string());

    // Documents.
    let (s, b) = v.post("/me/submit", &tok, json!({})).await;
    assert_eq!((s, code(&b)), (422, Some("VOLUNTEERS_DOCUMENTS_MISSING")));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    for (body, status, want) in [
        (
            json!({"kind": "passport", "filename": "a.pdf", "content_type": "application/pdf", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.gif", "content_type": "image/gif", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.png", "content_type": "image/png", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "../etc/passwd", "content_type": "application/pdf", "content_base64": b64(PDF)}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.pdf", "content_type": "application/pdf", "content_base64": "%%%"}),
            422,
            "VOLUNTEERS_DOCUMENT_INVALID",
        ),
        (
            json!({"kind": "ktp", "filename": "a.pdf", "content_type": "application/pdf", "content_base64": b64(&[b"%PDF-".as_slice(), &vec![b'x'; 170 * 1024]].concat())}),
            413,
            "VOLUNTEERS_DOCUMENT_TOO_LARGE",
        ),
    ] {
        let (s, b) = v.post("/me/documents", &tok, body).await;
        assert_eq!((s, code(&b)), (status, Some(want)), "{b}");
    }
    let (s, b) = v.post("/me/documents", &tok, pdf_doc("str")).await;
    assert_eq!(s, 201, "{b}");
    let doc = b["data"].clone();
    assert_eq!(doc["size_bytes"], PDF.len());
    assert_eq!(doc["sha256"].as_str().unwrap().len(), 64);
    assert!(doc.get("content_base64").is_none(), "metadata only");
    let (_, list) = v.get("/me/documents", &tok).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, one) = v
        .get(
            &format!("/me/documents/{}", doc["id"].as_str().unwrap()),
            &tok,
        )
        .await;
    assert_eq!(
        (s, one["data"]["content_base64"].as_str()),
        (200, Some(b64(PDF).as_str()))
    );
    let (s, b) = v.get("/me/documents/nope", &tok).await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_DOCUMENT_NOT_FOUND")));
    // Someone else's document is not reachable through /me.
    let other = v.token("vol-other", &["volunteer"]);
    let (s, _) = v
        .get(
            &format!("/me/documents/{}", doc["id"].as_str().unwrap()),
            &other,
        )
        .await;
    assert_eq!(s, 404);

    // Submit; not twice.
    let (s, b) = v
        .post("/me/submit", &tok, json!({"note": "mohon ditinjau"}))
        .await;
    assert_eq!(
        (s, b["data"]["profile"]["verification_state"].as_str()),
        (200, Some("submitted")),
        "{b}"
    );
    let (s, b) = v.post("/me/submit", &tok, json!({})).await;
    assert_eq!((s, code(&b)), (409, Some("VOLUNTEERS_TRANSITION_INVALID")));
    assert_eq!(b["error"]["details"]["state"], "submitted");

    // Reviewers: a plain volunteer may not; a lead without a profile, or of another city, may not.
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &other,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("AUTH_FORBIDDEN")));
    let lead_far = v.token("lead-bandung", &["volunteer_lead"]);
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead_far,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    // A lead's area is set by an admin (never by the lead's own profile).
    let area_admin = v.token("ops-areas", &["ops_admin"]);
    set_lead_area(v, &area_admin, "lead-bandung", "3273").await;
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead_far,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("VOLUNTEERS_OUTSIDE_AREA")));
    let (s, _) = v.get(&format!("/volunteers/{me}"), &lead_far).await;
    assert_eq!(s, 403);

    // The lead of Jakarta Pusat rejects (a reason is required), the volunteer resubmits.
    let lead = v.token("lead-jakpus", &["volunteer_lead"]);
    assert_eq!(
        v.put(
            "/me",
            &lead,
            profile_body("Ketua Jakpus", "3171", "lay", None)
        )
        .await
        .0,
        201
    );
    set_lead_area(v, &area_admin, "lead-jakpus", "3171").await;
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, Some("VOLUNTEERS_REASON_REQUIRED")));
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "maybe"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, Some("VALIDATION_FAILED")));
    let (s, b) = v.get(&format!("/volunteers/{me}"), &lead).await;
    assert_eq!(
        (s, b["data"]["documents"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    let (s, b) = v
        .get(
            &format!("/volunteers/{me}/documents/{}", doc["id"].as_str().unwrap()),
            &lead,
        )
        .await;
    assert_eq!((s, b["data"]["kind"].as_str()), (200, Some("str")));
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "reject", "reason": "Foto STR buram"}),
        )
        .await;
    assert_eq!(
        (s, b["data"]["profile"]["verification_state"].as_str()),
        (200, Some("rejected")),
        "{b}"
    );
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (409, Some("VOLUNTEERS_TRANSITION_INVALID")));
    let (s, b) = v
        .put(
            "/volunteers/nobody/verification",
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_NOT_FOUND")));
    assert_eq!(v.post("/me/submit", &tok, json!({})).await.0, 200);
    // Nobody reviews themselves.
    assert_eq!(v.post("/me/documents", &lead, pdf_doc("ktp")).await.0, 201);
    assert_eq!(v.post("/me/submit", &lead, json!({})).await.0, 200);
    let (s, b) = v
        .put(
            "/volunteers/lead-jakpus/verification",
            &lead,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, Some("VOLUNTEERS_SELF_REVIEW")));
    // Ops approves.
    let ops = v.token("ops-1", &["ops_admin"]);
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &ops,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        (s, b["data"]["profile"]["verification_state"].as_str()),
        (200, Some("verified")),
        "{b}"
    );
    assert_eq!(
        b["data"]["profile"]["eligibility"]["health_professional"],
        true
    );
    let (_, b) = v.get("/me/verification", &tok).await;
    let steps: Vec<String> = b["data"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}:{}>{}:{}",
                h["action"].as_str().unwrap(),
                h["from_state"].as_str().unwrap(),
                h["to_state"].as_str().unwrap(),
                h["actor"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "submit:draft>submitted:vol-nurse",
            "reject:submitted>rejected:lead-jakpus",
            "resubmit:rejected>submitted:vol-nurse",
            "approve:submitted>verified:ops-1",
        ]
    );
    assert_eq!(b["data"]["history"][1]["reason"], "Foto STR buram");

    // Eligibility: published through the outbox, versions monotonic, verified health professional.
    v.wait_eligibility(me, "verified eligibility", |e| e["verified"] == true)
        .await;
    let last = v.eligibility_of(me).await.last().cloned().unwrap();
    assert_eq!(last["health_professional"], true);
    assert_eq!(last["cert_level"], "none");
    assert_eq!(last["skills"], json!(["cpr", "first_aid"]));
    let versions: Vec<i64> = v
        .eligibility_of(me)
        .await
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    let before = versions.len();

    // Schedule: validated, published with the eligibility.
    for bad in [
        json!({"timezone": "Europe/Paris", "slots": []}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "mon", "start": "18:00", "end": "08:00"}]}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "funday", "start": "08:00", "end": "09:00"}]}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "mon", "start": "8:00", "end": "09:00"}]}),
        json!({"timezone": "Asia/Jakarta", "slots": [{"day": "mon", "start": "08:00", "end": "12:00"}, {"day": "mon", "start": "11:00", "end": "13:00"}]}),
    ] {
        let (s, b) = v.put("/me/schedule", &tok, bad.clone()).await;
        assert_eq!(
            (s, code(&b)),
            (422, Some("VOLUNTEERS_SCHEDULE_INVALID")),
            "{bad}"
        );
    }
    let (s, b) = v
        .put(
            "/me/schedule",
            &other,
            json!({"timezone": "Asia/Jakarta", "slots": []}),
        )
        .await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_PROFILE_NOT_FOUND")));
    let sched = json!({"timezone": "Asia/Makassar", "slots": [
        {"day": "sat", "start": "08:00", "end": "24:00"}, {"day": "mon", "start": "18:00", "end": "22:00"}]});
    let (s, b) = v.put("/me/schedule", &tok, sched).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["schedule"]["slots"][0]["day"], "mon", "ordered");
    v.wait_eligibility(me, "schedule published", |e| {
        e["schedule"]["timezone"] == "Asia/Makassar"
    })
    .await;
    // Unchanged saves publish nothing new.
    let n = v.eligibility_of(me).await.len();
    assert!(n > before);
    assert_eq!(v.put("/me", &tok, renamed.clone()).await.0, 200);
    // A changed registration number is not yet approved: no longer a health professional.
    let mut changed = renamed.clone();
    changed["registration_number"] = json!("STR-3171-0002");
    let (_, b) = v.put("/me", &tok, changed).await;
    assert_eq!(b["data"]["verification_state"], "verified");
    assert_eq!(b["data"]["eligibility"]["health_professional"], false);
    v.wait_eligibility(me, "health professional withdrawn", |e| {
        e["health_professional"] == false
    })
    .await;
    assert_eq!(
        v.eligibility_of(me).await.len(),
        n + 1,
        "only the real change was published"
    );
    // Ops re-approves the new credentials.
    let (s, b) = v
        .put(
            &format!("/volunteers/{me}/verification"),
            &ops,
            json!({"decision": "approve", "reason": "STR baru dicek"}),
        )
        .await;
    assert_eq!(
        (
            s,
            b["data"]["profile"]["eligibility"]["health_professional"].as_bool()
        ),
        (200, Some(true))
    );
    v.wait_eligibility(me, "re-approved", |e| e["health_professional"] == true)
        .await;

    // At most 10 documents; a document before the profile exists is refused.
    let docs = v.token("vol-docs", &["volunteer"]);
    let (s, b) = v.post("/me/documents", &docs, pdf_doc("ktp")).await;
    assert_eq!((s, code(&b)), (404, Some("VOLUNTEERS_PROFILE_NOT_FOUND")));
    assert_eq!(
        v.put("/me", &docs, profile_body("Dokumen", "3171", "lay", None))
            .await
            .0,
        201
    );
    for _ in 0..10 {
        assert_eq!(
            v.post("/me/documents", &docs, pdf_doc("other")).await.0,
            201
        );
    }
    let (s, b) = v.post("/me/documents", &docs, pdf_doc("other")).await;
    assert_eq!((s, code(&b)), (409, Some("VOLUNTEERS_DOCUMENT_LIMIT")));
    assert_eq!(
        v.get("/me/documents", &docs).await.1["data"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );
}
crate::both_stores!(profile_documents_verification_schedule);
