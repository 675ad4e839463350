"""The back-test holds each city out: nothing fitted from data sees the city it judges."""

import numpy as np
import pandas as pd

from evaluation import run_evaluation


def _tripled(observations: pd.DataFrame, city_id: str) -> pd.DataFrame:
    """Every count of one city three times over (its uptake triples, so would a leak)."""
    out = observations.copy()
    mine = out["city_id"].astype(str) == city_id
    out["value"] = np.where(mine, out["value"] * 3, out["value"])
    return out


def test_tripling_a_held_out_city_s_data_does_not_move_its_own_prediction_or_band(world, result):
    detail = result.backtest_cities
    city = str(detail["city_id"].value_counts().index[0])  # a city that piloted several services
    tripled = run_evaluation(world.cities, _tripled(world.observations, city), seed=0)
    before = detail[detail["city_id"] == city].reset_index(drop=True)
    after = tripled.backtest_cities
    after = after[after["city_id"] == city].reset_index(drop=True)
    assert len(before) >= 2
    # Its truth moved: the test would see a leak.
    np.testing.assert_allclose(after["truth"], before["truth"] * 3, rtol=0.05)
    for column in ("predicted", "low", "high", "global_mean", "nearest"):
        np.testing.assert_allclose(after[column], before[column], rtol=1e-9, err_msg=column)
    # The other cities' held-out predictions do learn from it.
    others = detail[detail["city_id"] != city]["predicted"].to_numpy()
    moved = tripled.backtest_cities
    moved = moved[moved["city_id"] != city]["predicted"].to_numpy()
    assert not np.allclose(others, moved)


def test_the_report_gives_the_bands_coverage_and_mean_relative_width(result):
    check = result.report["interval"]
    assert check["level"] == 0.9
    assert 0.8 <= check["coverage"] <= 1.0
    assert check["mean_relative_width"] > 0
    assert check["held_out_pilots"] == len(result.backtest_cities)
