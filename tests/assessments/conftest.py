from __future__ import annotations

import pytest

from wellness.auth import services as auth_services
from wellness.auth.models import User
from wellness.extensions import db


@pytest.fixture
def consented_worker(app, make_user):
    """A worker who has given the sensitive-information consent."""

    def make(**fields) -> User:
        user = make_user("worker", **fields)
        with app.app_context():
            auth_services.give_consent(db.session.get(User, user.id), app.config["CONSENT_VERSION"])
        return user

    return make
