"""`rnnkit visualize`: unit activations and next-token guesses as HTML and PNG."""

import json

import pytest
import torch

from rnnkit.cli import main

CORPUS = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind.\n" * 10
TINY = ["--embed", "8", "--layers", "2", "--seq-length", "16", "--batch-size", "4",
        "--sample-every", "0", "--sample-length", "0", "--epochs", "1"]  # fmt: skip


def _train(tmp_path_factory, *options):
    folder = tmp_path_factory.mktemp("vis")
    (folder / "hamlet.txt").write_text(CORPUS)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        argv = ["train", "lm", "--data", str(folder / "hamlet.txt"), *TINY, *options]
        assert main([*argv, "--out", str(folder / "run")]) == 0
    finally:
        torch.set_num_threads(threads)
    return folder / "run"


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    return _train(tmp_path_factory, "--hidden", "16")


@pytest.fixture(scope="module")
def gru_run(tmp_path_factory):
    return _train(tmp_path_factory, "--hidden", "12", "--cell", "gru")


def _visualize(capsys, *argv):
    code = main(["visualize", *argv, "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1]) if code == 0 else None
    return code, result, captured


def test_html_shows_units_over_the_text_and_the_guesses(lstm_run, tmp_path, capsys):
    out = tmp_path / "cells.html"
    text = "To be, or not to be:\nWhether 'tis"
    code, result, captured = _visualize(capsys, str(lstm_run), "--text", text, "--out", str(out))
    assert code == 0 and "wrote" in captured.out
    assert result["layer"] == 2 and result["state"] == "cell" and len(result["units"]) == 6
    assert result["tokens"] == len(text)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<h2>unit ") == 6
    assert "&#x27;" in page and "'tis" not in page  # the text is escaped
    assert page.count("<table class='pred'>") == 1 and "class='hit'" in page


def test_chosen_units_layer_and_hidden_state_as_png(lstm_run, tmp_path, capsys):
    out = tmp_path / "cells.png"
    code, result, _ = _visualize(capsys, str(lstm_run), "--text", "to be or not", "--out",
                                 str(out), "--units", "0,5,15", "--layer", "1", "--state",
                                 "hidden", "--top", "3")  # fmt: skip
    assert code == 0 and result["units"] == [0, 5, 15] and result["layer"] == 1
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gru_shows_hidden_units(gru_run, tmp_path, capsys):
    code, result, _ = _visualize(capsys, str(gru_run), "--text", "to be", "--out",
                                 str(tmp_path / "g.html"))  # fmt: skip
    assert code == 0 and result["state"] == "hidden"
    code, _, captured = _visualize(capsys, str(gru_run), "--text", "to be", "--out",
                                   str(tmp_path / "g.html"), "--state", "cell")  # fmt: skip
    assert code == 2 and "--state cell needs an LSTM" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--text", "to be", "--out", "OUT/x.pdf"], "--out must end in .html or .png"),
        (["--text", "to bQ", "--out", "OUT/x.html"], "never saw: 'Q'"),
        (["--text", "to be", "--out", "OUT/x.html", "--units", "99"], "--units must be in 0..15"),
        (["--text", "to be", "--out", "OUT/x.html", "--layer", "3"], "--layer must be in 1..2"),
        (["--out", "OUT/x.html"], "expected the text to read"),
        (["--text", "", "--out", "OUT/x.html"], "the text is empty"),
    ],
)
def test_bad_inputs(lstm_run, tmp_path, capsys, argv, message):
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    code, _, captured = _visualize(capsys, str(lstm_run), *argv)
    assert code == 2 and message in captured.err and "Traceback" not in captured.err


def test_a_long_text_gives_a_page_of_a_few_megabytes(lstm_run, tmp_path, capsys, caplog):
    long_text = tmp_path / "long.txt"
    long_text.write_text("To be, or not to be, that is the question.\n" * 4800)  # 211 KB
    out = tmp_path / "long.html"
    code, result, captured = _visualize(
        capsys, str(lstm_run), "--file", str(long_text), "--out", str(out)
    )
    assert code == 0 and result["tokens"] == 5000 and "showing the first 5000" in caplog.text
    assert out.stat().st_size < 4_000_000  # was 21 MB for a 200 KB text
