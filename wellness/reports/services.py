"""Report use cases: filters, the sections of the dashboard, the summary for the API and the
monthly report. Read-only; every figure comes from GROUP BY queries in the database.

Privacy model (DESIGN.md section 3, issue 8):

- The unit of every section is a **month slice**: one Beijing calendar month (only months
  that have ended). For a slice the whole table is built at once -- every population of the
  organisation tree (each unit with its children, each unit's own members, everyone) by
  every column -- and suppressed with the equations a reader can see (``suppression.py``).
  Every view (any filter, chart, CSV, API, monthly page) shows cells of these slices, so the
  pattern is the same whichever view shows a cell: "unit with children" minus "unit without
  children" is one of the tree equations, already protected.
- A figure over several months (a range total, a unit's row over the range) is shown only
  when every monthly cell it adds up is shown (``suppression.compose``): it is then a sum of
  visible figures and reveals nothing new, whatever ranges are compared.
- Self-assessments count **people**: each person once per month and questionnaire (their
  latest result of the month, at the unit they belonged to when they submitted it). So
  every cell is a number of distinct people and adds up exactly over bands and units.
  Means and shares are shown only where the count they divide by is shown, and the
  "moderate or worse" count is itself a column with its own equation.
- Risk flags, appointments and vouchers count flags/appointments/sessions; each cell also
  carries the distinct people it rests on (exact, from COUNT(DISTINCT) in SQL) and is hidden
  below k people. Hotline calls count distinct callers by the keyed hash of their number.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, case, cast, func, literal, select
from sqlalchemy import String as SqlString

from wellness.assessments.instruments import UnknownInstrument, get_instrument, list_instruments
from wellness.auth.models import OrgUnit, User
from wellness.database import utcnow
from wellness.errors import InvalidInput
from wellness.extensions import db
from wellness.packages import module_exists
from wellness.reports import medians, periods, risk_rollup, rollup
from wellness.reports.cache import memo
from wellness.reports.models import AssessmentMonth
from wellness.reports.severity import bands_mildest_first, moderate_or_worse_bands
from wellness.reports.suppression import Cell, Grid, compose, population, protect, tree_rows
from wellness.transactions import writing

DEFAULT_MONTHS = 12
DEFAULT_INSTRUMENT = "phq9"
ROOT = 0  # the whole membership: every unit, and members without one


def small_cell_k() -> int:
    return int(current_app.config.get("SMALL_CELL_K", 5))


def lang() -> str:
    if has_request_context():
        return "en" if str(get_locale()) == "en" else "zh"
    return "zh"


# ================================================================================ filters


@dataclass(frozen=True)
class Filters:
    first: int  # yyyymm
    last: int
    org_unit_id: int = ROOT
    with_children: bool = True
    instrument: str = DEFAULT_INSTRUMENT
    station_id: int | None = None
    clamped: bool = False  # the end was moved back to the last month that has ended

    def months(self) -> list[int]:
        return periods.months_between(self.first, self.last)

    def key(self) -> tuple:
        return (
            self.first,
            self.last,
            self.org_unit_id,
            self.with_children,
            self.instrument,
            self.station_id,
        )

    def query_args(self) -> dict[str, str]:
        args = {
            "from": periods.label(self.first),
            "to": periods.label(self.last),
            "org_unit": str(self.org_unit_id),
            "children": "1" if self.with_children else "0",
            "instrument": self.instrument,
        }
        if self.station_id:
            args["station"] = str(self.station_id)
        return args


def default_filters(now: datetime | None = None) -> Filters:
    last = periods.last_complete_month(now or utcnow())
    return Filters(first=periods.add_months(last, 1 - DEFAULT_MONTHS), last=last)


def _bad_month(field_name: str) -> InvalidInput:
    return InvalidInput(
        str(_l("Enter a month as YYYY-MM (for example 2026-03).")), {field_name: "invalid"}
    )


def build_filters(
    *,
    start: str | None = None,
    end: str | None = None,
    org_unit_id: Any = None,
    with_children: bool = True,
    instrument: str | None = None,
    station_id: Any = None,
    now: datetime | None = None,
) -> Filters:
    """Validate a filter set; bad input raises InvalidInput naming the field."""
    now = now or utcnow()
    last_complete = periods.last_complete_month(now)
    defaults = default_filters(now)
    try:
        last = periods.parse_month(end) if end else defaults.last
    except ValueError:
        raise _bad_month("to") from None
    try:
        first = periods.parse_month(start) if start else None
    except ValueError:
        raise _bad_month("from") from None
    if first is None:
        first = periods.add_months(min(last, last_complete), 1 - DEFAULT_MONTHS)
    if first > last_complete:
        raise InvalidInput(
            str(
                _l(
                    "Reports cover months that have ended; the first month you chose has "
                    "not ended yet."
                )
            ),
            {"from": "not_ended"},
        )
    if last < first:
        raise InvalidInput(
            str(_l("The end month is before the start month.")), {"to": "before_start"}
        )
    if periods.span(first, last) > periods.MAX_MONTHS:
        raise InvalidInput(str(_l("Choose at most 5 years (60 months).")), {"from": "too_long"})
    clamped = last > last_complete
    last = min(last, last_complete)
    unit = _org_unit(org_unit_id)
    code = _instrument(instrument)
    station = _station(station_id)
    return Filters(first, last, unit, bool(with_children), code, station, clamped)


def checkbox(args, name: str, default: bool = True) -> bool:
    """A checkbox from a GET form: explicit ``1``/``0`` in links; absent after the form
    was applied means unticked."""
    if name in args:
        return str(args.get(name)).strip().lower() not in ("0", "false", "n", "no", "off", "")
    return False if "applied" in args else default


def filters_from_args(args, now: datetime | None = None) -> Filters:
    """Filters from a query string (dashboard, charts, CSV, the monthly page)."""
    return build_filters(
        start=args.get("from") or None,
        end=args.get("to") or None,
        org_unit_id=args.get("org_unit") or None,
        with_children=checkbox(args, "children"),
        instrument=args.get("instrument") or None,
        station_id=args.get("station") or None,
        now=now,
    )


def month_filters_from_args(args, now: datetime | None = None) -> Filters:
    """One month (``month=YYYY-MM``, default the last month that has ended)."""
    month = args.get("month") or None
    try:
        if month:
            periods.parse_month(month)
    except ValueError:
        raise _bad_month("month") from None
    return build_filters(
        start=month or periods.label(periods.last_complete_month(now or utcnow())),
        end=month or None,
        org_unit_id=args.get("org_unit") or None,
        with_children=checkbox(args, "children"),
        instrument=args.get("instrument") or None,
        now=now,
    )


def _as_int(value: Any, field_name: str, message) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InvalidInput(str(message), {field_name: "invalid"})
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(str(message), {field_name: "invalid"}) from None


def _org_unit(value: Any) -> int:
    message = _l("There is no such organisation.")
    unit = _as_int(value, "org_unit", message)
    if not unit:
        return ROOT
    if unit < 0 or db.session.get(OrgUnit, unit) is None:
        raise InvalidInput(str(message), {"org_unit": "unknown"})
    return unit


def _instrument(value: str | None) -> str:
    if not value:
        return DEFAULT_INSTRUMENT
    try:
        return get_instrument(str(value)).code
    except UnknownInstrument:
        raise InvalidInput(
            str(_l("There is no questionnaire with this code.")), {"instrument": "unknown"}
        ) from None


def _station(value: Any) -> int | None:
    message = _l("There is no such station.")
    station = _as_int(value, "station", message)
    if not station:
        return None
    if not booking_installed():
        return None
    from wellness.booking.models import Station

    if station < 0 or db.session.get(Station, station) is None:
        raise InvalidInput(str(message), {"station": "unknown"})
    return station


# ============================================================================ org tree


@dataclass(frozen=True)
class Tree:
    names: dict[int, str]
    children: dict[int, tuple[int, ...]]
    version: str

    def population(self, unit: int, with_children: bool):
        return population(unit, with_children, self.children)

    def has_children(self, unit: int) -> bool:
        return bool(self.children.get(unit))

    def ordered(self) -> list[tuple[int, int]]:
        """(unit, depth) depth-first from the root, for the filter's choices."""
        out: list[tuple[int, int]] = []

        def walk(unit: int, depth: int) -> None:
            for child in self.children.get(unit, ()):
                out.append((child, depth))
                walk(child, depth + 1)

        walk(ROOT, 0)
        return out

    def name(self, unit: int) -> str:
        if unit == ROOT:
            return _("All members")
        return self.names.get(unit, "?")

    def descendants(self, unit: int) -> list[int]:
        found, stack = [], [unit]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.children.get(current, ()))
        return found


def breakdown(tree: Tree, unit: int, nobody: str | None = None) -> list[tuple[str, Any]]:
    """Rows of a by-organisation table: the unit's children (going down while there is only
    one, e.g. from everyone to the city union to its districts), the own members of each
    unit on the way, and the whole."""
    rows: list[tuple[str, Any]] = []
    top = unit
    while True:
        kids = tree.children.get(top, ())
        if kids:
            own = (
                nobody or _("Members without a unit")
                if top == ROOT
                else _("%(name)s (own members)", name=tree.name(top))
            )
            rows.append((own, ("own", top)))
        if len(kids) != 1 or not tree.children.get(kids[0]):
            break
        top = kids[0]
    children = [(tree.name(child), ("sub", child)) for child in tree.children.get(top, ())]
    rows = children + rows
    rows.append((_("Total: %(name)s", name=tree.name(unit)), ("sub", unit)))
    return rows


def load_tree() -> Tree:
    rows = db.session.execute(
        select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id).order_by(OrgUnit.name, OrgUnit.id)
    ).all()
    ids = {r.id for r in rows}
    children: dict[int, list[int]] = {ROOT: []}
    for r in rows:
        children.setdefault(r.id, [])
    for r in rows:
        parent = r.parent_id if r.parent_id in ids else ROOT
        children[parent].append(r.id)
    version = ";".join(f"{r.id}:{r.parent_id}" for r in sorted(rows, key=lambda r: r.id))
    return Tree(
        names={r.id: r.name for r in rows},
        children={u: tuple(kids) for u, kids in children.items()},
        version=str(hash(version)),
    )


# ============================================================================== tables


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "count"  # count | percent | mean | minutes | text


@dataclass
class Row:
    label: str
    values: dict[str, Any]
    key: Any = None


@dataclass
class Table:
    id: str
    title: str
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    first_column: str = ""

    @property
    def hidden_cells(self) -> int:
        return sum(
            1
            for row in self.rows
            for c in self.columns
            if c.key in row.values and row.values[c.key] is None
        )


def ratio(part: int | None, whole: int | None, scale: float = 100.0) -> float | None | str:
    """A share of visible figures; None (hidden) when either is hidden, "" when undefined."""
    if part is None or whole is None:
        return None
    if not whole:
        return ""
    return round(scale * part / whole, 1)


def mean(total: int | None, count: int | None) -> float | None | str:
    if total is None or count is None:
        return None
    if not count:
        return ""
    return round(total / count, 1)


# ===================================================================== month slices


@dataclass(frozen=True)
class Slice:
    """The shown boxes of one month's grid: hidden boxes are simply absent."""

    values: dict[Any, int]
    extras: dict[Any, tuple]  # row box (or box) -> further sums, only where shown

    def get(self, row, column) -> int | None:
        return self.values.get((row, column))

    def measures(self, key) -> tuple | None:
        return self.extras.get(key)


def _shown(grid: Grid, k: int) -> dict[Any, int]:
    pattern = protect(grid, k, keep={("sub", ROOT), ("st", 0), "all"})
    return {cell: v for cell, v in grid.values().items() if cell not in pattern.suppressed}


def _row_sums(rows: dict, atoms: dict[Any, tuple]) -> dict[Any, tuple]:
    """Per row box, the element-wise sum of the atoms' tuples (events, score...)."""
    out = {}
    for box, members in rows.items():
        parts = [atoms[a] for a in members if a in atoms]
        out[box] = tuple(map(sum, zip(*parts, strict=True))) if parts else None
    return out


# ---------------------------------------------------------------------- assessments


def _assessment_atoms(instruments: Sequence[str], first: int, last: int):
    """Rollup sums per (month, instrument, unit, band): each unit's own members."""
    r = AssessmentMonth.__table__
    rows = db.session.execute(
        select(
            r.c.month,
            r.c.instrument,
            r.c.org_unit_id,
            r.c.band,
            func.sum(r.c.people),
            func.sum(r.c.assessments),
            func.sum(r.c.score_sum),
        )
        .where(r.c.instrument.in_(list(instruments)), r.c.month >= first, r.c.month <= last)
        .group_by(r.c.month, r.c.instrument, r.c.org_unit_id, r.c.band)
    ).all()
    out: dict[tuple[str, int], dict[Any, tuple[int, int, int]]] = defaultdict(dict)
    for month, code, unit, band, people, taken, score in rows:
        out[(code, int(month))][(int(unit), band)] = (
            int(people or 0),
            int(taken or 0),
            int(score or 0),
        )
    return out


def assessment_grid(code: str, tree: Tree, atoms: dict[Any, tuple[int, int, int]]) -> Grid:
    inst = get_instrument(code)
    bands = bands_mildest_first(inst)
    cols = {band: frozenset({band}) for band in bands}
    cols["total"] = frozenset(bands)
    cols["mw"] = frozenset(moderate_or_worse_bands(inst))
    rows = tree_rows(tree.children)
    known = set().union(*rows.values())
    values = {key: v[0] for key, v in atoms.items() if key[0] in known}
    grid = Grid(rows, cols, values, {})
    grid.people.update(grid.values())  # each person counts once: people = value
    return grid


def _assessment_slice(code: str, tree: Tree, atoms: dict[Any, tuple[int, int, int]], k: int):
    grid = assessment_grid(code, tree, atoms)
    shown = _shown(grid, k)
    per_unit: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for (unit, _band), (_people, taken, score) in atoms.items():
        per_unit[unit] = (per_unit[unit][0] + taken, per_unit[unit][1] + score)
    sums = _row_sums(grid.rows, dict(per_unit))
    extras = {row: sums[row] or (0, 0) for row in grid.rows if (row, "total") in shown}
    return Slice(shown, extras)


def assessment_slices(
    instruments: Sequence[str], months: Sequence[int], tree: Tree, now: datetime | None = None
) -> dict[tuple[str, int], Slice]:
    """The suppressed slices of (instrument, month), from cache when the month's rollup
    state, the tree and k are unchanged. (The caller brings the rollup up to date.)"""
    k = small_cell_k()
    states = rollup.month_states(min(months), max(months)) if months else {}
    db.session.commit()
    keys = {
        (code, m): ("a", code, m, states.get(m, (0, 0)), tree.version, k)
        for code in instruments
        for m in months
    }
    found = {pair: memo.get(key) for pair, key in keys.items()}
    missing = [pair for pair, value in found.items() if value is None]
    if missing:
        codes = sorted({code for code, _m in missing})
        first = min(m for _c, m in missing)
        last = max(m for _c, m in missing)
        atoms = _assessment_atoms(codes, first, last)
        db.session.commit()
        for pair in missing:
            built = _assessment_slice(pair[0], tree, atoms.get(pair, {}), k)
            memo.put(keys[pair], built)
            found[pair] = built
    return found


def instruments_for_report() -> list:
    return sorted(list_instruments(), key=lambda inst: inst.display_order)


def band_label(inst, code: str) -> str:
    return inst.band(code).localized(lang())["label"]


@dataclass
class AssessmentSection:
    bands: Table
    instruments: Table
    units: Table
    # chart series
    months: list[int]
    band_series: list[tuple[str, list[int | None]]]
    band_hidden: list[int | None]
    trend: dict[str, list[tuple[float | None | str, float | None | str]]]  # code -> [(share, mean)]


def _month_row(slice_: Slice, pop, bands: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {band: slice_.get(pop, band) for band in bands}
    total = slice_.get(pop, "total")
    mw = slice_.get(pop, "mw")
    extra = slice_.measures(pop)
    values["total"] = total
    values["assessments"] = extra[0] if extra else None
    values["share"] = ratio(mw, total)
    values["mean"] = mean(extra[1] if extra else None, total)
    return values


def _range_row(slices: Iterable[Slice], pop, bands: list[str]) -> dict[str, Any]:
    slices = list(slices)
    values: dict[str, Any] = {band: compose([s.get(pop, band) for s in slices]) for band in bands}
    total = compose([s.get(pop, "total") for s in slices])
    mw = compose([s.get(pop, "mw") for s in slices])
    extras = [s.measures(pop) for s in slices]
    taken = compose([e[0] if e else None for e in extras])
    score = compose([e[1] if e else None for e in extras])
    values.update(
        total=total, assessments=taken, mw=mw, share=ratio(mw, total), mean=mean(score, total)
    )
    return values


def assessment_section(filters: Filters, tree: Tree, now: datetime | None = None):
    months = filters.months()
    instruments = instruments_for_report()
    slices = assessment_slices([i.code for i in instruments], months, tree, now)
    inst = get_instrument(filters.instrument)
    bands = bands_mildest_first(inst)
    pop = tree.population(filters.org_unit_id, filters.with_children)
    band_cols = [Column(b, band_label(inst, b)) for b in bands]
    stat_cols = [
        Column("total", _("People screened")),
        Column("assessments", _("Questionnaires submitted")),
        Column("share", _("Moderate or worse (%)"), "percent"),
        Column("mean", _("Mean score"), "mean"),
    ]

    # 1. months x bands for the chosen instrument
    band_rows = [
        Row(periods.label(m), _month_row(slices[(inst.code, m)], pop, bands), m) for m in months
    ]
    bands_table = Table(
        "bands",
        _("%(name)s: people screened per month by result band", name=inst.short_name),
        band_cols + stat_cols,
        band_rows,
        first_column=_("Month"),
    )
    band_series = [(band_label(inst, b), [r.values[b] for r in band_rows]) for b in bands]
    band_hidden = []
    for r in band_rows:
        total = r.values["total"]
        shown = [r.values[b] for b in bands if r.values[b] is not None]
        band_hidden.append(None if total is None else total - sum(shown))

    # 2. every instrument over the range, and its monthly trend
    inst_rows, trend = [], {}
    for other in instruments:
        series = [slices[(other.code, m)] for m in months]
        values = _range_row(series, pop, [])
        if values["total"] == 0:
            continue
        inst_rows.append(Row(other.short_name, values, other.code))
        trend[other.code] = [
            (
                ratio(s.get(pop, "mw"), s.get(pop, "total")),
                mean(s.measures(pop)[1] if s.measures(pop) else None, s.get(pop, "total")),
            )
            for s in series
        ]
    instruments_table = Table(
        "instruments",
        _("All questionnaires over the period"),
        [
            Column("total", _("Screenings (a person once a month)")),
            Column("assessments", _("Questionnaires submitted")),
            Column("mw", _("Moderate or worse")),
            Column("share", _("Moderate or worse (%)"), "percent"),
            Column("mean", _("Mean score"), "mean"),
        ],
        inst_rows,
        first_column=_("Questionnaire"),
    )

    # 3. by organisation: the chosen unit's children, its own members, and the whole
    row_pops = breakdown(tree, filters.org_unit_id)
    series = [slices[(inst.code, m)] for m in months]
    unit_rows = [Row(label, _range_row(series, p, bands), p) for label, p in row_pops]
    units_table = Table(
        "units",
        _("%(name)s by organisation over the period", name=inst.short_name),
        [Column("total", _("Screenings (a person once a month)"))]
        + band_cols
        + [
            Column("share", _("Moderate or worse (%)"), "percent"),
            Column("mean", _("Mean score"), "mean"),
        ],
        unit_rows,
        first_column=_("Organisation"),
    )
    return AssessmentSection(
        bands_table,
        instruments_table,
        units_table,
        months,
        band_series,
        band_hidden,
        trend,
    )


# ============================================================================ risk flags

LEVELS = medians.LEVELS


def level_label(level: str) -> str:
    return {"critical": _("Critical"), "high": _("High"), "elevated": _("Elevated")}[level]


def _risk_slice(tree: Tree, atoms: dict[Any, list[int]], k: int) -> Slice:
    rows = tree_rows(tree.children)
    cols = {level: frozenset({level}) for level in LEVELS}
    cols["total"] = frozenset(LEVELS)
    values = {key: v[0] for key, v in atoms.items() if key[1] != "total"}
    people = {}
    extras = {}
    for row, units in rows.items():
        for col in cols:
            parts = [atoms.get((unit, col)) for unit in units]
            parts = [p for p in parts if p]
            people[(row, col)] = sum(p[1] for p in parts)
            extras[(row, col)] = tuple(sum(p[i] for p in parts) for i in (2, 3, 4))
    grid = Grid(rows, cols, values, people)
    shown = _shown(grid, k)
    return Slice(shown, {key: extra for key, extra in extras.items() if key in shown})


def risk_slices(
    months: Sequence[int], tree: Tree, version: tuple | None = None
) -> dict[int, Slice]:
    """The suppressed month slices of risk flags, each cached under the flags' version, the
    tree and k (a different period reuses the months it shares)."""
    version = version if version is not None else risk_rollup.data_version()
    k = small_cell_k()
    keys = {m: ("r", m, version, tree.version, k) for m in months}
    found = {m: memo.get(key) for m, key in keys.items()}
    missing = [m for m, value in found.items() if value is None]
    if missing:
        atoms = risk_rollup.stored_figures(min(missing), max(missing))
        for m in missing:
            found[m] = _risk_slice(tree, atoms.get(m, {}), k)
            memo.put(keys[m], found[m])
    return found


@dataclass
class RiskSection:
    table: Table
    months: list[int]
    series: list[tuple[str, list[int | None]]]
    hidden: list[int | None]


def risk_section(filters: Filters, tree: Tree, version: tuple | None = None) -> RiskSection:
    months = filters.months()
    version = version if version is not None else risk_rollup.data_version()
    slices = risk_slices(months, tree, version)
    pop = tree.population(filters.org_unit_id, filters.with_children)
    if filters.with_children:
        units = None if filters.org_unit_id == ROOT else tree.descendants(filters.org_unit_id)
    else:
        units = [filters.org_unit_id]
    rows = []
    middle = memo.get_or_compute(
        ("rm", tuple(units) if units is not None else None, filters.first, filters.last, version),
        lambda: medians.median_minutes(units, filters.first, filters.last),
    )
    for level in (*LEVELS, "total"):
        flags = compose([slices[m].get(pop, level) for m in months])
        extras = [slices[m].measures((pop, level)) for m in months]
        claimed = compose([e[0] if e else None for e in extras])
        in_time = compose([e[1] if e else None for e in extras])
        escalated = compose([e[2] if e else None for e in extras])
        values: dict[str, Any] = {
            "flags": flags,
            "claimed": claimed,
            "sla": ratio(in_time, claimed),
            "escalated": escalated,
            "claim": None,
            "resolve": None,
        }
        if flags:  # every month shown and some flags: the range rests on >= k people
            values["claim"] = middle["claim"][level]
            values["resolve"] = middle["resolve"][level]
        elif flags == 0:
            values["claim"] = values["resolve"] = ""
        label = _("All levels") if level == "total" else level_label(level)
        rows.append(Row(label, values, level))
    table = Table(
        "risk",
        _("Risk flags over the period"),
        [
            Column("flags", _("Flags raised")),
            Column("claimed", _("Claimed")),
            Column("sla", _("Claimed before the deadline (%)"), "percent"),
            Column("escalated", _("Escalated")),
            Column("claim", _("Median minutes to claim"), "minutes"),
            Column("resolve", _("Median minutes to resolve"), "minutes"),
        ],
        rows,
        first_column=_("Level"),
    )
    series = [(level_label(level), [slices[m].get(pop, level) for m in months]) for level in LEVELS]
    hidden = []
    for i, m in enumerate(months):
        total = slices[m].get(pop, "total")
        shown = [s[1][i] for s in series if s[1][i] is not None]
        hidden.append(None if total is None else total - sum(shown))
    return RiskSection(table, months, series, hidden)


# ============================================================================== booking

APPOINTMENT_COLUMNS = ("attended", "no_show", "cancelled", "open")


def booking_installed() -> bool:
    return module_exists("wellness.booking.models")


def vouchers_installed() -> bool:
    return module_exists("wellness.vouchers.models")


def hotline_installed() -> bool:
    return module_exists("wellness.hotline.models")


def appointment_label(column: str) -> str:
    return {
        "total": _("Booked"),
        "attended": _("Attended"),
        "no_show": _("No-show"),
        "cancelled": _("Cancelled"),
        "open": _("Not yet marked"),
    }[column]


def _appointment_counts(first: int, last: int):
    """Appointments per (station|all, month, status|total): count and distinct people."""
    from wellness.booking.models import Appointment

    a = Appointment.__table__
    status = case((a.c.status == "booked", "open"), else_=a.c.status).label("status")
    month = rollup.month_expr(a.c.starts_at).label("m")
    where = (
        a.c.starts_at >= periods.month_start(first),
        a.c.starts_at < periods.month_end(last),
        a.c.status.in_(["booked", "attended", "no_show", "cancelled"]),
    )
    measures = (func.count(a.c.id), func.count(func.distinct(a.c.user_id)))
    out: dict[int, dict[Any, Cell]] = defaultdict(dict)
    for per_station in (True, False):
        for by_status in (True, False):
            cols = [month] + ([status] if by_status else [])
            if per_station:
                cols.insert(0, a.c.station_id)
            stmt = select(*cols, *measures).where(*where).group_by(*cols)
            for row in db.session.execute(stmt):
                head = list(row[: len(cols)])
                if not per_station:
                    head.insert(0, 0)
                column = head[2] if by_status else "total"
                out[int(head[1])][(("st", int(head[0])), column)] = Cell(int(row[-2]), int(row[-1]))
    return out


def _room_minutes(first: int, last: int):
    """Room minutes booked per (station, month): room appointments and group sessions."""
    from wellness.booking.models import Appointment, GroupSession

    out: dict[tuple[int, int], int] = defaultdict(int)
    for model, statuses in (
        (Appointment, ["booked", "attended", "no_show"]),
        (GroupSession, ["scheduled"]),
    ):
        t = model.__table__
        month = rollup.month_expr(t.c.starts_at).label("m")
        minutes = func.sum(rollup.duration_minutes(t.c.ends_at, t.c.starts_at))
        stmt = (
            select(t.c.station_id, month, minutes)
            .where(
                t.c.starts_at >= periods.month_start(first),
                t.c.starts_at < periods.month_end(last),
                t.c.status.in_(statuses),
                t.c.room_id.is_not(None),
            )
            .group_by(t.c.station_id, month)
        )
        if model is Appointment:
            stmt = stmt.where(t.c.group_session_id.is_(None))
        for station, m, minutes in db.session.execute(stmt):
            out[(int(station), int(m))] += round(float(minutes or 0))
    return out


def _open_minutes(months: Sequence[int]) -> dict[tuple[int, int], int]:
    """Room-seat minutes open per (station, month): weekly hours x seats, minus closures.

    Calendar arithmetic over the stations' settings (a few rows), not a count of records.
    """
    from datetime import timedelta

    from wellness.booking.models import SEATED_ROOM_KINDS, Room, StationClosure, StationHours

    seats: dict[int, int] = defaultdict(int)
    for station, kind, capacity in db.session.execute(
        select(Room.station_id, Room.kind, Room.capacity).where(Room.active.is_(True))
    ):
        seats[station] += capacity if kind in SEATED_ROOM_KINDS else 1
    hours: dict[int, list[tuple[int, Any, Any]]] = defaultdict(list)
    for station, weekday, opens, closes in db.session.execute(
        select(
            StationHours.station_id, StationHours.weekday, StationHours.opens, StationHours.closes
        )
    ):
        hours[station].append((weekday, opens, closes))
    first, last = min(months), max(months)
    closures: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for station, starts, ends in db.session.execute(
        select(StationClosure.station_id, StationClosure.starts_at, StationClosure.ends_at).where(
            StationClosure.ends_at > periods.month_start(first),
            StationClosure.starts_at < periods.month_end(last),
        )
    ):
        closures[station].append((starts, ends))
    out: dict[tuple[int, int], int] = {}
    for station, windows in hours.items():
        if not seats.get(station):
            continue
        for m in months:
            day = periods.first_day(m)
            end_day = periods.first_day(periods.add_months(m, 1))
            minutes = 0
            while day < end_day:
                for weekday, opens, closes in windows:
                    if weekday != day.weekday():
                        continue
                    start = datetime.combine(day, opens, periods.BEIJING)
                    stop = datetime.combine(day, closes, periods.BEIJING)
                    open_min = (stop - start).total_seconds() / 60
                    for c_start, c_end in closures.get(station, ()):
                        overlap = min(stop, c_end) - max(start, c_start)
                        if overlap.total_seconds() > 0:
                            open_min -= overlap.total_seconds() / 60
                    minutes += max(0, open_min)
                day += timedelta(days=1)
            out[(station, m)] = round(minutes * seats[station])
    return out


def station_names() -> dict[int, str]:
    if not booking_installed():
        return {}
    from wellness.booking.models import Station

    return dict(db.session.execute(select(Station.id, Station.name).order_by(Station.name)).all())


def _booking_version() -> tuple:
    from wellness.booking.models import Appointment, GroupSession, Room, StationHours

    a = Appointment.__table__
    row = db.session.execute(
        select(
            func.count(a.c.id),
            func.max(a.c.id),
            func.max(a.c.attendance_marked_at),
            func.max(a.c.cancelled_at),
        )
    ).one()
    extra = db.session.execute(
        select(
            select(func.count(GroupSession.id)).scalar_subquery(),
            select(func.max(GroupSession.id)).scalar_subquery(),
            select(func.count(Room.id)).scalar_subquery(),
            select(func.count(StationHours.id)).scalar_subquery(),
        )
    ).one()
    return (*row, *extra)


def booking_slices(months: Sequence[int], stations: dict[int, str]) -> dict[int, Slice]:
    k = small_cell_k()
    key = ("b", tuple(months), _booking_version(), tuple(sorted(stations)), k)
    cached = memo.get(key)
    if cached is not None:
        return cached
    counts = _appointment_counts(min(months), max(months))
    used = _room_minutes(min(months), max(months))
    capacity = _open_minutes(months)
    rows = {("st", s): frozenset({s}) for s in stations}
    rows[("st", 0)] = frozenset(stations)
    cols = {c: frozenset({c}) for c in APPOINTMENT_COLUMNS}
    cols["total"] = frozenset(APPOINTMENT_COLUMNS)
    built = {}
    for m in months:
        cells = counts.get(m, {})
        atoms = {
            (s, c): cells[(("st", s), c)].value
            for s in stations
            for c in APPOINTMENT_COLUMNS
            if (("st", s), c) in cells
        }
        people = {key: cell.people for key, cell in cells.items()}
        shown = _shown(Grid(rows, cols, atoms, people), k)
        extras = {("st", s): (used.get((s, m), 0), capacity.get((s, m), 0)) for s in stations}
        extras[("st", 0)] = (
            sum(used.get((s, m), 0) for s in stations),
            sum(capacity.get((s, m), 0) for s in stations),
        )
        built[m] = Slice(shown, {r: e for r, e in extras.items() if (r, "total") in shown})
    memo.put(key, built)
    return built


@dataclass
class BookingSection:
    table: Table
    stations: list[str]
    series: list[tuple[str, list[int | None]]]
    utilisation: list[float | None | str]


def booking_section(filters: Filters) -> BookingSection | None:
    if not booking_installed():
        return None
    stations = station_names()
    months = filters.months()
    slices = booking_slices(months, stations)
    chosen = [filters.station_id] if filters.station_id else list(stations)
    row_pops = [(stations[s], ("st", s)) for s in chosen if s in stations]
    if not filters.station_id:
        row_pops.append((_("All stations"), ("st", 0)))
    rows = []
    for label, pop in row_pops:
        values: dict[str, Any] = {
            column: compose([slices[m].get(pop, column) for m in months])
            for column in ("total", *APPOINTMENT_COLUMNS)
        }
        extras = [slices[m].measures(pop) for m in months]
        used = compose([e[0] if e else None for e in extras])
        capacity = compose([e[1] if e else None for e in extras])
        values["attendance"] = ratio(values["attended"], values["total"])
        values["utilisation"] = ratio(used, capacity)
        rows.append(Row(label, values, pop))
    table = Table(
        "booking",
        _("Appointments and room use by station over the period"),
        [Column("total", appointment_label("total"))]
        + [Column(c, appointment_label(c)) for c in APPOINTMENT_COLUMNS]
        + [
            Column("attendance", _("Attended (%)"), "percent"),
            Column("utilisation", _("Room use (%)"), "percent"),
        ],
        rows,
        notes=[_("Stations are not split by organisation, so that groups stay large.")],
        first_column=_("Station"),
    )
    station_rows = [r for r in rows if r.key != ("st", 0)]
    return BookingSection(
        table,
        [r.label for r in station_rows],
        [(appointment_label(c), [r.values[c] for r in station_rows]) for c in APPOINTMENT_COLUMNS],
        [r.values["utilisation"] for r in station_rows],
    )


# ============================================================================= vouchers

VOUCHER_COLUMNS = ("consumed", "expired", "other")


def voucher_label(column: str) -> str:
    return {
        "sessions": _("Sessions issued"),
        "vouchers": _("Vouchers issued"),
        "consumed": _("Sessions used"),
        "expired": _("Sessions expired"),
        "other": _("Sessions open or withdrawn"),
    }[column]


def _voucher_measures():
    from wellness.vouchers.models import Voucher

    v = Voucher.__table__
    other = (
        v.c.remaining_sessions
        + v.c.reserved_sessions
        + v.c.forfeited_sessions
        + v.c.revoked_sessions
    )

    def holders(condition):
        return func.count(func.distinct(case((condition, v.c.user_id))))

    return v, (
        func.coalesce(func.sum(v.c.sessions), 0),
        func.count(func.distinct(v.c.user_id)),
        func.coalesce(func.sum(v.c.consumed_sessions), 0),
        holders(v.c.consumed_sessions > 0),
        func.coalesce(func.sum(v.c.expired_sessions), 0),
        holders(v.c.expired_sessions > 0),
        func.coalesce(func.sum(other), 0),
        holders(other > 0),
        func.count(v.c.id),
    )


VOUCHER_COLS = {
    "consumed": frozenset({"consumed"}),
    "expired": frozenset({"expired"}),
    "other": frozenset({"other"}),
    "sessions": frozenset(VOUCHER_COLUMNS),
}


def _voucher_parts(row) -> dict[str, tuple[int, int]]:
    """(sessions, holders) per column from one row of ``_voucher_measures``."""
    v = [int(x or 0) for x in row]
    return {
        "sessions": (v[0], v[1]),
        "consumed": (v[2], v[3]),
        "expired": (v[4], v[5]),
        "other": (v[6], v[7]),
        "#": (v[8], 0),
    }


def _voucher_atoms(first: int, last: int):
    """Per (batch issue month, holder's unit): sessions and holders by column. Holders have
    one unit each, so holder counts add up over units."""
    from wellness.vouchers.models import VoucherBatch

    v, measures = _voucher_measures()
    b, u = VoucherBatch.__table__, User.__table__
    unit = func.coalesce(u.c.org_unit_id, 0).label("unit")
    month = rollup.month_expr(b.c.issued_at).label("m")
    stmt = (
        select(unit, month, *measures)
        .select_from(v)
        .join(b, b.c.id == v.c.batch_id)
        .outerjoin(u, u.c.id == v.c.user_id)
        .where(
            b.c.status == "issued",
            b.c.issued_at >= periods.month_start(first),
            b.c.issued_at < periods.month_end(last),
        )
        .group_by(unit, month)
    )
    out: dict[int, dict[int, dict[str, tuple[int, int]]]] = defaultdict(dict)
    for row in db.session.execute(stmt):
        out[int(row[1])][int(row[0])] = _voucher_parts(row[2:])
    return out


def _voucher_grid(rows: dict, parts: dict[Any, dict[str, tuple[int, int]]]) -> Grid:
    atoms = {(atom, c): parts[atom][c][0] for atom in parts for c in VOUCHER_COLUMNS}
    people = {}
    for row, members in rows.items():
        for col in VOUCHER_COLS:
            people[(row, col)] = sum(parts[a][col][1] for a in members if a in parts)
    return Grid(rows, VOUCHER_COLS, atoms, people)


def _voucher_version() -> tuple:
    from wellness.vouchers.models import Voucher, VoucherEntry

    return tuple(
        db.session.execute(
            select(
                select(func.count(Voucher.id)).scalar_subquery(),
                select(func.max(VoucherEntry.id)).scalar_subquery(),
                select(func.max(User.id)).scalar_subquery(),
            )
        ).one()
    )


def voucher_slices(months: Sequence[int], tree: Tree) -> dict[int, Slice]:
    k = small_cell_k()
    key = ("v", tuple(months), _voucher_version(), tree.version, k)
    cached = memo.get(key)
    if cached is not None:
        return cached
    atoms = _voucher_atoms(min(months), max(months))
    rows = tree_rows(tree.children)
    built = {}
    for m in months:
        parts = atoms.get(m, {})
        shown = _shown(_voucher_grid(rows, parts), k)
        counts = _row_sums(rows, {unit: (p["#"][0],) for unit, p in parts.items()})
        extras = {r: counts[r] or (0,) for r in rows if (r, "sessions") in shown}
        built[m] = Slice(shown, extras)
    memo.put(key, built)
    return built


def _batch_rows(filters: Filters, tree: Tree) -> list[tuple[int, str, dict]]:
    from wellness.vouchers.models import VoucherBatch

    v, measures = _voucher_measures()
    b = VoucherBatch.__table__
    stmt = (
        select(b.c.id, b.c.name, *measures)
        .select_from(v)
        .join(b, b.c.id == v.c.batch_id)
        .where(
            b.c.status == "issued",
            b.c.issued_at >= periods.month_start(filters.first),
            b.c.issued_at < periods.month_end(filters.last),
        )
        .group_by(b.c.id, b.c.name)
        .order_by(b.c.id)
    )
    if filters.org_unit_id != ROOT:
        units = (
            tree.descendants(filters.org_unit_id)
            if filters.with_children
            else [filters.org_unit_id]
        )
        stmt = stmt.where(b.c.org_unit_id.in_(units))
    return [(int(row[0]), row[1], _voucher_parts(row[2:])) for row in db.session.execute(stmt)]


@dataclass
class VoucherSection:
    batches: Table
    units: Table
    series_labels: list[str]
    series: list[tuple[str, list[int | None]]]


def voucher_section(filters: Filters, tree: Tree) -> VoucherSection | None:
    if not vouchers_installed():
        return None
    months = filters.months()
    k = small_cell_k()
    columns = [
        Column("vouchers", voucher_label("vouchers")),
        Column("sessions", voucher_label("sessions")),
        Column("consumed", voucher_label("consumed")),
        Column("expired", voucher_label("expired")),
        Column("other", voucher_label("other")),
        Column("used", _("Used (%)"), "percent"),
    ]
    batch_rows = []
    for batch_id, name, parts in _batch_rows(filters, tree):
        pop = ("batch", batch_id)
        grid = _voucher_grid({pop: frozenset({batch_id})}, {batch_id: parts})
        shown = _shown(grid, k)
        values = {c: shown.get((pop, c)) for c in ("sessions", *VOUCHER_COLUMNS)}
        values["vouchers"] = parts["#"][0] if values["sessions"] is not None else None
        values["used"] = ratio(values["consumed"], values["sessions"])
        batch_rows.append(Row(name, values, pop))
    slices = voucher_slices(months, tree)
    row_pops = breakdown(tree, filters.org_unit_id, _("Not yet claimed, or members without a unit"))
    unit_rows = []
    for label, pop in row_pops:
        values = {
            c: compose([slices[m].get(pop, c) for m in months])
            for c in ("sessions", *VOUCHER_COLUMNS)
        }
        counts = [slices[m].measures(pop) for m in months]
        values["vouchers"] = compose([c[0] if c else None for c in counts])
        values["used"] = ratio(values["consumed"], values["sessions"])
        unit_rows.append(Row(label, values, pop))
    batches = Table(
        "voucher_batches",
        _("Vouchers by batch (issued in the period)"),
        columns,
        batch_rows,
        first_column=_("Batch"),
    )
    units = Table(
        "voucher_units",
        _("Vouchers by the holder's organisation (batches issued in the period)"),
        columns,
        unit_rows,
        first_column=_("Organisation"),
    )
    return VoucherSection(
        batches,
        units,
        [r.label for r in batch_rows],
        [(voucher_label(c), [r.values[c] for r in batch_rows]) for c in VOUCHER_COLUMNS],
    )


# ============================================================================== hotline

WEEKDAYS = 7
HOURS = 24


def _caller():
    from wellness.hotline.models import HotlineCall

    c = HotlineCall.__table__
    return c, func.coalesce(
        c.c.caller_key,
        literal("m") + cast(c.c.caller_member_id, SqlString),
        literal("c") + cast(c.c.id, SqlString),
    )


def _weekday_hour(column):
    if rollup.dialect() == "postgresql":
        local = func.timezone("Asia/Shanghai", column)
        return cast(func.extract("isodow", local), Integer) - 1, cast(
            func.extract("hour", local), Integer
        )
    weekday = cast(func.strftime("%w", column, "+8 hours"), Integer)
    return (weekday + 6) % 7, cast(func.strftime("%H", column, "+8 hours"), Integer)


def _hotline_hours(first: int, last: int) -> dict[Any, Cell]:
    c, caller = _caller()
    weekday, hour = _weekday_hour(c.c.started_at)
    where = (
        c.c.started_at >= periods.month_start(first),
        c.c.started_at < periods.month_end(last),
    )
    measures = (func.count(c.c.id), func.count(func.distinct(caller)))
    cells: dict[Any, Cell] = {}
    for cols, key in (
        ((weekday, hour), lambda r: (int(r[0]), int(r[1]))),
        ((weekday,), lambda r: (int(r[0]), "all")),
        ((hour,), lambda r: ("all", int(r[0]))),
        ((), lambda r: ("all", "all")),
    ):
        labelled = [col.label(f"g{i}") for i, col in enumerate(cols)]
        stmt = select(*labelled, *measures).where(*where)
        if labelled:
            stmt = stmt.group_by(*labelled)
        for row in db.session.execute(stmt):
            cells[key(row)] = Cell(int(row[-2]), int(row[-1]))
    return cells


def _hotline_topics(first: int, last: int) -> list[tuple[str, str, Cell]]:
    from wellness.hotline.models import HotlineTerm, call_topics

    c, caller = _caller()
    t = HotlineTerm.__table__
    stmt = (
        select(
            t.c.id,
            t.c.label_zh,
            t.c.label_en,
            func.count(c.c.id),
            func.count(func.distinct(caller)),
        )
        .select_from(call_topics)
        .join(c, c.c.id == call_topics.c.call_id)
        .join(t, t.c.id == call_topics.c.term_id)
        .where(
            c.c.started_at >= periods.month_start(first),
            c.c.started_at < periods.month_end(last),
        )
        .group_by(t.c.id, t.c.label_zh, t.c.label_en, t.c.sort_order)
        .order_by(t.c.sort_order, t.c.id)
    )
    return [(zh, en or zh, Cell(int(n), int(p))) for _id, zh, en, n, p in db.session.execute(stmt)]


def _hotline_version() -> tuple:
    from wellness.hotline.models import HotlineCall, HotlineTerm

    return tuple(
        db.session.execute(
            select(
                select(func.count(HotlineCall.id)).scalar_subquery(),
                select(func.max(HotlineCall.id)).scalar_subquery(),
                select(func.max(HotlineTerm.id)).scalar_subquery(),
            )
        ).one()
    )


@dataclass
class HotlineSection:
    hours: Table
    topics: Table
    grid: list[list[int | None]]  # [weekday][hour]
    topic_series: list[tuple[str, int | None]]


def weekday_names() -> list[str]:
    return [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


def hotline_section(filters: Filters) -> HotlineSection | None:
    if not hotline_installed():
        return None
    k = small_cell_k()
    key = ("h", filters.first, filters.last, _hotline_version(), k, lang())
    cached = memo.get(key)
    if cached is not None:
        return cached
    cells = _hotline_hours(filters.first, filters.last)
    rows = {d: frozenset({d}) for d in range(WEEKDAYS)}
    rows["all"] = frozenset(range(WEEKDAYS))
    cols = {h: frozenset({h}) for h in range(HOURS)}
    cols["all"] = frozenset(range(HOURS))
    atoms = {key_: cell.value for key_, cell in cells.items() if "all" not in key_}
    people = {key_: cell.people for key_, cell in cells.items()}
    grid = Grid(rows, cols, atoms, people)
    visible = _shown(grid, k)

    def shown(key_):
        return visible.get(key_)

    grid = [[shown((d, h)) for h in range(HOURS)] for d in range(WEEKDAYS)]
    names = weekday_names()
    hour_cols = [Column(f"h{h}", f"{h:02d}") for h in range(HOURS)]
    rows = []
    for d in range(WEEKDAYS):
        values = {f"h{h}": grid[d][h] for h in range(HOURS)}
        values["all"] = shown((d, "all"))
        rows.append(Row(names[d], values, d))
    totals = {f"h{h}": shown(("all", h)) for h in range(HOURS)}
    totals["all"] = shown(("all", "all"))
    rows.append(Row(_("All days"), totals, "all"))
    hours = Table(
        "hotline_hours",
        _("Hotline calls by weekday and hour (Beijing time)"),
        hour_cols + [Column("all", _("All hours"))],
        rows,
        notes=[
            _("Counted over the whole period; callers are counted by a keyed hash of their number.")
        ],
        first_column=_("Day"),
    )
    topic_rows, topic_series = [], []
    for zh, en, cell in _hotline_topics(filters.first, filters.last):
        value = None if 0 < cell.people < k else cell.value
        label = zh if lang() == "zh" else en
        topic_rows.append(Row(label, {"calls": value}, label))
        topic_series.append((label, value))
    topics = Table(
        "hotline_topics",
        _("Hotline calls by topic"),
        [Column("calls", _("Calls"))],
        topic_rows,
        notes=[_("A call can have several topics.")],
        first_column=_("Topic"),
    )
    section = HotlineSection(hours, topics, grid, topic_series)
    memo.put(key, section)
    return section


# ============================================================================ dashboard


@dataclass
class Dashboard:
    filters: Filters
    tree: Tree
    assessments: AssessmentSection | None
    risk: RiskSection | None
    booking: BookingSection | None
    vouchers: VoucherSection | None
    hotline: HotlineSection | None
    k: int

    def tables(self) -> dict[str, Table]:
        found: dict[str, Table] = {}
        if self.assessments:
            found.update(
                bands=self.assessments.bands,
                instruments=self.assessments.instruments,
                units=self.assessments.units,
            )
        if self.risk:
            found["risk"] = self.risk.table
        if self.booking:
            found["booking"] = self.booking.table
        if self.vouchers:
            found.update(voucher_batches=self.vouchers.batches, voucher_units=self.vouchers.units)
        if self.hotline:
            found.update(hotline_hours=self.hotline.hours, hotline_topics=self.hotline.topics)
        return found


SECTIONS = ("assessments", "risk", "booking", "vouchers", "hotline")


_checked: dict[tuple, tuple[float, dict[str, tuple]]] = {}
_checked_lock = threading.Lock()


def versions(sections, now: datetime | None = None) -> dict[str, tuple]:
    """What each section's figures are computed from (counts, highest ids, latest changes):
    part of every cache key, so new data is simply a new key. Brings the rollup up to date.

    Looked up at most every ``REPORTS_DATA_CHECK_SECONDS`` (default 30) per process: only
    ended months are reported, so what can change them is rare (late rows, deletions,
    status changes of old flags and appointments), and a cached page then costs no query
    at all. A new month always triggers a fresh look."""
    ttl = float(current_app.config.get("REPORTS_DATA_CHECK_SECONDS", 30))
    key = (
        current_app.config["SQLALCHEMY_DATABASE_URI"],
        tuple(sorted(sections)),
        periods.month_of(now or utcnow()),
    )
    if ttl > 0:
        with _checked_lock:
            seen = _checked.get(key)
        if seen and time.monotonic() - seen[0] < ttl:
            return seen[1]
    found = _look_up_versions(sections, now)
    with _checked_lock:
        if len(_checked) > 256:
            _checked.clear()
        _checked[key] = (time.monotonic(), found)
    return found


def _look_up_versions(sections, now: datetime | None = None) -> dict[str, tuple]:
    found: dict[str, tuple] = {}
    with writing():  # the rollups may write: their transactions begin inside it
        if "assessments" in sections:
            rollup.ensure_fresh(now)
            found["assessments"] = rollup.data_version(now)
        if "risk" in sections:
            risk_rollup.ensure_fresh(now)
            found["risk"] = risk_rollup.data_version(now)
        db.session.commit()
    if "booking" in sections and booking_installed():
        found["booking"] = _booking_version()
    if "vouchers" in sections and vouchers_installed():
        found["vouchers"] = _voucher_version()
    if "hotline" in sections and hotline_installed():
        found["hotline"] = _hotline_version()
    db.session.commit()
    return found


def dashboard(filters: Filters, now: datetime | None = None, sections=SECTIONS) -> Dashboard:
    """Every section of the dashboard for one filter set (the pages, CSV, charts, API).

    Each section is kept in the bounded in-process cache under its filter set, its data
    version, the organisation tree, k and the language."""
    tree = load_tree()
    found = versions(sections, now)
    k = small_cell_k()
    language = lang()

    def cached(name: str, compute):
        if name not in sections:
            return None
        key = ("section", name, filters.key(), found.get(name), tree.version, k, language)
        return memo.get_or_compute(key, compute)

    dash = Dashboard(
        filters=filters,
        tree=tree,
        assessments=cached("assessments", lambda: assessment_section(filters, tree, now)),
        risk=cached("risk", lambda: risk_section(filters, tree, found.get("risk"))),
        booking=cached("booking", lambda: booking_section(filters)),
        vouchers=cached("vouchers", lambda: voucher_section(filters, tree)),
        hotline=cached("hotline", lambda: hotline_section(filters)),
        k=k,
    )
    db.session.commit()
    return dash


TABLE_SECTIONS = {
    "bands": "assessments",
    "instruments": "assessments",
    "units": "assessments",
    "risk": "risk",
    "booking": "booking",
    "voucher_batches": "vouchers",
    "voucher_units": "vouchers",
    "hotline_hours": "hotline",
    "hotline_topics": "hotline",
}


def section_version(section: str, filters: Filters, now: datetime | None = None) -> tuple:
    """What a section's figures were computed from, for chart cache keys."""
    tree = load_tree()
    found = versions((section,), now)
    return (section, found.get(section, ()), tree.version, small_cell_k())


def org_unit_choices(tree: Tree | None = None) -> list[tuple[int, str]]:
    tree = tree or load_tree()
    choices = [(ROOT, _("All organisations"))]
    for unit, depth in tree.ordered():
        choices.append((unit, "\u3000" * depth + tree.names[unit]))
    return choices


def instrument_choices() -> list[tuple[str, str]]:
    return [(i.code, i.short_name) for i in instruments_for_report()]


def station_choices() -> list[tuple[int, str]]:
    return [(0, _("All stations")), *station_names().items()]


# ============================================================================== summary


def summary(filters: Filters, now: datetime | None = None) -> dict[str, Any]:
    """The figures of the JSON summary: totals over the range for one population."""
    dash = dashboard(filters, now)
    out: dict[str, Any] = {
        "first_month": periods.label(filters.first),
        "last_month": periods.label(filters.last),
        "org_unit_id": filters.org_unit_id or None,
        "with_children": filters.with_children,
        "k": dash.k,
        "assessments": [
            {
                "instrument": row.key,
                "screenings": row.values["total"],
                "assessments": row.values["assessments"],
                "moderate_or_worse": row.values["mw"],
                "share_moderate_or_worse": _num(row.values["share"]),
                "mean_score": _num(row.values["mean"]),
            }
            for row in dash.assessments.instruments.rows
        ],
        "risk_flags": [
            {
                "level": row.key,
                "flags": row.values["flags"],
                "claimed": row.values["claimed"],
                "claimed_in_time_percent": _num(row.values["sla"]),
                "escalated": row.values["escalated"],
                "median_minutes_to_claim": _num(row.values["claim"]),
                "median_minutes_to_resolve": _num(row.values["resolve"]),
            }
            for row in dash.risk.table.rows
        ],
        "appointments": None,
        "vouchers": None,
        "hotline_calls": None,
    }
    if dash.booking:
        everyone = dash.booking.table.rows[-1]
        out["appointments"] = {
            "booked": everyone.values["total"],
            "attended": everyone.values["attended"],
            "no_show": everyone.values["no_show"],
            "cancelled": everyone.values["cancelled"],
            "not_yet_marked": everyone.values["open"],
            "room_use_percent": _num(everyone.values["utilisation"]),
        }
    if dash.vouchers:
        total = dash.vouchers.units.rows[-1]
        out["vouchers"] = {
            "vouchers_issued": total.values["vouchers"],
            "sessions_issued": total.values["sessions"],
            "sessions_used": total.values["consumed"],
            "sessions_expired": total.values["expired"],
        }
    if dash.hotline:
        out["hotline_calls"] = dash.hotline.hours.rows[-1].values["all"]
    hidden = 0
    for table in dash.tables().values():
        hidden += table.hidden_cells
    out["hidden_cells"] = hidden
    return out


def _num(value):
    return None if value in (None, "") else value


def summary_status(value) -> str:
    return "hidden" if value is None else "shown"
