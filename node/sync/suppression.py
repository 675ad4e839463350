"""Small-cell suppression, primary and secondary, over a snapshot's additive groups.

Primary: every value below k is withheld. Secondary: every group of values that add up to a
total (a measure over the channels of a service, over its segments, or a histogram's buckets
over the count they split) is checked as an equation `total = sum(members)`. Whenever the
withheld values of a group could be recovered from the sent ones (exactly one unknown in the
equation, or several withheld members that together hold fewer than k), one more value is
withheld, the smallest sent member first; this repeats over all groups until nothing changes.
"""

from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    """An equation total = sum(members) that holds exactly over the true values."""

    total: Hashable
    members: tuple[Hashable, ...]


def suppress(values: dict[Hashable, int], groups: Iterable[Group], k: int) -> set[Hashable]:
    """Keys of the values to withhold so that none is below k or derivable from the others."""
    hidden = {key for key, value in values.items() if value < k}
    groups = [g for g in groups if g.members]
    changed = True
    while changed:
        changed = False
        for group in groups:
            extra = _one_more(group, values, hidden, k)
            if extra is not None:
                hidden.add(extra)
                changed = True
    return hidden


def _one_more(group: Group, values: dict[Hashable, int], hidden: set[Hashable], k: int):
    unknown_members = [m for m in group.members if m in hidden]
    total_hidden = group.total in hidden
    unknowns = len(unknown_members) + total_hidden
    if unknowns == 0:
        return None
    leaks = unknowns == 1 or (not total_hidden and sum(values[m] for m in unknown_members) < k)
    if not leaks:
        return None
    sent = sorted((m for m in group.members if m not in hidden), key=lambda m: (values[m], str(m)))
    if sent:
        return sent[0]
    return None if total_hidden else group.total
