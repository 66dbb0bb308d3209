"""The score table says plainly whether the model beats the naive forecast, the best baseline
and, for directions, always saying the majority move."""

from rnnkit.tasks.forecast.report import score_table


def scores(mae: float) -> dict:
    return {"mae": mae, "rmse": mae, "mape": None, "smape": 1.0, "mase": None}


def test_the_table_says_when_the_model_does_not_beat_the_random_walk():
    result = {"data": "sp500", "split": "test", "n": 3, "horizon": 1, "season": 5,
              "coverage": None, "direction_accuracy": 0.5, "up_share": 0.6}  # fmt: skip
    table = score_table(result, {"model": scores(2.0), "naive": scores(1.9),
                                 "ets": scores(1.8)}, 0.8)  # fmt: skip
    assert "the model does NOT beat the naive forecast" in table
    assert "the model does NOT beat the best baseline by MAE (ets: 1.8000)" in table
    assert "always the majority move would be 60.0% (up 60.0%): the model does NOT beat it" in table
    assert "-" in table.splitlines()[2]  # no MAPE: a dash, not a number
    table = score_table({**result, "direction_accuracy": 0.7},
                        {"model": scores(1.0), "naive": scores(1.9), "ets": scores(0.5)},
                        0.8)  # fmt: skip
    assert "the model beats the naive forecast" in table and "the model beats it" in table
    assert "does NOT beat the best baseline by MAE (ets" in table
    only_naive = score_table(result, {"model": scores(1.0), "naive": scores(1.9)}, 0.8)
    assert "naive forecast" not in only_naive  # said once, as the best baseline
