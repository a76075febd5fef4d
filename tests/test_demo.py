from __future__ import annotations

from sqlalchemy import func, select

from wellness.auth.models import OrgUnit, User
from wellness.extensions import db


def test_seed_demo_is_idempotent_and_prints_logins(app, runner):
    first = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0, first.output
    assert "13800138000" in first.output and "Wellness-2026" in first.output
    with app.app_context():
        users = db.session.scalar(select(func.count(User.id)))
        units = db.session.scalar(select(func.count(OrgUnit.id)))
        roles = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles["admin"] >= 1 and roles["counselor"] >= 6 and roles["worker"] >= 30
    assert units >= 8
    second = runner.invoke(args=["seed", "demo"])
    assert "nothing new" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == users


def test_demo_logins_work(app, client, runner):
    runner.invoke(args=["seed", "demo"])
    for phone in ("13800138000", "13800138101", "13900000000"):
        response = client.post("/auth/login", data={"phone": phone, "password": "Wellness-2026"})
        assert response.status_code == 302, phone
        client.post("/auth/logout")


def test_is_empty_command(app, runner):
    assert runner.invoke(args=["seed", "is-empty"]).exit_code == 0
    runner.invoke(args=["seed", "demo"])
    assert runner.invoke(args=["seed", "is-empty"]).exit_code == 1
