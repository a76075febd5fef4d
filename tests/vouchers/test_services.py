"""Issuance, limits, claims, station use, withdrawal, sweeps, reminders and reports."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tests.vouchers.conftest import NOW, balance_ok, later, spec
from wellness.audit import AuditEvent
from wellness.auth.models import OrgUnit
from wellness.errors import Conflict, InvalidInput, NotFound
from wellness.extensions import db
from wellness.notify.models import OutboxMessage
from wellness.vouchers import services
from wellness.vouchers.codes import display
from wellness.vouchers.models import (
    LedgerIsAppendOnly,
    Voucher,
    VoucherBatch,
    VoucherEntry,
    VoucherImportProblem,
    VoucherQuota,
    VoucherRecipient,
)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def csv_bytes(*lines: str, bom: bool = True) -> io.BytesIO:
    text = "\r\n".join(lines) + "\r\n"
    return io.BytesIO(("\ufeff" if bom else "").encode() + text.encode())


# ----------------------------------------------------------------------------- batches


def test_csv_import_checks_every_row_and_issues_nothing_until_confirmed(app, make_user):
    a, b = make_user("worker"), make_user("worker")
    make_user("counselor", phone="+8613800000077")
    with app.app_context():
        stream = csv_bytes(
            "姓名,手机号",
            f"甲,{a.phone[3:]}",
            "",
            f"乙,{b.phone}",
            f"甲again,{a.phone[3:]}",
            "丙,13800000077",  # a counsellor, not a member
            "丁,=1+2",
            "戊,13912345678",  # nobody
            f"己,+86 {b.phone[3:6]} {b.phone[6:10]} {b.phone[10:]}",  # b again, spaced
        )
        batch = services.prepare_csv_batch(None, spec(), stream, NOW)
        report = batch.import_report
        assert (report["good"], report["bad_count"], report["blank"]) == (2, 5, 1)
        assert [(r["line"], r["problem"], r["detail"]) for r in report["bad"]] == [
            (5, "duplicate", "2"),
            (6, "unknown", None),
            (7, "invalid", None),
            (8, "unknown", None),
            (9, "duplicate", "4"),
        ]
        assert report["header"] == ["姓名", "手机号"]
        assert batch.status == "draft"
        assert count(Voucher) == 0  # nothing issued yet
        assert count(VoucherEntry) == 0

        result = services.confirm_batch(None, batch.id, NOW)
        assert (result.issued, result.refused) == (2, 0)
        owners = set(db.session.scalars(select(Voucher.user_id)))
        assert owners == {a.id, b.id}
        balance_ok(batch.id)
        with pytest.raises(Conflict):
            services.confirm_batch(None, batch.id, NOW)  # once only
        assert count(Voucher) == 2


def test_duplicates_across_chunks_are_found(app, make_user, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    users = [make_user("worker") for _ in range(3)]
    with app.app_context():
        lines = [u.phone[3:] for u in users] + [users[0].phone[3:]]
        batch = services.prepare_csv_batch(None, spec(), csv_bytes(*lines, bom=False), NOW)
        assert [(r["line"], r["problem"], r["detail"]) for r in batch.import_report["bad"]] == [
            (4, "duplicate", "1")
        ]
        assert batch.staged_count == 3


def test_every_bad_row_is_kept_not_only_those_shown(app, make_user, monkeypatch):
    monkeypatch.setattr(services, "SHOWN_BAD", 2)
    monkeypatch.setattr(services, "CHUNK", 3)  # problems are written chunk by chunk
    worker = make_user("worker")
    with app.app_context():
        lines = [worker.phone, *[f"bad{i}" for i in range(7)]]
        batch = services.prepare_csv_batch(None, spec(), csv_bytes(*lines), NOW)
        assert batch.import_report["bad_count"] == 7
        assert len(batch.import_report["bad"]) == 2
        with force_locale("en"):
            text = services.bad_rows_csv(batch).decode("utf-8-sig").splitlines()
        assert [row.split(",")[0] for row in text[1:]] == [str(n) for n in range(2, 9)]
        services.discard_batch(None, batch.id, NOW)
        assert count(VoucherImportProblem) == 0  # they go with the draft


def test_discarding_a_draft_removes_it_and_its_recipients(app, make_user):
    worker = make_user("worker")
    with app.app_context():
        batch = services.prepare_csv_batch(None, spec(), csv_bytes(worker.phone), NOW)
        services.discard_batch(None, batch.id, NOW)
        assert count(VoucherBatch) == 0 and count(VoucherRecipient) == 0
        with pytest.raises(NotFound):
            services.discard_batch(None, batch.id, NOW)


def test_a_file_with_no_good_rows_cannot_be_issued(app):
    with app.app_context():
        batch = services.prepare_csv_batch(
            None, spec(), io.BytesIO("手机号\n".encode("utf-16")), NOW
        )
        assert batch.import_report["bad"][0]["problem"] == "utf16"
        with pytest.raises(Conflict):
            services.confirm_batch(None, batch.id, NOW)


def test_org_unit_issuance_covers_children_and_only_active_members(app, make_user, make_org_unit):
    city = make_org_unit("市总工会", "city")
    district = make_org_unit("区总工会", "district", parent=city)
    company = make_org_unit("某公司工会", parent=district)
    other = make_org_unit("别的市")
    inside = [
        make_user("worker", org_unit_id=district.id),
        make_user("worker", org_unit_id=company.id),
    ]
    make_user("worker", org_unit_id=company.id, active=False)
    make_user("counselor", org_unit_id=company.id)
    make_user("worker", org_unit_id=other.id)
    with app.app_context():
        batch = services.prepare_org_unit_batch(None, spec(), district.id, NOW)
        assert batch.staged_count == 2
        services.confirm_batch(None, batch.id, NOW)
        assert set(db.session.scalars(select(Voucher.user_id))) == {u.id for u in inside}


def test_bearer_batch(app):
    with app.app_context():
        batch = services.prepare_bearer_batch(None, spec(sessions=2), 30, NOW)
        services.confirm_batch(None, batch.id, NOW)
        rows = db.session.scalars(select(Voucher)).all()
        assert len(rows) == 30 and {v.status for v in rows} == {"unassigned"}
        assert {v.user_id for v in rows} == {None}
        assert len({v.code for v in rows}) == 30
        balance_ok(batch.id)
        issue = db.session.scalar(select(VoucherEntry).where(VoucherEntry.kind == "issue"))
        assert (issue.vouchers, issue.sessions) == (30, 60)
        assert db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "vouchers.issue")
        ).detail == {"vouchers": 30, "sessions": 60, "refused": 0}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "name"),
        ({"sessions": 0}, "sessions"),
        ({"sessions": 51}, "sessions"),
        ({"service_codes": ["massage"]}, "service_codes"),
        ({"valid_until": date(2026, 11, 30)}, "valid_until"),
        ({"valid_from": date(2027, 7, 1)}, "valid_until"),
        ({"valid_until": date(2040, 1, 1)}, "valid_until"),
        ({"per_member_limit": 0}, "per_member_limit"),
        ({"limit_period": "week"}, "limit_period"),
        ({"org_unit_id": 999}, "org_unit_id"),
        ({"notes": "x" * 2001}, "notes"),
    ],
)
def test_bad_batch_fields_are_named_and_nothing_is_created(app, overrides, field):
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.prepare_bearer_batch(None, spec(**overrides), 5, NOW)
        assert field in caught.value.fields
        db.session.rollback()
        assert count(VoucherBatch) == 0


def test_bearer_count_bounds(app):
    with app.app_context():
        for bad in (0, services.MAX_BEARER + 1, "12"):
            with pytest.raises(InvalidInput) as caught:
                services.prepare_bearer_batch(None, spec(), bad, NOW)
            assert caught.value.fields == {"bearer_count": "out_of_range"}
            db.session.rollback()


def test_valid_until_is_the_end_of_the_beijing_day(app):
    with app.app_context():
        batch = services.prepare_bearer_batch(None, spec(valid_until=date(2027, 6, 30)), 1, NOW)
        # 2027-07-01 00:00 in Beijing is 2027-06-30 16:00 UTC.
        assert batch.valid_until.isoformat() == "2027-06-30T16:00:00+00:00"
        assert services.last_valid_day(batch.valid_until) == date(2027, 6, 30)


# ----------------------------------------------------------------------------- API path


def test_issue_now_is_all_or_nothing(app, make_user):
    worker = make_user("worker")
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.issue_batch_now(
                None, spec(), members=[worker.phone, "13912345678", worker.phone[3:]], now=NOW
            )
        assert caught.value.fields == {"members.1": "unknown", "members.2": "duplicate"}
        assert count(VoucherBatch) == 0 and count(Voucher) == 0
        with pytest.raises(InvalidInput):
            services.issue_batch_now(None, spec(), members=[worker.phone], bearer_count=3, now=NOW)
        result = services.issue_batch_now(None, spec(), members=[worker.phone], now=NOW)
        assert result.issued == 1


# ----------------------------------------------------------------------------- limits


def test_per_member_limit_per_year_across_batches_of_one_union(app, make_user, make_org_unit):
    union = make_org_unit("市总工会", "city")
    worker = make_user("worker")
    yearly = {"org_unit_id": union.id, "per_member_limit": 2, "limit_period": "year"}
    with app.app_context():
        for name in ("一月", "三月"):
            services.issue_batch_now(
                None, spec(name=name, **yearly), members=[worker.phone], now=NOW
            )
        with pytest.raises(InvalidInput) as caught:
            services.issue_batch_now(
                None, spec(name="五月", **yearly), members=[worker.phone], now=NOW
            )
        assert caught.value.fields == {"members.0": "limit"}
        # The preview of a CSV marks the member as over the limit by line.
        draft = services.prepare_csv_batch(
            None, spec(name="六月", **yearly), csv_bytes(worker.phone), NOW
        )
        assert [(r["line"], r["problem"]) for r in draft.import_report["bad"]] == [(1, "limit")]
        # A new calendar year (Beijing) starts a new count.
        next_year = NOW.replace(year=2027, month=1, day=1)
        services.issue_batch_now(
            None,
            spec(name="明年", valid_until=date(2027, 12, 31), **yearly),
            members=[worker.phone],
            now=next_year,
        )
        # Withdrawing one gives the quota back.
        first = db.session.scalar(
            select(Voucher).where(Voucher.user_id == worker.id).order_by(Voucher.id)
        )
        services.revoke_voucher(None, first.id, "发错了", later(1))
        services.issue_batch_now(
            None, spec(name="补发", **yearly), members=[worker.phone], now=later(2)
        )
        assert (
            db.session.scalar(select(VoucherQuota.issued).where(VoucherQuota.period == "2026")) == 2
        )


def test_limit_refused_at_confirm_when_reached_after_the_preview(app, make_user, make_org_unit):
    union = make_org_unit("市总工会", "city")
    worker, other = make_user("worker"), make_user("worker")
    yearly = {"org_unit_id": union.id, "per_member_limit": 1, "limit_period": "year"}
    with app.app_context():
        draft = services.prepare_csv_batch(
            None, spec(name="草稿", **yearly), csv_bytes(worker.phone, other.phone), NOW
        )
        services.issue_batch_now(None, spec(name="抢先", **yearly), members=[worker.phone], now=NOW)
        result = services.confirm_batch(None, draft.id, NOW)
        assert (result.issued, result.refused) == (1, 1)
        assert result.batch.import_report["refused_at_issue"] == 1
        assert count(Voucher, Voucher.user_id == worker.id) == 1


def test_claim_respects_the_limit_and_reports_kinds(app, make_user, issue):
    worker, other = make_user("worker"), make_user("worker")
    codes = issue(bearer=3, per_member_limit=1)
    with app.app_context():
        got = services.claim_code(
            worker,
            display(codes[0].code),
            NOW,  # as printed on the sheet
        )
        assert (got.user_id, got.status, got.assigned_at) == (worker.id, "active", NOW)
        for code, who, kind in [
            (codes[0].code, worker, "already_yours"),
            (codes[0].code, other, "claimed"),
            (codes[1].code, worker, "limit"),
        ]:
            with pytest.raises((Conflict, InvalidInput)) as caught:
                services.claim_code(who, code, NOW)
            assert caught.value.fields == {"voucher_code": kind}
        assert db.session.get(Voucher, codes[1].id).user_id is None  # nothing changed
        services.revoke_voucher(None, codes[2].id, "丢失", NOW)
        with pytest.raises(Conflict) as caught:
            services.claim_code(other, codes[2].code, NOW)
        assert caught.value.fields == {"voucher_code": "revoked"}
        end = db.session.get(Voucher, codes[1].id).valid_until
        with pytest.raises(Conflict) as caught:
            services.claim_code(other, codes[1].code, end)
        assert caught.value.fields == {"voucher_code": "expired"}


# ----------------------------------------------------------------------------- station


def test_station_verify_is_audited_and_shows_the_holder(app, make_user, issue):
    worker = make_user("worker", name="王伟")
    counselor = make_user("counselor")
    (voucher,) = issue(worker, sessions=2)
    with app.app_context():
        services.reserve_for_appointment(worker.id, voucher.code, "individual", 5, NOW)
        db.session.commit()
        view = services.verify_at_station(counselor, voucher.code.lower(), NOW)
        assert view.owner.name == "王伟" and view.usable and view.problem is None
        assert [h.appointment_id for h in view.open_holds] == [5]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "vouchers.verify"))
        assert (event.actor_id, event.target_id) == (counselor.id, str(voucher.id))


def test_station_use_spends_one_session_and_refuses_when_empty(app, make_user, issue):
    worker, counselor = make_user("worker"), make_user("counselor")
    (voucher,) = issue(worker, sessions=1, service_codes=["individual"])
    with app.app_context():
        with pytest.raises(InvalidInput) as caught:
            services.consume_at_station(counselor, voucher.code, "group", NOW)
        assert caught.value.fields == {"voucher_code": "wrong_service"}
        used = services.consume_at_station(counselor, voucher.code, "individual", NOW)
        assert (used.remaining_sessions, used.consumed_sessions) == (0, 1)
        with pytest.raises(Conflict) as caught:
            services.consume_at_station(counselor, voucher.code, "individual", NOW)
        assert caught.value.fields == {"voucher_code": "exhausted"}
        with force_locale("en"):
            view = services.verify_at_station(counselor, voucher.code, NOW)
        assert not view.usable and "no sessions left" in view.problem
        kinds = list(
            db.session.scalars(
                select(VoucherEntry.kind).where(VoucherEntry.voucher_id == voucher.id)
            )
        )
        assert kinds == ["reserve", "consume"]
        balance_ok(voucher.batch_id)


# ----------------------------------------------------------------------------- revoke


def test_revoke_needs_a_reason_and_tells_the_member(app, make_user, issue):
    worker = make_user("worker", email="w@example.cn")
    (voucher,) = issue(worker, sessions=2)
    with app.app_context():
        with pytest.raises(InvalidInput):
            services.revoke_voucher(None, voucher.id, "  ", NOW)
        revoked = services.revoke_voucher(None, voucher.id, "会员已退会", NOW)
        assert (revoked.status, revoked.remaining_sessions, revoked.revoked_sessions) == (
            "revoked",
            0,
            2,
        )
        entry = db.session.scalar(select(VoucherEntry).where(VoucherEntry.kind == "revoke"))
        assert (entry.sessions, entry.reason) == (2, "会员已退会")
        messages = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.user_id == worker.id)
        ).all()
        assert {m.channel for m in messages} == {"inapp", "email"}
        assert "会员已退会" in messages[0].body
        with pytest.raises(Conflict):
            services.revoke_voucher(None, voucher.id, "again", NOW)
        with pytest.raises(NotFound):
            services.revoke_voucher(None, 99999, "x", NOW)


def test_the_ledger_refuses_changes(app, make_user, issue):
    worker = make_user("worker")
    issue(worker)
    with app.app_context():
        entry = db.session.scalar(select(VoucherEntry))
        entry.sessions = 99
        with pytest.raises(LedgerIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(VoucherEntry)))
        with pytest.raises(LedgerIsAppendOnly):
            db.session.flush()


def test_the_database_refuses_an_unbalanced_or_negative_voucher(app, make_user, issue):
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    worker = make_user("worker")
    (voucher,) = issue(worker, sessions=1)
    with app.app_context():
        for values in (
            {"remaining_sessions": -1, "consumed_sessions": 2},
            {"consumed_sessions": 1},
        ):
            with pytest.raises(IntegrityError):
                db.session.execute(update(Voucher).where(Voucher.id == voucher.id).values(**values))
            db.session.rollback()


# ----------------------------------------------------------------------------- sweeps


def test_expiry_sweep_marks_once_and_leaves_reserved_sessions(app, make_user, issue):
    workers = [make_user("worker") for _ in range(3)]
    vouchers = issue(*workers, sessions=2)
    bearer = issue(bearer=2, name="印刷")
    with app.app_context():
        services.reserve_for_appointment(workers[0].id, vouchers[0].code, "individual", 1, NOW)
        db.session.commit()
        end = db.session.get(Voucher, vouchers[0].id).valid_until
        assert services.expire_due(end - timedelta(seconds=1))["vouchers"] == 0
        first = services.expire_due(end)
        assert first == {"batches": 2, "vouchers": 5, "sessions": 2 * 3 - 1 + 2}
        assert services.expire_due(end + timedelta(days=1)) == {
            "batches": 0,
            "vouchers": 0,
            "sessions": 0,
        }
        assert count(VoucherEntry, VoucherEntry.kind == "expire") == 5
        assert count(AuditEvent, AuditEvent.action == "vouchers.expire") == 2
        held = db.session.get(Voucher, vouchers[0].id)
        assert (held.status, held.reserved_sessions, held.expired_sessions) == ("expired", 1, 1)
        balance_ok(vouchers[0].batch_id)
        balance_ok(bearer[0].batch_id)


def test_reminders_go_seven_days_ahead_once_each(app, make_user, issue):
    keen, idle, done = make_user("worker", locale="en"), make_user("worker"), make_user("worker")
    vouchers = issue(keen, idle, done, sessions=1)
    issue(bearer=1, name="印刷")  # unassigned: nobody to remind
    with app.app_context():
        services.consume_at_station(None, vouchers[2].code, "individual", NOW)  # used up
        end = db.session.get(Voucher, vouchers[0].id).valid_until
        assert services.remind_expiring(end - timedelta(days=8)) == {"reminded": 0}
        assert services.remind_expiring(end - timedelta(days=7)) == {"reminded": 2}
        assert services.remind_expiring(end - timedelta(days=6)) == {"reminded": 0}
        messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.user_id)).all()
        assert [m.user_id for m in messages] == [keen.id, idle.id]
        assert messages[0].subject == "Your counselling voucher expires soon"
        assert "1 free sessions" in messages[0].body and "2027" in messages[0].body
        assert messages[0].dedupe_key == f"vouchers:expiry:{vouchers[0].id}"


def test_jobs_are_registered():
    from wellness.vouchers.jobs import JOBS

    assert {job.id for job in JOBS} == {"vouchers.expire", "vouchers.remind_expiring"}


# ----------------------------------------------------------------------------- reports


def test_reports_group_by_batch_and_org_unit_and_hide_small_groups(app, make_user, make_org_unit):
    union = make_org_unit("江北区总工会", "district")
    many = [make_user("worker") for _ in range(6)]
    few = [make_user("worker") for _ in range(2)]
    with app.app_context():
        big = services.issue_batch_now(
            None,
            spec(name="大批", sessions=2, org_unit_id=union.id),
            members=[u.phone for u in many],
            now=NOW,
        ).batch
        small = services.issue_batch_now(
            None, spec(name="小批"), members=[u.phone for u in few], now=NOW
        ).batch
        bearer = services.issue_batch_now(None, spec(name="印刷"), bearer_count=4, now=NOW).batch
        big_codes = db.session.scalars(select(Voucher.code).where(Voucher.batch_id == big.id)).all()
        for code in big_codes[:3]:
            services.consume_at_station(None, code, "individual", NOW)
        services.revoke_voucher(
            None,
            db.session.scalar(select(Voucher.id).where(Voucher.code == big_codes[5])),
            "x",
            NOW,
        )
        rows = {row.label: row for row in services.report_by_batch()}
        assert rows["大批"].values == {
            "vouchers": 6,
            "assigned": 6,
            "members": 6,
            "sessions": 12,
            "reserved": 0,
            "consumed": 3,
            "forfeited": 0,
            "expired": 0,
            "revoked": 2,
            "unused": 7,
        }
        assert rows["大批"].redemption_rate == pytest.approx(0.25)
        assert rows["小批"].suppressed and rows["小批"].values["consumed"] is None
        assert rows["小批"].redemption_rate is None
        assert rows["印刷"].values["assigned"] == 0 and not rows["印刷"].suppressed
        with force_locale("en"):
            by_unit = {row.label: row for row in services.report_by_org_unit()}
        assert by_unit["江北区总工会"].values["vouchers"] == 6
        assert by_unit["Service centre"].values["vouchers"] == 2 + 4
        del small, bearer


def test_report_csv_is_excel_friendly_and_defused(app, make_user):
    workers = [make_user("worker") for _ in range(5)]
    with app.app_context():
        services.issue_batch_now(
            None, spec(name='=HYPERLINK("http://x")'), members=[u.phone for u in workers], now=NOW
        )
        data = services.report_csv("batch")
        assert data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig")
        assert "'=HYPERLINK" in text and "\r\n" in text
        assert text.splitlines()[1].endswith(",0.0%")
        with force_locale("en"):
            assert services.report_csv("org_unit").decode("utf-8-sig").startswith("Organisation,")


def test_problem_rows_csv(app):
    with app.app_context():
        batch = services.prepare_csv_batch(
            None, spec(), csv_bytes("=cmd|' /C calc'!A0", "abc"), NOW
        )
        with force_locale("en"):
            text = services.bad_rows_csv(batch).decode("utf-8-sig")
        assert text.splitlines()[0] == "Line,Value,Problem"
        assert "'=cmd" in text and ",abc," in text


def test_demo_seed_is_idempotent(app):
    from wellness import demo

    with app.app_context():
        first = demo.seed_demo()
        assert first.created.get("vouchers") == 20 and first.created.get("bearer vouchers") == 24
        second = demo.seed_demo()
        assert "vouchers" not in second.created and "bearer vouchers" not in second.created
        assert count(Voucher) == 44
        for batch_id in db.session.scalars(select(VoucherBatch.id)):
            balance_ok(batch_id)
        assert db.session.scalar(select(OrgUnit).where(OrgUnit.name == "滨江市总工会"))
