"""`export`: the CSV tables the evaluation reads, with suppressed cells absent."""

import pandas as pd

from federation.hub.aggregates import service as aggregates
from federation.hub.database import get_db
from federation.protocol.models import CellMeasures
from federation.protocol.vocabulary import duration_bucket_names
from tests.federation.factories import make_snapshot


def test_export_writes_cities_and_observations(enrolled, push, hub_app, tmp_path):
    bologna = enrolled("bologna")
    snapshot = make_snapshot("bologna", "2025-03", 4)
    push(bologna, snapshot)
    with hub_app.app_context(), get_db(hub_app).session() as session:
        cities_path, observations_path = aggregates.write_export(
            db_session=session, out_dir=tmp_path / "out"
        )
    cities = pd.read_csv(cities_path)
    assert list(cities.columns[:4]) == ["city_id", "city", "country", "population"]
    assert {"share_16-24", "share_75+", "internet_use_pct", "egov_index_2018"} <= set(cities)
    assert cities.loc[0, "city_id"] == "bologna" and cities.loc[0, "share_75+"] == 0.13

    observations = pd.read_csv(observations_path, keep_default_na=False)
    assert list(observations.columns) == [
        "city_id",
        "service",
        "template",
        "period",
        "segment",
        "channel",
        "measure",
        "value",
    ]
    total = observations[
        (observations.service == "noise_report")
        & (observations.segment == "all")
        & (observations.channel == "all")
    ]
    assert set(total.template) == {"noise_report@1.2.0"}
    measures: CellMeasures = snapshot.cells[0].measures
    by_measure = dict(zip(total.measure, total.value, strict=True))
    for name, value in zip(
        duration_bucket_names("time_to_complete"), measures.time_to_complete, strict=True
    ):
        # A suppressed bucket has no row; a sent one has its exact value.
        assert by_measure.get(name) == value
    assert by_measure.get("citizens") == measures.citizens
    assert (observations.value >= 0).all()
    assert set(observations.segment) == {"all", "25-54", "75+"}
    assert set(observations.channel) == {"all", "web", "sms"}
