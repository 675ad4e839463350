"""Small-cell suppression: nothing below k is sent, and nothing withheld can be recomputed."""

import random

import pytest

from node.sync.suppression import Group, protect, suppress


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


# ---------------------------------------------------------------- protect: all tables as one system

SERVICE = "noise-report"
TOTAL, WEB, SMS = (SERVICE, "all", None), (SERVICE, "channel", "web"), (SERVICE, "channel", "sms")
ADULTS, ELDERLY = (SERVICE, "segment", "25-54"), (SERVICE, "segment", "55-74")


def anonymous_month(web: int, sms: int, adults: int) -> dict:
    """Anonymous requests only: in every cell the citizens equal the submissions."""
    cells = {TOTAL: web + sms, WEB: web, SMS: sms, ADULTS: adults, ELDERLY: web + sms - adults}
    return {
        (cell, measure): count
        for cell, count in cells.items()
        for measure in ("citizens", "events.submitted")
        if count
    }


def exposed(values, hidden, *, released=()) -> list[str]:
    from node.sync.aggregation import relations
    from node.sync.audit import Revision, audit

    latest = Revision(values=values, hidden=frozenset(hidden), relations=tuple(relations(values)))
    report = audit(revisions=[*released, latest], k=10, protection_width=10)
    return [e.describe() for e in report.exposures]


def test_equal_totals_of_citizens_and_submissions_give_no_channel_away():
    from node.sync.aggregation import relations

    values = anonymous_month(web=3, sms=50, adults=30)
    one_dimensional = {(WEB, "citizens"), (WEB, "events.submitted"), (SMS, "events.submitted")}
    assert "withheld noise-report/channel web/events.submitted is known within 0" in exposed(
        values, one_dimensional
    )
    hidden = protect(values, relations(values), k=10)
    assert {(SMS, "citizens"), (SMS, "events.submitted")} <= hidden
    assert exposed(values, hidden) == []


def test_a_late_request_cannot_be_read_off_the_difference_of_two_revisions():
    from node.sync.aggregation import relations
    from node.sync.audit import Revision

    before = anonymous_month(web=25, sms=50, adults=30)
    first = protect(before, relations(before), k=10)
    assert first == set()  # nothing small: everything is sent
    earlier = Revision(values=before, hidden=frozenset(first), relations=tuple(relations(before)))
    after = anonymous_month(web=26, sms=50, adults=31)
    assert "the change in noise-report/channel web/events.submitted is known within 0" in (
        exposed(after, set(), released=[earlier])
    )
    hidden = protect(after, relations(after), k=10, released=[earlier])
    assert (WEB, "events.submitted") in hidden
    assert exposed(after, hidden, released=[earlier]) == []


def test_what_an_earlier_revision_withheld_stays_withheld():
    from node.sync.aggregation import relations

    values = anonymous_month(web=30, sms=50, adults=40)
    keep = {(WEB, "citizens")}
    assert keep <= protect(values, relations(values), k=10, keep=keep)


def test_a_total_anyone_reads_elsewhere_is_no_protection_for_its_channels():
    from node.sync.audit import Revision, audit, sums_to

    # The total withheld: unknown to who reads the snapshot only, public to who reads the list.
    values = {"total": 27, "web": 3, "sms": 4, "app": 20}
    known = (sums_to("total", ["web", "sms", "app"]),)
    blind = {"total", "web", "sms"}
    latest = Revision(values=values, hidden=frozenset(blind), relations=known)
    assert audit(revisions=[latest], k=10, protection_width=10).passed
    informed = audit(revisions=[latest], k=10, protection_width=10, public={"total"})
    assert {e.key for e in informed.exposures} == {"web", "sms"}
    hidden = protect(values, known, k=10, public={"total"})
    assert "app" in hidden
    protected = Revision(values=values, hidden=frozenset(hidden), relations=known)
    assert audit(revisions=[protected], k=10, protection_width=10, public={"total"}).passed


def test_what_a_small_public_total_gives_away_by_itself_does_not_hold_the_month():
    from node.sync.audit import Revision, audit, sums_to

    # Seven requests in the month: every channel is below seven whatever is withheld.
    values = {"total": 7, "web": 3, "sms": 4}
    known = (sums_to("total", ["web", "sms"]),)
    hidden = protect(values, known, k=10, public={"total"})
    assert hidden == {"total", "web", "sms"}  # nothing below k is sent, the public total neither
    latest = Revision(values=values, hidden=frozenset(hidden), relations=known)
    assert audit(revisions=[latest], k=10, protection_width=10, public={"total"}).passed


def test_a_public_total_still_lets_no_channel_be_read_off_the_others():
    from node.sync.audit import Revision, audit, sums_to

    # Eleven small web requests beside forty by SMS: the public total less SMS is web's count.
    values = {"total": 51, "web": 11, "sms": 40, "app": 0}
    known = (sums_to("total", ["web", "sms", "app"]),)
    narrowed = Revision(values=values, hidden=frozenset({"web"}), relations=known)
    report = audit(revisions=[narrowed], k=10, protection_width=10, public={"total"})
    assert {e.key for e in report.exposures} == {"web"}
