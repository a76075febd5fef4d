"""flask --app wellness vouchers issue ... (the click group, invoked directly)."""

from __future__ import annotations

from sqlalchemy import func, select

from wellness.extensions import db
from wellness.vouchers.cli import vouchers_cli
from wellness.vouchers.models import Voucher, VoucherBatch

BASE = ["issue", "--name", "2027年度关爱券", "--sessions", "2", "--valid-until", "2030-06-30"]


def vouchers_in_db(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Voucher.id)))


def test_csv_with_bad_rows_is_reported_then_confirmed(app, runner, make_user, tmp_path):
    a, b = make_user("worker"), make_user("worker")
    path = tmp_path / "members.csv"
    path.write_bytes(
        f"\ufeff手机号\r\n{a.phone[3:]}\r\n\r\n13912345678\r\n{b.phone}\r\n=SUM(1)\r\n".encode()
    )
    result = runner.invoke(vouchers_cli, [*BASE, "--csv", str(path)], input="y\n")
    assert result.exit_code == 0, result.output
    assert "2 to issue, 2 rows with a problem, 1 blank lines" in result.output
    assert "line 4: '13912345678'" in result.output
    assert "line 6: '=SUM(1)'" in result.output
    assert "Issued 2 vouchers" in result.output
    assert vouchers_in_db(app) == 2


def test_answering_no_or_dry_run_issues_nothing(app, runner, make_user, tmp_path):
    worker = make_user("worker")
    path = tmp_path / "m.csv"
    path.write_text(worker.phone[3:] + "\n", encoding="utf-8")
    no = runner.invoke(vouchers_cli, [*BASE, "--csv", str(path)], input="n\n")
    assert no.exit_code == 0 and "Nothing issued" in no.output
    dry = runner.invoke(vouchers_cli, [*BASE, "--csv", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "Nothing issued" in dry.output
    assert vouchers_in_db(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count(VoucherBatch.id))) == 0


def test_bearer_and_org_unit(app, runner, make_user, make_org_unit):
    admin = make_user("admin")
    unit = make_org_unit("某公司工会")
    make_user("worker", org_unit_id=unit.id)
    bearer = runner.invoke(
        vouchers_cli,
        [*BASE, "--bearer", "25", "--yes", "--service", "individual", "--admin-phone", admin.phone],
    )
    assert bearer.exit_code == 0, bearer.output
    assert "Issued 25 vouchers" in bearer.output
    org = runner.invoke(vouchers_cli, [*BASE, "--org-unit-id", str(unit.id), "--yes"])
    assert org.exit_code == 0 and "Issued 1 vouchers" in org.output
    with app.app_context():
        first = db.session.scalar(select(VoucherBatch).order_by(VoucherBatch.id))
        assert first.created_by_id == admin.id and first.service_codes == ["individual"]


def test_usage_errors(app, runner, tmp_path):
    neither = runner.invoke(vouchers_cli, BASE)
    assert neither.exit_code == 2 and "exactly one of" in neither.output
    past = runner.invoke(
        vouchers_cli,
        ["issue", "--name", "x", "--sessions", "1", "--valid-until", "2020-01-01", "--bearer", "2"],
    )
    assert past.exit_code == 1 and "valid_until" in past.output
    no_admin = runner.invoke(vouchers_cli, [*BASE, "--bearer", "1", "--admin-phone", "13900000000"])
    assert no_admin.exit_code == 1
    assert vouchers_in_db(app) == 0


def test_registers_on_an_app(make_app):
    from wellness.vouchers.cli import register

    other = make_app()
    register(other)
    result = other.test_cli_runner().invoke(args=["vouchers", "issue", "--help"])
    assert result.exit_code == 0 and "--csv" in result.output
