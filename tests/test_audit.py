from __future__ import annotations

import pytest

from wellness import audit
from wellness.audit import AuditEvent, AuditIsAppendOnly
from wellness.extensions import db


def test_record_and_refuse_changes(app, make_user):
    user = make_user("admin")
    with app.app_context():
        event = audit.record(user.id, "test.action", ("thing", 7), {"k": "v"})
        db.session.commit()
        assert audit.events_for("thing", 7)[0].detail == {"k": "v"}
        event.action = "changed"
        with pytest.raises(AuditIsAppendOnly):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEvent, event.id))
        with pytest.raises(AuditIsAppendOnly):
            db.session.commit()
        db.session.rollback()
