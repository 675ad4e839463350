"""Small-cell suppression: nothing below k is sent, and nothing withheld can be recomputed."""

import random

import pytest

from node.sync.suppression import Group, suppress


def recoverable(values, groups, hidden, k):
    """What an attacker recovers by subtracting sent members from sent totals."""
    found = []
    for group in groups:
        unknown = [m for m in group.members if m in hidden]
        if group.total in hidden or not unknown:
            continue
        rest = values[group.total] - sum(values[m] for m in group.members if m not in hidden)
        if len(unknown) == 1 or rest < k:
            found.append((group, unknown, rest))
    return found


def test_a_single_small_cell_drags_the_smallest_other_cell_with_it():
    values = {"total": 40, "web": 25, "sms": 12, "phone": 3}
    group = Group("total", ("web", "sms", "phone"))
    hidden = suppress(values, [group], k=10)
    assert hidden == {"phone", "sms"}


def test_two_small_cells_that_add_up_below_k_are_not_enough():
    values = {"total": 40, "web": 33, "sms": 4, "phone": 3}
    hidden = suppress(values, [Group("total", ("web", "sms", "phone"))], k=10)
    assert hidden == {"web", "sms", "phone"}


def test_a_small_total_hides_everything_below_it():
    values = {"total": 7, "web": 4, "sms": 3}
    assert suppress(values, [Group("total", ("web", "sms"))], k=10) == {"total", "web", "sms"}


@pytest.mark.parametrize("seed", range(50))
def test_no_random_table_leaks_a_withheld_cell(seed):
    rng = random.Random(seed)
    k = rng.choice([5, 10])
    rows, columns = rng.randint(1, 5), rng.randint(1, 6)
    cells = {
        (r, c): rng.choice([0, 1, 2, 5, 9, 10, 15, 40]) for r in range(rows) for c in range(columns)
    }
    cells = {key: v for key, v in cells.items() if v}
    values = dict(cells)
    groups = []
    for r in range(rows):
        members = tuple((r, c) for c in range(columns) if (r, c) in cells)
        values[("row", r)] = sum(cells[m] for m in members)
        groups.append(Group(("row", r), members))
    for c in range(columns):
        members = tuple((r, c) for r in range(rows) if (r, c) in cells)
        values[("col", c)] = sum(cells[m] for m in members)
        groups.append(Group(("col", c), members))
    hidden = suppress(values, groups, k)
    assert all(values[key] >= k for key in values if key not in hidden)
    assert recoverable(values, groups, hidden, k) == []
