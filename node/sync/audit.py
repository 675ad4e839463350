"""The interval audit: how narrowly can an attacker pin down each withheld value?

The attacker is assumed to hold every revision of a month that was ever released, to know
every published value in them, which cells are empty, and every linear relation that holds
over the exact values (the `relations` of each revision, and that a month's counts only grow
from one revision to the next). For every withheld value, and for every change between two
revisions that is smaller than k, the audit solves two linear programs (HiGHS through
`highspy`) over the non-negative values consistent with all of that: the
smallest and the largest the value can be. Bounds are rounded inwards to integers, since the
values are counts. A value whose interval is narrower than the protection width is exposed,
and a snapshot with an exposed value is not sent.

Most intervals are shown wide enough without a program of their own: every solution found
is a feasible point, and once the points found spread a value over the protection width, no
optimum can be narrower. Withheld values that share no relation form separate components,
solved apart.
"""

import math
import os
import sys
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import highspy
import numpy as np
from scipy import sparse

# Slack on the programs' optima before rounding them inwards to whole counts.
TOLERANCE = 1e-6
# Programs that pull many withheld values apart at once, before one program per value.
SPREADING_ROUNDS = 4

Variable = tuple[int, Hashable]  # (revision index, key)


@dataclass(frozen=True)
class Relation:
    """A linear relation over values: sum(coefficient * value) == 0, or <= 0.

    A key absent from the values stands for 0 (the attacker is assumed to know which cells
    are empty).
    """

    terms: tuple[tuple[Hashable, int], ...]
    equal: bool = True

    def holds(self, values: Mapping[Hashable, int]) -> bool:
        """Whether the relation is true of these values."""
        total = sum(coefficient * values.get(key, 0) for key, coefficient in self.terms)
        return total == 0 if self.equal else total <= 0

    @property
    def keys(self) -> tuple[Hashable, ...]:
        """The values the relation ties together."""
        return tuple(key for key, _ in self.terms)


def sums_to(total: Hashable, members: Iterable[Hashable]) -> Relation:
    """total == sum(members)."""
    return Relation(((total, 1), *((m, -1) for m in members)), equal=True)


def at_most(smaller: Iterable[Hashable], larger: Iterable[Hashable]) -> Relation:
    """sum(smaller) <= sum(larger)."""
    return Relation((*((s, 1) for s in smaller), *((g, -1) for g in larger)), equal=False)


@dataclass(frozen=True)
class Revision:
    """One revision of a month as its attacker holds it: the exact values (which the audit
    needs as one feasible point and to tell what changed), the keys withheld, and the
    relations known to hold."""

    values: Mapping[Hashable, int]
    hidden: frozenset
    relations: tuple[Relation, ...]


@dataclass(frozen=True)
class Exposure:
    """A withheld value (or a small change between revisions) pinned down too narrowly."""

    revision: int
    key: Hashable
    difference: bool
    low: float
    high: float
    component: frozenset = field(repr=False)

    @property
    def width(self) -> float:
        """How far apart the smallest and largest feasible whole values are."""
        return self.high - self.low

    def describe(self) -> str:
        """One line for a log or the CLI, naming the cell but not its value."""
        what = "the change in" if self.difference else "withheld"
        return f"{what} {_name(self.key)} is known within {self.width:g}"


@dataclass
class AuditReport:
    """What the audit found: the exposed values, and how much work it took."""

    exposures: list[Exposure]
    checked: int
    programs: int
    safe_components: set[frozenset]

    @property
    def passed(self) -> bool:
        """Whether no withheld value is exposed."""
        return not self.exposures

    def exposed_components(self) -> dict[frozenset, list[Hashable]]:
        """Per component, the keys that are exposed in any revision (for `protect`)."""
        found: dict[frozenset, list[Hashable]] = {}
        for exposure in self.exposures:
            keys = found.setdefault(exposure.component, [])
            if exposure.key not in keys:
                keys.append(exposure.key)
        return found

    def summary(self, limit: int = 3) -> str:
        """A short reason, as the CLI and the log show it."""
        shown = "; ".join(e.describe() for e in self.exposures[:limit])
        more = len(self.exposures) - limit
        return shown + (f" (and {more} more)" if more > 0 else "")


def _name(key: Hashable) -> str:
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], tuple):
        (service, dim, value), measure = key
        where = "all" if dim == "all" else f"{dim} {value}"
        return f"{service}/{where}/{measure}"
    return str(key)


@dataclass
class _Objective:
    revision: int
    key: Hashable
    difference: bool
    terms: dict[Variable, int]
    constant: int


class _Components:
    """Union-find over the withheld values."""

    def __init__(self, variables: Iterable[Variable]) -> None:
        self.parent = {v: v for v in variables}

    def find(self, v: Variable) -> Variable:
        while self.parent[v] != v:
            self.parent[v] = self.parent[self.parent[v]]
            v = self.parent[v]
        return v

    def join(self, variables: Iterable[Variable]) -> None:
        roots = [self.find(v) for v in variables]
        for root in roots[1:]:
            self.parent[root] = roots[0]


def audit(
    *,
    revisions: Sequence[Revision],
    k: int,
    protection_width: int,
    safe_components: Collection[frozenset] = (),
    public: Collection[Hashable] = (),
    inherent: dict[tuple[int, Hashable, bool], float] | None = None,
) -> AuditReport:
    """Check every withheld value of every revision, and every change below k between two
    consecutive revisions, against the protection width (see the module's docstring).

    `safe_components` names components already found safe with the very same system (for a
    caller that re-audits after withholding more); their programs are not solved again.

    `public` names values anyone reads elsewhere whatever the snapshot withholds (a service's
    totals that its public request list shows). Two attackers are then checked: one who reads
    only what was released (as without `public`), and one who also reads the public values,
    known in every revision, withheld or not, and not checked themselves. What the public
    values pin down by themselves (a part of a public total below the width) cannot be
    protected by withholding: for the second attacker, such a value is exposed only if the
    released values narrow it further than the public ones alone. `inherent` caches, per
    (revision, key, difference), the width the public values alone leave (for a caller that
    re-audits the same values).
    """
    report = _audit(
        revisions=revisions,
        k=k,
        protection_width=protection_width,
        safe_components=safe_components,
    )
    if not public or protection_width <= 0:
        return report
    informed = _audit(
        revisions=revisions,
        k=k,
        protection_width=protection_width,
        safe_components=safe_components,
        public=frozenset(public),
    )
    informed = _beyond_inherent(informed, revisions, k, protection_width, public, inherent)
    return AuditReport(
        exposures=report.exposures + informed.exposures,
        checked=report.checked + informed.checked,
        programs=report.programs + informed.programs,
        safe_components=report.safe_components | informed.safe_components,
    )


def _beyond_inherent(
    report: AuditReport,
    revisions: Sequence[Revision],
    k: int,
    protection_width: int,
    public: Collection[Hashable],
    inherent: dict[tuple[int, Hashable, bool], float] | None,
) -> AuditReport:
    """The report without the exposures the public values alone already give."""
    if report.passed:
        return report
    inherent = {} if inherent is None else inherent
    unknown = [e for e in report.exposures if (e.revision, e.key, e.difference) not in inherent]
    if unknown:
        near = _related(revisions, {e.key for e in unknown})
        inherent.update(_inherent_widths(revisions, k, protection_width, frozenset(public), near))
    beyond = [
        e
        for e in report.exposures
        if _whole_width(e.low, e.high) < inherent.get((e.revision, e.key, e.difference), math.inf)
    ]
    if len(beyond) < len(report.exposures):
        # A component whose only exposures are inherent is as safe as it can be made.
        flagged = {e.component for e in beyond}
        report.safe_components |= {e.component for e in report.exposures} - flagged
    report.exposures = beyond
    return report


def _related(revisions: Sequence[Revision], keys: set[Hashable]) -> frozenset:
    """The keys tied to these by a chain of relations in any revision: only they can bear on
    these keys' intervals."""
    neighbours: dict[Hashable, set[Hashable]] = {}
    for revision in revisions:
        for relation in revision.relations:
            for key in relation.keys:
                neighbours.setdefault(key, set()).update(relation.keys)
    found, todo = set(keys), list(keys)
    while todo:
        for other in neighbours.get(todo.pop(), ()):
            if other not in found:
                found.add(other)
                todo.append(other)
    return frozenset(found)


def _inherent_widths(
    revisions: Sequence[Revision], k: int, width: int, public: frozenset, near: frozenset
) -> dict[tuple[int, Hashable, bool], float]:
    """How wide the interval of each value among `near` is given the public values alone
    (every other value unknown): math.inf where it is at least the width."""
    blind = [
        Revision(
            values=revision.values,
            hidden=(frozenset(revision.values) & near) - public,
            relations=revision.relations,
        )
        for revision in revisions
    ]
    report = _audit(revisions=blind, k=k, protection_width=width, public=public, blind=True)
    found: dict[tuple[int, Hashable, bool], float] = {}
    for r, revision in enumerate(blind):
        for key in revision.hidden:
            found[(r, key, False)] = math.inf
        if r:
            for key in (set(revision.values) | set(revisions[r - 1].values)) & near:
                found[(r, key, True)] = math.inf
    for e in report.exposures:
        found[(e.revision, e.key, e.difference)] = _whole_width(e.low, e.high)
    return found


def _audit(
    *,
    revisions: Sequence[Revision],
    k: int,
    protection_width: int,
    safe_components: Collection[frozenset] = (),
    public: frozenset = frozenset(),
    blind: bool = False,
) -> AuditReport:
    """The audit of `audit`, public values taken as known and never checked.

    With public values, each component is marked as such, so that a component found safe for
    one attacker is never taken as safe for the other."""
    if protection_width <= 0:  # no interval to keep: nothing to check
        return AuditReport(exposures=[], checked=0, programs=0, safe_components=set())
    variables = [
        (r, key) for r, revision in enumerate(revisions) for key in revision.hidden - public
    ]
    index = {v: i for i, v in enumerate(variables)}

    def value(r: int, key: Hashable) -> int:
        return revisions[r].values.get(key, 0)

    # Rows: (terms, constant, equal) meaning sum(terms) + constant == 0, or <= 0.
    rows: list[tuple[dict[Variable, int], int, bool]] = []

    def add_row(pairs: Iterable[tuple[int, Hashable, int]], equal: bool) -> None:
        terms: dict[Variable, int] = {}
        constant = 0
        for r, key, coefficient in pairs:
            if (r, key) in index:
                terms[(r, key)] = terms.get((r, key), 0) + coefficient
            else:
                constant += coefficient * value(r, key)
        if any(terms.values()):
            rows.append((terms, constant, equal))

    for r, revision in enumerate(revisions):
        for relation in revision.relations:
            if relation.holds(revision.values):
                add_row(((r, key, c) for key, c in relation.terms), relation.equal)
    objectives: list[_Objective] = []
    exposures: list[Exposure] = []
    for r, revision in enumerate(revisions):
        objectives += [
            _Objective(r, key, False, {(r, key): 1}, 0) for key in revision.hidden - public
        ]
        if r == 0:
            continue
        before = revisions[r - 1]
        for key in sorted(set(before.values) | set(revision.values), key=str):
            change = value(r, key) - value(r - 1, key)
            if change >= 0:  # counts of an append-only log only grow: the attacker knows it
                add_row(((r - 1, key, 1), (r, key, -1)), equal=False)
            if 0 < abs(change) < k and key not in public:  # a public change is read there
                terms = {v: c for v, c in (((r, key), 1), ((r - 1, key), -1)) if v in index}
                constant = (0 if (r, key) in index else value(r, key)) - (
                    0 if (r - 1, key) in index else value(r - 1, key)
                )
                if terms:
                    objectives.append(_Objective(r, key, True, terms, constant))
                elif protection_width > 0:  # both revisions publish it: there to read
                    exposures.append(Exposure(r, key, True, change, change, frozenset()))

    components = _Components(variables)
    for terms, _, _ in rows:
        components.join(terms)
    for objective in objectives:
        components.join(objective.terms)
    members: dict[Variable, list[Variable]] = {}
    for v in variables:
        members.setdefault(components.find(v), []).append(v)
    by_root_rows: dict[Variable, list] = {}
    for row in rows:
        by_root_rows.setdefault(components.find(next(iter(row[0]))), []).append(row)
    by_root_objectives: dict[Variable, list[_Objective]] = {}
    for objective in objectives:
        by_root_objectives.setdefault(components.find(next(iter(objective.terms))), []).append(
            objective
        )

    safe = set(safe_components)
    programs = 0
    for root, component_objectives in by_root_objectives.items():
        component = frozenset(members[root])
        if public:  # (-1, ...) is no revision's variable
            component |= {(-1, "blind" if blind else "public")}
        if component in safe:
            continue
        found, solved = _audit_component(
            sorted(component, key=str),
            by_root_rows.get(root, []),
            component_objectives,
            value,
            protection_width,
        )
        programs += solved
        if found:
            exposures += [
                Exposure(o.revision, o.key, o.difference, low, high, component)
                for o, low, high in found
            ]
        else:
            safe.add(component)
    return AuditReport(
        exposures=exposures, checked=len(objectives), programs=programs, safe_components=safe
    )


def _audit_component(
    component: list[Variable],
    rows: list[tuple[dict[Variable, int], int, bool]],
    objectives: list[_Objective],
    value,
    width: int,
) -> tuple[list[tuple[_Objective, float, float]], int]:
    """The exposed objectives of one component, and how many programs that took."""
    column = {v: i for i, v in enumerate(component)}
    n = len(component)

    def matrix(selected: list) -> tuple[sparse.csr_array | None, np.ndarray | None]:
        if not selected:
            return None, None
        data, row_index, col_index = [], [], []
        for i, (terms, _, _) in enumerate(selected):
            for v, c in terms.items():
                data.append(c)
                row_index.append(i)
                col_index.append(column[v])
        shape = (len(selected), n)
        a = sparse.csr_array((data, (row_index, col_index)), shape=shape, dtype=float)
        return a, np.array([-constant for _, constant, _ in selected], dtype=float)

    a_eq, b_eq = matrix([row for row in rows if row[2]])
    a_ub, b_ub = matrix([row for row in rows if not row[2]])
    # The exact values are one feasible point; every optimum found adds another.
    exact = np.array([value(r, key) for r, key in component], dtype=float)
    points = [exact]
    directions = []
    for objective in objectives:
        c = np.zeros(n)
        for v, coefficient in objective.terms.items():
            c[column[v]] = coefficient
        directions.append(c)

    program = _Program(n, a_ub, b_ub, a_eq, b_eq)

    def solve(c: np.ndarray, bounds) -> _Solution:
        return program.solve(c, bounds)

    def open_objectives() -> list[int]:
        return [
            i
            for i, (objective, c) in enumerate(zip(objectives, directions, strict=True))
            if _whole_width(*_spread(c, points, objective.constant)) < width
        ]

    # Spread the points first: pull the open objectives apart all at once, each one up or
    # down at random, inside a box of the protection width around the exact values (which
    # keeps every program bounded and its optimum feasible for the attacker's system too).
    rng = np.random.default_rng(len(component))
    box = list(zip(np.zeros(n), exact + width + 1, strict=True))
    programs = 0
    remaining = open_objectives()
    for _ in range(SPREADING_ROUNDS):
        if len(remaining) < 2:
            break
        signs = rng.choice([-1.0, 1.0], size=len(remaining))
        pull = sum(sign * directions[i] for sign, i in zip(signs, remaining, strict=True))
        for sign in (1, -1):
            programs += 1
            result = solve(sign * pull, box)
            if result.status == 0:
                points.append(result.x)
        before, remaining = len(remaining), open_objectives()
        if len(remaining) > before * 0.8:
            break
    exposed = []
    for i in remaining:
        objective, c = objectives[i], directions[i]
        low, high = _spread(c, points, objective.constant)
        if _whole_width(low, high) >= width:
            continue
        bounds = []
        for sign in (1, -1):
            programs += 1
            result = solve(sign * c, (0, None))
            if result.status == 3:  # unbounded: no limit on this side
                bounds.append(-math.inf * sign)
                continue
            if result.status != 0:  # the exact values are feasible: count a failure as exposed
                bounds.append(low if sign == 1 else high)
                continue
            points.append(result.x)
            bounds.append(sign * result.fun + objective.constant)
            if sign == 1:
                low = min(low, bounds[0])
                # The minimum found may already be far enough from the points seen.
                far = max(float(c @ p) + objective.constant for p in points)
                if _whole_width(low, far) >= width:
                    break
        else:
            low, high = bounds
            if _whole_width(low, high) < width:
                exposed.append((objective, _round_up(low), _round_down(high)))
    return exposed, programs


_BANNER_SHOWN = False


def _new_highs() -> highspy.Highs:
    """A silent HiGHS instance: the first of a process writes a banner to file descriptor 1
    before any option can stop it, which would land in a command's output."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        highs = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                highs = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _BANNER_SHOWN = True
    highs.setOptionValue("output_flag", False)
    return highs


class _Solution(NamedTuple):
    """A program's outcome as scipy's `linprog` reports it: status 0 solved, 3 unbounded."""

    status: int
    x: np.ndarray | None
    fun: float


class _Program:
    """One component's system, handed to HiGHS once and solved again for each objective.

    Keeping the model (and its last basis) between the audit's many programs avoids
    rebuilding and re-checking the system each time, which costs more than solving it.
    """

    def __init__(self, n: int, a_ub, b_ub, a_eq, b_eq) -> None:
        self.n = n
        self.columns = np.arange(n, dtype=np.int32)
        self.highs = _new_highs()
        self.highs.addVars(n, np.zeros(n), np.full(n, highspy.kHighsInf))
        for a, lower, upper in (
            (a_eq, b_eq, b_eq),
            (a_ub, None if b_ub is None else np.full(len(b_ub), -highspy.kHighsInf), b_ub),
        ):
            if a is None:
                continue
            a = sparse.csr_array(a)
            self.highs.addRows(
                a.shape[0],
                np.asarray(lower, dtype=float),
                np.asarray(upper, dtype=float),
                a.nnz,
                a.indptr[:-1].astype(np.int32),
                a.indices.astype(np.int32),
                a.data.astype(float),
            )

    def solve(self, c: np.ndarray, bounds) -> _Solution:
        """Minimise `c @ x` within `bounds`: one (low, high) pair for all, or one per value."""
        if isinstance(bounds, tuple):
            bounds = [bounds] * self.n
        lower = np.array([0.0 if low is None else low for low, _ in bounds], dtype=float)
        upper = np.array(
            [highspy.kHighsInf if high is None else high for _, high in bounds], dtype=float
        )
        self.highs.changeColsBounds(self.n, self.columns, lower, upper)
        self.highs.changeColsCost(self.n, self.columns, np.asarray(c, dtype=float))
        self.highs.run()
        status = self.highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            x = np.array(self.highs.getSolution().col_value)
            return _Solution(0, x, float(self.highs.getInfo().objective_function_value))
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return _Solution(3, None, -math.inf)
        return _Solution(2, None, math.nan)


def _spread(c: np.ndarray, points: list[np.ndarray], constant: int) -> tuple[float, float]:
    """The smallest and largest value of an objective over the points found."""
    seen = np.stack(points) @ c + constant
    return float(seen.min()), float(seen.max())


def _round_up(x: float) -> float:
    return x if math.isinf(x) else math.ceil(x - TOLERANCE)


def _round_down(x: float) -> float:
    return x if math.isinf(x) else math.floor(x + TOLERANCE)


def _whole_width(low: float, high: float) -> float:
    """The width between the whole values inside [low, high]."""
    return _round_down(high) - _round_up(low)
