"""Fuzzing both APIs: no answer is a 5xx, and every error comes in the format the API documents."""

import pytest

from reliability.fuzz import FuzzResult, fuzz_hub, fuzz_open311, fuzz_portal

pytestmark = pytest.mark.heavy

# Derandomized: the same examples every run, few enough to keep the CI slice short.
EXAMPLES = 100
POSTGRES_EXAMPLES = 50


def failures(results: list[FuzzResult]) -> list[str]:
    return [f"{r.name}: {r.failure}" for r in results if r.failure]


def test_open311_never_crashes_and_answers_errors_in_the_spec_format():
    results = fuzz_open311(examples=EXAMPLES)
    assert failures(results) == []
    answered = sum((r.statuses for r in results), start=type(results[0].statuses)())
    # The examples reach past validation: some requests are accepted, some refused.
    assert answered[200] > 0 and answered[400] > 0 and answered[404] > 0


def test_no_unauthenticated_portal_form_or_sign_in_gives_a_server_error():
    results = fuzz_portal(examples=EXAMPLES)
    assert failures(results) == []
    answered = {r.name: r.statuses for r in results}
    # Each target reaches past its form's validation: some examples succeed, some are refused.
    assert answered["portal POST report"][302] > 0 and answered["portal POST report"][422] > 0
    assert answered["portal POST sign-up"][200] > 0 and answered["portal POST sign-up"][422] > 0
    for sign_in in ("portal POST citizen sign-in", "back office POST staff sign-in"):
        assert answered[sign_in][302] > 0 and answered[sign_in][401] > 0, sign_in
    assert answered["portal GET track"][200] > 0 and answered["portal GET track"][404] > 0
    assert all(statuses[400] > 0 for statuses in answered.values()), "NUL bytes were sent"


def test_hub_never_crashes_and_answers_errors_as_json():
    results = fuzz_hub(examples=EXAMPLES)
    assert failures(results) == []
    answered = sum((r.statuses for r in results), start=type(results[0].statuses)())
    assert answered[200] > 0 and answered[401] > 0 and answered[422] > 0


@pytest.mark.postgres
def test_open311_on_postgresql_never_crashes(postgres_url):
    assert failures(fuzz_open311(examples=POSTGRES_EXAMPLES, database_url=postgres_url)) == []


@pytest.mark.postgres
def test_portal_forms_and_sign_ins_on_postgresql_never_crash(postgres_url):
    assert failures(fuzz_portal(examples=POSTGRES_EXAMPLES, database_url=postgres_url)) == []


@pytest.mark.postgres
def test_hub_on_postgresql_never_crashes(postgres_url):
    assert failures(fuzz_hub(examples=POSTGRES_EXAMPLES, database_url=postgres_url)) == []
