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


def test_duplicate_observations_are_refused():
    row = {
        "city_id": "gent",
        "service": "s",
        "period": "2025-01",
        "segment": "all",
        "channel": "all",
        "measure": "citizens",
        "value": 5,
    }
    with pytest.raises(InputError, match=r"row 2.*duplicate observation"):
        validate_observations(pd.DataFrame([row, row]))


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
