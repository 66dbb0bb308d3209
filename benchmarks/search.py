"""Hyperparameter search quality on the GOP-debate tweets: TPE vs random vs a Gaussian process.

The course's split (scikit-learn ``train_test_split(test_size=0.33, random_state=42)`` of the
13,871 tweets, 3 classes) and, from the same run, its baselines: the majority class and TF-IDF +
logistic regression (fit on the course's training part), and rnnkit's default classifier. Then
``rnnkit.search.run`` with each sampler on the same budget (``--trials`` trials, at most
``--minutes`` minutes each), tuning on the validation split the task cuts from the training
part; the best trial of each is scored once on the course's test part. Prints a table, draws the
best-so-far curves (validation accuracy against trials and minutes) and writes
``benchmarks/results/search-gop[-NAME].json`` and ``.png``.

    RNNKIT_DATA=../shared/data python benchmarks/search.py                       # 3 x 60 min
    RNNKIT_DATA=../shared/data python benchmarks/search.py --samplers tpe        # the issue's run
    RNNKIT_DATA=../shared/data python benchmarks/search.py --smoke               # a minute or two
    RNNKIT_DATA=../shared/data python benchmarks/search.py --samplers tpe --ensemble 10 \
        --name tpe-ensemble                 # also the trials' ensemble (select_ensemble)
    RNNKIT_DATA=../shared/data python benchmarks/search.py --samplers tpe --cv 3 \
        --name tpe-cv3     # trials scored by 3-fold cross-validation, the best's 3 models averaged
    RNNKIT_DATA=../shared/data python benchmarks/search.py --samplers tpe --cv 3 --ensemble 10 \
        --name tpe-cv3-ensemble  # + trials picked on out-of-fold predictions, folds averaged
    RNNKIT_DATA=../shared/data python benchmarks/search.py --samplers random --no-defaults \
        --name random                                  # another sampler, defaults from the first
    python benchmarks/search.py --combine results/search-gop-tpe.json \\
        results/search-gop-random-gp.json --name all               # one plot from two runs

Target (issue 16): a TPE search of 40 trials in at most 60 minutes on a 2-core CPU finds
settings whose test accuracy beats the defaults and TF-IDF + logistic regression.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from quality import RESULTS, machine_info
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import rnnkit
import rnnkit.search
from rnnkit.data import load_dataset

# the space searched: the settings the course tunes, the recurrent ones, and those that moved
# the validation accuracy by hand (one run each, 1 thread, the task's validation split): the
# class weights (balance auto 0.638 vs none 0.686 at hidden 64), the model's size (hidden 256:
# 0.663, 64: 0.686, 32: 0.682; 9,000 tweets need no more), embedding dropout, concat pooling
SPACE = {
    "lr": {"low": 3e-4, "high": 1e-2, "log": True},
    "hidden": {"low": 32, "high": 128, "step": 32},
    "embed": {"choices": [32, 64, 128]},
    "optimizer": {"choices": ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]},
    "init": {"choices": ["uniform", "lecun", "normal", "glorot_normal", "glorot_uniform", "he"]},
    "dropout": {"low": 0.0, "high": 0.7},
    "embed_dropout": {"low": 0.0, "high": 0.5},
    "cell": {"choices": ["lstm", "gru"]},
    "pooling": {"choices": ["last", "mean", "max", "concat"]},
    "balance": {"choices": ["none", "balanced"]},
}
# tweets are short; the course's test part is held out here, so the task cuts no test split of
# its own (test_fraction 0): every training tweet trains or validates
FIXED = {"epochs": 6, "max_length": 40, "test_fraction": 0.0, "plot": False}
SMOKE = {"epochs": 1, "max_length": 20, "limit": 600, "test_fraction": 0.0, "plot": False}


def course_split(work: Path) -> tuple[Path, list[str], list[str], list[str], list[str]]:
    """The course's train/test split: the training part as a CSV (text, label) for the task,
    and both parts in memory."""
    data = load_dataset("gop-debate")["train"]  # all 13,871 tweets
    texts, labels = list(data.texts), [str(label) for label in data.labels]
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.33, random_state=42
    )
    path = work / "gop-train.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows(zip(x_train, y_train))
    return path, x_train, y_train, x_test, y_test


def tfidf_lr(x_train, y_train, x_test, y_test) -> float:
    """Accuracy on (x_test, y_test) of TF-IDF (words and word pairs) + logistic regression."""
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(max_iter=2000).fit(tfidf.fit_transform(x_train), y_train)
    predicted = model.predict(tfidf.transform(x_test))
    return float(np.mean(predicted == np.array(y_test)))


def baselines(x_train, y_train, x_test, y_test) -> dict[str, float]:
    majority = max(set(y_train), key=y_train.count)
    return {
        "majority class": float(np.mean([y == majority for y in y_test])),
        "TF-IDF + logistic regression": tfidf_lr(x_train, y_train, x_test, y_test),
    }


def task_splits(train_csv: Path, fixed: dict) -> dict:
    """The task's own train/validation cut of the course's training part (what every trial
    trains on and validates with)."""
    from rnnkit.tasks.classify.data import TextData, load_splits

    names = ("test_fraction", "val_fraction", "split_seed", "limit", "folds", "fold")
    return load_splits(
        TextData(source=str(train_csv), **{k: v for k, v in fixed.items() if k in names})
    )


def validation_baseline(splits: dict) -> float:
    """TF-IDF + logistic regression on the task's train/validation cut: the line the
    searches' validation accuracies compare with."""
    train, val = splits["train"], splits["val"]
    return tfidf_lr(train.texts, train.labels, val.texts, val.labels)


def best_so_far(trials: list[dict], maximize: bool = True) -> dict[str, list[float]]:
    """The best validation value after each trial (in trial order) and the minutes spent."""
    best, minutes, values, spent = None, [], [], 0.0
    for trial in sorted(trials, key=lambda t: t["number"]):
        spent += (trial["time_s"] or 0.0) / 60
        if trial["state"] == "complete" and trial["value"] is not None:
            if best is None or (trial["value"] > best if maximize else trial["value"] < best):
                best = trial["value"]
        values.append(best)
        minutes.append(round(spent, 3))
    return {"best": values, "minutes": minutes}


def draw(curves: dict[str, dict], baseline: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_trial, by_time) = plt.subplots(1, 2, figsize=(11, 4))
    for sampler, curve in curves.items():
        by_trial.step(range(1, len(curve["best"]) + 1), curve["best"], where="post", label=sampler)
        by_time.step(curve["minutes"], curve["best"], where="post", label=sampler)
    for axes, label in ((by_trial, "trials"), (by_time, "minutes")):
        axes.axhline(baseline, color="gray", linestyle=":", label="TF-IDF + LR (validation)")
        axes.set_xlabel(label)
        axes.set_ylabel("best validation accuracy so far")
        axes.legend()
    figure.suptitle("GOP-debate tweets: hyperparameter search, best so far")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def combine(paths: list[Path], name: str) -> int:
    """One table, plot and JSON (``search-gop-NAME``) from runs that searched with different
    samplers on the same split and budget (their baselines are the same up to run-to-run noise
    of the rnnkit defaults: each run's are kept)."""
    records = [json.loads(p.read_text()) for p in paths]
    searches, curves, tests = {}, {}, {}
    for record in records:
        searches.update(record["searches"])
        curves.update(record["best_so_far"])
        tests.update({k: v for k, v in record["test_accuracy"].items() if k.startswith("search")})
    first = records[0]
    scores = {k: v for k, v in first["test_accuracy"].items() if not k.startswith("search")}
    scores.update(tests)
    for name_, value in scores.items():
        print(f"{name_:32s} {value:13.4f}")
    line = first.get("val_accuracy", scores)["TF-IDF + logistic regression"]  # older runs: test
    draw(curves, line, RESULTS / f"search-gop-{name}.png")
    merged = {**first, "command": " ".join(["python", "benchmarks/search.py", *sys.argv[1:]]),
              "combined_from": [str(p) for p in paths], "test_accuracy": scores,
              "searches": searches, "best_so_far": curves,
              "machines": [r["machine"] for r in records]}  # fmt: skip
    (RESULTS / f"search-gop-{name}.json").write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {RESULTS / f'search-gop-{name}.json'} and .png")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="+", default=["tpe", "random", "gp"])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=60.0, help="per sampler")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--smoke", action="store_true", help="3 trials on 600 tweets, 1 epoch (no result file)"
    )
    parser.add_argument("--name", help="suffix of the results files")
    parser.add_argument(
        "--cv", type=int, default=1, metavar="K",
        help="score each trial by K-fold cross-validation (rnnkit.search's cv; 1: the task's "
        "one validation cut); also scores the best trial's K fold models averaged",
    )  # fmt: skip
    parser.add_argument(
        "--ensemble", type=int, default=0, metavar="PICKS",
        help="also score an ensemble of each search's trials, selected greedily on the "
        "validation split over PICKS picks (rnnkit.search.select_ensemble; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--embeddings", metavar="FILE",
        help="start every trial's embedding from these word vectors (e.g. rnnkit vectors "
        "--data imdb-unsup): the space searches freeze_embeddings instead of embed",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0,
        help="seeds the samplers and every trial's training (the task's seed; default: 0)",
    )  # fmt: skip
    parser.add_argument("--keep", metavar="DIR", help="keep the searches' folders in DIR")
    parser.add_argument(
        "--no-defaults", action="store_true",
        help="do not train rnnkit's defaults (another run of the same split has them)",
    )  # fmt: skip
    parser.add_argument(
        "--combine", nargs="+", metavar="JSON",
        help="no search: draw and merge the results of earlier runs (e.g. one sampler each)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.combine:
        return combine([Path(p) for p in args.combine], args.name or "combined")
    torch.set_num_threads(args.threads)
    fixed, trials = (SMOKE, 3) if args.smoke else (FIXED, args.trials)
    fixed = {**fixed, "seed": args.seed}
    started = time.time()
    info = machine_info()
    work = Path(args.keep or tempfile.mkdtemp(prefix="rnnkit-search-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    train_csv, x_train, y_train, x_test, y_test = course_split(work)
    scores = baselines(x_train, y_train, x_test, y_test)
    splits = task_splits(train_csv, fixed)
    val_scores = {"TF-IDF + logistic regression": validation_baseline(splits)}

    if not args.no_defaults:
        default = rnnkit.TextClassifier(verbose=0, **fixed).fit(data=str(train_csv))
        scores["rnnkit defaults"] = default.evaluate(x_test, y_test)["accuracy"]
        val_scores["rnnkit defaults"] = default.fit_result["val_accuracy"]
    space = SPACE
    if args.embeddings:  # the vectors set the embedding size; whether to tune them is searched
        fixed = {**fixed, "embeddings": str(Path(args.embeddings).resolve())}
        space = {k: v for k, v in SPACE.items() if k != "embed"}
        space["freeze_embeddings"] = {"choices": [False, True]}
    rows, curves = {}, {}
    for sampler in args.samplers:
        out = work / f"search-{sampler}"
        results = rnnkit.search.run(
            "classify", data=str(train_csv), space=space, out=out, sampler=sampler,
            trials=trials, timeout=args.minutes, startup_trials=min(10, trials), plots=False,
            cv=args.cv, **fixed,
        )  # fmt: skip
        best = rnnkit.load(results["best_run"])
        test = best.evaluate(x_test, y_test)["accuracy"]
        scores[f"search: {sampler}"] = test
        curves[sampler] = best_so_far(results["trials"])
        rows[sampler] = {
            "trials": results["n_trials"], "complete": results["n_complete"],
            "pruned": results["n_pruned"], "failed": results["n_failed"],
            "best_val_accuracy": results["best_value"], "test_accuracy": test,
            "best_params": results["best_params"],
            "minutes": round(sum((t["time_s"] or 0) for t in results["trials"]) / 60, 2),
        }  # fmt: skip
        if args.cv > 1:  # the best trial's fold models, their probabilities averaged
            best = next(t for t in results["trials"] if t["number"] == results["best_trial"])
            runs = best["fold_runs"]  # its run folders, fold 0 first
            folds = [rnnkit.load(run) for run in runs]
            mean = np.mean([m.predict_proba(x_test) for m in folds], axis=0)  # (N, C)
            predicted = np.asarray(folds[0].classes_)[mean.argmax(axis=1)]
            scores[f"search: {sampler}, its {args.cv} fold models"] = float(
                np.mean(predicted == np.array(y_test))
            )
        if args.ensemble:
            if args.cv > 1:  # selected on out-of-fold predictions
                ensemble = rnnkit.search.select_ensemble(results, size=args.ensemble)
            else:  # selected on the one validation cut
                val = task_splits(train_csv, fixed)["val"]
                ensemble = rnnkit.search.select_ensemble(
                    results, val.texts, [str(label) for label in val.labels], size=args.ensemble
                )
            scores[f"search: {sampler} ensemble"] = float(
                np.mean(ensemble.predict(x_test) == np.array(y_test))
            )
            val_scores[f"search: {sampler} ensemble"] = ensemble.val_accuracy
            rows[sampler]["ensemble"] = {
                "size": args.ensemble, "val_accuracy": ensemble.val_accuracy,
                "test_accuracy": scores[f"search: {sampler} ensemble"],
                "members": [{**m, "run": Path(m["run"]).name} for m in ensemble.summary()],
            }  # fmt: skip

    print(f"GOP-debate, course split: {len(x_train)} train, {len(x_test)} test tweets")
    print(f"{'model':32s} {'test accuracy':>13s}")
    for name, value in scores.items():
        print(f"{name:32s} {value:13.4f}")
    for name, value in val_scores.items():
        print(f"{name + ' (val)':36s} {value:9.4f}")
    for sampler, row in rows.items():
        print(f"{sampler}: {row['trials']} trials ({row['pruned']} pruned) in {row['minutes']} "
              f"min; best val {row['best_val_accuracy']:.4f}; {row['best_params']}")  # fmt: skip

    suffix = f"-{args.name}" if args.name else ""
    folder = work if args.smoke and not args.name else RESULTS  # a smoke run is no result
    folder.mkdir(exist_ok=True)
    draw(curves, val_scores["TF-IDF + logistic regression"], folder / f"search-gop{suffix}.png")
    record = {
        "benchmark": "search-gop",
        "command": " ".join(["python", "benchmarks/search.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "split": {"test_size": 0.33, "random_state": 42, "train": len(x_train),
                  "test": len(x_test)},  # fmt: skip
        "fixed": fixed, "space": space, "trials": trials, "minutes_per_sampler": args.minutes,
        "cv": args.cv, "ensemble_picks": args.ensemble,
        "test_accuracy": scores, "val_accuracy": val_scores, "searches": rows,
        "best_so_far": curves,
        "total_minutes": round((time.time() - started) / 60, 2),
    }  # fmt: skip
    (folder / f"search-gop{suffix}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {folder / f'search-gop{suffix}.json'} and .png")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
