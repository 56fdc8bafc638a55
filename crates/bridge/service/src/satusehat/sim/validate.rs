//! What the simulator checks in a FHIR resource it receives (required fields, identifier
//! systems, code systems, UTC times, references), answered with an OperationOutcome.

use super::*;

pub(super) type Check = Result<(), OperationOutcome>;

pub(super) fn bad(code: &str, msg: impl Into<String>, expr: &str) -> Check {
    Err(OperationOutcome::error(code, msg, expr))
}

pub(super) fn require_utc(s: Option<&str>, expr: &str) -> Check {
    match s {
        None => bad("required", format!("{expr} is required"), expr),
        Some(t) if !is_utc_datetime(t) => bad(
            "value",
            format!("{expr} must be a dateTime in UTC, got {t}"),
            expr,
        ),
        Some(_) => Ok(()),
    }
}

pub(super) fn require_ref(st: &SimState, r: Option<&Reference>, kind: &str, expr: &str) -> Check {
    let Some(r) = r else {
        return bad("required", format!("{expr} is required"), expr);
    };
    if !r.points_to(kind) {
        return bad("value", format!("{expr} must reference {kind}/<id>"), expr);
    }
    let id = r.reference.as_deref().unwrap_or_default()[kind.len() + 1..].to_string();
    if find_id(st, kind, &id).is_none() {
        return bad("not-found", format!("{kind}/{id} is not known"), expr);
    }
    Ok(())
}

pub(super) fn org_identifier(ids: &[Identifier], kind: &str, org: &str, expr: &str) -> Check {
    let system = sys_ids(kind, org);
    if ids.iter().any(|i| {
        i.system.as_deref() == Some(system.as_str())
            && i.value.as_deref().is_some_and(|v| !v.is_empty())
    }) {
        Ok(())
    } else {
        bad(
            "value",
            format!("{expr} needs an identifier of system {system}"),
            expr,
        )
    }
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, OperationOutcome> {
    serde_json::from_value(v.clone())
        .map_err(|e| OperationOutcome::error("structure", format!("Invalid resource: {e}"), ""))
}

pub(super) fn validate(st: &SimState, kind: &str, v: &Value) -> Check {
    if v.get("resourceType").and_then(Value::as_str) != Some(kind) {
        return bad(
            "invalid",
            format!("resourceType must be {kind}"),
            "resourceType",
        );
    }
    match kind {
        "Encounter" => {
            let e: Encounter = parse(v)?;
            if ![
                "planned",
                "arrived",
                "triaged",
                "in-progress",
                "onleave",
                "finished",
                "cancelled",
            ]
            .contains(&e.status.as_str())
            {
                return bad(
                    "code-invalid",
                    format!("Unknown Encounter.status {}", e.status),
                    "Encounter.status",
                );
            }
            if e.class.system.as_deref() != Some(ACT_CODE)
                || ![
                    "AMB", "EMER", "IMP", "VR", "HH", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS",
                    "FLD",
                ]
                .contains(&e.class.code.as_deref().unwrap_or_default())
            {
                return bad(
                    "code-invalid",
                    "Encounter.class must be a code of http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "Encounter.class",
                );
            }
            require_ref(st, e.subject.as_ref(), "Patient", "Encounter.subject")?;
            require_ref(
                st,
                e.service_provider.as_ref(),
                "Organization",
                "Encounter.serviceProvider",
            )?;
            let org = e
                .service_provider
                .as_ref()
                .and_then(|r| r.reference.as_deref())
                .unwrap_or_default()["Organization/".len()..]
                .to_string();
            org_identifier(&e.identifier, "encounter", &org, "Encounter.identifier")?;
            let Some(p) = &e.period else {
                return bad(
                    "required",
                    "Encounter.period is required",
                    "Encounter.period",
                );
            };
            require_utc(p.start.as_deref(), "Encounter.period.start")?;
            if e.status == "finished" {
                require_utc(p.end.as_deref(), "Encounter.period.end")?;
            }
            if e.status_history.is_empty() {
                return bad(
                    "required",
                    "Encounter.statusHistory is required",
                    "Encounter.statusHistory",
                );
            }
            for (i, h) in e.status_history.iter().enumerate() {
                require_utc(
                    h.period.start.as_deref(),
                    &format!("Encounter.statusHistory[{i}].period.start"),
                )?;
                if let Some(end) = h.period.end.as_deref() {
                    require_utc(
                        Some(end),
                        &format!("Encounter.statusHistory[{i}].period.end"),
                    )?;
                }
            }
            for (i, p) in e.participant.iter().enumerate() {
                if !p.kind.iter().any(|t| t.has(PARTICIPATION_TYPE, "ATND")) {
                    return bad(
                        "code-invalid",
                        "Encounter.participant.type must be ATND of v3-ParticipationType",
                        &format!("Encounter.participant[{i}].type"),
                    );
                }
                require_ref(
                    st,
                    p.individual.as_ref(),
                    "Practitioner",
                    &format!("Encounter.participant[{i}].individual"),
                )?;
            }
            for (i, l) in e.location.iter().enumerate() {
                require_ref(
                    st,
                    Some(&l.location),
                    "Location",
                    &format!("Encounter.location[{i}].location"),
                )?;
            }
            Ok(())
        }
        "Observation" => {
            let o: Observation = parse(v)?;
            if !["registered", "preliminary", "final", "amended"].contains(&o.status.as_str()) {
                return bad(
                    "code-invalid",
                    format!("Unknown Observation.status {}", o.status),
                    "Observation.status",
                );
            }
            require_ref(st, o.subject.as_ref(), "Patient", "Observation.subject")?;
            require_ref(
                st,
                o.encounter.as_ref(),
                "Encounter",
                "Observation.encounter",
            )?;
            require_utc(
                o.effective_date_time.as_deref(),
                "Observation.effectiveDateTime",
            )?;
            let vital = [
                ("8867-4", "/min"),
                ("9279-1", "/min"),
                ("59408-5", "%"),
                ("8310-5", "Cel"),
            ];
            let loinc = o
                .code
                .coding
                .iter()
                .find(|c| c.system.as_deref() == Some(LOINC))
                .and_then(|c| c.code.clone());
            let snomed = o.code.has(SNOMED, "1104441000000107");
            if !o.category.iter().any(|c| {
                c.has(OBSERVATION_CATEGORY, "vital-signs") || c.has(OBSERVATION_CATEGORY, "exam")
            }) {
                return bad(
                    "code-invalid",
                    "Observation.category must be of observation-category",
                    "Observation.category",
                );
            }
            match loinc.as_deref() {
                Some("85354-9") => {
                    if o.value_quantity.is_some() || o.component.is_empty() {
                        return bad(
                            "invariant",
                            "Blood pressure carries its values in components 8480-6/8462-4",
                            "Observation.component",
                        );
                    }
                    for (i, c) in o.component.iter().enumerate() {
                        if !(c.code.has(LOINC, "8480-6") || c.code.has(LOINC, "8462-4")) {
                            return bad(
                                "code-invalid",
                                "Blood pressure components are 8480-6 and 8462-4",
                                &format!("Observation.component[{i}].code"),
                            );
                        }
                        ucum(
                            c.value_quantity.as_ref(),
                            "mm[Hg]",
                            &format!("Observation.component[{i}].valueQuantity"),
                        )?;
                    }
                }
                Some(code) => match vital.iter().find(|(c, _)| *c == code) {
                    Some((_, unit)) => {
                        ucum(o.value_quantity.as_ref(), unit, "Observation.valueQuantity")?
                    }
                    None => {
                        return bad(
                            "code-invalid",
                            format!("LOINC code {code} is not a supported vital sign"),
                            "Observation.code",
                        );
                    }
                },
                None if snomed => {
                    let ok = o.value_codeable_concept.as_ref().is_some_and(|v| {
                        ["248234008", "300202002", "450847001", "422768004"]
                            .iter()
                            .any(|c| v.has(SNOMED, c))
                    });
                    if !ok {
                        return bad(
                            "code-invalid",
                            "Level of consciousness needs a SNOMED CT AVPU value",
                            "Observation.valueCodeableConcept",
                        );
                    }
                }
                None => {
                    return bad(
                        "code-invalid",
                        "Observation.code needs a LOINC coding",
                        "Observation.code",
                    );
                }
            }
            Ok(())
        }
        "Condition" => {
            let c: Condition = parse(v)?;
            if !c.clinical_status.as_ref().is_some_and(|s| {
                s.coding
                    .iter()
                    .any(|x| x.system.as_deref() == Some(CONDITION_CLINICAL))
            }) {
                return bad(
                    "required",
                    "Condition.clinicalStatus of condition-clinical is required",
                    "Condition.clinicalStatus",
                );
            }
            if !c.category.iter().any(|x| {
                x.has(CONDITION_CATEGORY, "encounter-diagnosis")
                    || x.has(CONDITION_CATEGORY, "problem-list-item")
            }) {
                return bad(
                    "code-invalid",
                    "Condition.category must be of condition-category",
                    "Condition.category",
                );
            }
            let code_ok = c.code.as_ref().is_some_and(|x| {
                x.text.as_deref().is_some_and(|t| !t.is_empty())
                    || (!x.coding.is_empty()
                        && x.coding
                            .iter()
                            .all(|k| k.system.as_deref() == Some(ICD10) && k.code.is_some()))
            });
            if !code_ok {
                return bad(
                    "code-invalid",
                    "Condition.code needs ICD-10 codings or a text",
                    "Condition.code",
                );
            }
            require_ref(st, c.subject.as_ref(), "Patient", "Condition.subject")?;
            require_ref(st, c.encounter.as_ref(), "Encounter", "Condition.encounter")?;
            if let Some(d) = c.recorded_date.as_deref() {
                require_utc(Some(d), "Condition.recordedDate")?;
            }
            Ok(())
        }
        "Location" => {
            let l: Location = parse(v)?;
            let org = l
                .managing_organization
                .as_ref()
                .and_then(|r| r.reference.as_deref())
                .and_then(|r| r.strip_prefix("Organization/"))
                .unwrap_or_default()
                .to_string();
            require_ref(
                st,
                l.managing_organization.as_ref(),
                "Organization",
                "Location.managingOrganization",
            )?;
            org_identifier(&l.identifier, "location", &org, "Location.identifier")?;
            if l.name.as_deref().is_none_or(str::is_empty) {
                return bad("required", "Location.name is required", "Location.name");
            }
            Ok(())
        }
        "Organization" => {
            let o: Organization = parse(v)?;
            let parent = o
                .part_of
                .as_ref()
                .and_then(|r| r.reference.as_deref())
                .and_then(|r| r.strip_prefix("Organization/"))
                .unwrap_or_default()
                .to_string();
            require_ref(
                st,
                o.part_of.as_ref(),
                "Organization",
                "Organization.partOf",
            )?;
            org_identifier(
                &o.identifier,
                "organization",
                &parent,
                "Organization.identifier",
            )?;
            if o.name.as_deref().is_none_or(str::is_empty) {
                return bad(
                    "required",
                    "Organization.name is required",
                    "Organization.name",
                );
            }
            Ok(())
        }
        other => bad(
            "not-supported",
            format!("The simulator does not accept {other}"),
            "",
        ),
    }
}

pub(super) fn ucum(q: Option<&Quantity>, code: &str, expr: &str) -> Check {
    match q {
        Some(q) if q.system == UCUM && q.code == code => Ok(()),
        Some(_) => bad("code-invalid", format!("{expr} must be UCUM {code}"), expr),
        None => bad("required", format!("{expr} is required"), expr),
    }
}
