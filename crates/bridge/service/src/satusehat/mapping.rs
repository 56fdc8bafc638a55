//! From the Emergency Core's clinical record to SATUSEHAT resources.

use kreki_emergency_contracts::CaseCompleted;

use crate::fhir::*;

/// What the resources point at (ids on SATUSEHAT).
#[derive(Debug, Clone, Default)]
pub struct Refs {
    pub org_id: String,
    pub patient_id: String,
    pub patient_name: Option<String>,
    pub practitioner_id: Option<String>,
    pub location_id: Option<String>,
}

pub fn encounter_identifier(org_id: &str, case_id: &str) -> Identifier {
    Identifier::official(sys_ids("encounter", org_id), case_id)
}

fn utc(s: &str) -> String {
    to_utc(s).unwrap_or_else(|| s.to_string())
}

/// The Encounter of an emergency case: arrived (call) → in-progress (first responder on
/// scene) → finished (completion), class EMER, the organisation as service provider.
pub fn encounter(case: &CaseCompleted, r: &Refs) -> Encounter {
    let created = utc(&case.created_at);
    let completed = utc(&case.completed_at);
    let arrival = case
        .first_arrival_at
        .as_deref()
        .map(utc)
        .unwrap_or_else(|| created.clone());
    let participant = r
        .practitioner_id
        .as_ref()
        .map(|p| {
            vec![Participant {
                kind: vec![CodeableConcept::of(Coding::new(
                    PARTICIPATION_TYPE,
                    "ATND",
                    "attender",
                ))],
                individual: Some(Reference::to(format!("Practitioner/{p}"))),
            }]
        })
        .unwrap_or_default();
    Encounter {
        resource_type: "Encounter".into(),
        id: None,
        identifier: vec![encounter_identifier(&r.org_id, &case.case_id)],
        status: "finished".into(),
        class: Coding::new(ACT_CODE, "EMER", "emergency"),
        status_history: vec![
            StatusHistory {
                status: "arrived".into(),
                period: Period {
                    start: Some(created.clone()),
                    end: Some(arrival.clone()),
                },
            },
            StatusHistory {
                status: "in-progress".into(),
                period: Period {
                    start: Some(arrival),
                    end: Some(completed.clone()),
                },
            },
            StatusHistory {
                status: "finished".into(),
                period: Period {
                    start: Some(completed.clone()),
                    end: Some(completed.clone()),
                },
            },
        ],
        subject: Some(Reference {
            reference: Some(format!("Patient/{}", r.patient_id)),
            display: r.patient_name.clone(),
        }),
        participant,
        period: Some(Period {
            start: Some(created),
            end: Some(completed),
        }),
        location: r
            .location_id
            .as_ref()
            .map(|l| {
                vec![EncounterLocation {
                    location: Reference::to(format!("Location/{l}")),
                }]
            })
            .unwrap_or_default(),
        service_provider: Some(Reference::to(format!("Organization/{}", r.org_id))),
    }
}

fn observation(
    case: &CaseCompleted,
    r: &Refs,
    encounter_id: &str,
    key: &str,
    code: Coding,
) -> Observation {
    let at = utc(case
        .first_arrival_at
        .as_deref()
        .unwrap_or(case.completed_at.as_str()));
    Observation {
        resource_type: "Observation".into(),
        id: None,
        identifier: vec![Identifier::official(
            sys_ids("observation", &r.org_id),
            format!("{}-{key}", case.case_id),
        )],
        status: "final".into(),
        category: vec![CodeableConcept::of(Coding::new(
            OBSERVATION_CATEGORY,
            "vital-signs",
            "Vital Signs",
        ))],
        code: CodeableConcept::of(code),
        subject: Some(Reference::to(format!("Patient/{}", r.patient_id))),
        encounter: Some(Reference::to(format!("Encounter/{encounter_id}"))),
        effective_date_time: Some(at.clone()),
        issued: Some(utc(&case.completed_at)),
        performer: r
            .practitioner_id
            .as_ref()
            .map(|p| vec![Reference::to(format!("Practitioner/{p}"))])
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// AVPU as SNOMED CT findings (SATUSEHAT's "tingkat kesadaran").
pub fn avpu_coding(avpu: &str) -> Option<Coding> {
    Some(match avpu.trim().to_ascii_uppercase().as_str() {
        "A" => Coding::new(SNOMED, "248234008", "Mentally alert"),
        "V" => Coding::new(SNOMED, "300202002", "Responds to voice"),
        "P" => Coding::new(SNOMED, "450847001", "Responds to pain"),
        "U" => Coding::new(SNOMED, "422768004", "Unresponsive"),
        _ => return None,
    })
}

/// The vital signs recorded by the responders, one Observation each.
pub fn observations(case: &CaseCompleted, r: &Refs, encounter_id: &str) -> Vec<Observation> {
    let v = &case.clinical.vitals;
    let mut out = Vec::new();
    if let Some(hr) = v.heart_rate {
        let mut o = observation(
            case,
            r,
            encounter_id,
            "hr",
            Coding::new(LOINC, "8867-4", "Heart rate"),
        );
        o.value_quantity = Some(Quantity::ucum(f64::from(hr), "beats/minute", "/min"));
        out.push(o);
    }
    if let Some(rr) = v.respiratory_rate {
        let mut o = observation(
            case,
            r,
            encounter_id,
            "rr",
            Coding::new(LOINC, "9279-1", "Respiratory rate"),
        );
        o.value_quantity = Some(Quantity::ucum(f64::from(rr), "breaths/minute", "/min"));
        out.push(o);
    }
    if v.bp_systolic.is_some() || v.bp_diastolic.is_some() {
        let mut o = observation(
            case,
            r,
            encounter_id,
            "bp",
            Coding::new(
                LOINC,
                "85354-9",
                "Blood pressure panel with all children optional",
            ),
        );
        for (value, code, display) in [
            (v.bp_systolic, "8480-6", "Systolic blood pressure"),
            (v.bp_diastolic, "8462-4", "Diastolic blood pressure"),
        ] {
            if let Some(x) = value {
                o.component.push(ObservationComponent {
                    code: CodeableConcept::of(Coding::new(LOINC, code, display)),
                    value_quantity: Some(Quantity::ucum(f64::from(x), "mm[Hg]", "mm[Hg]")),
                });
            }
        }
        out.push(o);
    }
    if let Some(s) = v.spo2 {
        let mut o = observation(
            case,
            r,
            encounter_id,
            "spo2",
            Coding::new(
                LOINC,
                "59408-5",
                "Oxygen saturation in Arterial blood by Pulse oximetry",
            ),
        );
        o.value_quantity = Some(Quantity::ucum(f64::from(s), "%", "%"));
        out.push(o);
    }
    if let Some(t) = v.temperature_c {
        let mut o = observation(
            case,
            r,
            encounter_id,
            "temp",
            Coding::new(LOINC, "8310-5", "Body temperature"),
        );
        o.value_quantity = Some(Quantity::ucum(t, "C", "Cel"));
        out.push(o);
    }
    if let Some(c) = v.avpu.as_deref().and_then(avpu_coding) {
        let mut o = observation(
            case,
            r,
            encounter_id,
            "avpu",
            Coding::new(
                SNOMED,
                "1104441000000107",
                "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score",
            ),
        );
        o.category = vec![CodeableConcept::of(Coding::new(
            OBSERVATION_CATEGORY,
            "exam",
            "Exam",
        ))];
        o.value_codeable_concept = Some(CodeableConcept::of(c));
        out.push(o);
    }
    out
}

/// `I46.9 Henti jantung` → ICD-10 I46.9 with that display; free text → text only.
fn diagnosis_code(text: &str) -> CodeableConcept {
    let t = text.trim();
    let (head, rest) = t.split_once(' ').unwrap_or((t, ""));
    let b = head.as_bytes();
    let icd = b.len() >= 3
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && head[3..]
            .chars()
            .all(|c| c == '.' || c.is_ascii_alphanumeric());
    if icd {
        CodeableConcept {
            coding: vec![Coding::new(
                ICD10,
                head,
                if rest.is_empty() { head } else { rest.trim() },
            )],
            text: None,
        }
    } else {
        CodeableConcept {
            coding: Vec::new(),
            text: Some(t.to_string()),
        }
    }
}

/// The working diagnosis, if given.
pub fn condition(case: &CaseCompleted, r: &Refs, encounter_id: &str) -> Option<Condition> {
    let d = case.clinical.working_diagnosis.as_deref()?.trim();
    if d.is_empty() {
        return None;
    }
    Some(Condition {
        resource_type: "Condition".into(),
        id: None,
        identifier: vec![Identifier::official(
            sys_ids("condition", &r.org_id),
            format!("{}-dx", case.case_id),
        )],
        clinical_status: Some(CodeableConcept::of(Coding::new(
            CONDITION_CLINICAL,
            "active",
            "Active",
        ))),
        category: vec![CodeableConcept::of(Coding::new(
            CONDITION_CATEGORY,
            "encounter-diagnosis",
            "Encounter Diagnosis",
        ))],
        code: Some(diagnosis_code(d)),
        subject: Some(Reference::to(format!("Patient/{}", r.patient_id))),
        encounter: Some(Reference::to(format!("Encounter/{encounter_id}"))),
        recorded_date: Some(utc(&case.completed_at)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnosis_icd_or_text() {
        let c = diagnosis_code("I46.9 Henti jantung");
        assert!(c.has(ICD10, "I46.9"));
        assert_eq!(
            diagnosis_code("sesak napas").text.as_deref(),
            Some("sesak napas")
        );
    }

    #[test]
    fn utc_normalised() {
        assert_eq!(utc("2026-01-01T10:00:00.123+07:00"), "2026-01-01T03:00:00Z");
        assert!(is_utc_datetime("2026-01-01T03:00:00Z"));
        assert!(!is_utc_datetime("2026-01-01T10:00:00+07:00"));
        assert!(!is_utc_datetime("2026-01-01"));
    }
}
