"""rnnkit search end to end on a slice of the GOP-debate tweets: grid and TPE searches, pruning,
resuming from storage, worker processes, and retraining the best with train --config."""

import json

import optuna
import pytest
from optuna.trial import TrialState

import rnnkit.search
from rnnkit.errors import UserError

from .conftest import TINY, run_cli

GRID_SPACE = """
[hidden]
choices = [4, 8]

[lr]
low = 0.01
high = 0.03
step = 0.02
"""


def options(settings):
    """``{"max_length": 20}`` -> ``["--max-length", "20"]`` (``--no-plot`` for plot=False)."""
    out = []
    for name, value in settings.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else f"--no-{flag[2:]}")
        else:
            out += [flag, value]
    return out


def unlocked_runs(out, numbers):
    """Each trial's run folder exists, holds a best checkpoint and is not locked."""
    for number in numbers:
        run = out / "trials" / f"{number:04d}"
        assert (run / "best" / "model.safetensors").is_file()
        assert not (run / ".lock").exists()


@pytest.mark.slow
def test_a_grid_search_and_retraining_its_best(tmp_path, tweets, capsys):
    space = tmp_path / "space.toml"
    space.write_text(GRID_SPACE)
    out = tmp_path / "search"
    # class weights: without them these one-epoch 8-unit models all predict the majority class,
    # every trial ties and optuna has no parameter importances to draw
    tiny = {**{k: v for k, v in TINY.items() if k != "hidden"}, "balance": "balanced"}
    code, result, err = run_cli(
        capsys, "search", "classify", "--data", tweets, "--space", space, "--sampler", "grid",
        "--trials", 10, "--pruner", "none", "--threads", 1, *options(tiny), "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    assert result["n_trials"] == result["n_complete"] == 4  # the grid's size, not --trials
    grid = {(t["params"]["hidden"], t["params"]["lr"]) for t in result["trials"]}
    assert grid == {(4, 0.01), (4, 0.03), (8, 0.01), (8, 0.03)}
    values = [t["value"] for t in result["trials"]]
    assert values == sorted(values, reverse=True)  # val_accuracy: best first
    assert result["best_value"] == values[0] and result["metric"] == "val_accuracy"
    assert all(t["time_s"] > 0 and t["epochs"] == 1 for t in result["trials"])
    unlocked_runs(out, range(4))
    assert (out / "best" / "best" / "model.safetensors").is_file()
    assert json.loads((out / "results.json").read_text())["best_trial"] == result["best_trial"]
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "history.png", "importances.png", "parallel.png"
    ]  # fmt: skip

    # the best settings retrain the best model: the same validation accuracy
    code, retrained, err = run_cli(
        capsys, "train", "classify", "--config", out / "best.toml", "--data", tweets,
        "--threads", 1, "--out", tmp_path / "retrained", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert retrained["val_accuracy"] == pytest.approx(result["best_value"], abs=1e-9)
    # an option on the command line wins over the file
    code, _, err = run_cli(
        capsys, "train", "classify", "--config", out / "best.json", "--data", tweets,
        "--hidden", 3, "--threads", 1, "--out", tmp_path / "smaller", "--json",
    )  # fmt: skip
    assert code == 0, err
    config = json.loads((tmp_path / "smaller" / "best" / "config.json").read_text())
    assert config["model"]["hidden"] == 3 and config["train"]["lr"] == result["best_params"]["lr"]


def test_a_tpe_search_from_python(tmp_path, tweets):
    space = {"lr": {"low": 1e-3, "high": 5e-2, "log": True}, "cell": ["lstm", "gru"]}
    results = rnnkit.search.run(
        "classify", data=str(tweets), space=space, out=tmp_path / "tpe", sampler="tpe",
        trials=4, startup_trials=2, pruner="none", plots=False, verbose=0,
        storage=str(tmp_path / "tpe.log"), **TINY,  # an Optuna journal file
    )  # fmt: skip
    assert results["n_complete"] == 4 and results["sampler"] == "tpe"
    assert results["best_value"] == max(t["value"] for t in results["trials"])
    assert len({t["params"]["lr"] for t in results["trials"]}) == 4
    table = rnnkit.search.search_report(results)
    assert "rank  trial  state" in table and "retrain: rnnkit train classify --config" in table
    unlocked_runs(tmp_path / "tpe", range(4))


def test_a_bad_trial_is_pruned_and_stops_cleanly(tmp_path, tweets):
    # val_loss after epoch 1: lr 1e-7 learns nothing, so it lags the first trial and is pruned
    results = rnnkit.search.run(
        "classify", data=str(tweets), space={"lr": [0.05, 1e-7]}, out=tmp_path / "prune",
        sampler="grid", pruner="median", startup_trials=1, plots=False, verbose=0,
        **{**TINY, "epochs": 2, "monitor": "val_loss", "mode": "min"},
    )  # fmt: skip
    states = {t["params"]["lr"]: t for t in results["trials"]}
    assert states[0.05]["state"] == "complete" and states[0.05]["epochs"] == 2
    bad = states[1e-7]
    assert bad["state"] == "pruned" and bad["epochs"] == 1  # stopped after its first epoch
    assert bad["stop_reason"] == "pruned by the search after epoch 1"
    assert results["n_pruned"] == 1 and results["best_params"] == {"lr": 0.05}
    unlocked_runs(tmp_path / "prune", [bad["number"]])
    metrics = json.loads((tmp_path / "prune" / "trials" / f"{bad['number']:04d}" /
                          "metrics.json").read_text())  # fmt: skip
    assert "pruned by the search" in json.dumps(metrics)


def test_cross_validated_trials_score_the_mean_of_their_folds(tmp_path, tweets):
    out = tmp_path / "cv"
    args = dict(data=str(tweets), space={"lr": [0.05]}, out=out, sampler="grid",
                pruner="none", plots=False, verbose=0, **TINY)  # fmt: skip
    results = rnnkit.search.run("classify", cv=3, **args)
    for row in results["trials"]:
        folds = [json.loads((out / "trials" / name / "metrics.json").read_text())
                 for name in (f"{row['number']:04d}", *(f"{row['number']:04d}-fold{k}"
                                                       for k in (1, 2)))]  # fmt: skip
        bests = [m["best_value"] for m in folds]
        assert row["fold_values"] == pytest.approx(bests)
        assert row["value"] == pytest.approx(sum(bests) / 3)
    trial = rnnkit.load(out / "trials" / "0000-fold2")
    assert (trial.settings["data"].folds, trial.settings["data"].fold) == (3, 2)
    with pytest.raises(UserError, match="was made with cv 3"):
        rnnkit.search.run("classify", cv=2, **args)
    with pytest.raises(UserError, match="expected no folds among the fixed"):
        rnnkit.search.run("classify", cv=2, **{**args, "out": tmp_path / "x", "folds": 3})
    with pytest.raises(UserError, match="has no folds setting"):
        rnnkit.search.run("lm", data=str(tweets), space={"lr": [0.01]}, out=tmp_path / "lm", cv=2)


def test_resuming_runs_only_the_missing_trials(tmp_path, tweets):
    out = tmp_path / "resume"
    space = {"lr": {"low": 1e-3, "high": 5e-2, "log": True}}
    args = dict(data=str(tweets), space=space, out=out, sampler="random", pruner="none",
                plots=False, verbose=0, **TINY)  # fmt: skip
    first = rnnkit.search.run("classify", trials=2, **args)
    assert first["n_trials"] == 2
    storage = first["storage"]
    study = optuna.load_study(study_name="search", storage=storage)
    started = {t.number: t.datetime_start for t in study.trials}
    study.tell(study.ask(), state=TrialState.FAIL)  # a trial cut short by Ctrl-C: runs again

    second = rnnkit.search.run("classify", trials=4, **args)
    study = optuna.load_study(study_name="search", storage=storage)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert second["n_trials"] == 4 and len(complete) == 4 and len(study.trials) == 5
    assert {t.number: t.datetime_start for t in study.trials[:2]} == started  # not run again
    assert len({t.params["lr"] for t in complete}) == 4  # the resumed sampler repeats nothing
    unlocked_runs(out, [3, 4])
    assert not (out / "trials" / "0002").exists()

    with pytest.raises(UserError, match="was made with space"):
        rnnkit.search.run("classify", trials=4, **{**args, "space": {"lr": [0.01, 0.02]}})
    with pytest.raises(UserError, match="holds the trials of another search"):
        rnnkit.search.run("classify", trials=4, study="another", **args)


def test_a_bad_search_fails_before_any_trial(tmp_path, tweets, capsys):
    space = tmp_path / "space.toml"
    space.write_text("[lr]\nlow = 0.1\nhigh = 0.01\n")
    out = tmp_path / "bad"
    code, _, err = run_cli(capsys, "search", "classify", "--data", tweets, "--space", space,
                           "--out", out)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "empty range" in err
    assert not out.exists()
    space.write_text("[lr]\nlow = 0.01\nhigh = 0.1\n")
    code, _, err = run_cli(capsys, "search", "classify", "--data", tweets, "--space", space,
                           "--sampler", "grid", "--out", out)  # fmt: skip
    assert code == 2 and "the grid sampler needs a finite list" in err


def test_trials_that_all_fail_end_the_search(tmp_path):
    with pytest.raises(UserError, match="3 trials failed in a row, the last with: .*missing"):
        rnnkit.search.run(
            "classify", data=str(tmp_path / "missing.csv"), space={"lr": [0.01, 0.02]},
            out=tmp_path / "fails", sampler="random", trials=5, verbose=0, **TINY,
        )  # fmt: skip


def test_a_timeout_starts_no_trial_after_it(tmp_path, tweets):
    results = rnnkit.search.run(
        "classify", data=str(tweets), space={"lr": [0.01, 0.02, 0.03]}, out=tmp_path / "t",
        sampler="random", trials=3, timeout=1e-4, plots=False, verbose=0, **TINY,
    )  # fmt: skip
    assert results["n_trials"] == 1  # the first trial runs; none starts after the 6 ms


@pytest.mark.slow
def test_two_worker_processes_share_one_sqlite_storage(tmp_path, tweets):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    results = rnnkit.search.run(
        "classify", data=str(tweets), space={"lr": {"low": 1e-3, "high": 5e-2, "log": True}},
        out=tmp_path / "workers", storage=storage, study="two", workers=2, threads=2,
        sampler="random", trials=4, pruner="none", plots=False, verbose=0, **TINY,
    )  # fmt: skip
    study = optuna.load_study(study_name="two", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4  # exactly 4, none extra
    assert len({t.params["lr"] for t in study.trials}) == 4  # no trial repeated
    assert results["n_complete"] == 4
    unlocked_runs(tmp_path / "workers", range(4))
