"""Worker pages for self-assessments, the API, the chart and the exports."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from wellness.assessments.models import AssessmentResponse
from wellness.extensions import db
from wellness.risk.models import RiskFlag


def form_data(answers, key="k-abcdefgh"):
    data = {f"q{i}": str(v) for i, v in enumerate(answers, start=1)}
    data["submission_key"] = key
    return data


def stored(app):
    with app.app_context():
        return db.session.scalar(select(func.count(AssessmentResponse.id)))


def test_consent_comes_first(client, make_user, login_as):
    login_as(make_user())
    response = client.get("/assessments/phq9")
    assert response.status_code == 302 and "/auth/consent" in response.headers["Location"]


def test_list_and_take_and_result(app, client, consented_worker, login_as):
    login_as(consented_worker())
    listing = client.get("/assessments/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "PHQ-9" in listing or "患者健康问卷" in listing
    page = client.get("/assessments/phq9", headers={"Accept-Language": "zh"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.count('type="radio"') == 9 * 4 and "1 / 9" in body
    done = client.post(
        "/assessments/phq9",
        data=form_data([1, 1, 1, 1, 1, 1, 1, 1, 0]),
        headers={"Accept-Language": "en"},
    )
    assert done.status_code == 302
    result = client.get(done.headers["Location"], headers={"Accept-Language": "en"})
    text = result.get_data(as_text=True)
    assert "score 8 of 27" in text and "not a diagnosis" in text
    assert "crisis-banner" not in text


def test_critical_result_shows_crisis_resources_first(app, client, consented_worker, login_as):
    login_as(consented_worker())
    done = client.post("/assessments/phq9", data=form_data([0, 0, 0, 0, 0, 0, 0, 0, 2]))
    text = client.get(done.headers["Location"], headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    main = text.split('<main id="main">', 1)[1]
    assert main.index("crisis-banner") < main.index("<h1>")
    assert 'href="tel:12356"' in main and "A counsellor will contact you" in main
    assert "critical" not in main.lower().replace("crisis", "")  # no alarming internal words


@pytest.mark.parametrize(
    "bad",
    [
        {"q9": "4"},
        {"q9": "３"},
        {"q9": "+1"},
        {"q9": " 1"},
        {"q9": ""},
        {"q9": None},
    ],
)
def test_bad_answers_are_field_errors_and_store_nothing(
    app, client, consented_worker, login_as, bad
):
    login_as(consented_worker())
    data = form_data([0] * 9)
    for key, value in bad.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    response = client.post("/assessments/phq9", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'id="q9-error"' in body and "Please answer every question" in body
    assert stored(app) == 0


def test_double_submit_stores_once(app, client, consented_worker, login_as):
    login_as(consented_worker())
    first = client.post("/assessments/gad7", data=form_data([1] * 7, key="same-key-1"))
    second = client.post("/assessments/gad7", data=form_data([1] * 7, key="same-key-1"))
    assert first.headers["Location"] == second.headers["Location"]
    assert stored(app) == 1


def test_unknown_instrument_is_404(client, consented_worker, login_as):
    login_as(consented_worker())
    assert client.get("/assessments/isi").status_code == 404
    assert client.post("/assessments/isi", data={}).status_code == 404


def test_other_members_result_is_404(app, client, consented_worker, login_as):
    owner = consented_worker()
    login_as(owner)
    done = client.post("/assessments/phq9", data=form_data([0] * 9))
    url = done.headers["Location"]
    other = app.test_client()
    login_as(consented_worker(), on=other)
    assert other.get(url).status_code == 404


def test_history_chart_png_and_table(app, client, consented_worker, login_as):
    login_as(consented_worker())
    for i, answers in enumerate(([0] * 9, [2] * 9, [1] * 9)):
        client.post("/assessments/phq9", data=form_data(answers, key=f"key-000{i}"))
    page = client.get("/assessments/history/phq9").get_data(as_text=True)
    assert "<table>" in page and "18" in page
    chart = client.get("/assessments/history/phq9/chart.png")
    assert chart.status_code == 200 and chart.data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    width, height = Image.open(io.BytesIO(chart.data)).size
    assert width > 600 and height > 300
    again = client.get(
        "/assessments/history/phq9/chart.png", headers={"If-None-Match": chart.headers["ETag"]}
    )
    assert again.status_code == 304


def test_exports_csv_and_fhir_validates(app, client, consented_worker, login_as):
    login_as(consented_worker())
    client.post("/assessments/phq9", data=form_data([1, 2, 0, 1, 0, 0, 1, 0, 1], key="key-a1b2"))
    client.post("/assessments/who5", data=form_data([3, 3, 2, 4, 1], key="key-c3d4"))
    csv_text = client.get("/assessments/export.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffdate,instrument") and "phq9" in csv_text
    bundle = json.loads(client.get("/assessments/export.json").get_data(as_text=True))
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    Bundle.model_validate(bundle)
    resources = [entry["resource"] for entry in bundle["entry"]]
    observations = [
        Observation.model_validate(r) for r in resources if r["resourceType"] == "Observation"
    ]
    responses = [
        QuestionnaireResponse.model_validate(r)
        for r in resources
        if r["resourceType"] == "QuestionnaireResponse"
    ]
    assert len(observations) == len(responses) == 2
    phq = next(o for o in observations if o.code.coding[0].code == "44261-6")
    assert phq.valueQuantity.value == 6 and phq.code.coding[0].system == "http://loinc.org"
    item9 = next(r for r in responses if len(r.item) == 9).item[8]
    assert item9.definition.endswith("44260-8") and item9.answer[0].valueInteger == 1


# ------------------------------------------------------------------------------ API


def test_api_submit_list_read(app, api, consented_worker, token_for):
    user = consented_worker()
    token = token_for(user)
    instruments = api("GET", "/instruments", token, headers={"Accept-Language": "zh"}).json
    assert {"phq9", "gad7", "who5"} <= {i["code"] for i in instruments["items"]}
    detail = api("GET", "/instruments/phq9", token, headers={"Accept-Language": "en"}).json
    assert len(detail["items"]) == 9 and detail["items"][0]["options"][0]["value"] == 0
    created = api(
        "POST",
        "/assessments",
        token,
        json={"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]},
    )
    assert created.status_code == 201
    body = created.json
    assert body["risk"] == {"flagged": True, "level": "critical"}
    assert body["crisis"]["lines"][0]["number"] == "12356"
    listed = api("GET", "/assessments", token).json
    assert listed["meta"]["total"] == 1 and listed["items"][0]["id"] == body["id"]
    assert api("GET", f"/assessments/{body['id']}", token).json["total"] == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(RiskFlag.id))) == 1


def test_api_other_members_result_is_404(api, consented_worker, token_for):
    owner, other = token_for(consented_worker()), token_for(consented_worker())
    created = api("POST", "/assessments", owner, json={"instrument": "gad7", "answers": [0] * 7})
    response = api("GET", f"/assessments/{created.json['id']}", other)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"instrument": "phq9", "answers": [0] * 8}, 422, "answers"),
        ({"instrument": "phq9", "answers": [0] * 8 + [9]}, 422, "q9"),
        ({"instrument": "phq9", "answers": [0] * 8 + [1.5]}, 422, "answers.8"),
        ({"instrument": "phq9", "answers": [0] * 8 + ["1"]}, 422, "answers.8"),
        ({"instrument": "phq9", "answers": [0] * 8 + [True]}, 422, "answers.8"),
        ({"instrument": "nope", "answers": [0]}, 404, None),
    ],
)
def test_api_bad_answers(app, api, consented_worker, token_for, payload, status, field):
    token = token_for(consented_worker())
    response = api("POST", "/assessments", token, json=payload)
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["error"]["fields"]
    assert stored(app) == 0


def test_api_needs_consent(api, make_user, token_for):
    token = token_for(make_user())
    response = api("POST", "/assessments", token, json={"instrument": "phq9", "answers": [0] * 9})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "consent_required"


def test_api_resubmission_is_409(api, consented_worker, token_for):
    token = token_for(consented_worker())
    payload = {"instrument": "gad7", "answers": [0] * 7, "submission_key": "abcdefgh12"}
    assert api("POST", "/assessments", token, json=payload).status_code == 201
    again = api("POST", "/assessments", token, json=payload)
    assert again.status_code == 409 and again.json["error"]["code"] == "already_submitted"
