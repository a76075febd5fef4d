"""Voucher pages: status codes, field errors, nothing changed on bad input, real concurrency."""

from __future__ import annotations

import io
import re
import threading
from collections import Counter

from sqlalchemy import func, select

from tests.vouchers.conftest import spec
from wellness.audit import AuditEvent
from wellness.extensions import db
from wellness.vouchers import services
from wellness.vouchers.codes import display
from wellness.vouchers.models import Voucher, VoucherBatch

EN = {"Accept-Language": "en"}


def count(model, *where) -> int:
    with_ctx = db.session.scalar(select(func.count()).select_from(model).where(*where))
    return with_ctx


def issue_now(app, *users, **overrides) -> list[Voucher]:
    """Issue with the real clock (pages use utcnow)."""
    with app.app_context():
        bearer = overrides.pop("bearer", None)
        kwargs = {"bearer_count": bearer} if bearer else {"members": [u.phone for u in users]}
        batch = services.issue_batch_now(None, spec(**overrides), **kwargs).batch
        vouchers = db.session.scalars(
            select(Voucher).where(Voucher.batch_id == batch.id).order_by(Voucher.id)
        ).all()
        for v in vouchers:
            db.session.expunge(v)
        return vouchers


def fresh(app, voucher_id: int) -> Voucher:
    with app.app_context():
        v = db.session.get(Voucher, voucher_id)
        db.session.expunge(v)
        return v


# ----------------------------------------------------------------------------- wallet


def test_wallet_shows_vouchers_with_qr_and_expired_without(app, client, make_user, login_as):
    worker = make_user("worker")
    active, old = issue_now(app, worker, sessions=3)[0], issue_now(app, worker, name="旧券")[0]
    with app.app_context():
        services.revoke_voucher(None, old.id, "测试")
    login_as(worker)
    page = client.get("/vouchers/", headers=EN)
    assert page.status_code == 200
    html = page.text
    assert display(active.code) in html and display(old.code) in html
    assert html.count('src="data:image/svg+xml') == 1  # only the usable voucher has a QR
    assert "3 of 3 sessions left" in html and "Withdrawn" in html
    assert "Book a session" in html or "booking.list_stations" not in app.view_functions


def test_another_members_vouchers_are_not_in_my_wallet(app, client, make_user, login_as):
    me, other = make_user("worker"), make_user("worker")
    theirs = issue_now(app, other)[0]
    login_as(me)
    assert display(theirs.code) not in client.get("/vouchers/").text


def test_claim_a_printed_code(app, client, make_user, login_as):
    worker = make_user("worker")
    code = issue_now(app, bearer=2)[0]
    login_as(worker)
    response = client.post(
        "/vouchers/claim", data={"voucher_code": display(code.code).lower()}, headers=EN
    )
    assert response.status_code == 302
    assert fresh(app, code.id).user_id == worker.id
    assert "is now in your wallet" in client.get("/vouchers/", headers=EN).text


def test_claim_errors_name_the_field_and_change_nothing(app, client, make_user, login_as):
    worker, other = make_user("worker"), make_user("worker")
    first, second = issue_now(app, bearer=2)
    with app.app_context():
        services.claim_code(other, first.code)
    login_as(worker)
    typo = second.code[:-1] + ("A" if second.code[-1] != "A" else "B")
    for data, status, text in [
        ({"voucher_code": typo}, 422, "This code has a typo"),
        ({"voucher_code": "hello"}, 422, "Enter the 16-character voucher code"),
        ({"voucher_code": first.code}, 409, "Someone else has already claimed"),
        ({"voucher_code": ""}, 400, "This field is required"),
    ]:
        response = client.post("/vouchers/claim", data=data, headers=EN)
        assert response.status_code == status, (data, response.status_code)
        assert text in response.text
        assert 'id="voucher_code-error"' in response.text or status == 400
    assert fresh(app, second.id).user_id is None
    assert fresh(app, first.id).user_id == other.id


def test_a_scanned_link_sends_members_to_the_wallet_and_staff_to_the_check(
    app, client, make_user, login_as
):
    code = display(issue_now(app, bearer=1)[0].code)
    login_as(make_user("worker"))
    response = client.get(f"/vouchers/v/{code}")
    assert response.status_code == 302 and "/vouchers/?voucher_code=" in response.location
    prefilled = client.get(response.location).text
    assert f'value="{code}"' in prefilled
    login_as(make_user("counselor"))
    response = client.get(f"/vouchers/v/{code}")
    assert response.status_code == 302 and "/vouchers/station?voucher_code=" in response.location
    assert client.get("/vouchers/v/nonsense").location.endswith("/vouchers/station")


# ----------------------------------------------------------------------------- station


def test_station_check_shows_holder_masked_and_audits(app, client, make_user, login_as):
    worker = make_user("worker", name="李娜", phone="+8613912345678")
    counselor = make_user("counselor")
    voucher = issue_now(app, worker, sessions=2, service_codes=["individual", "sand_table"])[0]
    login_as(counselor)
    page = client.get("/vouchers/station", query_string={"voucher_code": voucher.code}, headers=EN)
    assert page.status_code == 200
    assert "李娜" in page.text and "139****5678" in page.text and "13912345678" not in page.text
    assert "Individual counselling" in page.text and "Sand-table therapy" in page.text
    assert "<strong>2</strong> / 2" in page.text
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "vouchers.verify") == 1
    assert client.get("/vouchers/station").status_code == 200  # the empty form
    bad = client.get("/vouchers/station", query_string={"voucher_code": "x"}, headers=EN)
    assert bad.status_code == 422 and "16-character" in bad.text


def test_station_use_spends_one_session(app, client, make_user, login_as):
    worker, counselor = make_user("worker"), make_user("counselor")
    voucher = issue_now(app, worker, sessions=1)[0]
    login_as(counselor)
    data = {"use-voucher_code": voucher.code, "use-service_code": "individual"}
    response = client.post("/vouchers/station/consume", data=data, headers=EN)
    assert response.status_code == 302
    assert "One session used. 0 sessions left" in client.get(response.location, headers=EN).text
    again = client.post("/vouchers/station/consume", data=data, headers=EN)
    assert again.status_code == 409 and "no sessions left" in again.text
    wrong = client.post(
        "/vouchers/station/consume", data={**data, "use-service_code": "massage"}, headers=EN
    )
    assert wrong.status_code == 400
    assert fresh(app, voucher.id).consumed_sessions == 1


def test_twenty_counsellors_using_a_one_session_voucher_at_once(app, make_user, login_as):
    worker = make_user("worker")
    voucher = issue_now(app, worker, sessions=1)[0]
    counselors = [make_user("counselor") for _ in range(20)]
    clients = []
    for counselor in counselors:
        c = app.test_client()
        login_as(counselor, on=c)
        clients.append(c)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    lock = threading.Lock()

    def post(c):
        barrier.wait(timeout=30)
        response = c.post(
            "/vouchers/station/consume",
            data={"use-voucher_code": voucher.code, "use-service_code": "individual"},
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(statuses) == Counter({302: 1, 409: 19}), statuses
    v = fresh(app, voucher.id)
    assert (v.remaining_sessions, v.consumed_sessions) == (0, 1)


# ----------------------------------------------------------------------------- admin


def batch_form(**overrides):
    data = {
        "name": "2027年度关爱券",
        "org_unit_id": "0",
        "service_codes": ["individual", "group"],
        "sessions": "2",
        "valid_until": "2030-06-30",
        "per_member_limit": "1",
        "limit_period": "batch",
        "target": "members",
        "target_org_unit_id": "0",
        "bearer_count": "",
        "notes": "",
    }
    data.update(overrides)
    return data


def test_csv_upload_preview_then_issue(app, client, make_user, login_as):
    admin = make_user("admin")
    a, b = make_user("worker"), make_user("worker")
    login_as(admin)
    body = f"手机号\r\n{a.phone[3:]}\r\n\r\n13912345678\r\n=1+2\r\n{a.phone}\r\n{b.phone[3:]}\r\n"
    data = batch_form(csv_file=(io.BytesIO(b"\xef\xbb\xbf" + body.encode()), "members.csv"))
    response = client.post("/vouchers/batches/new", data=data, headers=EN)
    assert response.status_code == 302
    page = client.get(response.location, headers=EN).text
    lines = re.findall(r"<tr><td>(\d+)</td><td><code>([^<]*)</code></td><td>([^<]*)</td>", page)
    assert lines == [
        ("4", "13912345678", "No active member with this number or id."),
        ("5", "=1+2", "Not a mainland mobile number or a member id."),
        ("6", a.phone, "The same member is already on line 2."),
    ]
    assert "Will get a voucher: 2" in page and "Issue 2 vouchers" in page
    with app.app_context():
        batch_id = db.session.scalar(select(VoucherBatch.id))
        assert count(Voucher) == 0
    problems = client.get(f"/vouchers/batches/{batch_id}/problems.csv", headers=EN)
    assert problems.data.startswith(b"\xef\xbb\xbf") and "'=1+2" in problems.data.decode()
    assert client.post(f"/vouchers/batches/{batch_id}/issue", headers=EN).status_code == 302
    with app.app_context():
        assert set(db.session.scalars(select(Voucher.user_id))) == {a.id, b.id}
    page = client.get(f"/vouchers/batches/{batch_id}", headers=EN).text
    assert "2 vouchers issued." in page and "Fewer than 5 members" in page


def test_new_batch_field_errors_and_nothing_created(app, client, make_user, login_as):
    login_as(make_user("admin"))
    cases = [
        (
            batch_form(valid_until="2020-01-01", target="bearer", bearer_count="5"),
            422,
            "valid_until",
        ),
        (batch_form(sessions="٣", target="bearer", bearer_count="5"), 400, "sessions"),
        (batch_form(target="members"), 422, "csv_file"),
        (batch_form(target="org_unit"), 422, "target_org_unit_id"),
        (batch_form(target="bearer"), 422, "bearer_count"),
        (batch_form(target="bearer", bearer_count="0"), 422, "bearer_count"),
        (batch_form(service_codes=[], target="bearer", bearer_count="5"), 400, "service_codes"),
        (
            batch_form(service_codes=["massage"], target="bearer", bearer_count="5"),
            400,
            "service_codes",
        ),
    ]
    for data, status, field in cases:
        response = client.post(
            "/vouchers/batches/new", data=data, headers=EN, content_type="multipart/form-data"
        )
        assert response.status_code == status, (field, response.status_code)
        assert f'id="{field}-error"' in response.text, field
    with app.app_context():
        assert count(VoucherBatch) == 0


def test_bearer_batch_and_printable_sheet(app, client, make_user, login_as):
    login_as(make_user("admin"))
    response = client.post(
        "/vouchers/batches/new",
        data=batch_form(target="bearer", bearer_count="30", name="健康周印刷券"),
        headers=EN,
    )
    batch_id = int(response.location.rsplit("/", 1)[-1])
    assert client.get(f"/vouchers/batches/{batch_id}/sheet").status_code == 404  # not issued
    client.post(f"/vouchers/batches/{batch_id}/issue")
    sheet = client.get(f"/vouchers/batches/{batch_id}/sheet", headers=EN)
    assert sheet.status_code == 200
    assert sheet.text.count('src="data:image/svg+xml') == 24
    assert 'class="no-print"' in sheet.text and "Page 1 of 2" in sheet.text
    page2 = client.get(f"/vouchers/batches/{batch_id}/sheet?page=2").text
    assert page2.count('src="data:image/svg+xml') == 6


def test_org_unit_target(app, client, make_user, login_as, make_org_unit):
    unit = make_org_unit("某公司工会")
    members = [make_user("worker", org_unit_id=unit.id) for _ in range(3)]
    login_as(make_user("admin"))
    response = client.post(
        "/vouchers/batches/new",
        data=batch_form(target="org_unit", target_org_unit_id=str(unit.id)),
        headers=EN,
    )
    assert response.status_code == 302
    assert "Will get a voucher: 3" in client.get(response.location, headers=EN).text
    del members


def test_discard_draft(app, client, make_user, login_as):
    login_as(make_user("admin"))
    response = client.post(
        "/vouchers/batches/new", data=batch_form(target="bearer", bearer_count="3"), headers=EN
    )
    batch_id = int(response.location.rsplit("/", 1)[-1])
    assert client.post(f"/vouchers/batches/{batch_id}/discard").status_code == 302
    assert client.get(f"/vouchers/batches/{batch_id}").status_code == 404
    assert client.post(f"/vouchers/batches/{batch_id}/issue").status_code == 404


def test_revoke_from_the_batch_page(app, client, make_user, login_as):
    admin, worker = make_user("admin"), make_user("worker")
    voucher = issue_now(app, worker, sessions=2)[0]
    login_as(admin)
    missing = client.post(f"/vouchers/{voucher.id}/revoke", data={"reason": ""}, headers=EN)
    assert missing.status_code == 400 and "Give a reason" in missing.text
    assert fresh(app, voucher.id).status == "active"
    done = client.post(f"/vouchers/{voucher.id}/revoke", data={"reason": "会员退会"})
    assert done.status_code == 302
    assert fresh(app, voucher.id).status == "revoked"
    again = client.post(f"/vouchers/{voucher.id}/revoke", data={"reason": "x"}, headers=EN)
    assert again.status_code == 409 and "already expired or been withdrawn" in again.text
    assert client.post("/vouchers/999999/revoke", data={"reason": "x"}).status_code == 404


def test_batch_list_and_reports(app, client, make_user, login_as):
    workers = [make_user("worker") for _ in range(5)]
    issue_now(app, *workers, name="全市关爱券")
    login_as(make_user("admin"))
    assert "全市关爱券" in client.get("/vouchers/batches").text
    report = client.get("/vouchers/reports", headers=EN)
    assert report.status_code == 200 and "全市关爱券" in report.text and "0.0%" in report.text
    csv_response = client.get("/vouchers/reports.csv?group=org_unit")
    assert csv_response.mimetype == "text/csv"
    assert csv_response.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in csv_response.headers["Content-Disposition"]
