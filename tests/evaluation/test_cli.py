"""`carmen evaluate` on files: its outputs, its help, and clear refusals of bad input."""

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from carmen.cli import main

EU_CITIES = Path(__file__).resolve().parents[2] / "carmen" / "data" / "eu_cities.csv"


@pytest.fixture(scope="module")
def tables(world, tmp_path_factory) -> tuple[Path, Path]:
    """The generated world written as cities.csv and observations.csv."""
    folder = tmp_path_factory.mktemp("tables")
    cities, observations = folder / "cities.csv", folder / "observations.csv"
    world.cities.to_csv(cities, index=False)
    world.observations.to_csv(observations, index=False)
    return cities, observations


def evaluate(*args: str):
    return CliRunner().invoke(main, ["evaluate", *map(str, args)])


def test_evaluate_writes_every_table_and_the_report(tables, tmp_path):
    cities, observations = tables
    out = tmp_path / "out"
    result = evaluate(
        "--cities",
        cities,
        "--observations",
        observations,
        "--out",
        out,
        "--europe",
        EU_CITIES,
        "--resamples",
        50,
    )
    assert result.exit_code == 0, result.output
    for name in ("kpis", "clusters", "viability", "backtest", "europe"):
        assert (out / f"{name}.csv").stat().st_size > 0
    viability = pd.read_csv(out / "viability.csv")
    assert list(viability.columns) == [
        "service",
        "city_id",
        "expected_uptake",
        "low",
        "high",
        "target_uptake",
        "score",
        "verdict",
        "extrapolated",
        "model",
        "drivers",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["backtest"]["overall"]["cities"] > 0
    assert "viable for" in result.output and "million people" in result.output


def test_thresholds_from_the_command_line_change_the_verdicts(tables, tmp_path):
    cities, observations = tables
    counts = []
    for replicate in ("0.5", "0.99"):
        out = tmp_path / replicate
        result = evaluate(
            "--cities",
            cities,
            "--observations",
            observations,
            "--out",
            out,
            "--threshold-replicate",
            replicate,
            "--threshold-pilot",
            "0.3",
            "--resamples",
            50,
        )
        assert result.exit_code == 0, result.output
        counts.append((pd.read_csv(out / "viability.csv")["verdict"] == "replicate").sum())
    assert counts[0] > counts[1]


def test_the_output_states_each_service_s_target_and_where_it_came_from(tables, tmp_path):
    cities, observations = tables
    result = evaluate("--cities", cities, "--observations", observations, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "target: the break-even uptake of each city" in result.output
    assert "from the default cost model" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert {t["kind"] for t in report["targets"].values()} == {"break-even"}
    viability = pd.read_csv(tmp_path / "viability.csv")
    # A larger city spreads the same fixed costs over more people: a lower target.
    one = viability[viability["service"] == viability["service"].iloc[0]]
    population = pd.read_csv(cities).set_index("city_id")["population"]
    ranked = one.assign(population=one["city_id"].map(population)).sort_values("population")
    assert ranked["target_uptake"].is_monotonic_decreasing


def test_costs_from_a_file_replace_the_templates_and_can_make_a_service_not_viable(
    tables, tmp_path
):
    cities, observations = tables
    costs = tmp_path / "costs.toml"
    costs.write_text("[default]\nmonthly = 5000000\n", encoding="utf-8")
    out = tmp_path / "out"
    args = ("--cities", cities, "--observations", observations, "--out", out)
    result = evaluate(*args, "--costs", costs)
    assert result.exit_code == 0, result.output
    assert "from costs.toml (--costs)" in result.output
    verdicts = pd.read_csv(out / "viability.csv")["verdict"]
    assert "replicate" not in set(verdicts) and "not viable" in set(verdicts)
    fixed = evaluate(*args, "--costs", costs, "--target-uptake", "0.01")
    assert "target: 0.01 citizens per 1,000 per month, from the run's target uptake" in (
        fixed.output
    )
    costs.write_text("[default]\nmonthyl = 5\n", encoding="utf-8")
    refused = evaluate(*args, "--costs", costs)
    assert refused.exit_code != 0 and "unknown cost figures monthyl" in refused.output


def test_help_documents_the_columns_of_both_tables():
    result = CliRunner().invoke(main, ["evaluate", "--help"])
    assert result.exit_code == 0
    for column in (
        "city_id",
        "population",
        "share_16-24",
        "internet_use_pct",
        "service",
        "period",
        "segment",
        "channel",
        "measure",
        "value",
        "satisfaction_count",
        "time_to_complete_h_le_1",
        "--threshold-replicate",
        "--europe",
    ):
        assert column in result.output


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CITIES = "city_id,population,internet_use_pct\ngent,260000,91\nlyon,520000,88\n"
GOOD_OBS = (
    "city_id,service,period,segment,channel,measure,value\n"
    "gent,report-issue,2025-01,all,all,citizens,120\n"
    "lyon,report-issue,2025-01,all,all,citizens,200\n"
)


@pytest.mark.parametrize(
    ("cities", "observations", "expected"),
    [
        pytest.param(
            "city_id,internet_use_pct\ngent,91\n",
            GOOD_OBS,
            ["cities.csv", "column 'population'", "missing column"],
            id="missing-column",
        ),
        pytest.param(
            GOOD_CITIES,
            GOOD_OBS.replace(",200\n", ",two hundred\n"),
            ["observations.csv", "row 2", "column 'value'", "not a number"],
            id="non-numeric",
        ),
        pytest.param(
            GOOD_CITIES,
            GOOD_OBS.replace("2025-01,all,all,citizens,200", "2025-01,teens,all,citizens,200"),
            ["observations.csv", "row 2", "column 'segment'", "unknown segment 'teens'"],
            id="unknown-segment",
        ),
        pytest.param(
            GOOD_CITIES.replace("lyon,520000", "lyon,"),
            GOOD_OBS,
            ["cities.csv", "row 2", "column 'population'", "missing value"],
            id="no-population",
        ),
        pytest.param(
            "",
            GOOD_OBS,
            ["cities.csv", "empty"],
            id="empty-cities",
        ),
        pytest.param(
            GOOD_CITIES,
            "city_id,service,period,segment,channel,measure,value\n",
            ["observations.csv", "no data rows"],
            id="header-only-observations",
        ),
        pytest.param(
            GOOD_CITIES,
            GOOD_OBS.replace("lyon,report", "lille,report"),
            ["observations.csv", "row 2", "column 'city_id'", "'lille' is not in cities.csv"],
            id="unknown-city",
        ),
        pytest.param(
            "city_id,population,share_kids\ngent,260000,0.1\nlyon,520000,0.1\n",
            GOOD_OBS,
            ["cities.csv", "column 'share_kids'", "unknown segment 'kids'"],
            id="unknown-share",
        ),
        pytest.param(
            GOOD_CITIES,
            GOOD_OBS.replace("2025-01,all,all,citizens,200", "2025-13,all,all,citizens,200"),
            ["observations.csv", "row 2", "column 'period'", "not YYYY-MM"],
            id="bad-period",
        ),
        pytest.param(
            GOOD_CITIES.replace("260000", "-5"),
            GOOD_OBS,
            ["cities.csv", "row 1", "column 'population'", "positive"],
            id="negative-population",
        ),
    ],
)
def test_bad_input_is_refused_with_the_file_row_and_column(
    tmp_path, cities, observations, expected
):
    cities_path = write(tmp_path / "cities.csv", cities)
    observations_path = write(tmp_path / "observations.csv", observations)
    result = evaluate(
        "--cities", cities_path, "--observations", observations_path, "--out", tmp_path / "out"
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output
    assert not (tmp_path / "out").exists()


def test_a_missing_file_is_refused_by_name(tmp_path):
    result = evaluate(
        "--cities",
        tmp_path / "nowhere.csv",
        "--observations",
        tmp_path / "none.csv",
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code != 0
    assert "nowhere.csv" in result.output


def test_inconsistent_thresholds_are_refused(tmp_path):
    result = evaluate(
        "--cities",
        write(tmp_path / "c.csv", GOOD_CITIES),
        "--observations",
        write(tmp_path / "o.csv", GOOD_OBS),
        "--out",
        tmp_path / "out",
        "--threshold-replicate",
        "0.3",
        "--threshold-pilot",
        "0.6",
    )
    assert result.exit_code == 2
    assert "--threshold-pilot" in result.output
