"""FHIR R4 export of a member's own results. Pure: builds plain JSON-ready dicts.

Each result becomes a QuestionnaireResponse (the raw answers, item LOINC codes where they
exist) and an Observation (the total score, LOINC where it exists, else a platform code),
collected in a Bundle of type "collection".
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from wellness.assessments.instruments import Instrument

LOINC = "http://loinc.org"
LOCAL = "urn:wellness:instrument"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _total_code(inst: Instrument) -> dict[str, Any]:
    code = inst.loinc.get("total")
    if code:
        return {"system": LOINC, "code": code, "display": f"{inst.short_name} total score"}
    return {"system": LOCAL, "code": f"{inst.code}-total", "display": f"{inst.short_name} total"}


def questionnaire_response(inst: Instrument, response, patient_ref: str) -> dict[str, Any]:
    items = []
    for item, value in zip(inst.items, response.answers, strict=True):
        entry: dict[str, Any] = {
            "linkId": str(item.number),
            "text": item.text.get("en", ""),
            "answer": [{"valueInteger": int(value)}],
        }
        if item.loinc:
            entry["definition"] = f"{LOINC}|{item.loinc}"
        items.append(entry)
    panel = inst.loinc.get("panel")
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"qr-{response.id}",
        "status": "completed",
        "questionnaire": f"{LOINC}/{panel}" if panel else f"{LOCAL}/{inst.code}|{inst.version}",
        "subject": {"reference": patient_ref},
        "authored": _iso(response.created_at),
        "item": items,
    }


def observation(inst: Instrument, response, patient_ref: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{response.id}",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [_total_code(inst)], "text": f"{inst.short_name} total score"},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": _iso(response.created_at),
        "valueQuantity": {
            "value": response.total,
            "unit": "{score}",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        },
        "interpretation": [{"text": response.band}],
        "derivedFrom": [{"reference": f"QuestionnaireResponse/qr-{response.id}"}],
    }


def export_bundle(
    responses: list, instruments: dict[str, Instrument], user_id: int, generated_at: datetime
) -> dict[str, Any]:
    patient_ref = f"Patient/member-{user_id}"
    entries = []
    for response in responses:
        inst = instruments[response.instrument]
        for resource in (
            questionnaire_response(inst, response, patient_ref),
            observation(inst, response, patient_ref),
        ):
            stable = uuid.uuid5(uuid.NAMESPACE_URL, f"wellness/{resource['id']}")
            entries.append({"fullUrl": f"urn:uuid:{stable}", "resource": resource})
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _iso(generated_at),
        "entry": entries,
    }
