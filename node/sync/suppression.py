"""Small-cell suppression that holds against an attacker who solves linear programs.

Every published table of a month (per channel, per segment, the histograms, every measure,
`citizens` included) is one system of linear relations that the reader of the snapshots knows:
cells add up to their totals, citizens never exceed submissions, a histogram's buckets add up
to the count they split. `protect` withholds every value below k and then, as long as the
interval audit (`node.sync.audit`) finds a withheld value whose feasible interval given the
published ones is narrower than the protection width, withholds one more published value next
to it, the smallest first.

`suppress` is the one-dimensional check (each group of values against its total): `protect`
runs it first, as it settles most tables without a linear program.
"""

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from node.sync.audit import Relation, Revision, audit


@dataclass(frozen=True)
class Group:
    """An equation total = sum(members) that holds exactly over the true values."""

    total: Hashable
    members: tuple[Hashable, ...]


def protect(
    values: Mapping[Hashable, int],
    relations: Iterable[Relation],
    *,
    k: int,
    protection_width: int | None = None,
    keep: Collection[Hashable] = (),
    released: Sequence[Revision] = (),
    public: Collection[Hashable] = (),
) -> set[Hashable]:
    """Choose the values to withhold so that none below k can be narrowed down.

    Parameters
    ----------
    values : mapping of hashable to int
        The exact values of one month, every measure of every cell (absent keys are 0).
    relations : iterable of Relation
        The linear relations an attacker knows hold over the exact values; relations that
        do not hold over `values` are dropped (they cannot be known).
    k : int
        The threshold: every value below k is withheld.
    protection_width : int, optional
        The narrowest feasible interval a withheld value may keep given every published value
        and every relation. Defaults to k.
    keep : collection of hashable, optional
        Values to withhold whatever they are (those withheld in an earlier revision, so that a
        revision does not narrow what the earlier one hid).
    released : sequence of node.sync.audit.Revision, optional
        Earlier revisions of the same month that may have left, oldest first. The values are
        then protected together with them: nothing they withheld is narrowed, and no change
        smaller than k since the last of them can be read off by differencing.
    public : collection of hashable, optional
        Values anyone reads elsewhere (a service's totals its public request list shows):
        known to the attacker whether withheld or not, so withholding one protects nothing.
        They are still withheld below k, and the others are protected around them.

    Returns
    -------
    set of hashable
        The keys to withhold. If no further value can be withheld next to a value that is still
        exposed (every neighbour already withheld), the set is returned as it is; the audit then
        fails and the month is not sent.
    """
    width = k if protection_width is None else protection_width
    known = [relation for relation in relations if relation.holds(values)]
    neighbours: dict[Hashable, set[Hashable]] = {}
    for relation in known:
        for key in relation.keys:
            neighbours.setdefault(key, set()).update(relation.keys)
    # The one-dimensional pass settles most tables cheaply; the programs then find the rest.
    groups = [
        Group(total=r.terms[0][0], members=tuple(key for key, _ in r.terms[1:]))
        for r in known
        if r.equal and r.terms[0][1] == 1 and all(c == -1 for _, c in r.terms[1:])
    ]
    public = frozenset(public)
    hidden = suppress(dict(values), groups, k, public=public) | (set(keep) & set(values))
    if width <= 0:  # no interval to keep: k alone
        return hidden
    passed: set[frozenset] = set()  # components already found safe: their system is unchanged
    inherent: dict = {}  # what the public values alone leave: the same for every round
    while True:
        latest = Revision(values=values, hidden=frozenset(hidden), relations=tuple(known))
        report = audit(
            revisions=[*released, latest],
            k=k,
            protection_width=width,
            safe_components=passed,
            public=public,
            inherent=inherent,
        )
        passed |= report.safe_components
        added = set()
        for component, keys in report.exposed_components().items():
            # Withholding a public value hides it from who reads only the snapshots, not from
            # who also reads the public lists (their components are marked so by the audit).
            informed = (-1, "public") in component
            taken = hidden | public if informed else hidden
            extra = _next_to_hide(keys, component, neighbours, values, taken)
            if extra is not None:
                added.add(extra)
        if not added:
            return hidden
        hidden |= added


def _next_to_hide(
    exposed: list[Hashable],
    component: frozenset,
    neighbours: Mapping[Hashable, set[Hashable]],
    values: Mapping[Hashable, int],
    hidden: set[Hashable],
) -> Hashable | None:
    """The published value to withhold next: an exposed one itself (a change, or a value an
    earlier revision withheld), else the smallest that shares a relation with an exposed value,
    else with any withheld value of its component."""
    for candidates in (
        set(exposed),
        {n for key in exposed for n in neighbours.get(key, ())},
        {n for _, key in component for n in neighbours.get(key, ())},
    ):
        candidates = {n for n in candidates if n not in hidden and n in values}
        if candidates:
            return min(candidates, key=lambda n: (values[n], str(n)))
    return None


def suppress(
    values: dict[Hashable, int],
    groups: Iterable[Group],
    k: int,
    *,
    public: Collection[Hashable] = frozenset(),
) -> set[Hashable]:
    """Keys of the values to withhold so that none is below k or derivable from the others
    by a single group's equation; `public` values count as known, withheld or not."""
    public = frozenset(public)
    hidden = {key for key, value in values.items() if value < k}
    groups = [g for g in groups if g.members]
    changed = True
    while changed:
        changed = False
        for group in groups:
            extra = _one_more(group, values, hidden, k, public)
            if extra is not None:
                hidden.add(extra)
                changed = True
    return hidden


def _one_more(
    group: Group,
    values: dict[Hashable, int],
    hidden: set[Hashable],
    k: int,
    public: frozenset = frozenset(),
):
    unknown_members = [m for m in group.members if m in hidden and m not in public]
    total_hidden = group.total in hidden and group.total not in public
    unknowns = len(unknown_members) + total_hidden
    if unknowns == 0:
        return None
    leaks = unknowns == 1 or (not total_hidden and sum(values[m] for m in unknown_members) < k)
    if not leaks:
        return None
    sent = sorted(
        (m for m in group.members if m not in hidden and m not in public),
        key=lambda m: (values[m], str(m)),
    )
    if sent:
        return sent[0]
    return None if total_hidden or group.total in public else group.total
