"""rnnkit.TextClassifier from Python: fit on in-memory data, predict, evaluate, save, load."""

import json

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import UserError

TINY = dict(embed=8, hidden=8, min_freq=1, epochs=12, lr=0.02, batch_size=16, verbose=0)
GOOD = ["a great film", "truly great acting", "great fun", "great story and great cast"]
BAD = ["an awful film", "awful acting", "simply awful", "awful plot, awful cast"]


def reviews(n=15):
    texts, labels = [], []
    for i in range(n):
        texts += [f"{GOOD[i % 4]} number {i}", f"{BAD[i % 4]} number {i}"]
        labels += ["good", "bad"]
    return texts, labels


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    texts, labels = reviews()
    clf = rnnkit.TextClassifier(**TINY)
    return clf.fit(texts, labels, out=tmp_path_factory.mktemp("run") / "clf")


def test_fit_predict_evaluate_in_memory(fitted):
    assert fitted.fit_result["val_accuracy"] == 1.0
    assert fitted.classes_ == ["bad", "good"]
    assert fitted.predict(["great great film", "awful awful"]) == ["good", "bad"]
    probabilities = fitted.predict_proba(np.array(["great great film"]))
    assert probabilities.shape == (1, 2) and abs(probabilities.sum() - 1) < 1e-5
    texts, labels = reviews(5)
    metrics = fitted.evaluate(texts, labels)
    assert metrics["n"] == 10 and metrics["split"] == "all" and metrics["accuracy"] >= 0.9
    assert {"loss", "macro_f1", "confusion_matrix"} <= set(metrics)


def test_save_load_gives_the_same_numbers(fitted, tmp_path):
    texts, _ = reviews(3)
    fitted.save(tmp_path / "saved")
    for name in ("best/model.safetensors", "last/config.json", "history.csv", "metrics.json"):
        assert (tmp_path / "saved" / name).exists(), name
    loaded = rnnkit.load(tmp_path / "saved")
    assert isinstance(loaded, rnnkit.TextClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))
    assert loaded.get_params()["hidden"] == 8 and loaded.get_params()["epochs"] == 12
    model = loaded.model
    loaded.predict(texts)
    assert loaded.model is model  # kept loaded, not reloaded per call
    with pytest.raises(UserError, match="not empty"):
        fitted.save(tmp_path / "saved")


def test_dataframe_with_named_columns_and_validation_data():
    pd = pytest.importorskip("pandas")
    texts, labels = reviews()
    frame = pd.DataFrame({"review": texts, "stars": labels, "other": range(len(texts))})
    clf = rnnkit.TextClassifier(
        text_column="review", label_column="stars", monitor="val_loss", mode="min", **TINY
    )
    clf.fit(frame, validation_data=frame.iloc[:6])
    assert clf.fit_result["val_accuracy"] == 1.0
    assert clf.evaluate(frame)["accuracy"] >= 0.9
    assert clf.predict(frame["review"][:2]) == ["good", "bad"]
    with pytest.raises(UserError, match="no column 'text'"):
        rnnkit.TextClassifier(**TINY).fit(frame)


def test_integer_labels_and_balanced_classes():
    texts, labels = reviews()
    texts += [f"great {i}" for i in range(30)]
    labels = [1 if label == "good" else 0 for label in labels] + [1] * 30
    clf = rnnkit.TextClassifier(balance="balanced", **TINY).fit(texts, np.array(labels))
    assert clf.classes_ == [0, 1]
    assert clf.predict(["awful awful"]) == [0]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hiden": 8}, "no setting 'hiden'"),
        ({"hidden": 0}, "hidden must be at least 1, got 0"),
        ({"dropout": 1.5}, r"dropout must lie in \[0, 1\), got 1.5"),
        ({"dropout": float("nan")}, "expected a finite number"),
        ({"lr": float("inf")}, "expected a finite number"),
        ({"cell": "lstn"}, "cell must be one of"),
        ({"batch_size": -3}, "batch_size must be at least 1"),
        ({"val_fraction": 1.5}, r"val_fraction must lie in \(0, 1\)"),
        ({"delimiter": "ab"}, "delimiter must be one character"),
        ({"hidden": "abc"}, "expected int, got str"),
        ({"balance": "weighted"}, "balance must be one of none, balanced, auto"),
        ({"test_fraction": 1.0}, r"test_fraction must lie in \[0, 1\), got 1.0"),
        ({"test_fraction": -0.1}, r"test_fraction must lie in \[0, 1\)"),
        ({"test_fraction": 0.5, "val_fraction": 0.5}, "must be below 1"),
    ],
)
def test_bad_settings_are_refused_before_any_data(settings, message):
    with pytest.raises(UserError, match=message):
        rnnkit.TextClassifier(**settings)


def test_bad_inputs_get_clear_errors(fitted, tmp_path):
    with pytest.raises(UserError, match="one string"):
        fitted.predict("a single text")
    with pytest.raises(UserError, match="one label per text"):
        rnnkit.TextClassifier(**TINY).fit(["a", "b"], ["x"])
    with pytest.raises(UserError, match="labels the model never saw"):
        fitted.evaluate(["great"], ["excellent"])
    with pytest.raises(UserError, match="no trained model yet"):
        rnnkit.TextClassifier().predict(["a"])
    with pytest.raises(UserError, match="nothing to train on"):
        rnnkit.TextClassifier().fit()
    with pytest.raises(UserError, match="trained on in-memory data"):
        fitted.evaluate()
    with pytest.raises(UserError, match="the val split of the data is empty"):
        rnnkit.TextClassifier(**TINY).fit(["good a", "bad b"], ["g", "b"])


def test_resume_refuses_a_changed_model_and_continues_training(tmp_path):
    texts, labels = reviews()
    out = tmp_path / "run"
    short = {**TINY, "epochs": 2, "patience": None}
    rnnkit.TextClassifier(**short).fit(texts, labels, out=out)
    with pytest.raises(UserError, match="cannot change hidden"):
        rnnkit.TextClassifier(**{**short, "hidden": 16}).fit(texts, labels, out=out, resume=True)
    resumed = rnnkit.TextClassifier(epochs=3, verbose=0).fit(texts, labels, out=out, resume=True)
    assert resumed.fit_result["epochs"] == 3
    with pytest.raises(UserError, match="already holds a training run"):
        rnnkit.TextClassifier(**short).fit(texts, labels, out=out)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["model"].update(hiden=8), "unknown model setting 'hiden'"),
        (lambda c: c["model"].update(hidden="abc"), "expected int, got str 'abc'"),
        (lambda c: c["model"].update(dropout=2.0), r"dropout must lie in \[0, 1\)"),
        (lambda c: c["data"].update(keep="middle"), "keep must be one of start, end"),
        (lambda c: c.update(model=5), "the 'model' settings are a int; expected an object"),
        (lambda c: c["train"].update(lr="fast"), "training setting 'lr' expected float"),
        (lambda c: c.update(task=["classify"]), "names no task"),
        (lambda c: c.update(task="tagging"), "unknown task 'tagging'"),
    ],
)
def test_a_damaged_config_json_is_a_clear_error(fitted, tmp_path, mutate, message):
    fitted.save(tmp_path / "run")
    path = tmp_path / "run" / "best" / "config.json"
    config = json.loads(path.read_text())
    mutate(config)
    path.write_text(json.dumps(config))
    with pytest.raises(UserError, match=message):
        rnnkit.load(tmp_path / "run")


def test_artifacts_that_do_not_fit_the_weights_and_nan_weights_are_refused(fitted, tmp_path):
    from safetensors.torch import load_file, save_file

    fitted.save(tmp_path / "run")
    best = tmp_path / "run" / "best"
    labels = json.loads((best / "labels.json").read_text())
    labels["classes"] = [*labels["classes"], "extra"]
    (best / "labels.json").write_text(json.dumps(labels))
    with pytest.raises(UserError, match=r"head.weight has shape \(2, 16\) .* expects \(3, 16\)"):
        rnnkit.load(tmp_path / "run")
    fitted.save(tmp_path / "nan")
    weights = load_file(tmp_path / "nan" / "best" / "model.safetensors")
    weights["head.bias"][0] = float("nan")
    save_file(weights, tmp_path / "nan" / "best" / "model.safetensors")
    with pytest.raises(UserError, match="head.bias holds NaN"):
        rnnkit.load(tmp_path / "nan")


def test_auto_balance_weighs_classes_only_when_they_are_imbalanced():
    import torch

    from rnnkit.tasks.classify.objective import balanced_weights, wants_balance

    even, skewed = torch.tensor([0, 1] * 10), torch.tensor([0] * 16 + [1] * 4)
    assert not wants_balance("auto", even, 2) and wants_balance("auto", skewed, 2)
    assert wants_balance("balanced", even, 2) and not wants_balance("none", skewed, 2)
    assert balanced_weights(skewed, 2).tolist() == [20 / 32, 20 / 8]


def test_the_loss_is_unweighted_unless_balance_asks(caplog):
    texts, labels = reviews()
    texts, labels = texts + [f"great {i}" for i in range(30)], labels + ["good"] * 30  # 45 / 15
    tiny = {**TINY, "epochs": 1}
    assert rnnkit.TextClassifier(**tiny).fit(texts, labels)._class_weight is None
    weighted = rnnkit.TextClassifier(balance="auto", **tiny).fit(texts, labels)
    assert weighted._class_weight is not None and weighted._class_weight[0] > 1  # "bad" is rare


def test_test_fraction_0_keeps_every_row_for_training_and_validation(tmp_path):
    texts, labels = reviews()
    path = tmp_path / "reviews.csv"
    rows = [f'"{t}",{label}' for t, label in zip(texts, labels)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    tiny = {**TINY, "epochs": 1}
    clf = rnnkit.TextClassifier(test_fraction=0, **tiny).fit(data=str(path))
    assert clf.evaluate(split="val")["n"] == 4  # 10% of all 30 rows, none cut for a test split
    assert clf.evaluate(split="train")["n"] == 26
    with pytest.raises(UserError, match="kept no test split .*test_fraction 0"):
        clf.evaluate(split="test")
    kept = rnnkit.TextClassifier(**tiny).fit(data=str(path))  # test_fraction 0.1 by default
    assert kept.evaluate(split="test")["n"] == 4 and kept.evaluate(split="train")["n"] < 26


def test_a_missing_gpu_is_said_before_the_data_loads(tmp_path):
    if torch_cuda_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError, match="cuda"):
        rnnkit.TextClassifier(device="cuda").fit(data=str(tmp_path / "missing.csv"))


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def test_predict_into_a_closed_pipe_ends_quietly(fitted, tmp_path):
    import subprocess
    import sys

    fitted.save(tmp_path / "run")
    texts = tmp_path / "texts.txt"  # far more output than a pipe buffers (64 KB)
    texts.write_text("".join(f"great film {i}\n" for i in range(4_000)))
    command = [
        sys.executable,
        "-m",
        "rnnkit",
        "predict",
        str(tmp_path / "run"),
        "--file",
        str(texts),
    ]
    head = subprocess.run(
        f"{subprocess.list2cmdline(command)} | head -n 1",
        shell=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert head.stdout.count("\n") == 1 and head.stdout.endswith("\tgreat film 0\n")
    assert "Traceback" not in head.stderr and "BrokenPipe" not in head.stderr
