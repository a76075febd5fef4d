"""Idempotent demo data in Chinese: a city union with districts and enterprise unions,
counsellors, workers and an admin. Running it twice changes nothing the second time.

Packages that add demo data of their own (stations, rooms, availability...) have a
``demo.py`` with ``seed(summary)``; each must be idempotent too and must not commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from wellness.auth.models import OrgUnit, Role, User
from wellness.auth.passwords import hash_password
from wellness.extensions import db
from wellness.packages import feature_modules

DEMO_PASSWORD = "Wellness-2026"  # noqa: S105 - printed demo login, never used in production

CITY = "滨江市总工会"
DISTRICTS = {
    "江北区总工会": ["滨江地铁集团工会", "江北机械制造有限公司工会", "城北物流园联合工会"],
    "江南区总工会": ["滨江第一人民医院工会", "江南纺织有限公司工会"],
    "高新区总工会": ["高新区软件园联合工会", "星河电子科技有限公司工会"],
}

ADMIN = ("13800138000", "赵敏")
COUNSELORS = [
    ("13800138101", "王静"),
    ("13800138102", "李明华"),
    ("13800138103", "张晓燕"),
    ("13800138104", "陈思远"),
    ("13800138105", "刘芳"),
    ("13800138106", "周建国"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "海燕",
    "志强",
    "晓东",
    "春梅",
    "国庆",
    "红梅",
    "子涵",
]
WORKER_COUNT = 30


@dataclass
class Summary:
    created: dict[str, int] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # role, phone, name

    def add(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count(User.id)))


def _unit(name: str, kind: str, parent: OrgUnit | None, summary: Summary) -> OrgUnit:
    parent_id = parent.id if parent else None
    same_parent = OrgUnit.parent_id.is_(None) if parent is None else OrgUnit.parent_id == parent_id
    unit = db.session.scalar(select(OrgUnit).where(OrgUnit.name == name, same_parent))
    if unit is None:
        unit = OrgUnit(name=name, kind=kind, parent_id=parent_id)
        db.session.add(unit)
        db.session.flush()
        summary.add("org_units")
    return unit


def _user(
    phone: str, name: str, role: Role, unit: OrgUnit | None, summary: Summary, password_hash: str
) -> User:
    e164 = "+86" + phone
    user = db.session.scalar(select(User).where(User.phone == e164))
    if user is None:
        user = User(
            phone=e164,
            name=name,
            role=role.value,
            password_hash=password_hash,
            org_unit_id=unit.id if unit else None,
        )
        db.session.add(user)
        db.session.flush()
        summary.add(f"{role.value}s")
    return user


def seed_demo() -> Summary:
    summary = Summary()
    password_hash = hash_password(DEMO_PASSWORD)  # one hash for every demo account: fast
    city = _unit(CITY, "city", None, summary)
    enterprises: list[OrgUnit] = []
    for district_name, companies in DISTRICTS.items():
        district = _unit(district_name, "district", city, summary)
        for company in companies:
            enterprises.append(_unit(company, "enterprise", district, summary))

    admin = _user(*ADMIN, Role.ADMIN, city, summary, password_hash)
    summary.logins.append(("admin", admin.phone, admin.name))
    for index, (phone, name) in enumerate(COUNSELORS):
        counselor = _user(phone, name, Role.COUNSELOR, city, summary, password_hash)
        if index == 0:
            summary.logins.append(("counselor", counselor.phone, counselor.name))
    for i in range(WORKER_COUNT):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]
        unit = enterprises[i % len(enterprises)]
        worker = _user(f"139{i:08d}", name, Role.WORKER, unit, summary, password_hash)
        if i == 0:
            summary.logins.append(("worker", worker.phone, worker.name))
    for module in feature_modules("wellness.{pkg}.demo"):
        module.seed(summary)
    db.session.commit()
    return summary


def format_summary(summary: Summary) -> str:
    created = ", ".join(f"{k}: {v}" for k, v in sorted(summary.created.items())) or "nothing new"
    lines = [
        f"Demo data ready ({created}).",
        "",
        f"Demo logins (password for all: {DEMO_PASSWORD}):",
    ]
    for role, phone, name in summary.logins:
        lines.append(f"  {role:10} {phone.removeprefix('+86')}  {name}")
    return "\n".join(lines)
