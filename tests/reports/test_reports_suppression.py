"""Small-cell suppression (pure): primary cells, witnesses, and that no hidden primary cell
can be worked out from the shown ones by any linear combination."""

from __future__ import annotations

import random

import pytest

from wellness.reports import periods
from wellness.reports.suppression import Grid, compose, determined, protect, tree_rows

BANDS = ["minimal", "mild", "moderate", "moderately_severe", "severe"]
SEVERE = {"moderate", "moderately_severe", "severe"}
CHILDREN = {0: (1,), 1: (2, 3), 2: (4, 5), 3: (6,), 4: (), 5: (), 6: ()}


def band_grid(atoms: dict[tuple[int, str], int], children=CHILDREN) -> Grid:
    cols = {b: frozenset({b}) for b in BANDS}
    cols["total"] = frozenset(BANDS)
    cols["mw"] = frozenset(SEVERE)
    grid = Grid(tree_rows(children), cols, atoms, {})
    grid.people.update(grid.values())
    return grid


def check(grid: Grid, k: int = 5):
    pattern = protect(grid, k, keep={("sub", 0)})
    values = grid.values()
    shown_zero = [z for z, v in values.items() if v == 0 and z not in pattern.suppressed]

    def known(x):
        return any(
            grid.rows[x[0]] <= grid.rows[z[0]] and grid.cols[x[1]] <= grid.cols[z[1]]
            for z in shown_zero
        )

    for cell in values:
        people = grid.people.get(cell, 0)
        if 0 < people < k:
            assert cell in pattern.suppressed, cell
        if 0 < people < k:
            inside = [
                (r, c)
                for r in grid.rows
                for c in grid.cols
                if grid.rows[r] <= grid.rows[cell[0]] and grid.cols[c] <= grid.cols[cell[1]]
            ]
            # everything inside a small box is hidden, unless a shown zero already tells it
            assert all(x in pattern.suppressed or known(x) for x in inside), cell
    leaks = determined(grid, pattern.suppressed) & pattern.primary
    assert not leaks, leaks
    # every witness only touches hidden boxes, and its cells can lose one without going <0
    for rows, cols in pattern.witnesses:
        assert all((r, c) in pattern.suppressed for r in rows for c in cols)
    return pattern


def test_big_cells_stay_and_small_ones_hide_with_a_complement():
    atoms = {(u, b): 40 for u in (4, 5, 6) for b in BANDS}
    atoms[(4, "severe")] = 2  # one small cell in one enterprise
    grid = band_grid(atoms)
    pattern = check(grid)
    assert (("sub", 4), "severe") in pattern.suppressed
    # the month total of that enterprise is still shown; another band of it is hidden
    assert (("sub", 4), "total") not in pattern.suppressed
    row_hidden = [b for b in BANDS if (("sub", 4), b) in pattern.suppressed]
    assert len(row_hidden) >= 2
    # "with children" minus the other children: the severe column must have a second hole
    column_hidden = [r for r in grid.rows if (r, "severe") in pattern.suppressed]
    assert len(column_hidden) >= 2
    # the whole membership stays fully visible
    assert all((("sub", 0), c) not in pattern.suppressed for c in grid.cols)


def test_a_single_person_among_a_units_own_members_cannot_be_subtracted_out():
    """The district has one member of its own and big enterprises below it: "district with
    children" minus "the enterprises" would give that person's band."""
    atoms = {(u, b): 25 for u in (4, 5) for b in BANDS}
    atoms[(2, "severe")] = 1  # the district's only own member
    grid = band_grid(atoms)
    pattern = check(grid)
    own = ("own", 2)
    assert all((own, c) in pattern.suppressed for c in ("severe", "total", "mw"))
    # the subtraction sub(2) - sub(4) - sub(5) is broken in every column the person is in
    for column in ("severe", "total", "mw"):
        parts = [(("sub", 2), column), (("sub", 4), column), (("sub", 5), column)]
        assert any(p in pattern.suppressed for p in parts), column


def test_zeros_inside_a_small_group_are_hidden_unless_known_anyway():
    atoms = {(4, "minimal"): 40, (4, "moderate"): 20, (5, "minimal"): 30, (6, "minimal"): 30}
    atoms[(6, "severe")] = 2  # a small group: its empty bands would tell where they are
    grid = band_grid(atoms)
    pattern = check(grid)
    # the whole severe column rests on those two: no unit may show it is not theirs...
    assert (("sub", 6), "severe") in pattern.suppressed
    assert (("sub", 4), "severe") in pattern.suppressed
    # ...except one whose "moderate or worse" shows zero anyway
    assert (("sub", 5), "severe") not in pattern.suppressed
    # nobody anywhere is mild: the zeros tell nothing new and stay visible
    assert not [r for r in grid.rows if (r, "mild") in pattern.suppressed]
    # the big minimal groups of the other enterprises stay visible
    assert (("sub", 5), "minimal") not in pattern.suppressed


def test_the_whole_membership_being_small_hides_it():
    atoms = {(4, "mild"): 2, (6, "severe"): 1}
    pattern = check(band_grid(atoms))
    assert (("sub", 0), "total") in pattern.suppressed


@pytest.mark.parametrize("seed", range(60))
def test_random_grids_never_leak_a_primary_cell(seed):
    rng = random.Random(seed)
    atoms = {}
    for unit in range(7):
        scale = rng.choice([0, 1, 3, 8, 30, 120])
        for band in BANDS:
            if rng.random() < 0.8:
                atoms[(unit, band)] = max(0, int(rng.expovariate(1 / (scale + 0.1))))
    check(band_grid(atoms), k=rng.choice([3, 5, 10]))


@pytest.mark.parametrize("seed", range(20))
def test_random_two_way_tables_with_margins(seed):
    """Weekday x hour with row, column and grand totals (the hotline heat map)."""
    rng = random.Random(1000 + seed)
    rows = {d: frozenset({d}) for d in range(7)}
    rows["all"] = frozenset(range(7))
    cols = {h: frozenset({h}) for h in range(8)}
    cols["all"] = frozenset(range(8))
    atoms = {(d, h): rng.choice([0, 0, 1, 2, 3, 6, 9, 20]) for d in range(7) for h in range(8)}
    grid = Grid(rows, cols, atoms, {})
    grid.people.update(grid.values())
    pattern = protect(grid, 5, keep={"all"})
    assert not (determined(grid, pattern.suppressed) & pattern.primary)


def test_people_decide_not_the_figure():
    """Ten flags of two people are hidden; three flags of three people at k=3 are not."""
    rows = {"x": frozenset({"x"}), "y": frozenset({"y"}), "all": frozenset({"x", "y"})}
    cols = {"n": frozenset({"n"})}
    grid = Grid(rows, cols, {("x", "n"): 10, ("y", "n"): 30}, {})
    grid.people.update({("x", "n"): 2, ("y", "n"): 20, ("all", "n"): 22})
    pattern = protect(grid, 5)
    assert ("x", "n") in pattern.primary
    assert ("y", "n") in pattern.suppressed or ("all", "n") in pattern.suppressed


def test_compose_shows_a_sum_only_when_every_part_is_shown():
    assert compose([3, 4, 5]) == 12
    assert compose([3, None, 5]) is None
    assert compose([]) == 0


def test_months_in_beijing_time():
    from datetime import UTC, datetime

    # 2026-01-31 17:30 UTC is already February 1st in Beijing
    assert periods.month_of(datetime(2026, 1, 31, 17, 30, tzinfo=UTC)) == 202602
    assert periods.month_start(202602) == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    assert periods.add_months(202611, 3) == 202702
    assert periods.add_months(202601, -1) == 202512
    assert periods.span(202501, 202612) == 24
    assert periods.months_between(202611, 202702) == [202611, 202612, 202701, 202702]
    assert periods.parse_month("2026-03") == periods.parse_month("2026-03-31") == 202603
    for bad in ("2026-13", "2026-02-30", "26-01", "", "1999-01", "2026/01"):
        with pytest.raises(ValueError):
            periods.parse_month(bad)
