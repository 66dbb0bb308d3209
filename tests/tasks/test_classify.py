"""rnnkit train classify / evaluate / predict end to end, resume, and bad inputs."""

import pytest

from rnnkit.cli import main

from .cli import last_json, run

TINY = ["--embed", "8", "--hidden", "8", "--max-length", "30", "--batch-size", "16"]


@pytest.fixture
def reviews_csv(tmp_path):
    """A small two-class CSV whose label is learnable from one word."""
    rows = ["review,stars"]
    good = ["a great film", "truly great acting", "great fun", "great story and great cast"]
    bad = ["an awful film", "awful acting", "simply awful", "awful plot, awful cast"]
    for i in range(15):
        rows.append(f'"{good[i % 4]} number {i}",good')
        rows.append(f'"{bad[i % 4]} number {i}",bad')
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_train_evaluate_predict_on_a_csv(capsys, tmp_path, reviews_csv):
    out = tmp_path / "run"
    code, stdout, _ = run(
        capsys, "train", "classify", "--data", str(reviews_csv), "--text-column", "review",
        "--label-column", "stars", "--min-freq", "1", "--epochs", "12", "--lr", "0.02",
        "--out", str(out), "--json", *TINY,
    )  # fmt: skip
    assert code == 0
    result = last_json(stdout)
    assert result["out"] == str(out) and result["epochs"] >= 1 and result["train_time_s"] > 0
    assert result["val_accuracy"] == 1.0
    for name in ("best/model.safetensors", "best/vocab.json", "best/labels.json", "history.csv"):
        assert (out / name).exists(), name

    code, stdout, _ = run(capsys, "evaluate", str(out), "--split", "test", "--json")
    assert code == 0
    metrics = last_json(stdout)
    assert (
        metrics["n"] == 4 and metrics["accuracy"] == 1.0 and "loss" in metrics
    )  # 10% of 30, 2 a class
    assert "true \\ predicted" in stdout
    assert (out / "confusion-test.png").exists()

    code, stdout, _ = run(capsys, "predict", str(out), "great great film", "awful awful", "--json")
    predictions = last_json(stdout)["predictions"]
    assert [p["label"] for p in predictions] == ["good", "bad"]
    assert predictions[0]["input"] == "great great film"
    assert abs(sum(predictions[0]["probabilities"].values()) - 1) < 1e-4


def test_gop_debate_slice_end_to_end(capsys, tmp_path, data_dir):
    out = tmp_path / "gop"
    code, stdout, _ = run(
        capsys, "train", "classify", "--data", "gop-debate", "--limit", "150", "--epochs", "1",
        "--out", str(out), "--json", *TINY,
    )  # fmt: skip
    assert code == 0, stdout
    assert last_json(stdout)["epochs"] == 1
    code, stdout, _ = run(capsys, "evaluate", str(out), "--json")
    metrics = last_json(stdout)
    assert metrics["classes"] == ["Negative", "Neutral", "Positive"] and metrics["n"] == 150


def test_imdb_slice_end_to_end(capsys, tmp_path, data_dir):
    out = tmp_path / "imdb"
    code, stdout, _ = run(
        capsys, "train", "classify", "--data", "imdb", "--limit", "64", "--epochs", "1",
        "--out", str(out), "--json", *TINY,
    )  # fmt: skip
    assert code == 0
    code, stdout, _ = run(capsys, "evaluate", str(out), "--split", "test", "--json")
    assert last_json(stdout)["classes"] == ["neg", "pos"]


def test_resume_continues_an_interrupted_run(capsys, caplog, tmp_path, reviews_csv, monkeypatch):
    from rnnkit.train import Trainer

    out = tmp_path / "run"
    common = ["--data", str(reviews_csv), "--text-column", "review", "--label-column", "stars",
              "--patience", "10"]  # fmt: skip
    real_fit_epoch = Trainer._fit_epoch

    def interrupted(self, *args):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return real_fit_epoch(self, *args)

    monkeypatch.setattr(Trainer, "_fit_epoch", interrupted)
    code, _, err = run(
        capsys, "train", "classify", *common, "--epochs", "4", "--out", str(out), *TINY
    )
    assert code == 130 and "interrupted" in err
    assert f"--resume {out}" in caplog.text  # the log says how to continue
    monkeypatch.setattr(Trainer, "_fit_epoch", real_fit_epoch)
    code, stdout, _ = run(capsys, "train", "classify", "--resume", str(out), "--json")
    assert code == 0
    assert last_json(stdout)["epochs"] == 4
    assert len((out / "history.csv").read_text().strip().splitlines()) == 5  # header + 4 epochs


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--data", "missing.csv"], "neither a known dataset"),
        (["--data", "{csv}", "--label-column", "rating"], "rating"),
        (["--data", "{empty}"], "empty"),
        (["--data", "{one_class}"], "expected at least 2 classes"),
        (["--data", "{csv}"], "expected --out DIR"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(capsys, tmp_path, extra, message):
    csv = tmp_path / "data.csv"
    csv.write_text("text,label\nfine film,pos\nbad film,neg\nok film,pos\nmeh,neg\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\n" + "".join(f"film {i},pos\n" for i in range(10)))
    paths = {"{csv}": str(csv), "{empty}": str(empty), "{one_class}": str(one_class)}
    argv = ["train", "classify", *[paths.get(a, a) for a in extra]]
    if "expected --out DIR" != message:
        argv += ["--out", str(tmp_path / "run")]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_unknown_option_value_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "classify", "--data", "imdb", "--cell", "transformer", "--out", "x"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


def test_evaluate_a_corrupt_checkpoint(capsys, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    code, _, err = run(capsys, "evaluate", str(broken))
    assert code == 2 and "config.json" in err


def test_predict_needs_input(capsys, tmp_path):
    code, _, err = run(capsys, "predict", str(tmp_path))
    assert code == 2 and "nothing to do" in err


def test_file_inputs_are_scored_whole_and_predicted_as_a_table(capsys, tmp_path, reviews_csv):
    out = tmp_path / "run"
    common = ["--text-column", "review", "--label-column", "stars", "--min-freq", "1"]
    code, _, _ = run(
        capsys, "train", "--json", "classify", "--data", str(reviews_csv), *common,
        "--epochs", "12", "--lr", "0.02", "--out", str(out), *TINY,
    )  # fmt: skip
    assert code == 0
    other = tmp_path / "other.csv"
    rows = ["review,stars", '"great, great\nfilm",good', "awful awful,bad", "great fun,good"]
    other.write_text("\n".join(rows) + "\n")
    code, stdout, _ = run(capsys, "evaluate", str(out), "--data", str(other), "--json")
    metrics = last_json(stdout)
    assert code == 0 and metrics["n"] == 3 and metrics["split"] == "all"
    assert metrics["plot"] is None and not (out / "confusion-val.png").exists()

    predicted = tmp_path / "predicted.csv"
    code, stdout, _ = run(
        capsys, "predict", str(out), "--file", str(other), "--out", str(predicted), "--json"
    )
    predictions = last_json(stdout)["predictions"]
    assert code == 0 and len(predictions) == 3  # the header and the quoted newline: no inputs
    assert predictions[0]["input"] == "great, great\nfilm"
    lines = predicted.read_text().splitlines()
    assert lines[0] == "review,stars,label,probabilities.bad,probabilities.good"
    assert len(lines) == 5  # header + 3 rows, one spanning two lines
