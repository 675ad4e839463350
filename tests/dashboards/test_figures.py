"""Figure and table builders, without a browser: what a coordinator would read off each one."""

import json

import numpy as np
import pandas as pd
import pytest

from dashboards import figures


def kpi_rows(service: str, city: str, periods: list[str], uptake: list[float]) -> pd.DataFrame:
    """KPI rows as the evaluation writes them, with a +-10% band."""
    values = np.array(uptake, dtype=float)
    frame = pd.DataFrame({"service": service, "city_id": city, "period": periods})
    for kpi in figures.KPI_LABELS:
        frame[kpi] = values
        frame[f"{kpi}_low"] = values * 0.9
        frame[f"{kpi}_high"] = values * 1.1
    return frame


@pytest.fixture
def kpis() -> pd.DataFrame:
    months = [f"2025-{m:02d}" for m in range(1, 9)]
    return pd.concat(
        [
            kpi_rows("noise", "bologna", [*months, "pilot"], [*range(1, 9), 4.5]),
            kpi_rows("noise", "gent", [*months[2:], "pilot"], [*[2.0] * 6, 2.0]),
            kpi_rows("alerts", "gent", ["2025-05", "pilot"], [7.0, 7.0]),
        ],
        ignore_index=True,
    )


def test_heatmap_puts_each_pilot_in_its_service_row_and_city_column_with_the_band(kpis):
    figure = figures.kpi_heatmap(kpis, "uptake")
    heat = figure.data[0]
    assert list(heat.y) == ["alerts", "noise"] and list(heat.x) == ["bologna", "gent"]
    assert heat.z[1][0] == 4.5 and heat.z[0][1] == 7.0
    assert np.isnan(heat.z[0][0])  # bologna does not pilot alerts: a gap, not a zero
    assert tuple(heat.customdata[1][0]) == pytest.approx((4.05, 4.95))
    assert "90% band" in heat.hovertemplate
    # Cividis: ordered light to dark for every common colour-vision deficiency.
    assert heat.colorscale == "Cividis"


def test_series_shows_the_median_and_the_chosen_city_with_its_band(kpis):
    figure = figures.kpi_series(kpis, service="noise", kpi="uptake", city="gent")
    names = [trace.name for trace in figure.data]
    assert names == ["median over cities", "gent: 90% band", "gent"]
    median = dict(zip(figure.data[0].x, figure.data[0].y, strict=True))
    assert median["2025-01"] == 1.0 and median["2025-03"] == 2.5  # bologna 3, gent 2
    assert "pilot" not in list(figure.data[0].x)
    assert list(figure.data[2].y) == [2.0] * 6


def test_channel_mix_gives_each_channels_share_of_requests_per_month():
    cells = pd.DataFrame(
        {
            "node": ["a", "a", "a", "b"],
            "period": ["2025-01"] * 4,
            "segment": ["all"] * 4,
            "channel": ["web", "sms", "all", "web"],
            "measure": ["submitted"] * 4,
            "value": [30, 20, 50, 50],
        }
    )
    figure = figures.channel_mix(cells)
    shares = {trace.name: trace.y[0] for trace in figure.data}
    assert shares == pytest.approx({"sms": 0.2, "web": 0.8})
    one = figures.channel_mix(cells, city="a")
    assert {trace.name: trace.y[0] for trace in one.data} == pytest.approx({"sms": 0.4, "web": 0.6})
    assert "a" in one.layout.title.text


def test_segment_reach_sets_users_against_the_population_age_mix():
    cells = pd.DataFrame(
        {
            "node": ["a", "a"],
            "period": ["2025-01"] * 2,
            "segment": ["25-54", "75+"],
            "channel": ["all", "all"],
            "measure": ["citizens"] * 2,
            "value": [75, 25],
        }
    )
    nodes = pd.DataFrame(
        {
            "node": ["a"],
            "population": [1000],
            "population_shares": [{"16-24": 0.1, "25-54": 0.5, "55-74": 0.2, "75+": 0.2}],
        }
    )
    users, population = figures.segment_reach(cells, nodes).data
    assert list(users.y) == pytest.approx([0, 0.75, 0, 0.25])
    assert list(population.y) == pytest.approx([0.1, 0.5, 0.2, 0.2])


def test_clusters_get_colour_blind_safe_colours_and_distinct_symbols():
    clusters = pd.DataFrame(
        {
            "city_id": ["a", "b", "c"],
            "cluster": [0, 1, 1],
            "x": [0.0, 1.0, 2.0],
            "y": [0.0, 1.0, 0.5],
            "users_25-54": [0.5, 0.2, 0.4],
            "channel_web": [0.9, 0.1, 0.3],
        }
    )
    figure = figures.cluster_map(clusters, selected=1)
    colours = [trace.marker.color for trace in figure.data]
    symbols = [trace.marker.symbol for trace in figure.data]
    assert set(colours) <= set(figures.OKABE_ITO) and len(set(colours)) == 2
    assert len(set(symbols)) == 2
    assert [trace.opacity for trace in figure.data] == [0.25, 1.0]  # the chosen one stands out
    mix = figures.cluster_mix(clusters, prefix="channel_", cluster=1)
    assert mix.data[0].name == "cluster 1" and mix.data[0].y[0] == pytest.approx(0.2)
    assert mix.data[1].y[0] == pytest.approx(1.3 / 3)
    profile = figures.cluster_profile(clusters)
    assert list(profile["cities"]) == [1, 2]


def viability_rows() -> pd.DataFrame:
    drivers = {
        "model": "age bands",
        "pilots": [{"city_id": "gent", "weight": 0.2}, {"city_id": "bologna", "weight": 0.7}],
        "segments": [{"segment": "25-54", "share": 0.4, "uptake": 3, "contribution": 1.2}],
        "context": [{"figure": "internet_use_pct", "value": 80, "effect_pct": 12.5}],
    }
    return pd.DataFrame(
        {
            "service": ["noise", "noise"],
            "city_id": ["porto", "brno"],
            "expected_uptake": [3.0, 5.0],
            "low": [1.0, 4.0],
            "high": [4.0, 6.0],
            "score": [0.5, 0.9],
            "verdict": ["pilot first", "replicate"],
            "drivers": [json.dumps(drivers), json.dumps(drivers)],
        }
    )


def test_ranking_lists_judged_cities_and_pilots_by_expected_uptake(kpis):
    nodes = pd.DataFrame(
        {"node": ["brno", "gent"], "city": ["Brno", "Gent"], "country": ["CZ", "BE"]}
    )
    table = figures.ranking(viability_rows(), kpis, nodes, service="noise")
    assert list(table["city_id"]) == ["brno", "bologna", "porto", "gent"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table["verdict"]) == ["replicate", "piloted", "pilot first", "piloted"]
    assert table.loc[0, "city"] == "Brno"
    figure = figures.ranking_figure(table, service="noise", selected="porto")
    by_verdict = {trace.name: trace for trace in figure.data}
    assert by_verdict["replicate"].marker.color == figures.VERDICT_COLOURS["replicate"]
    assert list(by_verdict["pilot first"].error_x.array) == [1.0]  # high - expected
    assert list(by_verdict["pilot first"].error_x.arrayminus) == [2.0]
    assert by_verdict["pilot first"].marker.size == (14,)


def test_clone_command_starts_from_the_pilot_the_judgement_leans_on_most():
    services = pd.DataFrame(
        {
            "node": ["bologna", "gent"],
            "code": ["rumore", "noise"],
            "service": ["noise", "noise"],
            "first_period": ["2025-01", "2025-03"],
        }
    )
    drivers = figures.parse_drivers(viability_rows().loc[0, "drivers"])
    node, code = figures.clone_source(services, drivers, service="noise")
    assert (node, code) == ("bologna", "rumore")
    assert (
        figures.clone_command(code=code, source=node, target="porto")
        == "carmen service clone rumore --from /srv/carmen/bologna --to /srv/carmen/porto"
    )
    assert figures.clone_source(services, {}, service="noise") == ("bologna", "rumore")
    assert figures.clone_source(services, drivers, service="parking") is None


def test_drivers_show_age_band_contributions_and_context_effects():
    drivers = figures.parse_drivers(viability_rows().loc[0, "drivers"])
    figure = figures.drivers_figure(drivers, city="porto")
    bands, context = figure.data
    assert list(bands.y) == ["age 25-54"] and list(bands.x) == [1.2]
    assert list(context.y) == ["internet_use_pct"] and list(context.x) == [12.5]
    assert figures.parse_drivers("not json") == {}
    empty = figures.drivers_figure({}, city="porto")
    assert empty.layout.annotations[0].text == "No drivers for this city"


def test_backtest_plots_predicted_against_measured_with_bands():
    cities = pd.DataFrame(
        {
            "service": ["noise", "noise", "alerts"],
            "city_id": ["a", "b", "c"],
            "truth": [1.0, 2.0, 3.0],
            "predicted": [1.5, 1.8, 2.0],
            "low": [1.0, 1.0, 1.0],
            "high": [2.0, 3.0, 4.0],
        }
    )
    figure = figures.backtest_figure(cities, service="noise")
    points = figure.data[1]
    assert list(points.x) == [1.0, 2.0] and list(points.y) == [1.5, 1.8]
    assert list(figure.data[0].x) == [0, 3.0]  # the perfect-prediction line spans the data
    accuracy = pd.DataFrame(
        {"service": ["noise", "alerts", "overall"], "spearman": [0.71234, 0.1, 0.5]}
    )
    summary = figures.backtest_summary(accuracy, service="noise")
    assert list(summary["service"]) == ["noise", "overall"] and summary.loc[0, "spearman"] == 0.712


def test_europe_counts_cities_countries_and_people_each_service_is_viable_for():
    europe = pd.DataFrame(
        {
            "service": ["noise"] * 4 + ["alerts"],
            "city": ["A", "B", "C", "D", "A"],
            "country": ["IT", "IT", "FR", "DE", "IT"],
            "population": [100, 200, 300, 400, 100],
            "verdict": ["replicate", "replicate", "replicate", "not viable", "pilot first"],
        }
    )
    summary = figures.europe_summary(europe).set_index("service")
    assert summary.loc["noise", "viable_cities"] == 3
    assert summary.loc["noise", "viable_countries"] == 2
    assert summary.loc["noise", "viable_population"] == 600
    assert summary.loc["alerts", "viable_cities"] == 0
    assert summary.loc["alerts", "pilot_first_cities"] == 1
    assert summary.loc["noise", "not_viable_cities"] == 1
    assert summary.loc["noise", "not_viable_population"] == 400
    bars = figures.europe_figure(figures.europe_summary(europe)).data[0]
    assert dict(zip(bars.x, bars.y, strict=True)) == pytest.approx({"alerts": 0, "noise": 6e-4})
    assert figures.europe_summary(None).empty


def test_the_replication_page_states_the_target_and_where_it_came_from():
    targets = pd.DataFrame(
        {
            "service": ["noise", "alerts"],
            "kind": ["break-even", "uptake"],
            "source": ["template.toml of noise", "the run's target uptake"],
            "sentence": [
                "target: the break-even uptake of each city (...), from template.toml of noise",
                "target: 2 citizens per 1,000 per month, from the run's target uptake",
            ],
        }
    )
    sentence = figures.target_sentence(targets, service="noise")
    assert "break-even uptake" in sentence and "template.toml of noise" in sentence
    assert figures.target_sentence(targets, service="unknown") == ""
    assert figures.target_sentence(None, service="noise") == ""


def test_phases_count_months_from_each_pilots_own_start(kpis):
    table = figures.phase_table(kpis, service="noise", kpi="uptake")
    bologna = table[table["city_id"] == "bologna"].set_index("phase")
    assert bologna.loc["months 1-6", "months"] == 6 and bologna.loc["months 1-6", "uptake"] == 3.5
    assert bologna.loc["months 7-12", "uptake"] == 7.5
    gent = table[table["city_id"] == "gent"].set_index("phase")
    assert list(gent.index) == ["months 1-6"]  # gent started in March: six months so far
    month = pd.Series([1, 6, 7, 12, 13, 18, 19])
    assert list(figures.phase_of(month)) == [
        "months 1-6",
        "months 1-6",
        "months 7-12",
        "months 7-12",
        "months 13-18",
        "months 13-18",
        "after month 18",
    ]


def test_timeline_splits_each_pilot_into_its_phases():
    services = pd.DataFrame(
        {
            "node": ["a", "b"],
            "service": ["noise", "noise"],
            "first_period": ["2024-11", "2025-06"],
            "last_period": ["2026-06", "2025-08"],
        }
    )
    table = figures.timeline_table(services)
    a = table[table["node"] == "a"]
    assert list(a["phase"]) == [*figures.PHASES, figures.AFTER]
    assert list(a["start"]) == ["2024-11", "2025-05", "2025-11", "2026-05"]
    assert list(a["end"]) == ["2025-04", "2025-10", "2026-04", "2026-06"]
    b = table[table["node"] == "b"]
    assert list(b["phase"]) == ["months 1-6", figures.TO_COME]
    assert list(b["end"]) == ["2025-08", "2026-11"]  # month 18 of a pilot begun in June 2025
    figure = figures.timeline_figure(table)
    names = [trace.name for trace in figure.data]
    assert names == [*figures.PHASES, figures.AFTER, figures.TO_COME]


def test_federation_tables_show_health_and_where_each_service_came_from():
    nodes = pd.DataFrame(
        {
            "node": ["a", "b"],
            "city": ["A", "B"],
            "country": ["IT", "EE"],
            "population": [1, 2],
            "active": [True, True],
            "last_sync_at": ["2025-09-01T10:00:00Z", None],
            "pending_periods": [["2025-08", "2025-09"], []],
        }
    )
    services = pd.DataFrame(
        {
            "node": ["a", "a"],
            "code": ["bins", "noise"],
            "service": ["bulky_waste", "noise_report"],
            "template": ["bulky_waste", None],
            "template_version": ["0.3.0", None],
            "cloned_from_node": ["tallinn", None],
            "cloned_from_service": ["bulky", None],
            "first_period": ["2025-01", "2025-03"],
            "last_period": ["2025-07", "2025-07"],
        }
    )
    health = figures.nodes_table(nodes, services).set_index("node")
    assert health.loc["a", "pending_periods"] == "2025-08, 2025-09"
    assert health.loc["b", "last_sync_at"] == "never" and health.loc["b", "services"] == 0
    # A hub that does not say so has refused nothing and left no node out.
    assert health.loc["a", "refused_pushes"] == 0 and health.loc["a", "evaluation"] == ""
    nodes["suspended_pushes"] = [3, 0]
    nodes["evaluation_warning"] = ["left out: missing share_75+", None]
    flagged = figures.nodes_table(nodes, services).set_index("node")
    assert flagged.loc["a", "refused_pushes"] == 3
    assert flagged.loc["a", "evaluation"] == "left out: missing share_75+"
    assert flagged.loc["b", "evaluation"] == ""
    table = figures.services_table(services)
    assert list(table["template"]) == ["bulky_waste@0.3.0", "(none)"]
    assert list(table["cloned_from"]) == ["tallinn/bulky", ""]
    held, pending = figures.sync_figure(figures.nodes_table(nodes, services), services).data
    assert list(held.y) == [7, 0] and list(pending.y) == [2, 0]


def test_phases_of_many_cities_show_their_spread_rather_than_a_bar_each():
    cities = [f"c{i:02d}" for i in range(figures.MAX_BARS + 1)]
    table = pd.DataFrame(
        {
            "city_id": cities * 2,
            "phase": ["months 1-6"] * len(cities) + ["months 7-12"] * len(cities),
            "months": 6,
            "uptake": np.arange(2 * len(cities), dtype=float),
            "uptake_low": 0.0,
            "uptake_high": 1.0,
        }
    )
    figure = figures.phase_figure(table, service="noise", kpi="uptake")
    assert [trace.type for trace in figure.data] == ["box", "box"]
    assert f"({len(cities)} cities)" in figure.layout.title.text
    few = figures.phase_figure(
        table[table["city_id"].isin(cities[:3])], service="noise", kpi="uptake"
    )
    assert [trace.type for trace in few.data] == ["bar", "bar"]


def test_every_figure_is_valid_for_plotly_though_built_without_its_checks(kpis):
    """The builders skip plotly's validation for speed; plotly's own checks must still pass."""
    import plotly.graph_objects as go

    nodes = pd.DataFrame({"node": ["brno"], "city": ["Brno"], "country": ["CZ"]})
    ranked = figures.ranking(viability_rows(), kpis, nodes, service="noise")
    drivers = figures.parse_drivers(viability_rows().loc[0, "drivers"])
    services = pd.DataFrame(
        {
            "node": ["a"],
            "service": ["noise"],
            "first_period": ["2025-01"],
            "last_period": ["2025-08"],
        }
    )
    built = [
        figures.kpi_heatmap(kpis, "satisfaction"),
        figures.kpi_series(kpis, service="noise", kpi="uptake", city="gent"),
        figures.ranking_figure(ranked, service="noise", selected="brno"),
        figures.drivers_figure(drivers, city="porto"),
        figures.phase_figure(
            figures.phase_table(kpis, service="noise", kpi="uptake"), service="noise", kpi="uptake"
        ),
        figures.timeline_figure(figures.timeline_table(services)),
        figures.europe_figure(pd.DataFrame()),
    ]
    for figure in built:
        checked = go.Figure(figure.to_plotly_json())  # raises on any invalid property
        assert checked.layout.title.text == figure.layout.title.text
