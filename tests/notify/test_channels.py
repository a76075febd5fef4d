"""Member channel choices: the service, queue() honouring them, the page, the API, privacy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import PASSWORD
from wellness import privacy
from wellness.auth.models import User
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.notify import services
from wellness.notify.addresses import normalise_email
from wellness.notify.models import NotificationPreference, OutboxMessage

DAY = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 Beijing


def channels_of(user_id: int) -> list[str]:
    return sorted(
        db.session.scalars(select(OutboxMessage.channel).where(OutboxMessage.user_id == user_id))
    )


def fresh(user_id: int) -> User:
    return db.session.get(User, user_id)


# ----------------------------------------------------------------------------- addresses


def test_normalise_email():
    assert normalise_email("  Li.Ming@Example.COM ") == "Li.Ming@example.com"
    assert normalise_email("") is None and normalise_email("   ") is None
    assert normalise_email(None) is None
    for bad in ["li", "li@", "@example.com", "li@example", "a@@b.cn", "a b@c.cn", "a..b@c.cn"]:
        with pytest.raises(InvalidInput) as caught:
            normalise_email(bad)
        assert caught.value.fields == {"email": "invalid"}
    with pytest.raises(InvalidInput):
        normalise_email("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".cn")


# ----------------------------------------------------------------------------- service


def test_defaults_without_a_saved_choice(app, make_user):
    with_address = make_user(email="w@example.com")
    without = make_user()
    with app.app_context():
        assert services.channels_for(fresh(with_address.id)) == {
            "sms": False,
            "email": True,
            "email_address": "w@example.com",
        }
        assert services.channels_for(fresh(without.id)) == {
            "sms": False,
            "email": False,
            "email_address": None,
        }
        services.queue(fresh(with_address.id), "s", "b", now=DAY)
        db.session.commit()
        assert channels_of(with_address.id) == ["email", "inapp"]


def test_a_saved_row_defaults_to_sms(app, make_user):
    user = make_user()
    with app.app_context():
        db.session.add(NotificationPreference(user_id=user.id))
        db.session.commit()
        assert services.channels_for(fresh(user.id))["sms"] is True
        assert services.channels_for(fresh(user.id))["email"] is False


def test_save_channels_writes_address_and_choice(app, make_user):
    user = make_user()
    with app.app_context():
        saved = services.save_channels(
            fresh(user.id), sms=False, email_address="Wang@Example.CN", email=True, now=DAY
        )
        assert saved == {"sms": False, "email": True, "email_address": "Wang@example.cn"}
        db.session.rollback()
        assert fresh(user.id).email == "Wang@example.cn"
        pref = db.session.get(NotificationPreference, user.id)
        assert (pref.sms, pref.email, pref.updated_at) == (False, True, DAY)


def test_bad_address_changes_nothing(app, make_user):
    user = make_user(email="old@example.com")
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.save_channels(fresh(user.id), sms=False, email_address="nope", email=True)
        assert caught.value.fields == {"email": "invalid"}
        with pytest.raises(InvalidInput) as caught:
            services.save_channels(fresh(user.id), sms=True, email_address="", email=True)
        assert caught.value.fields == {"email": "required"}
        db.session.rollback()
        assert fresh(user.id).email == "old@example.com"
        assert db.session.get(NotificationPreference, user.id) is None


def test_save_channels_without_commit_joins_the_callers_transaction(app, make_user):
    user = make_user()
    with app.app_context():
        services.save_channels(
            fresh(user.id), sms=True, email_address="", email=False, commit=False
        )
        db.session.rollback()
        assert db.session.get(NotificationPreference, user.id) is None


def test_save_channels_for_a_user_not_yet_flushed(app, make_org_unit):
    from wellness.auth.passwords import hash_password

    with app.app_context():
        user = User(phone="+8613900000099", name="新会员", password_hash=hash_password("x" * 10))
        db.session.add(user)
        services.save_channels(
            user, sms=True, email_address="n@example.com", email=True, commit=False
        )
        db.session.commit()
        assert db.session.get(NotificationPreference, user.id).email is True


# ----------------------------------------------------------------------------- queue


@pytest.mark.parametrize(
    ("sms", "email", "expected"),
    [
        (True, False, ["inapp", "sms"]),
        (False, True, ["email", "inapp"]),
        (True, True, ["email", "inapp", "sms"]),
        (False, False, ["inapp"]),
    ],
)
def test_queue_follows_the_members_choice(app, make_user, sms, email, expected):
    user = make_user()
    with app.app_context():
        member = fresh(user.id)
        services.save_channels(member, sms=sms, email_address="m@example.com", email=email)
        services.queue(member, "s", "很长的正文" * 50, now=DAY)
        db.session.commit()
        assert channels_of(user.id) == expected


def test_sms_text_is_never_the_body(app, make_user):
    user = make_user()
    with app.app_context():
        services.save_channels(fresh(user.id), sms=True, email_address=None, email=False)
        services.queue(fresh(user.id), "预约提醒", "您预约的咨询在明天 14:00", now=DAY)
        services.queue(fresh(user.id), "s", "b", sms_text="短信文本", now=DAY)
        db.session.commit()
        bodies = db.session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.channel == "sms")
        ).all()
        generic = services.default_sms_text(fresh(user.id))
    assert bodies == [generic, "短信文本"]
    assert generic and "14:00" not in generic


def test_explicit_channels_override_the_choice(app, make_user):
    user = make_user()
    with app.app_context():
        member = fresh(user.id)
        services.save_channels(member, sms=False, email_address="", email=False)
        services.queue(member, "验证码", "b", channels=("sms",), inapp=False, now=DAY)
        db.session.commit()
        assert channels_of(user.id) == ["sms"]
        with pytest.raises(ValueError):
            services.queue(member, "s", "b", channels=("pigeon",))


def test_no_sms_to_a_deleted_number_and_no_external_when_told(app, make_user):
    gone = make_user(phone="deleted:42")
    user = make_user(email="w@example.com")
    with app.app_context():
        services.queue(fresh(gone.id), "s", "b", now=DAY)
        services.queue(fresh(user.id), "s", "b", external=False, now=DAY)
        db.session.commit()
        assert channels_of(gone.id) == ["inapp"]
        assert channels_of(user.id) == ["inapp"]


def test_dedupe_per_channel(app, make_user):
    user = make_user(email="w@example.com")
    with app.app_context():
        services.save_channels(fresh(user.id), sms=True, email_address="w@example.com", email=True)
        services.queue(fresh(user.id), "s", "b", dedupe_key="reminder:9", now=DAY)
        db.session.commit()
        keys = sorted(db.session.scalars(select(OutboxMessage.dedupe_key)))
        assert keys == ["reminder:9", "reminder:9:email", "reminder:9:sms"]
        services.queue(fresh(user.id), "s", "b", dedupe_key="reminder:9", now=DAY)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        services.queue(fresh(user.id), "s", "b", dedupe_key="reminder:9", inapp=False, now=DAY)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 3


# ----------------------------------------------------------------------------- privacy


def test_erasure_removes_every_outbox_row_and_the_choice(app, make_user):
    user = make_user(email="w@example.com")
    other = make_user()
    with app.app_context():
        services.save_channels(fresh(user.id), sms=True, email_address="w@example.com", email=True)
        services.save_channels(fresh(other.id), sms=True, email_address=None, email=False)
        services.queue(fresh(user.id), "s", "b", now=DAY)
        services.queue(fresh(other.id), "s", "b", now=DAY)
        db.session.commit()
        assert channels_of(user.id) == ["email", "inapp", "sms"]
        exported = privacy.export_all(fresh(user.id))["notify"]
        assert exported["messages"][0]["subject"] == "s"
        assert exported["channels"]["email"] is True
        privacy.delete_account(fresh(user.id), PASSWORD)
        assert channels_of(user.id) == []
        assert db.session.get(NotificationPreference, user.id) is None
        assert channels_of(other.id) == ["inapp", "sms"]


# ----------------------------------------------------------------------------- page


def test_settings_page_shows_and_saves(app, client, make_user, login_as):
    user = login_as(make_user())
    page = client.get("/notify/settings")
    assert page.status_code == 200
    assert 'name="email_address"' in page.get_data(as_text=True)
    assert "/notify/settings" in client.get("/inbox/").get_data(as_text=True)
    answer = client.post("/notify/settings", data={"email_address": "Me@Example.com", "email": "y"})
    assert answer.status_code == 302
    with app.app_context():
        assert services.channels_for(fresh(user.id)) == {
            "sms": False,
            "email": True,
            "email_address": "Me@example.com",
        }


def test_settings_page_bad_address_is_a_400_naming_the_field(app, client, make_user, login_as):
    user = login_as(make_user(email="old@example.com"))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    answer = client.post("/notify/settings", data={"email_address": "not-an-address", "sms": "y"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="email_address-error"' in html
    assert "Enter a valid e-mail address." in html
    answer = client.post("/notify/settings", data={"email_address": "", "email": "y"})
    assert answer.status_code == 400 and 'id="email_address-error"' in answer.get_data(as_text=True)
    with app.app_context():
        assert fresh(user.id).email == "old@example.com"
        assert db.session.get(NotificationPreference, user.id) is None


# ----------------------------------------------------------------------------- API


def test_api_reads_and_replaces_channels(app, api, make_user, token_for):
    user = make_user()
    token = token_for(user)
    answer = api("GET", "/me/channels", token)
    assert answer.status_code == 200
    assert answer.json == {"inapp": True, "sms": False, "email": False, "email_address": None}
    answer = api(
        "PUT",
        "/me/channels",
        token,
        json={"sms": False, "email": True, "email_address": "a@EXAMPLE.cn"},
    )
    assert answer.status_code == 200
    assert answer.json["email_address"] == "a@example.cn" and answer.json["sms"] is False


def test_api_bad_address_names_the_field_and_changes_nothing(app, api, make_user, token_for):
    user = make_user()
    token = token_for(user)
    answer = api(
        "PUT", "/me/channels", token, json={"sms": True, "email": True, "email_address": "x@"}
    )
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"email_address": "invalid"}
    answer = api("PUT", "/me/channels", token, json={"sms": "yes", "email": False})
    assert answer.status_code == 422
    assert set(answer.json["error"]["fields"]) == {"sms", "email_address"}
    assert api("GET", "/me/channels").status_code == 401
    with app.app_context():
        assert db.session.get(NotificationPreference, user.id) is None
