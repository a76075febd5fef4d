"""A member exports everything and deletes the account; nothing identifying remains."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from tests.conftest import PASSWORD
from wellness.assessments.models import AssessmentResponse
from wellness.audit import AuditEvent
from wellness.auth import services as auth_services
from wellness.auth.models import User
from wellness.extensions import db
from wellness.risk.models import RiskFlag


def test_export_then_delete(app, client, make_user, login_as):
    user = make_user(name="刘洋")
    with app.app_context():
        auth_services.give_consent(db.session.get(User, user.id), app.config["CONSENT_VERSION"])
    login_as(user)
    client.post(
        "/assessments/phq9",
        data={**{f"q{i}": "1" for i in range(1, 10)}, "submission_key": "key-export-1"},
    )
    exported = json.loads(client.get("/auth/my-data/export.json").get_data(as_text=True))
    assert exported["account"]["name"] == "刘洋"
    assert exported["assessments"][0]["answers"] == [1] * 9
    assert exported["risk"]["follow_up_cases"][0]["status"] == "open"
    wrong = client.post(
        "/auth/my-data",
        data={"password": "nope", "confirm": "y"},
        headers={"Accept-Language": "en"},
    )
    assert wrong.status_code == 422 and "password is not correct" in wrong.get_data(as_text=True)
    done = client.post("/auth/my-data", data={"password": PASSWORD, "confirm": "y"})
    assert done.status_code == 302
    with app.app_context():
        gone = db.session.get(User, user.id)
        assert gone.name != "刘洋" and gone.phone == f"deleted:{user.id}" and not gone.active
        assert db.session.scalar(select(func.count(AssessmentResponse.id))) == 0
        assert db.session.scalar(select(func.count(RiskFlag.id))) == 0
        assert (
            db.session.scalar(
                select(func.count(AuditEvent.id)).where(
                    AuditEvent.action == "privacy.delete_account"
                )
            )
            == 1
        )
    assert client.get("/assessments/").status_code == 302  # signed out
    fresh = app.test_client()
    assert (
        fresh.post("/auth/login", data={"phone": user.phone, "password": PASSWORD}).status_code
        == 401
    )
