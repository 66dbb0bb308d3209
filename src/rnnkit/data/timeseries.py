"""Time series from CSV files: a time column, target columns and covariate columns.

:func:`read_series` reads any CSV/TSV (``.gz`` too) into a :class:`TimeSeries` and deals with
the quirks real files have, each said in the log or refused with one clear ``UserError``:

* dates in the common formats (:data:`DATE_FORMATS`: ISO dates and times, ``1949-01`` months,
  ``1/3/2017`` US, ``03-01-00`` day-month-year, ...): the format is inferred from the column (the
  one that parses every value and keeps the file's order best; ambiguous ones are named) and
  stated; ``date_format`` (a ``strptime`` format) fixes it;
* numbers with thousands separators (``"1,657,300"``), header names with stray spaces
  (``" Volume"``), ``NA``/``NaN``/``?``/empty cells as missing values;
* rows out of time order are sorted (said); a timestamp that occurs twice is refused, or its
  rows averaged or one of them kept (``duplicates``; eight of NAB's series repeat times);
* the step is inferred (calendar months, a fixed step, or trading days: weekdays with the
  weekend and holidays left out, taken as consecutive rows); missing time steps of a regular
  series and missing values follow the ``missing`` policy: ``interpolate`` (linear in time),
  ``ffill`` (the last value carried forward) or ``refuse``.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.tabular import read_table
from rnnkit.errors import UserError

__all__ = [
    "DATE_FORMATS",
    "DUPLICATE_POLICIES",
    "MISSING_POLICIES",
    "Frequency",
    "TimeSeries",
    "infer_date_format",
    "load_series",
    "parse_number",
    "read_series",
]

logger = logging.getLogger(__name__)

# strptime formats tried, in order of preference when several parse every value
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y-%m",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%m-%y",
    "%m-%d-%y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%Y%m%d",
    "%Y",
)
MISSING_POLICIES = ("interpolate", "ffill", "refuse")
FREQUENCY_KINDS = ("months", "fixed", "business", "irregular", "index")
DUPLICATE_POLICIES = ("refuse", "mean", "first", "last")
MISSING_MARKERS = {"", "na", "nan", "n/a", "null", "none", "?", "-", "#n/a"}
TIME_NAMES = ("date", "time", "timestamp", "datetime", "month", "year", "day", "ds", "period")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
DAY = 86400.0
# missing time steps filled at most: this many, or this many times the rows read if more
MAX_FILLED_STEPS, MAX_FILLED_PER_ROW = 10_000, 10


def parse_number(text: str) -> float | None:
    """``text`` as a float: thousands separators dropped (``"1,657,300"``), a missing marker
    (empty, NA, NaN, ?) is None; anything else that is not a number raises ``ValueError``."""
    text = text.strip().strip('"').strip()
    if text.lower() in MISSING_MARKERS:
        return None
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    value = float(text)  # ValueError for words
    return None if math.isnan(value) else value


def infer_date_format(values: Sequence[str]) -> tuple[str, list[str]]:
    """(the format of ``values``, the other formats that parse them all as well).

    Among :data:`DATE_FORMATS` that parse every value, the one whose dates keep the values'
    order best (fewest steps back in time) wins; ties go to the earlier format in the list.
    """
    sample = list(values[:200])
    scored = []
    for fmt in DATE_FORMATS:
        if not _parses(sample, fmt) or not _parses(values, fmt):
            continue
        times = [datetime.strptime(v, fmt) for v in values]
        scored.append((sum(b < a for a, b in zip(times, times[1:])), fmt))
    if not scored:
        raise ValueError("no known date format parses every value")
    best = min(score for score, _ in scored)
    tied = [fmt for score, fmt in scored if score == best]
    return tied[0], tied[1:]


def _parses(values: Sequence[str], fmt: str) -> bool:
    try:
        for value in values:
            datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Frequency:
    """The step between rows.

    Attributes:
        kind: "months" (calendar months), "fixed" (a fixed number of seconds), "business"
            (weekdays; weekend and holidays absent, rows taken as consecutive steps) or
            "irregular" / "index" (rows taken as consecutive steps).
        step: months for "months", seconds for "fixed", 1 otherwise.
        name: how to say it ("monthly", "daily", "5 minutes", "trading days").
        season: the usual seasonal period in steps (12 monthly, 7 daily, 24 hourly, 5 trading
            days, one day of minutes), or 1 when there is none to speak of.
    """

    kind: str
    step: float
    name: str
    season: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "name": self.name, "season": self.season}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Frequency:
        """The frequency ``to_dict`` wrote; ``TypeError``/``ValueError`` for anything else."""
        kind, step, season = values["kind"], float(values["step"]), values["season"]
        if kind not in FREQUENCY_KINDS or not math.isfinite(step) or step <= 0:
            raise ValueError(f"frequency kind {kind!r} and step {step} are not a frequency")
        if type(season) is not int or season < 1 or not isinstance(values["name"], str):
            raise ValueError(f"frequency season {season!r} is not a whole number >= 1")
        return cls(kind, step, values["name"], season)

    def future(self, last: datetime | None, steps: int) -> list[datetime | None]:
        """The ``steps`` times after ``last`` (None where the series has no times)."""
        if last is None or self.kind in ("irregular", "index"):
            return [None] * steps
        if self.kind == "business":
            start = np.datetime64(last.date())
            days = np.busday_offset(start, np.arange(1, steps + 1), roll="forward")
            return [datetime.fromisoformat(str(d)) for d in days]
        return [self.after(last, k) for k in range(1, steps + 1)]

    def after(self, start: datetime, k: int) -> datetime:
        """The time ``k`` steps after ``start`` of a "months" or "fixed" series."""
        if self.kind == "months":
            return _add_months(start, int(self.step) * k)
        return start + timedelta(seconds=self.step * k)


def _add_months(time: datetime, months: int) -> datetime:
    index = time.year * 12 + time.month - 1 + months
    return time.replace(year=index // 12, month=index % 12 + 1)


def _month_index(time: datetime) -> int:
    return time.year * 12 + time.month - 1


def infer_frequency(times: Sequence[datetime]) -> Frequency:
    """The step of sorted ``times`` (see :class:`Frequency`)."""
    if len(times) < 2:
        return Frequency("index", 1, "one step a row", 1)
    seconds = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    same_day = all((t.day, t.time()) == (times[0].day, times[0].time()) for t in times)
    if same_day and Counter(seconds).most_common(1)[0][0] >= 27 * DAY:
        months = Counter(_month_index(b) - _month_index(a) for a, b in zip(times, times[1:]))
        step = months.most_common(1)[0][0]
        name = {1: "monthly", 3: "quarterly", 12: "yearly"}.get(step, f"every {step} months")
        return Frequency("months", step, name, {1: 12, 3: 4}.get(step, 1))
    step = Counter(seconds).most_common(1)[0][0]
    weekdays = all(t.weekday() < 5 for t in times)
    if step == DAY and weekdays and sum(s > DAY for s in seconds) > 0.05 * len(seconds):
        return Frequency("business", 1, "trading days", 5)
    if step >= DAY and step % DAY == 0:
        days = int(step // DAY)
        name = {1: "daily", 7: "weekly"}.get(days, f"every {days} days")
        return Frequency("fixed", step, name, {1: 7, 7: 52}.get(days, 1))
    minutes = step / 60
    name = "hourly" if step == 3600 else f"{minutes:g} minutes"
    season = int(DAY // step) if DAY % step == 0 and DAY // step > 1 else 1
    return Frequency("fixed", step, name, season)


@dataclass
class TimeSeries:
    """A regular series: times (or None), targets (T, k), covariates (T, c), with names.

    Attributes:
        times: one ``datetime`` per row, sorted, or None for a plain sequence of values.
        targets: (T, k) float64, the columns to forecast.
        features: (T, c) float64 covariates (c may be 0).
        target_names, feature_names: the columns' names.
        frequency: the step between rows.
        date_format: the ``strptime`` format the times were read with (None: no times).
        source: where the series came from, for messages.
        notes: what reading it did (sorted, filled), said once.
    """

    times: list[datetime] | None
    targets: np.ndarray
    features: np.ndarray
    target_names: list[str]
    feature_names: list[str]
    frequency: Frequency
    date_format: str | None = None
    source: str = "the series"
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.targets)

    def tail(self, n: int) -> TimeSeries:
        """The last ``n`` rows."""
        start = max(0, len(self) - n)
        return TimeSeries(
            None if self.times is None else self.times[start:], self.targets[start:],
            self.features[start:], self.target_names, self.feature_names, self.frequency,
            self.date_format, self.source,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that ``from_dict`` reads back."""
        return {
            "times": None if self.times is None else [t.isoformat() for t in self.times],
            "targets": self.targets.tolist(),
            "features": self.features.tolist(),
            "target_names": self.target_names,
            "feature_names": self.feature_names,
            "frequency": self.frequency.to_dict(),
            "date_format": self.date_format,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TimeSeries:
        """The series ``to_dict`` wrote; ``TypeError``/``ValueError`` for anything else."""
        times = values["times"]
        targets = np.asarray(values["targets"], dtype=np.float64)  # (T, k)
        c = len(values["feature_names"])
        names = [*values["target_names"], *values["feature_names"]]
        if not all(isinstance(name, str) for name in names) or not values["target_names"]:
            raise ValueError("target_names and feature_names must be lists of names")
        if times is not None and (not isinstance(times, list) or len(times) != len(targets)):
            raise ValueError("times must be one time per row, or null")
        if not len(targets) or not np.isfinite(targets).all():
            raise ValueError("targets must be rows of finite numbers")
        if not isinstance(values["source"], str) or not isinstance(
            values["date_format"], (str, type(None))
        ):
            raise ValueError("source must be text and date_format text or null")
        return cls(
            None if times is None else [datetime.fromisoformat(t) for t in times],
            targets.reshape(len(targets), len(values["target_names"])),
            np.asarray(values["features"], dtype=np.float64).reshape(len(targets), c),
            list(values["target_names"]), list(values["feature_names"]),
            Frequency.from_dict(values["frequency"]), values["date_format"], values["source"],
        )  # fmt: skip


def split_names(names: str | Sequence[str] | None) -> list[str]:
    """Column names given as "a,b" or a list, stripped; None: none."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return [name.strip() for name in items if name.strip()]


def _find_column(name: str, header: list[str], path: Path, option: str) -> int:
    if name in header:
        return header.index(name)
    folded = [h.lower() for h in header]
    if name.lower() in folded:
        return folded.index(name.lower())
    if len(header) < 2:  # a header of one column may be any file's first line: not quoted
        raise UserError(f"{path}: no column {name!r} (from {option}); expected a CSV/TSV with a "
                        "header row naming a time column and value columns")  # fmt: skip
    raise UserError(
        f"{path}: no column {name!r} (from {option}); available columns: "
        f"{', '.join(repr(h) for h in header)}"
    )


def _time_column(header: list[str]) -> int:
    lowered = [h.lower() for h in header]
    for i, name in enumerate(lowered):
        if name in TIME_NAMES or "date" in name or "time" in name:
            return i
    return 0


def read_series(
    path: str | os.PathLike[str],
    *,
    time_column: str | None = None,
    target: str | Sequence[str] | None = None,
    features: str | Sequence[str] | None = None,
    date_format: str | None = None,
    missing: str = "interpolate",
    duplicates: str = "refuse",
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> TimeSeries:
    """Read a time series from a CSV/TSV file (see the module docstring for what is handled).

    Args:
        path: the file.
        time_column: the column of times (default: the first named like date/time/month...).
        target: the column(s) to forecast, "a,b" or a list (default: the only other column).
        features: covariate columns, "a,b" or a list (default: none).
        date_format: a ``strptime`` format for the time column (default: inferred).
        missing: missing values and time steps: "interpolate", "ffill" or "refuse".
        duplicates: rows with the same time: "refuse", "mean" (averaged), "first" or "last"
            (in the file's order).
        encoding, delimiter: of the file (delimiter default: from the extension).
    """
    if missing not in MISSING_POLICIES:
        raise UserError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}")
    if duplicates not in DUPLICATE_POLICIES:
        raise UserError(
            f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, got {duplicates!r}"
        )
    path = Path(path).expanduser()
    first, rows = read_table(path, delimiter=delimiter, encoding=encoding)
    header = [name.strip().strip('"').strip() for name in first]
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise UserError(f"{path}: no data rows; expected a header row and rows of values")
    ti = _find_column(time_column, header, path, "--time-column") if time_column else None
    ti = _time_column(header) if ti is None else ti
    targets = split_names(target)
    if not targets:
        others = [h for i, h in enumerate(header) if i != ti]
        if len(others) != 1:
            raise UserError(
                f"{path}: which column to forecast? expected --target NAME, one of: "
                f"{', '.join(repr(h) for h in others)}"
            )
        targets = others
    target_index = [_find_column(name, header, path, "--target") for name in targets]
    feature_index = [
        _find_column(name, header, path, "--features") for name in split_names(features)
    ]
    short = next((line for line, row in rows if len(row) < len(header)), None)
    if short is not None:
        raise UserError(f"{path}, line {short}: expected {len(header)} fields like the header")

    stamps = [row[ti].strip() for _, row in rows]
    times, used = _parse_times(stamps, date_format, path, header[ti])
    values = _numbers(rows, target_index + feature_index, header, path)  # (T, k + c)
    lines = np.array([line for line, _ in rows])
    notes: list[str] = []
    order = np.array(sorted(range(len(times)), key=times.__getitem__), dtype=np.int64)  # stable
    if (order != np.arange(len(order))).any():
        notes.append(f"sorted {int((order != np.arange(len(order))).sum())} rows into time order")
        times, values, lines = [times[i] for i in order], values[order], lines[order]
    repeated = [i for i in range(1, len(times)) if times[i] == times[i - 1]]
    if repeated and duplicates == "refuse":
        i = repeated[0]
        raise UserError(
            f"{path}: lines {lines[i - 1]} and {lines[i]} both have time {times[i]}; expected "
            "one row per time (--duplicates mean, first or last merges them)"
        )
    if repeated:
        times, values = _merge_duplicates(times, values, duplicates)
        notes.append(f"merged {len(repeated)} repeated time(s) by {duplicates}")
    frequency = infer_frequency(times)
    times, values = _fill(times, values, frequency, missing, path, notes)
    k = len(target_index)
    series = TimeSeries(
        times, values[:, :k], values[:, k:], [header[i] for i in target_index],
        [header[i] for i in feature_index], frequency, used, str(path), notes,
    )  # fmt: skip
    logger.info(
        "%s: %d rows (%s), %s to %s; times read as %s%s",
        path.name, len(series), frequency.name, times[0].isoformat(), times[-1].isoformat(),
        used, "".join(f"; {note}" for note in notes),
    )  # fmt: skip
    return series


def _merge_duplicates(
    times: list[datetime], values: np.ndarray, how: str
) -> tuple[list[datetime], np.ndarray]:
    """One row per time of sorted ``times``: the rows of a repeated time averaged (NaN-aware)
    or the first or last of them (the file's order: the sort is stable)."""
    starts = [0] + [i for i in range(1, len(times)) if times[i] != times[i - 1]]
    ends = starts[1:] + [len(times)]
    merged = np.empty((len(starts), values.shape[1]))
    for row, (a, b) in enumerate(zip(starts, ends)):
        group = values[a:b]
        if how == "mean":
            with np.errstate(all="ignore"):
                counts = (~np.isnan(group)).sum(axis=0)
                merged[row] = np.where(counts, np.nansum(group, axis=0) / np.maximum(counts, 1),
                                       np.nan)  # fmt: skip
        else:
            merged[row] = group[0 if how == "first" else -1]
    return [times[a] for a in starts], merged


def _parse_times(
    stamps: list[str], date_format: str | None, path: Path, column: str
) -> tuple[list[datetime], str]:
    if date_format is not None:
        try:
            return [datetime.strptime(s, date_format) for s in stamps], date_format
        except ValueError as error:
            raise UserError(
                f"{path}: column {column!r} does not match --date-format {date_format!r} "
                f"({error}); expected a strptime format such as %Y-%m-%d or %m/%d/%Y"
            ) from None
    try:
        fmt, others = infer_date_format(stamps)
    except ValueError:
        bad = next((s for s in stamps if not any(_parses([s], f) for f in DATE_FORMATS)), stamps[0])
        raise UserError(
            f"{path}: cannot read column {column!r} as times (e.g. {bad!r}); expected dates in "
            "a common format, or --date-format (e.g. '%d.%m.%Y %H:%M'), or --time-column"
        ) from None
    if others:
        logger.warning(
            "%s: times read as %s (inferred); also possible: %s — pass --date-format to choose",
            path.name, fmt, ", ".join(others),
        )  # fmt: skip
    return [datetime.strptime(s, fmt) for s in stamps], fmt


def _numbers(
    rows: list[tuple[int, list[str]]], columns: list[int], header: list[str], path: Path
) -> np.ndarray:
    out = np.empty((len(rows), len(columns)), dtype=np.float64)
    for r, (line, row) in enumerate(rows):
        for c, index in enumerate(columns):
            try:
                value = parse_number(row[index])
            except ValueError:
                raise UserError(
                    f"{path}, line {line}: column {header[index]!r} has {row[index].strip()!r}; "
                    "expected a number (or an empty cell for a missing value)"
                ) from None
            if value is not None and math.isinf(value):
                raise UserError(
                    f"{path}, line {line}: column {header[index]!r} has {row[index].strip()!r}, "
                    "an infinite value; expected a finite number (or an empty cell)"
                )
            out[r, c] = np.nan if value is None else value
    return out


def _fill(
    times: list[datetime],
    values: np.ndarray,
    frequency: Frequency,
    missing: str,
    path: Path,
    notes: list[str],
) -> tuple[list[datetime], np.ndarray]:
    """Insert missing time steps of a regular series, then fill missing values, by ``missing``."""
    if frequency.kind == "months":
        position = np.array([_month_index(t) - _month_index(times[0]) for t in times])
        position = position / frequency.step
    elif frequency.kind == "fixed":
        position = np.array([(t - times[0]).total_seconds() for t in times]) / frequency.step
    else:
        position = np.arange(len(times), dtype=np.float64)
    if np.any(position != np.round(position)):
        notes.append(f"irregular times, rows taken as consecutive {frequency.name} steps")
        position = np.arange(len(times), dtype=np.float64)
    position = position.astype(np.int64)
    gaps = int(position[-1] + 1 - len(position))
    if gaps > max(MAX_FILLED_STEPS, MAX_FILLED_PER_ROW * len(position)):
        raise UserError(
            f"{path}: {len(position)} {frequency.name} rows from {times[0].isoformat()} to "
            f"{times[-1].isoformat()} leave {gaps:,} time steps missing, too many to fill; "
            f"expected at most {max(MAX_FILLED_STEPS, MAX_FILLED_PER_ROW * len(position)):,} "
            "(check the time column and --date-format)"
        )
    holes = int(np.isnan(values).any(axis=1).sum())
    if not gaps and not holes:
        return times, values
    if missing == "refuse":
        first = next((times[i] for i in range(1, len(times)) if position[i] - position[i - 1] > 1),
                     None)  # fmt: skip
        where = f" (the first after {first.isoformat()})" if first else ""
        raise UserError(
            f"{path}: {gaps} missing {frequency.name} time step(s){where} and {holes} row(s) "
            "with a missing value; expected none with --missing refuse (interpolate or ffill "
            "fill them)"
        )
    full = np.full((position[-1] + 1, values.shape[1]), np.nan)
    full[position] = values
    for column in full.T:  # filled in place
        known = np.flatnonzero(~np.isnan(column))
        if not len(known):
            raise UserError(f"{path}: a column has no values at all; expected numbers")
        if missing == "interpolate":
            column[:] = np.interp(np.arange(len(column)), known, column[known])
        else:
            index = np.maximum.accumulate(np.where(np.isnan(column), 0, np.arange(len(column))))
            column[:] = column[index]
            column[: known[0]] = column[known[0]]  # leading gaps take the first value
    if gaps:
        times = [frequency.after(times[0], p) for p in range(len(full))]
    notes.append(f"filled {gaps} missing time step(s) and {holes} row(s) with gaps by {missing}")
    return times, full


def load_series(path: str | os.PathLike[str], files: Sequence[str] = (), **options) -> TimeSeries:
    """The dataset loader: ``path`` is a file, or a folder whose ``files`` are read and joined
    in time (e.g. the GOOG course's train and test files)."""
    path = Path(path)
    if not path.is_dir():
        return read_series(path, **options)
    if not files:
        raise UserError(f"{path} is a folder; expected a CSV file of a time series")
    parts = [read_series(path / name, **options) for name in files]
    joined = parts[0]
    for part in parts[1:]:
        if part.times[0] <= joined.times[-1]:
            raise UserError(f"{part.source} overlaps {joined.source}; expected later times")
        joined = TimeSeries(
            joined.times + part.times, np.concatenate([joined.targets, part.targets]),
            np.concatenate([joined.features, part.features]), joined.target_names,
            joined.feature_names, joined.frequency, joined.date_format,
            f"{joined.source} + {Path(part.source).name}",
        )  # fmt: skip
    return joined
