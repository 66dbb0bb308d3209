import logging
import sys

from rnnkit.train import History
from rnnkit.train.history import render_curves

ROWS = [
    {"epoch": 1, "train_loss": 1.0, "train_accuracy": 0.5, "val_loss": 1.2, "lr": 0.1},
    {"epoch": 2, "train_loss": 0.5, "train_accuracy": 0.75, "val_loss": float("nan"), "lr": 0.1},
]


def test_csv_round_trip(tmp_path):
    history = History(ROWS)
    assert history.columns == ["epoch", "train_loss", "train_accuracy", "val_loss", "lr"]
    text = history.to_csv()
    assert text.splitlines()[0] == "epoch,train_loss,train_accuracy,val_loss,lr"
    (tmp_path / "history.csv").write_text(text)
    again = History.from_csv(tmp_path / "history.csv")
    assert again.column("epoch") == [1, 2] and again.column("train_loss") == [1.0, 0.5]
    assert again[1]["val_loss"] != again[1]["val_loss"]  # NaN survives


def test_curves_are_a_png():
    png = render_curves(History(ROWS))
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert render_curves(History()) is None


def test_curves_skipped_with_a_message_without_matplotlib(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import now raises ImportError
    with caplog.at_level(logging.INFO, logger="rnnkit.train.history"):
        assert render_curves(History(ROWS)) is None
    assert "matplotlib is not installed" in caplog.text
