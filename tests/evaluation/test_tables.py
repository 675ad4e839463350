"""Loading and validating the input tables through the Python API."""

import pandas as pd
import pytest

from evaluation import InputError, load_tables, run_evaluation
from evaluation.tables import validate_cities, validate_observations


def test_load_tables_types_the_columns_and_keeps_text_columns(tmp_path):
    (tmp_path / "cities.csv").write_text(
        "city_id,city,country,population,internet_use_pct\n"
        "gent,Gent,BE,260000,91.5\nlyon,Lyon,FR,520000,\n"
    )
    (tmp_path / "observations.csv").write_text(
        "city_id,service,period,segment,channel,measure,value\n"
        "gent,report-issue,2025-01,all,all,citizens,120\n"
        "gent,report-issue,2025-01,all,web,submitted,\n"
        "gent,report-issue,2025-01,all,all,some_new_measure,3\n"
    )
    cities, observations = load_tables(tmp_path / "cities.csv", tmp_path / "observations.csv")
    assert cities["population"].dtype == float and cities["country"].tolist() == ["BE", "FR"]
    assert pd.isna(cities.loc[1, "internet_use_pct"])
    assert observations["value"].isna().sum() == 1  # the suppressed cell stays missing


def test_input_error_names_the_source_row_and_column():
    with pytest.raises(InputError) as caught:
        validate_cities(pd.DataFrame({"city_id": ["a", "a"], "population": [1, 2]}))
    assert (caught.value.source, caught.value.row, caught.value.column) == (
        "cities.csv",
        2,
        "city_id",
    )
    assert "duplicate city_id 'a'" in str(caught.value)


def test_a_city_with_half_its_age_shares_is_refused():
    cities = pd.DataFrame(
        {
            "city_id": ["a"],
            "population": [1000],
            "share_16-24": [0.1],
            "share_25-54": [None],
            "share_55-74": [0.3],
            "share_75+": [0.1],
        }
    )
    with pytest.raises(InputError, match=r"column .share_25-54."):
        validate_cities(cities)


def test_dataframes_from_the_hub_are_checked_like_files():
    cities = pd.DataFrame({"city_id": ["gent"], "population": [260000]})
    observations = pd.DataFrame(
        {
            "city_id": ["gent"],
            "service": ["report-issue"],
            "template": ["report-issue@1.0"],  # extra columns are ignored
            "period": ["2025-01"],
            "segment": ["all"],
            "channel": ["fax"],
            "measure": ["submitted"],
            "value": [12],
        }
    )
    with pytest.raises(InputError, match=r"observations.csv, row 1 .*column 'channel'.*'fax'"):
        run_evaluation(cities, observations)
    observations["channel"] = "web"
    assert len(validate_observations(observations)) == 1


ROW = {
    "city_id": "gent",
    "service": "s",
    "period": "2025-01",
    "segment": "all",
    "channel": "all",
    "measure": "citizens",
    "value": 5,
}


def test_conflicting_duplicate_observations_are_refused():
    with pytest.raises(InputError, match=r"row 2.*duplicate observation with another value"):
        validate_observations(pd.DataFrame([ROW, {**ROW, "value": 6}]))


def test_exact_duplicate_rows_are_dropped_with_a_warning():
    warnings = []
    suppressed = {**ROW, "measure": "submitted", "value": None}
    out = validate_observations(pd.DataFrame([ROW, suppressed, ROW, suppressed]), warnings=warnings)
    assert len(out) == 2
    assert warnings == ["observations.csv: 2 exact duplicate rows dropped (the first at row 3)"]


def shares(*values):
    columns = ["share_16-24", "share_25-54", "share_55-74", "share_75+"]
    return pd.DataFrame(
        {
            "city_id": ["a"],
            "population": [1000],
            **{c: [v] for c, v in zip(columns, values, strict=True)},
        }
    )


def test_shares_rounded_to_four_decimals_that_sum_a_little_over_1_are_accepted():
    out = validate_cities(shares(0.1001, 0.4200, 0.3300, 0.1502))  # sums to 1.0003
    assert out["share_75+"].iloc[0] == pytest.approx(0.1502)


def test_shares_given_as_percentages_are_refused_with_a_hint():
    with pytest.raises(InputError, match=r"look like percentages .*12.5% is 0.125"):
        validate_cities(shares(10.0, 42.0, 25.0, 8.0))
    with pytest.raises(InputError, match=r"sum to 1.0200, more than 1"):
        validate_cities(shares(0.12, 0.5, 0.3, 0.1))


def test_periods_written_without_a_leading_zero_are_read_as_the_same_month():
    out = validate_observations(
        pd.DataFrame([{**ROW, "period": "2025-3"}, {**ROW, "period": "2025-11"}])
    )
    assert out["period"].astype(str).tolist() == ["2025-03", "2025-11"]
    with pytest.raises(InputError, match="period '2025-13' is not YYYY-MM"):
        validate_observations(pd.DataFrame([{**ROW, "period": "2025-13"}]))


def test_service_names_differing_in_case_or_space_are_one_service_with_a_warning():
    warnings = []
    out = validate_observations(
        pd.DataFrame(
            [
                {**ROW, "service": "Issue-Report "},
                {**ROW, "service": "issue-report", "city_id": "x"},
            ]
        ),
        warnings=warnings,
    )
    assert set(out["service"].astype(str)) == {"issue-report"}
    assert "'Issue-Report' as 'issue-report'" in warnings[0]


def test_a_table_without_the_citizens_measure_is_warned_about(world):
    warnings = []
    obs = world.observations[world.observations["measure"].astype(str) != "citizens"]
    result = run_evaluation(world.cities, obs, seed=0, warnings=warnings)
    assert any("no 'citizens' measure" in w for w in result.report["warnings"])
    assert any("pilot cities with a known uptake" in w for w in result.report["warnings"])


def test_a_context_column_known_for_some_cities_only_is_warned_about(world):
    cities = world.cities.copy()
    cities.loc[cities.index[:5], "egov_index_2018"] = None
    result = run_evaluation(cities, world.observations, seed=0)
    assert any(
        "'egov_index_2018' is known for 55 of 60 cities" in w for w in result.report["warnings"]
    )


def test_a_missing_service_in_a_dataframe_is_refused_by_row():
    row = {
        "city_id": "gent",
        "service": "s",
        "period": "2025-01",
        "segment": "all",
        "channel": "all",
        "measure": "citizens",
        "value": 5,
    }
    frame = pd.DataFrame([row, {**row, "service": None, "period": "2025-02"}])
    with pytest.raises(InputError, match=r"row 2 .*column 'service': missing value"):
        validate_observations(frame)


def test_tables_shaped_like_the_hubs_export_are_evaluated(world):
    """The hub passes DataFrames: names, countries, a template column, integer counts, and a
    city whose age shares it does not know yet."""
    cities = world.cities.assign(city=world.cities["city_id"].str.lower())
    shares = [c for c in cities.columns if c.startswith("share_")]
    cities[shares] = cities[shares].astype(object)
    cities.loc[0, shares] = None
    observations = world.observations.assign(template="report-issue@1.2.0").astype(
        {"value": "int64", "city_id": str, "service": str, "period": str}
    )
    result = run_evaluation(cities, observations, seed=0)
    assert len(result.viability) > 0
    assert "city" not in result.report["inputs"]["context_columns"]
