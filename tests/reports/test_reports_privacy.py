"""A single person's result cannot be read off any view or export.

An attacker with admin access collects every figure the reports publish -- the band table
of every organisation with and without its children, the by-organisation tables, the
questionnaire summary, the JSON summary, for the month alone and for a longer period -- and
solves them together as one linear system (differencing "with children" against "without",
a month's total against its bands, long periods against short ones, means times counts).
The one member a district has of its own, with a severe result, stays unknowable.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

from tests.reports.conftest import BUSY, add_result, make_workers, populate
from wellness.assessments.instruments import get_instrument
from wellness.extensions import db

BANDS = ["minimal", "mild", "moderate", "moderately_severe", "severe"]
SEVERE = {"moderate", "moderately_severe", "severe"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def scene(app, org, frozen):
    """Three enterprises of 76 people each screened in October and November; the district
    甲区 has one member of its own, screened once, in November: severe."""
    with app.app_context():
        for month in (202610, 202611):
            for unit in ("a1", "a2", "b1"):
                populate(org[unit], month, BUSY)
        (target,) = make_workers(org["a"], 1)
        add_result(target, org["a"], "severe", 202611)
        db.session.commit()
    return org


def children_of(org):
    return {
        0: [org["city"]],
        org["city"]: [org["a"], org["b"]],
        org["a"]: [org["a1"], org["a2"]],
        org["b"]: [org["b1"]],
        org["a1"]: [],
        org["a2"]: [],
        org["b1"]: [],
    }


def subtree(children, unit):
    out, stack = set(), [unit]
    while stack:
        u = stack.pop()
        out.add(u)
        stack.extend(children[u])
    return out


def rows_of(body: bytes) -> list[list[str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


class Attacker:
    """Collects published figures as linear functionals over the unknown atoms
    (unit, band, month) and (unit, month) score sums."""

    def __init__(self, units: list[int]) -> None:
        self.atoms = [(u, b, m) for u in units for b in BANDS for m in (202610, 202611)]
        self.index = {a: i for i, a in enumerate(self.atoms)}
        self.score_atoms = [(u, m) for u in units for m in (202610, 202611)]
        self.score_index = {a: i for i, a in enumerate(self.score_atoms)}
        self.counts: list[np.ndarray] = []
        self.scores: list[np.ndarray] = []
        self.seen = 0

    def count(self, units: set[int], bands, months) -> None:
        v = np.zeros(len(self.atoms))
        for u in units:
            for b in bands:
                for m in months:
                    v[self.index[(u, b, m)]] = 1
        self.counts.append(v)
        self.seen += 1

    def score(self, units: set[int], months) -> None:
        v = np.zeros(len(self.score_atoms))
        for u in units:
            for m in months:
                v[self.score_index[(u, m)]] = 1
        self.scores.append(v)

    def learns_count(self, units, bands, months) -> bool:
        target = np.zeros(len(self.atoms))
        for u in units:
            for b in bands:
                for m in months:
                    target[self.index[(u, b, m)]] = 1
        base = np.array(self.counts)
        return np.linalg.matrix_rank(np.vstack([base, target])) == np.linalg.matrix_rank(base)

    def learns_score(self, units, months) -> bool:
        target = np.zeros(len(self.score_atoms))
        for u in units:
            for m in months:
                target[self.score_index[(u, m)]] = 1
        base = np.array(self.scores)
        return np.linalg.matrix_rank(np.vstack([base, target])) == np.linalg.matrix_rank(base)


def band_columns(header: list[str]) -> dict[str, list[str]]:
    inst = get_instrument("phq9")
    labels = {inst.band(b).localized("en")["label"]: [b] for b in BANDS}
    labels["People screened"] = BANDS
    labels["Screenings (a person once a month)"] = BANDS
    return {h: labels[h] for h in header if h in labels}


def shown(value: str) -> bool:
    return value not in ("—", "")


def test_one_persons_result_cannot_be_worked_out_from_everything_published(
    app, client, make_user, login_as, scene
):
    org = scene
    children = children_of(org)
    units = sorted(children)
    names = {
        0: "All members",
        org["city"]: "城市总工会",
        org["a"]: "甲区总工会",
        org["b"]: "乙区总工会",
        org["a1"]: "甲一厂工会",
        org["a2"]: "甲二厂工会",
        org["b1"]: "乙一厂工会",
    }
    login_as(make_user("admin"))
    attacker = Attacker(units)
    periods = [("2026-11", "2026-11"), ("2026-10", "2026-11")]
    for unit in units:
        for with_children in (1, 0):
            people = subtree(children, unit) if with_children else {unit}
            for first, last in periods:
                months = [202610, 202611] if first == "2026-10" else [202611]
                args = f"from={first}&to={last}&org_unit={unit}&children={with_children}"
                # months x bands, with the month's total, share and mean
                table = rows_of(client.get(f"/reports/export/bands.csv?{args}", headers=EN).data)
                header = table[3]
                columns = band_columns(header)
                for row in table[4:]:
                    if not row or not re.fullmatch(r"\d{4}-\d{2}", row[0]):
                        continue
                    month = int(row[0].replace("-", ""))
                    cells = dict(zip(header, row, strict=False))
                    for label, bands in columns.items():
                        if shown(cells[label]):
                            attacker.count(people, bands, [month])
                    if shown(cells["Moderate or worse (%)"]):
                        attacker.count(people, SEVERE, [month])  # share x total
                    if shown(cells["Mean score"]):
                        attacker.score(people, [month])  # mean x total
                # by organisation: children, own members, total, over the period
                table = rows_of(client.get(f"/reports/export/units.csv?{args}", headers=EN).data)
                header = table[3]
                columns = band_columns(header)
                for row in table[4:]:
                    if not row or not row[0] or row[0].startswith("—"):
                        continue
                    label = row[0]
                    if label.startswith("Total: "):
                        box = subtree(children, unit)
                    elif label.endswith(" (own members)") or label == "Members without a unit":
                        box = {unit}
                    else:
                        (child,) = [u for u, n in names.items() if n == label]
                        box = subtree(children, child)
                    cells = dict(zip(header, row, strict=False))
                    for column, bands in columns.items():
                        if shown(cells[column]):
                            attacker.count(box, bands, months)
                    if shown(cells["Moderate or worse (%)"]):
                        attacker.count(box, SEVERE, months)
                    if shown(cells["Mean score"]):
                        attacker.score(box, months)
                # the JSON summary
                api = client.get(
                    f"/reports/export/instruments.csv?{args}", headers=EN
                )  # same figures as the API's questionnaire rows
                for row in rows_of(api.data)[4:]:
                    if row and row[0] == "PHQ-9":
                        if shown(row[1]):
                            attacker.count(people, BANDS, months)
                        if shown(row[3]):
                            attacker.count(people, SEVERE, months)
                        if shown(row[5]):
                            attacker.score(people, months)
    assert attacker.seen > 200  # plenty was published
    target = {org["a"]}
    for band in BANDS:
        assert not attacker.learns_count(target, [band], [202611]), band
    assert not attacker.learns_count(target, SEVERE, [202611])
    assert not attacker.learns_count(target, BANDS, [202611])
    assert not attacker.learns_score(target, [202611])
    # and yet the big groups are there to see
    assert attacker.learns_count(subtree(children, org["b1"]), ["minimal"], [202611])
    assert attacker.learns_count(subtree(children, 0), BANDS, [202610])


def test_the_api_summary_hides_what_the_pages_hide(app, make_user, api, token_for, scene):
    org = scene
    token = token_for(make_user("admin"))
    own = api(
        "GET",
        f"/reports/summary?from=2026-11&to=2026-11&org_unit_id={org['a']}&children=false",
        token,
    )
    assert own.status_code == 200, own.json
    (phq9,) = [row for row in own.json["assessments"] if row["instrument"] == "phq9"]
    assert phq9["screenings"] is None and phq9["mean_score"] is None
    assert phq9["moderate_or_worse"] is None and phq9["share_moderate_or_worse"] is None
    whole = api("GET", f"/reports/summary?from=2026-11&to=2026-11&org_unit_id={org['a']}", token)
    children = [
        api("GET", f"/reports/summary?from=2026-11&to=2026-11&org_unit_id={org[u]}", token)
        for u in ("a1", "a2")
    ]
    totals = [
        next(r["screenings"] for r in resp.json["assessments"] if r["instrument"] == "phq9")
        for resp in (whole, *children)
    ]
    # the district with its children minus its two enterprises would be the one person:
    # at least one of the three is hidden
    assert None in totals


def test_a_month_with_fewer_than_k_people_shows_nothing(
    app, client, make_user, login_as, org, frozen
):
    with app.app_context():
        populate(org["a1"], 202611, {"mild": 2, "severe": 1})
        db.session.commit()
    login_as(make_user("admin"))
    table = rows_of(
        client.get("/reports/export/bands.csv?from=2026-11&to=2026-11", headers=EN).data
    )
    header, row = table[3], table[4]
    cells = dict(zip(header, row, strict=True))
    assert cells["Mild"] == cells["Severe"] == cells["People screened"] == "—"
    assert cells["Mean score"] == "—" and cells["Moderate or worse (%)"] == "—"
    # not even the empty bands: "nobody minimal" would narrow down where the three are
    assert cells["Minimal"] == cells["Moderate"] == "—"


def test_the_current_month_is_never_shown(app, client, make_user, login_as, org, frozen):
    with app.app_context():
        populate(org["a1"], 202612, BUSY)
        db.session.commit()
    login_as(make_user("admin"))
    response = client.get("/reports/?from=2026-12&to=2026-12", headers=EN)
    assert response.status_code == 422
    assert b"not ended yet" in response.data
    response = client.get("/reports/?from=2026-11&to=2026-12", headers=EN)
    assert response.status_code == 200
    assert b"2026-12" not in response.data.split(b'id="assessments"')[1]
