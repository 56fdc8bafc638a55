//! What the exchange log keeps of a call to SATUSEHAT: enough to see what was sent and why it
//! failed, never a person in clear. Before an exchange is stored, every NIK-shaped run of 16
//! digits (in the URL, e.g. a Patient search by NIK, and in the bodies) is masked like
//! [`crate::nik::Nik::masked`], and in a Patient resource (and in a reference to a patient)
//! the fields that name or locate the person are replaced.

use serde_json::Value;

use super::client::Exchange;

/// Fields of a Patient resource that identify or locate the person.
const PERSONAL: &[&str] = &[
    "name",
    "telecom",
    "address",
    "birthDate",
    "contact",
    "photo",
];

/// What a personal field is replaced with.
pub const MASK: &str = "***";

/// The exchange as the log may keep it.
pub fn exchange(ex: &Exchange) -> Exchange {
    Exchange {
        url: digits(&ex.url),
        request: ex.request.as_deref().map(body),
        response: ex.response.as_deref().map(body),
        error: ex.error.as_deref().map(digits),
        ..ex.clone()
    }
}

/// A body: JSON with personal fields replaced, then NIK-shaped digits masked (also in a body
/// that is not JSON).
pub fn body(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            walk(&mut v, false);
            digits(&v.to_string())
        }
        Err(_) => digits(text),
    }
}

fn walk(v: &mut Value, in_patient: bool) {
    match v {
        Value::Object(map) => {
            let patient =
                in_patient || map.get("resourceType").and_then(Value::as_str) == Some("Patient");
            let patient_ref = map
                .get("reference")
                .and_then(Value::as_str)
                .is_some_and(|r| r.starts_with("Patient/"));
            for (k, val) in map.iter_mut() {
                if (patient && PERSONAL.contains(&k.as_str())) || (patient_ref && k == "display") {
                    *val = Value::String(MASK.into());
                } else {
                    walk(val, patient);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| walk(i, in_patient)),
        _ => {}
    }
}

/// Every run of exactly 16 digits masked as a NIK is (`31**********01`).
pub fn digits(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 16 {
            out.push_str(&run[..2]);
            out.push_str("**********");
            out.push_str(&run[14..]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            run.push(ch);
        } else {
            flush(&mut run, &mut out);
            out.push(ch);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nik_shaped_runs_are_masked_and_other_numbers_kept() {
        assert_eq!(
            digits("/Patient?identifier=https://fhir.kemkes.go.id/id/nik|3171011501000001"),
            "/Patient?identifier=https://fhir.kemkes.go.id/id/nik|31**********01"
        );
        assert_eq!(digits("a 12345 b 2026"), "a 12345 b 2026");
        // 17 digits is not a NIK: kept (it is no person).
        assert_eq!(digits("12345678901234567"), "12345678901234567");
        assert_eq!(digits("Budi — 3171011501000001."), "Budi — 31**********01.");
    }

    #[test]
    fn patients_lose_their_names_and_addresses_but_not_their_ids() {
        let bundle = json!({
            "resourceType": "Bundle",
            "entry": [{ "resource": {
                "resourceType": "Patient", "id": "P02478375538",
                "identifier": [{ "system": "https://fhir.kemkes.go.id/id/nik", "value": "3171011501000001" }],
                "name": [{ "text": "Budi Santoso" }],
                "birthDate": "2000-01-15",
                "address": [{ "city": "Jakarta" }]
            }}, { "resource": {
                "resourceType": "Encounter",
                "subject": { "reference": "Patient/P02478375538", "display": "Budi Santoso" },
                "participant": [{ "individual": { "reference": "Practitioner/N1", "display": "Relawan KREKI" } }]
            }}]
        });
        let out: Value = serde_json::from_str(&body(&bundle.to_string())).unwrap();
        let p = &out["entry"][0]["resource"];
        assert_eq!(p["id"], "P02478375538");
        assert_eq!(p["name"], MASK);
        assert_eq!(p["birthDate"], MASK);
        assert_eq!(p["address"], MASK);
        assert_eq!(p["identifier"][0]["value"], "31**********01");
        let e = &out["entry"][1]["resource"];
        assert_eq!(e["subject"]["display"], MASK);
        assert_eq!(e["subject"]["reference"], "Patient/P02478375538");
        assert_eq!(
            e["participant"][0]["individual"]["display"],
            "Relawan KREKI"
        );
        let text = body("upstream said: NIK 3171011501000001 unknown");
        assert_eq!(text, "upstream said: NIK 31**********01 unknown");
    }
}
