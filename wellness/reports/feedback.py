"""Session ratings in the reports: average score and count per month, organisation unit
and kind (appointments, conversations), with small-group suppression.

Each figure is an atomic cell (one month, one unit's own members, one kind): a cell resting
on fewer than ``k`` distinct members is hidden. No totals or unit-with-children rows are
shown, so no hidden cell can be worked out by subtracting shown ones (the complementary
suppression of wellness/reports/suppression.py has nothing to protect here). Members are
counted at the unit they belonged to when they rated.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from wellness.extensions import db
from wellness.feedback.models import Feedback, SubjectKind
from wellness.reports import periods
from wellness.reports.services import ROOT

REPORTED_KINDS = (SubjectKind.APPOINTMENT.value, SubjectKind.CONVERSATION.value)


def kind_label(kind: str) -> str:
    return str(
        {
            SubjectKind.APPOINTMENT.value: _l("Appointments"),
            SubjectKind.CONVERSATION.value: _l("Conversations"),
        }.get(kind, kind)
    )


@dataclass(frozen=True)
class Row:
    month: int
    kind: str
    unit_id: int
    unit_name: str
    count: int | None  # None: hidden (fewer than k people)
    average: float | None

    @property
    def hidden(self) -> bool:
        return self.count is None


def rows(filters, tree, k: int) -> list[Row]:
    """The cells of the filters' period and units, in month, kind, unit order."""
    units = (
        tree.descendants(filters.org_unit_id) if filters.with_children else [filters.org_unit_id]
    )
    wanted = set(units)
    start = periods.month_start(filters.first)
    end = periods.month_start(periods.add_months(filters.last, 1))
    found = db.session.execute(
        select(
            Feedback.created_at,
            Feedback.subject_kind,
            Feedback.org_unit_id,
            Feedback.member_id,
            Feedback.score,
        ).where(
            Feedback.created_at >= start,
            Feedback.created_at < end,
            Feedback.subject_kind.in_(REPORTED_KINDS),
        )
    ).all()
    cells: dict[tuple[int, str, int], tuple[list[int], set[int]]] = {}
    for at, kind, unit, member, score in found:
        unit = unit or ROOT
        if unit not in wanted:
            continue
        scores, people = cells.setdefault((periods.month_of(at), kind, unit), ([], set()))
        scores.append(score)
        people.add(member)
    out = []
    for (month, kind, unit), (scores, people) in sorted(cells.items()):
        shown = len(people) >= k
        out.append(
            Row(
                month=month,
                kind=kind,
                unit_id=unit,
                unit_name=tree.name(unit),
                count=len(scores) if shown else None,
                average=round(sum(scores) / len(scores), 2) if shown else None,
            )
        )
    return out


def rows_csv(found: list[Row], k: int) -> bytes:
    """The rating cells as a UTF-8 CSV with a BOM (Excel opens Chinese text right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Month"), _("Kind"), _("Organisation"), _("Ratings"), _("Average score")])
    hidden = _("fewer than %(k)s people", k=k)
    for row in found:
        writer.writerow(
            [
                periods.label(row.month),
                kind_label(row.kind),
                row.unit_name,
                hidden if row.hidden else row.count,
                hidden if row.hidden else f"{row.average:.2f}",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode()
