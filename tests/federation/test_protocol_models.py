"""The wire models refuse anything that could carry personal data or break the arithmetic."""

import pytest
from pydantic import ValidationError

from federation.protocol.measures import measure_names, measures_of, snapshot_rows
from federation.protocol.models import (
    CellMeasures,
    EventCounts,
    MetricsSnapshot,
    NodeRegistration,
)
from federation.protocol.vocabulary import CommonEvent, duration_bucket_names
from tests.federation.factories import make_identity, make_registration, make_snapshot


def snapshot_dict(**overrides) -> dict:
    data = make_snapshot("bologna").model_dump(mode="json")
    data.update(overrides)
    return data


def test_a_valid_snapshot_round_trips_through_json():
    snapshot = make_snapshot("bologna")
    assert MetricsSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot


def test_an_unknown_top_level_field_is_refused():
    with pytest.raises(ValidationError, match="citizen_name"):
        MetricsSnapshot.model_validate(snapshot_dict(citizen_name="Maria Rossi"))


def test_a_free_text_field_inside_a_cell_is_refused():
    data = snapshot_dict()
    data["cells"][0]["measures"]["note"] = "called about her neighbour at Via Roma 3"
    with pytest.raises(ValidationError, match="note"):
        MetricsSnapshot.model_validate(data)


def test_text_in_place_of_a_count_is_refused():
    data = snapshot_dict()
    data["cells"][0]["measures"]["citizens"] = "twelve"
    with pytest.raises(ValidationError, match="citizens"):
        MetricsSnapshot.model_validate(data)


@pytest.mark.parametrize("bad", [-1, 3.5, True, "12"])
def test_a_count_must_be_a_non_negative_integer(bad):
    data = snapshot_dict()
    data["cells"][0]["measures"]["events"]["submitted"] = bad
    with pytest.raises(ValidationError, match="submitted"):
        MetricsSnapshot.model_validate(data)


def test_a_histogram_has_exactly_the_vocabulary_buckets():
    data = snapshot_dict()
    data["cells"][0]["measures"]["time_to_complete"] = [1, 2, 3]
    with pytest.raises(ValidationError, match="time_to_complete"):
        MetricsSnapshot.model_validate(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("period", "2025-13"),
        ("period", "March 2025"),
        ("node", "Bologna Centro"),
        ("revision", 0),
        ("k", 1),
    ],
)
def test_identifiers_and_versions_must_match_their_pattern(field, value):
    with pytest.raises(ValidationError, match=field):
        MetricsSnapshot.model_validate(snapshot_dict(**{field: value}))


def test_a_service_code_cannot_carry_prose():
    data = snapshot_dict()
    data["services"][0]["code"] = "Mr Rossi complained"
    with pytest.raises(ValidationError, match="code"):
        MetricsSnapshot.model_validate(data)


def test_a_cell_for_a_service_not_listed_is_refused():
    data = snapshot_dict()
    data["cells"][0]["service"] = "parking"
    with pytest.raises(ValidationError, match="not in services"):
        MetricsSnapshot.model_validate(data)


def test_the_same_cell_twice_is_refused():
    data = snapshot_dict()
    data["cells"].append(data["cells"][0])
    with pytest.raises(ValidationError, match="repeats the cell"):
        MetricsSnapshot.model_validate(data)


def test_a_cell_cannot_be_per_channel_and_per_segment_at_once():
    data = snapshot_dict()
    data["cells"][0].update(channel="web", segment="75+")
    with pytest.raises(ValidationError, match="not both"):
        MetricsSnapshot.model_validate(data)


def test_event_counts_cover_exactly_the_common_vocabulary():
    assert set(EventCounts.model_fields) == {event.value for event in CommonEvent}


def test_suppressed_values_produce_no_measure_and_zero_stays_zero():
    measures = CellMeasures(
        citizens=None,
        events=EventCounts(submitted=0, completed=25),
        satisfaction=[None, 10, 11, 12, 13],
    )
    named = measures_of(measures)
    assert named["submitted"] == 0
    assert "citizens" not in named
    assert "satisfaction_1" not in named
    assert named["satisfaction_2"] == 10
    # With a suppressed bucket, the sum and count cannot be exact, so they are not sent on.
    assert "satisfaction_count" not in named


def test_satisfaction_sum_and_count_come_from_a_complete_histogram():
    named = measures_of(CellMeasures(satisfaction=[10, 0, 10, 0, 20]))
    assert named["satisfaction_count"] == 40
    assert named["satisfaction_sum"] == 10 * 1 + 10 * 3 + 20 * 5


def test_rows_name_service_by_template_and_keep_all_for_totals():
    rows = snapshot_rows(make_snapshot("bologna"))
    names = set(measure_names())
    assert {row["measure"] for row in rows} <= names
    assert {row["service"] for row in rows} == {"noise_report", "bulky_waste"}
    assert {row["template"] for row in rows} == {"noise_report@1.2.0", "bulky_waste@0.3.0"}
    assert {"all"} < {row["channel"] for row in rows}
    assert set(duration_bucket_names("time_to_complete")) <= names


def test_a_service_without_template_is_named_by_node_and_code():
    snapshot = make_snapshot("bologna", services=[{"code": "potholes"}])
    assert {row["service"] for row in snapshot_rows(snapshot)} == {"bologna/potholes"}
    assert {row["template"] for row in snapshot_rows(snapshot)} == {""}


def test_registration_refuses_unknown_context_figures_and_bad_keys():
    identity = make_identity("bologna")
    with pytest.raises(ValidationError, match="context"):
        make_registration(identity, context={"mayor_phone": 1.0})
    with pytest.raises(ValidationError, match="public_key"):
        make_registration(identity, public_key="A" * 44)
    with pytest.raises(ValidationError, match="country"):
        make_registration(identity, country="Italy")
    with pytest.raises(ValidationError, match="population_shares"):
        make_registration(identity, population_shares={"16-24": 0.8, "25-54": 0.8})


def test_registration_round_trips():
    registration = make_registration(make_identity("tallinn", country="EE"))
    assert NodeRegistration.model_validate_json(registration.model_dump_json()) == registration
