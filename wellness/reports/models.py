"""The monthly rollups that the dashboard reads: self-assessment results and risk flags.

One row per (Beijing month, instrument, organisation unit, band): how many people took the
instrument that month whose latest result of the month fell in the band, how many
questionnaires they submitted, and the sum of those latest scores. Counting each person once
per month and instrument makes every figure a count of distinct people, so figures add up
exactly over bands and over the organisation tree (the suppression equations rely on it).

``report_rollup_months`` records, per month, what the rollup was built from (rows and the
highest id), so a cheap comparison with the source finds months to rebuild. The rollup is
rebuilt from ``assessment_responses`` inside the database (INSERT ... SELECT ... GROUP BY);
see ``rollup.py``. Risk flags have the same pair of tables (``report_risk_months`` and its
state), kept by ``risk_rollup.py``; unlike responses, flags change after they are raised
(claimed, resolved, escalated), which ``risk_flags.updated_at`` records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wellness.database import Base, utcnow


class AssessmentMonth(Base):
    __tablename__ = "report_assessment_months"
    __table_args__ = (
        UniqueConstraint("month", "instrument", "org_unit_id", "band"),
        Index("ix_report_assessment_months_instrument_month", "instrument", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[int]  # yyyymm, Beijing calendar
    instrument: Mapped[str] = mapped_column(String(20))
    # The member's unit at submission of the latest result; 0 for members without a unit
    # (a plain integer, not a foreign key: 0 must be usable in the unique key on PostgreSQL).
    org_unit_id: Mapped[int]
    band: Mapped[str] = mapped_column(String(30))
    people: Mapped[int]
    assessments: Mapped[int]
    score_sum: Mapped[int] = mapped_column(BigInteger)


class RollupMonth(Base):
    __tablename__ = "report_rollup_months"

    month: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source_rows: Mapped[int]  # assessment rows aggregated into the month
    max_id: Mapped[int]  # highest assessment id of the month when it was built
    id_sum: Mapped[int] = mapped_column(BigInteger, default=0)  # for the thorough check
    built_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskMonth(Base):
    """One row per (Beijing month, organisation unit, level or ``total``) of risk flags raised.

    Each person counts once per month: all their flags of the month are counted at the unit
    of their latest flag of the month, so people add up over units exactly as the
    assessment rollup's do. ``total`` counts distinct people over all levels."""

    __tablename__ = "report_risk_months"
    __table_args__ = (UniqueConstraint("month", "org_unit_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[int]  # yyyymm, Beijing calendar, of the flag's creation
    org_unit_id: Mapped[int]  # 0 for members without a unit (see AssessmentMonth)
    level: Mapped[str] = mapped_column(String(10))
    people: Mapped[int]
    flags: Mapped[int]
    claimed: Mapped[int]
    claimed_in_time: Mapped[int]
    escalated: Mapped[int]


class RiskRollupMonth(Base):
    """What a month of ``report_risk_months`` was built from: its flags, their highest id and
    their latest change (``risk_flags.updated_at``)."""

    __tablename__ = "report_risk_rollup_months"

    month: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source_rows: Mapped[int]
    max_id: Mapped[int]
    max_updated_at: Mapped[datetime | None]
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
