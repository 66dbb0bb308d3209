import gzip

import pytest

from rnnkit.data.tabular import detect_delimiter, load_csv_dataset, read_labeled_csv
from rnnkit.errors import UserError


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_crlf_quotes_multiline_and_extra_columns(tmp_path):
    path = write(
        tmp_path / "d.csv",
        'id,review,stars\r\n1,"Good, very good",5\r\n2,"two\nlines",1\r\n3,plain, 3 \r\n',
    )
    data = read_labeled_csv(path, text_column="review", label_column="stars")
    assert data.texts == ["Good, very good", "two\nlines", "plain"]
    assert data.labels == ["5", "1", "3"]  # stripped strings
    assert data.ids == ["d.csv:2", "d.csv:3", "d.csv:5"]  # the line each record starts on


def test_tsv_and_sniffed_delimiters(tmp_path):
    tsv = write(tmp_path / "d.tsv", "label\ttext\npos\ta, b; c\nneg\td\n")
    assert read_labeled_csv(tsv).texts == ["a, b; c", "d"]
    semi = write(tmp_path / "d.txt", "text;label\nhello;a\nworld;b\nagain;a\n")
    assert detect_delimiter(semi, semi.read_text()) == ";"
    assert read_labeled_csv(semi).labels == ["a", "b", "a"]
    (tmp_path / "d.tsv.gz").write_bytes(gzip.compress(tsv.read_bytes()))
    assert read_labeled_csv(tmp_path / "d.tsv.gz").labels == ["pos", "neg"]


def test_headerless_with_column_numbers(tmp_path):
    path = write(tmp_path / "d.csv", "hello,1\nworld,0\n")
    data = read_labeled_csv(path, text_column=0, label_column=1, header=False)
    assert data.texts == ["hello", "world"] and data.ids == ["d.csv:1", "d.csv:2"]
    with pytest.raises(UserError, match=r"column index 2 \(from --label-column\) is out of range"):
        read_labeled_csv(path, text_column=0, label_column=2, header=False)
    with pytest.raises(UserError, match="needs a header row"):
        read_labeled_csv(path, header=False)


def test_non_utf8_file_error_names_file_line_and_option(tmp_path):
    path = write(tmp_path / "latin.csv", "text,label\nok,a\ncaf\u00e9,b\n", encoding="latin-1")
    with pytest.raises(UserError) as error:
        read_labeled_csv(path)
    message = str(error.value)
    assert "latin.csv" in message and "line 3" in message and "--encoding" in message
    assert read_labeled_csv(path, encoding="latin-1").texts[1] == "caf\u00e9"


def test_missing_empty_and_header_only_files(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_labeled_csv(tmp_path / "missing.csv")
    with pytest.raises(UserError, match="empty.csv: the file is empty"):
        read_labeled_csv(write(tmp_path / "empty.csv", ""))
    with pytest.raises(UserError, match="the file is empty"):
        read_labeled_csv(write(tmp_path / "blank.csv", " \r\n\n"))
    with pytest.raises(UserError, match="no data rows"):
        read_labeled_csv(write(tmp_path / "header.csv", "text,label\n"))


def test_missing_column_lists_available_ones(tmp_path):
    path = write(tmp_path / "d.csv", "id,sentiment,tweet\n1,pos,hi\n")
    with pytest.raises(
        UserError,
        match=r"d.csv: no column 'text' \(from --text-column\); "
        r"available columns: 'id', 'sentiment', 'tweet'",
    ):
        read_labeled_csv(path, label_column="sentiment")
    wrong = write(tmp_path / "semi.csv", "text;label\nhi;a\n")
    with pytest.raises(UserError, match="is the delimiter right"):
        read_labeled_csv(wrong)


def test_empty_text_or_label_policy(tmp_path, caplog):
    path = write(tmp_path / "d.csv", "text,label\nfine,a\n  ,b\nno label,\n\nok,b\n")
    data = read_labeled_csv(path)
    assert data.texts == ["fine", "ok"]
    assert "skipped 2 row(s)" in caplog.text
    with pytest.raises(UserError, match=r"d.csv, line 3: empty text.*--on-empty skip"):
        read_labeled_csv(path, on_empty="error")
    with pytest.raises(UserError, match="on_empty must be one of skip, error"):
        read_labeled_csv(path, on_empty="keep")


def test_short_rows_and_malformed_csv(tmp_path):
    short = write(tmp_path / "d.csv", "text,x,label\na,1,pos\nb\n")
    with pytest.raises(UserError, match="d.csv, line 3: expected at least 3 fields, got 1"):
        read_labeled_csv(short)
    bad = write(tmp_path / "nul.csv", 'text,label\n"a\x00b",1\n')
    with pytest.raises(UserError, match="nul.csv looks like a binary file"):
        read_labeled_csv(bad)  # a NUL byte: binary, whatever the csv module would accept


def test_unknown_extension_that_cannot_be_sniffed(tmp_path):
    path = write(tmp_path / "d.dat", "just one column\nmore\n")
    with pytest.raises(UserError, match="cannot tell the delimiter.*--delimiter"):
        read_labeled_csv(path)


def test_load_csv_dataset_is_one_train_split(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\na,x\n")
    assert list(load_csv_dataset(path)) == ["train"]


def test_real_gop_debate(real_path):
    path = real_path("gop-debate-sentiment/Sentiment.csv")
    with pytest.raises(UserError, match="--encoding"):
        read_labeled_csv(path, label_column="sentiment")  # latin-1 bytes, not UTF-8
    data = read_labeled_csv(path, label_column="sentiment", encoding="latin-1")
    assert len(data) == 13_871
    assert data.class_counts() == {"Negative": 8_493, "Neutral": 3_142, "Positive": 2_236}
