"""Small-cell suppression with complementary suppression (pure: no Flask, no database).

A report table is a grid of **boxes**: every figure shown is the sum of some **atomic
cells** ``(row atom, column atom)``. Row atoms are, for example, the members of each
organisation unit (its "own" members), and a row box is a set of them: a unit with its
children, a unit's own members, everyone. Column atoms are bands, levels, statuses; a column
box is one of them, or several ("all bands" = the month's total, "moderate or worse" = the
severe bands). So a month's total, a unit with or without its children and the share at
moderate or worse are all boxes of one grid, and every equation a reader could use
(``total - other bands``, ``unit with children - unit alone``...) is inside it.

1. **Primary**: a box resting on fewer than ``k`` distinct people (but on some) is hidden.
   So is every box inside a primary one (its bands, its units), zeros included: "nobody of
   these three had a mild result" next to a hidden total would narrow down their bands.
2. **Complementary**: a hidden box is safe only if its value can change while every shown
   box stays the same. For each primary box we build such a change explicitly -- a
   *witness*: move one person from an atomic cell inside the box to a cell outside
   (another unit, another band, or both: a 2x2 "rectangle"), or the other way round, or
   add one, and hide every box whose sum that move would change. A reader then sees the
   same figures whether the primary box is ``v`` or ``v - 1`` (or ``v + 1``), and nothing
   goes negative (the cells that lose one are at least one). Among the possible witnesses
   the one that hides the least (by total value, then count) is chosen; a primary box
   already touched by an earlier witness needs none of its own.

Because the witness is explicit, no primary box can be worked out exactly from the shown
boxes, whatever combination of them a reader takes (``determined`` checks this by linear
algebra in the tests). Every hidden box is shown with the same symbol, so a reader cannot
tell a primary box from its complements.

The caller decides the grid: it must be the same for every view that shows a box (one grid
per month slice, over the whole organisation tree; see ``services.py``), otherwise two views
with different patterns could be subtracted from each other.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

Key = Hashable


@dataclass(frozen=True)
class Cell:
    value: int  # the additive figure shown (people, appointments, sessions...)
    people: int  # distinct people the figure rests on


@dataclass(frozen=True)
class Pattern:
    suppressed: frozenset[Key]
    primary: frozenset[Key]
    witnesses: tuple[tuple[frozenset, frozenset], ...] = ()

    def shown(self, key: Key) -> bool:
        return key not in self.suppressed


@dataclass
class Grid:
    """Boxes over atomic cells.

    ``rows``/``cols`` map each row/column box to the atoms it adds up; ``atoms`` holds the
    atomic values (missing = 0); ``people`` the distinct people of each box ``(row, col)``
    (missing = 0). The caller computes people exactly (COUNT(DISTINCT) in SQL, or sums
    over atoms where a person can only be in one atom).
    """

    rows: Mapping[Key, frozenset]
    cols: Mapping[Key, frozenset]
    atoms: Mapping[tuple, int]
    people: Mapping[tuple, int]
    _row_of: dict = field(default_factory=dict, init=False, repr=False)
    _col_of: dict = field(default_factory=dict, init=False, repr=False)
    _values: dict | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        row_of: dict[Key, set] = {}
        col_of: dict[Key, set] = {}
        for box, members in self.rows.items():
            for atom in members:
                row_of.setdefault(atom, set()).add(box)
        for box, members in self.cols.items():
            for atom in members:
                col_of.setdefault(atom, set()).add(box)
        self._row_of = {atom: frozenset(boxes) for atom, boxes in row_of.items()}
        self._col_of = {atom: frozenset(boxes) for atom, boxes in col_of.items()}

    def atom(self, a: Key, b: Key) -> int:
        return self.atoms.get((a, b), 0)

    def value(self, row: Key, col: Key) -> int:
        return self.values()[(row, col)]

    def values(self) -> dict[tuple, int]:
        """Every box's sum (computed once: per row box, the column atoms' sums first)."""
        if self._values is None:
            by_atom: dict[Key, dict[Key, int]] = {}
            for (a, b), v in self.atoms.items():
                if v:
                    by_atom.setdefault(a, {})[b] = v
            values = {}
            for row, members in self.rows.items():
                sums: dict[Key, int] = {}
                for a in members:
                    for b, v in by_atom.get(a, {}).items():
                        sums[b] = sums.get(b, 0) + v
                for col, col_members in self.cols.items():
                    values[(row, col)] = sum(sums.get(b, 0) for b in col_members)
            self._values = values
        return self._values

    def row_atoms(self) -> list[Key]:
        return sorted(self._row_of, key=repr)

    def col_atoms(self) -> list[Key]:
        return sorted(self._col_of, key=repr)

    def rows_with(self, atom: Key) -> frozenset:
        return self._row_of.get(atom, frozenset())

    def cols_with(self, atom: Key) -> frozenset:
        return self._col_of.get(atom, frozenset())


def is_primary(people: int, k: int) -> bool:
    return 0 < people < k


def protect(
    grid: Grid, k: int, *, near: int = 6, keep: frozenset | set = frozenset(), keep_weight: int = 10
) -> Pattern:
    """Hide primary boxes and, for each, the boxes of its cheapest witness.

    Primary: a box resting on 1..k-1 people, and every box inside it (its bands, its units),
    zeros included -- a zero next to a hidden small group would tell which band its few
    members are in -- unless the zero is inside a box that shows zero anyway.
    ``keep``: row boxes that matter most (the whole membership); hiding
    their boxes costs ``keep_weight`` times their value, so an equally cheap witness
    elsewhere wins.
    """
    values = grid.values()
    small = [cell for cell in values if is_primary(grid.people.get(cell, 0), k)]
    inner_rows = {
        r: [x for x in grid.rows if grid.rows[x] <= grid.rows[r]] for r in {c[0] for c in small}
    }
    inner_cols = {
        c: [x for x in grid.cols if grid.cols[x] <= grid.cols[c]] for c in {c[1] for c in small}
    }
    zeros = [cell for cell, value in values.items() if value == 0]

    def known_zero(cell) -> bool:
        """Inside a box that shows zero: a reader knows it is zero whatever we hide."""
        r, c = cell
        return any(
            (zr, zc) != cell and grid.rows[r] <= grid.rows[zr] and grid.cols[c] <= grid.cols[zc]
            for zr, zc in zeros
        )

    primary = set(small)
    for row, col in small:
        for cell in ((r, c) for r in inner_rows[row] for c in inner_cols[col]):
            if cell not in primary and (values[cell] > 0 or not known_zero(cell)):
                primary.add(cell)
    hidden = set(primary)
    witnesses: list[tuple[frozenset, frozenset]] = []
    row_atoms, col_atoms = grid.row_atoms(), grid.col_atoms()
    by_distance = {
        a: sorted(
            (x for x in row_atoms if x != a),
            key=lambda x, a=a: (len(grid.rows_with(a) ^ grid.rows_with(x)), repr(x)),
        )
        for a in row_atoms
    }

    found_partners: dict[tuple, list] = {}

    def partners(a1, b1) -> list:
        """Atoms to pair with: the nearest few, and the nearest few that have someone in
        column atom ``b1`` (a move *into* the box needs one to come from there)."""
        if (a1, b1) not in found_partners:
            nearest = by_distance.get(a1, [])
            useful = [x for x in nearest if grid.atom(x, b1) >= 1][:near]
            found_partners[(a1, b1)] = list(dict.fromkeys(nearest[: near // 2] + useful))
        return found_partners[(a1, b1)]

    def cost(rt: frozenset, ct: frozenset) -> tuple[int, int]:
        """What a witness would newly hide: its value (plus one per box, so that even an
        empty box is not hidden for nothing), then how many boxes."""
        total = count = 0
        for r in rt:
            weight = keep_weight if r in keep else 1
            for c in ct:
                cell = (r, c)
                if cell not in hidden:
                    total += values[cell] * weight + 1
                    count += 1
        return total, count

    def feasible(a1, b1, a2, b2) -> bool:
        """The move keeps every atom >= 0 in one of its two directions: out of the box
        ((a1, b1) and the rectangle's far corner lose one) or into it (the two side
        cells lose one)."""
        atom = grid.atom
        out = atom(a1, b1) >= 1 and (a2 is None or b2 is None or atom(a2, b2) >= 1)
        into = (a2 is None or atom(a2, b1) >= 1) and (b2 is None or atom(a1, b2) >= 1)
        return out or into

    order = sorted(
        primary,
        key=lambda cell: (
            len(grid.rows[cell[0]]),
            len(grid.cols[cell[1]]),
            values[cell],
            repr(cell),
        ),
    )
    for row, col in order:
        if any(row in rt and col in ct for rt, ct in witnesses):
            continue
        inside_rows, inside_cols = grid.rows[row], grid.cols[col]
        best: tuple | None = None
        for a1 in sorted(inside_rows, key=repr):
            for b1 in sorted(inside_cols, key=repr):
                row_options = [(grid.rows_with(a1), None)]
                row_options += [
                    (grid.rows_with(a1) ^ grid.rows_with(a2), a2)
                    for a2 in partners(a1, b1)
                    if a2 not in inside_rows
                ]
                col_options = [(grid.cols_with(b1), None)]
                col_options += [
                    (grid.cols_with(b1) ^ grid.cols_with(b2), b2)
                    for b2 in col_atoms
                    if b2 not in inside_cols
                ]
                for rt, a2 in row_options:
                    for ct, b2 in col_options:
                        if not feasible(a1, b1, a2, b2):
                            continue
                        score = cost(rt, ct)
                        if best is None or score < best[0]:
                            best = (score, rt, ct)
        if best is None:  # cannot happen: adding one person to the box is always possible
            continue
        _score, rt, ct = best
        hidden.update((r, c) for r in rt for c in ct)
        witnesses.append((rt, ct))
    return Pattern(frozenset(hidden), frozenset(primary), tuple(witnesses))


def determined(grid: Grid, hidden: set | frozenset) -> set:
    """Hidden boxes whose value follows exactly from the shown boxes by linear algebra: the
    box's row of atom coefficients lies in the span of the shown boxes' rows. (Tests.)"""
    import numpy as np

    atoms = [(a, b) for a in grid.row_atoms() for b in grid.col_atoms()]
    index = {atom: i for i, atom in enumerate(atoms)}

    def vector(cell) -> np.ndarray:
        v = np.zeros(len(atoms))
        for a in grid.rows[cell[0]]:
            for b in grid.cols[cell[1]]:
                v[index[(a, b)]] = 1.0
        return v

    cells = [(r, c) for r in grid.rows for c in grid.cols]
    shown = [vector(cell) for cell in cells if cell not in hidden]
    base = np.array(shown) if shown else np.zeros((0, len(atoms)))
    rank = np.linalg.matrix_rank(base) if shown else 0
    found = set()
    for cell in cells:
        if cell in hidden:
            stacked = np.vstack([base, vector(cell)])
            if np.linalg.matrix_rank(stacked) == rank:
                found.add(cell)
    return found


def tree_rows(children: Mapping[int, Sequence[int]]) -> dict[tuple[str, int], frozenset]:
    """Row boxes of an organisation tree: every unit with its children ``("sub", u)`` and,
    for units with children, its own members ``("own", u)``. Atoms are unit ids (a unit's
    own members; 0 = members without a unit under the root 0)."""

    def below(unit: int) -> set[int]:
        found, stack = set(), [unit]
        while stack:
            current = stack.pop()
            found.add(current)
            stack.extend(children.get(current, ()))
        return found

    rows: dict[tuple[str, int], frozenset] = {}
    for unit, kids in children.items():
        rows[("sub", unit)] = frozenset(below(unit))
        if kids:
            rows[("own", unit)] = frozenset({unit})
    return rows


def population(unit: int, with_children: bool, children: Mapping[int, Sequence[int]]):
    """The row box of a selectable population: a unit with its children, or its own
    members only (a unit without children has one population)."""
    if with_children or not children.get(unit):
        return ("sub", unit)
    return ("own", unit)


def compose(values: Sequence[int | None]) -> int | None:
    """A sum over several boxes of different grids (the months of a range...): shown only
    when every component is shown, so it is a function of shown figures and tells nothing
    new, whichever ranges a reader compares."""
    if any(v is None for v in values):
        return None
    return sum(values)  # type: ignore[arg-type]
