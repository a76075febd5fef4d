"""Report tables as CSV for Excel: UTF-8 with a byte-order mark, formula injection
neutralised by defusedcsv (a cell starting with ``=``, ``+``, ``-``, ``@``... is quoted so
a spreadsheet shows it as text). Only shown figures are written; hidden ones as "—".
"""

from __future__ import annotations

import io

from defusedcsv import csv
from flask_babel import gettext as _

from wellness.reports import periods
from wellness.reports.services import Filters, Table

BOM = "\ufeff"
HIDDEN = "—"


def cell_text(value, kind: str) -> str:
    if value is None:
        return HIDDEN
    if value == "":
        return ""
    if kind == "percent":
        return f"{value:.1f}"
    if kind == "mean":
        return f"{value:.1f}"
    return str(value)


def table_csv(table: Table, filters: Filters, scope: str, k: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([table.title])
    writer.writerow(
        [
            _("Period"),
            f"{periods.label(filters.first)} – {periods.label(filters.last)}",
            _("Organisation"),
            scope,
        ]
    )
    writer.writerow([])
    writer.writerow([table.first_column, *[c.label for c in table.columns]])
    for row in table.rows:
        writer.writerow(
            [row.label, *[cell_text(row.values.get(c.key), c.kind) for c in table.columns]]
        )
    writer.writerow([])
    writer.writerow(
        [
            _(
                "%(mark)s = hidden to protect small groups (fewer than %(k)s people, or a "
                "figure that would let one be worked out).",
                mark=HIDDEN,
                k=k,
            )
        ]
    )
    for note in table.notes:
        writer.writerow([note])
    return (BOM + buffer.getvalue()).encode("utf-8")


def filename(table: Table, filters: Filters) -> str:
    return f"{table.id}-{periods.label(filters.first)}-{periods.label(filters.last)}.csv"
