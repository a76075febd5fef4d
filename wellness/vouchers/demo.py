"""Demo vouchers: a batch for the first 20 demo workers and a sheet of printed codes.

Idempotent (looks the batches up by name) and never commits (seed_demo does).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from wellness.auth.models import OrgUnit, User
from wellness.database import utcnow
from wellness.extensions import db
from wellness.vouchers import csvimport, services
from wellness.vouchers.models import BatchTarget, VoucherBatch

MEMBER_BATCH = "2026年度职工心理关爱券"
BEARER_BATCH = "职工心理健康周·印刷版体验券"
CITY = "滨江市总工会"


def _exists(name: str) -> bool:
    return db.session.scalar(select(VoucherBatch.id).where(VoucherBatch.name == name)) is not None


def seed(summary) -> None:
    now = utcnow()
    city = db.session.scalar(select(OrgUnit).where(OrgUnit.name == CITY))
    until = (now + timedelta(days=180)).date()
    if not _exists(MEMBER_BATCH):
        phones = list(
            db.session.scalars(
                select(User.phone)
                .where(User.phone.like("+86139000000%"), User.role == "worker")
                .order_by(User.phone)
                .limit(20)
            )
        )
        if phones:
            spec = services.BatchSpec(
                name=MEMBER_BATCH,
                sessions=3,
                valid_until=until,
                service_codes=["individual", "group", "sand_table", "relaxation"],
                org_unit_id=city.id if city else None,
                notes="市总工会为会员提供的免费心理咨询，每人3次。",
            )
            batch = services._new_batch(None, spec, BatchTarget.MEMBERS, now)
            report = services.ImportReport()
            services._stage_members(batch, csvimport.members_from_list(phones), now, report)
            services._finish_draft(batch, report)
            result = services._issue(batch, None, now)
            summary.add("vouchers", result.issued)
    if not _exists(BEARER_BATCH):
        spec = services.BatchSpec(
            name=BEARER_BATCH,
            sessions=1,
            valid_until=until,
            service_codes=["individual", "relaxation"],
            org_unit_id=city.id if city else None,
            notes="心理健康周现场发放，扫码领取。",
        )
        batch = services._new_batch(None, spec, BatchTarget.BEARER, now, bearer_count=24)
        batch.staged_count = 24
        result = services._issue(batch, None, now)
        summary.add("bearer vouchers", result.issued)
