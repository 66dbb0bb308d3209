"""Reading time series from messy CSV files: date formats, numbers, headers, order, gaps."""

import logging
from datetime import datetime

import numpy as np
import pytest

from rnnkit.data.timeseries import infer_date_format, parse_number, read_series
from rnnkit.errors import UserError


@pytest.mark.parametrize(
    "values, expected",
    [
        (["1949-01", "1949-02", "1949-03"], "%Y-%m"),  # airline months
        (["1981-01-01", "1981-01-02"], "%Y-%m-%d"),  # Melbourne temperatures
        (["03-01-00", "04-01-00", "05-01-00", "13-01-00"], "%d-%m-%y"),  # S&P 500: dd-mm-yy
        (["1/3/2012", "1/4/2012", "1/5/2012", "1/13/2012"], "%m/%d/%Y"),  # GOOG course files
        (["2013-12-02 21:15:00", "2013-12-02 21:20:00"], "%Y-%m-%d %H:%M:%S"),  # NAB
        (["2014-04-10 07:15:00.000000"], "%Y-%m-%d %H:%M:%S.%f"),  # NAB's label windows
        (["13/01/2020", "14/01/2020"], "%d/%m/%Y"),
        (["2020-01-05T10:00:00", "2020-01-05T11:00:00"], "%Y-%m-%dT%H:%M:%S"),
        (["1949", "1950"], "%Y"),
        (["05.01.2020", "06.01.2020"], "%d.%m.%Y"),
    ],
)
def test_date_format_inference(values, expected):
    assert infer_date_format(values)[0] == expected


def test_ambiguous_dates_follow_the_files_order_and_name_the_alternatives():
    # 01-02-00 .. 12-02-00: as dd-mm-yy these are January..December 2000, one a month
    # (ordered); as mm-dd-yy they are the 2nd of each month too, also ordered: ambiguous
    fmt, others = infer_date_format([f"{m:02d}-02-00" for m in range(1, 13)])
    assert fmt == "%d-%m-%y" and "%m-%d-%y" in others
    # day-first would put these out of order; month-first keeps them in order
    fmt, _ = infer_date_format(["01-12-00", "02-01-00", "03-01-00"])
    assert fmt == "%m-%d-%y"
    with pytest.raises(ValueError):
        infer_date_format(["yesterday", "today"])


def test_numbers_with_thousands_separators_and_missing_markers():
    assert parse_number('"1,657,300"') == 1657300
    assert parse_number(" 12.5 ") == 12.5
    assert parse_number("-3,000.25") == -3000.25
    for missing in ("", "NA", "nan", "?", "null"):
        assert parse_number(missing) is None
    with pytest.raises(ValueError):
        parse_number("abc")
    with pytest.raises(ValueError):
        parse_number("1,65")  # not a thousands separator: refused, not misread


def write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_goog_like_file_header_spaces_thousands_and_crlf(tmp_path):
    path = write(
        tmp_path,
        'Date,Open,High,Low,Close, Volume\r\n1/3/2017,778.81,789.63,775.8,786.14,"1,657,300"\r\n'
        '1/4/2017,788.36,791.34,783.16,786.9,"1,073,000"\r\n'
        '1/5/2017,786.08,794.48,785.02,794.02,"1,335,200"\r\n',
    )
    series = read_series(path, target="Open", features="Volume")
    assert series.feature_names == ["Volume"] and series.target_names == ["Open"]
    assert series.features[:, 0].tolist() == [1657300, 1073000, 1335200]
    assert series.times[0] == datetime(2017, 1, 3) and series.date_format == "%m/%d/%Y"


def test_explicit_date_format_overrides_and_a_wrong_one_is_said(tmp_path):
    path = write(tmp_path, "d,v\n01-02-00,1\n01-03-00,2\n01-04-00,3\n")
    assert read_series(path).times[0] == datetime(2000, 2, 1)  # dd-mm-yy preferred
    assert read_series(path, date_format="%m-%d-%y").times[0] == datetime(2000, 1, 2)
    with pytest.raises(UserError, match="does not match --date-format"):
        read_series(path, date_format="%Y-%m-%d")


def test_unsorted_rows_are_sorted_and_said(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = write(tmp_path, "Month,v\n1949-03,3\n1949-01,1\n1949-02,2\n")
    series = read_series(path)
    assert series.targets[:, 0].tolist() == [1, 2, 3]
    assert "sorted" in caplog.text and series.frequency.name == "monthly"


def test_duplicate_times_are_refused_with_their_lines(tmp_path):
    path = write(tmp_path, "Month,v\n1949-01,1\n1949-02,2\n1949-02,3\n")
    with pytest.raises(UserError, match="lines 3 and 4 both have time 1949-02-01.*--duplicates"):
        read_series(path)


GAPPY = "Date,v\n2020-01-01,1\n2020-01-02,2\n2020-01-04,4\n2020-01-05,\n2020-01-06,10\n"


def test_gaps_and_missing_values_follow_the_policy(tmp_path):
    path = write(tmp_path, GAPPY)
    filled = read_series(path, missing="interpolate")
    assert len(filled) == 6 and filled.times[2] == datetime(2020, 1, 3)
    assert filled.targets[:, 0].tolist() == [1, 2, 3, 4, 7, 10]
    carried = read_series(path, missing="ffill")
    assert carried.targets[:, 0].tolist() == [1, 2, 2, 4, 4, 10]
    with pytest.raises(UserError, match="1 missing daily time step.*and 1 row"):
        read_series(path, missing="refuse")


def test_trading_days_are_not_gaps(tmp_path):
    days = ["1/3/2017", "1/4/2017", "1/5/2017", "1/6/2017", "1/9/2017", "1/10/2017"]
    path = write(tmp_path, "Date,Open\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days)))
    series = read_series(path, missing="refuse")
    assert series.frequency.kind == "business" and len(series) == 6
    assert series.frequency.future(series.times[-1], 1)[0] == datetime(2017, 1, 11)


def test_bad_inputs_are_one_clear_line(tmp_path):
    path = write(tmp_path, "Month,Passengers\n1949-01,112\n1949-02,abc\n")
    with pytest.raises(UserError, match=r"line 3: column 'Passengers' has 'abc'; expected a num"):
        read_series(path)
    with pytest.raises(UserError, match="no column 'Sales'.*available columns: 'Month'"):
        read_series(path, target="Sales")
    wide = write(tmp_path, "Date,a,b\n2020-01-01,1,2\n", "wide.csv")
    with pytest.raises(UserError, match="expected --target NAME, one of: 'a', 'b'"):
        read_series(wide)
    words = write(tmp_path, "when,v\nmonday,1\ntuesday,2\n", "words.csv")
    with pytest.raises(UserError, match="cannot read column 'when' as times"):
        read_series(words)


@pytest.mark.parametrize(
    "name, options, rows, fmt, frequency",
    [
        ("airline-passengers.csv", {}, 144, "%Y-%m", "monthly"),
        ("daily-min-temperatures.csv", {}, 3652, "%Y-%m-%d", "daily"),  # 2 days filled
        ("sp500.csv", {"target": "Close"}, 4697, "%d-%m-%y", "trading days"),
        ("Google_Stock_Price_Train.csv", {"target": "Open", "features": "Volume"}, 1258,
         "%m/%d/%Y", "trading days"),
    ],
)  # fmt: skip
def test_the_real_files(data_dir, name, options, rows, fmt, frequency):
    series = read_series(data_dir / "timeseries" / name, **options)
    assert (len(series), series.date_format, series.frequency.name) == (rows, fmt, frequency)
    assert np.isfinite(series.targets).all()


def test_real_files_quirks(data_dir):
    temps = read_series(data_dir / "timeseries" / "daily-min-temperatures.csv")
    assert datetime(1984, 12, 31) in temps.times and any("filled 2" in n for n in temps.notes)
    with pytest.raises(UserError, match="2 missing daily time step"):
        read_series(data_dir / "timeseries" / "daily-min-temperatures.csv", missing="refuse")
    sp500 = read_series(data_dir / "timeseries" / "sp500.csv", target="Close")
    assert sp500.times[0] == datetime(2000, 1, 3) and sp500.times[-1] == datetime(2018, 8, 31)


def test_duplicate_policies(tmp_path):
    path = write(tmp_path, "Month,v\n1949-01,1\n1949-02,2\n1949-02,4\n1949-03,5\n")
    assert read_series(path, duplicates="mean").targets[:, 0].tolist() == [1, 3, 5]
    assert read_series(path, duplicates="first").targets[:, 0].tolist() == [1, 2, 5]
    assert read_series(path, duplicates="last").targets[:, 0].tolist() == [1, 4, 5]
