"""Text for people: the score table with the baselines, forecast tables, detection reports."""

from __future__ import annotations

import math
from typing import Any

from rnnkit.data.timeseries import TimeSeries

__all__ = [
    "METRICS",
    "detection_report",
    "forecast_cell",
    "forecast_table",
    "score_table",
    "stamp",
    "time_axis",
]

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def stamp(time: Any) -> Any:
    """A time as ISO text, a position as an int (JSON-ready)."""
    return time.isoformat() if hasattr(time, "isoformat") else int(time)


def detection_report(result: dict[str, Any]) -> str:
    """What ``rnnkit detect`` prints: the flagged steps and the scores against the windows."""
    lines = [
        f"{result['data']}: {len(result['anomalies'])} of {result['n']} steps flagged "
        f"(z above {result['threshold']:.2f}; errors standardised by the first "
        f"{result['probation']} steps)"
    ]
    for row in result["anomalies"][:20]:
        lines.append(f"  {row['time']}  z {row['score']:.2f}")
    if len(result["anomalies"]) > 20:
        lines.append(f"  ... and {len(result['anomalies']) - 20} more (--json lists all)")
    if "windows" in result:
        precision, recall = result["precision"], result["recall"]
        lines.append(
            f"windows: {result['windows_detected']} of {result['windows']} detected; "
            f"precision {_number(precision)}, recall {_number(recall)}, "
            f"{result['false_positives']} flag(s) outside every window"
        )
    if result["plot"]:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def time_axis(series: TimeSeries) -> list[Any]:
    """The series' times, or positions for a series without times."""
    return list(series.times) if series.times else list(range(len(series)))


def forecast_cell(value: float, lower: float, upper: float) -> dict[str, float]:
    """One target's forecast at one step, with its interval when it has one."""
    row = {"forecast": round(float(value), 6)}
    if lower != upper:
        row.update(lower=round(float(lower), 6), upper=round(float(upper), 6))
    return row


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def score_table(result: dict[str, Any], scores: dict[str, dict], coverage: float) -> str:
    """The models side by side, and whether the model beats the best baseline."""
    lines = [
        f"{result['data']}, {result['split']}: {result['n']} walk-forward origins x "
        f"{result['horizon']} step(s), season {result['season']}",
        f"{'':16}" + "".join(f"{m.upper():>10}" for m in METRICS),
    ]
    for name, values in scores.items():
        label = "rnn (this model)" if name == "model" else name
        cells = "".join(
            f"{_number(values[m], 2 if m in ('mape', 'smape') else 4):>10}" for m in METRICS
        )
        lines.append(f"{label:16}{cells}")
    if result["coverage"] is not None:
        lines.append(
            f"interval coverage {result['coverage']:.1%} (nominal {coverage:.0%}), mean width "
            f"{result['interval_width']:.4g}, interval score {result['interval_score']:.4g} "
            "(lower is better)"
        )
    by_step = result.get("by_step")
    if by_step and len(by_step["mae"]) > 1:  # how the error grows with the step
        lines.append("by step, MAE: " + " ".join(f"{v:.4g}" for v in by_step["mae"]))
        if by_step["coverage"] is not None:
            lines.append("by step, coverage: " + " ".join(f"{v:.0%}" for v in by_step["coverage"]))
    if result["direction_accuracy"] is not None:
        up, right = result["up_share"], result["direction_accuracy"]
        majority = max(up, 1 - up)
        lines.append(
            f"direction from the last value: right {right:.1%} of the time; always the "
            f"majority move would be {majority:.1%} (up {up:.1%}): the model "
            f"{'beats' if right > majority else 'does NOT beat'} it"
        )
    others = {k: v["mae"] for k, v in scores.items() if k != "model"}
    mae = scores["model"]["mae"]
    if "naive" in others and len(others) > 1:
        verdict = "beats" if mae < others["naive"] else "does NOT beat"
        lines.append(
            f"the model {verdict} the naive forecast (the last value, a random walk) by MAE "
            f"({others['naive']:.4f})"
        )
    if others:
        best = min(others, key=others.get)
        verdict = "beats" if mae < others[best] else "does NOT beat"
        lines.append(f"the model {verdict} the best baseline by MAE ({best}: {others[best]:.4f})")
    return "\n".join(lines)


def forecast_table(result: dict[str, Any]) -> str:
    """One line per forecast step: the time, each target's forecast and interval."""
    lines = []
    for row in result["forecast"]:
        cells = []
        for name, value in row.items():
            if name == "time":
                continue
            text = f"{name} {value['forecast']:.4f}"
            if "lower" in value:
                text += f" [{value['lower']:.4f}, {value['upper']:.4f}]"
            cells.append(text)
        lines.append(f"{row['time'] or '':20} " + "  ".join(cells))
    return "\n".join(lines)
