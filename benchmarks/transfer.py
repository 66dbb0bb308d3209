"""Transfer learning for IMDb (issue #20): what word vectors and language-model pre-training on
the 50,000 unlabelled reviews buy over a plain BiLSTM, beside TF-IDF + logistic regression.

Four rows, each trained once and scored once on the 25,000 test reviews (pre-training time
included in a row's time):

1. plain BiLSTM: ``rnnkit train classify --data imdb --keep end`` (the defaults);
2. + word vectors: ``rnnkit vectors --data imdb-unsup`` (word2vec on the unlabelled and
   training reviews), then ``--embeddings`` into the same BiLSTM;
3. + LM pre-training and fine-tuning (ULMFiT): ``rnnkit train lm --data imdb-unsup --level
   word --adaptive-softmax 2000 10000 --dropout 0.1`` (45 minutes), then ``rnnkit train
   classify --encoder-from LM --pooling concat --lr-decay-per-layer 2.6 --slanted-triangular
   --gradual-unfreeze`` (40 minutes);
4. TF-IDF (1-2 grams) + logistic regression (scikit-learn), fitted on the classifier's own
   training split (the validation cut left out), scored on the same test reviews.

    RNNKIT_DATA=../shared/data python benchmarks/transfer.py --threads 1        # about 3 hours
    RNNKIT_DATA=../shared/data python benchmarks/transfer.py --tiny             # a minute: a check

``--members K`` trains K seeds on the word vectors and scores their mean probabilities too;
``--add-to NAME --members K`` trains K more seeds on the vectors of result NAME and scores the
mean of its members and the new ones (the README's 11 seeds: 5, then 6 more).

``--tiny`` runs every row on slices (a few hundred reviews, tiny models, seconds of training)
to check the pipeline; its numbers mean nothing. Results: ``benchmarks/results/transfer-NAME.json``
and a table on stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

import torch
from quality import RESULTS, machine_info, run_json

# row -> minutes of each stage (real runs); --minutes-scale multiplies them all
BUDGETS = {"bilstm": 30.0, "vectors_classify": 30.0, "lm": 45.0, "finetune": 40.0}
# the language model sees well under one pass over the 18 million words in its budget: an
# adaptive softmax (4.7x faster steps than the full 30,000-word softmax, measured) and light
# dropout, as there is no second pass to overfit
LM = ["--adaptive-softmax", "2000", "10000", "--dropout", "0.1"]
TINY = {
    "classify": ["--limit", "300", "--hidden", "16", "--max-length", "60"],
    "vectors": ["--limit", "400", "--dim", "16", "--epochs", "1"],
    "lm": ["--max-documents", "400", "--hidden", "16", "--layers", "2", "--seq-length", "20",
           "--sample-length", "0", "--max-vocab", "2000", "--adaptive-softmax", "200", "1000"],
    "finetune": ["--limit", "300", "--max-length", "60"],
}  # fmt: skip
# the word-vector members' rows: written by ensemble_rows, read back by earlier_members
MEMBER_ROW, MEAN_ROW = "+ word vectors, seed ", "+ word vectors, mean of "
ULMFIT = ["--pooling", "concat", "--lr-decay-per-layer", "2.6", "--slanted-triangular",
          "--gradual-unfreeze", "--keep", "end"]  # fmt: skip


def timed(argv: list[str]) -> tuple[dict, float]:
    """``rnnkit ARGV --json``'s result (with the command line under "command") and seconds."""
    print(f"$ rnnkit {shlex.join(argv)}", file=sys.stderr)
    start = time.monotonic()
    result = run_json(argv)
    return {**result, "command": f"rnnkit {shlex.join(argv)}"}, time.monotonic() - start


def test_accuracy(run_dir: Path) -> dict:
    """``rnnkit evaluate RUN --split test`` (the run's data settings: a --limit limits it too)."""
    return run_json(["evaluate", str(run_dir), "--split", "test"])


def tfidf_row(tiny: bool) -> dict:
    """TF-IDF + logistic regression on the classifier's training split, scored on test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from rnnkit.tasks.classify.data import TextData, load_splits

    start = time.monotonic()
    splits = load_splits(TextData(source="imdb", limit=300 if tiny else None))
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = tfidf.fit_transform(splits["train"].texts)
    model = LogisticRegression(max_iter=2000, C=4.0).fit(x_train, splits["train"].labels)
    predicted = model.predict(tfidf.transform(splits["test"].texts))
    correct = sum(p == t for p, t in zip(predicted, splits["test"].labels, strict=True))
    return {
        "row": "TF-IDF + logistic regression",
        "test_accuracy": correct / len(splits["test"]),
        "n": len(splits["test"]),
        "time_s": round(time.monotonic() - start, 1),
        "command": "sklearn TfidfVectorizer(1-2 grams, min_df 2, sublinear tf) + "
        "LogisticRegression(C=4) on the classifier's training split",
    }


def ensemble_rows(
    members: list[tuple[Path, dict, float]], vector_s: float, made: dict, tiny: bool
) -> list[dict]:
    """One row per seed's classifier and one for their mean class probabilities

        P(y | x) = 1/K Σ_k P_k(y | x)

    (no weights fitted: the validation split plays no part), all scored once on the test
    reviews from one pass of each model (``predict_proba``, the reading ``rnnkit evaluate`` does:
    ``--tiny`` checks they agree)."""
    import numpy as np

    import rnnkit
    from rnnkit.tasks.classify.data import TextData, load_splits

    test = load_splits(TextData(source="imdb", limit=300 if tiny else None))["test"]
    labels, rows, total, start = np.asarray(test.labels), [], 0.0, time.monotonic()
    for seed, (out, trained, seconds) in enumerate(members):
        model = rnnkit.load(out)
        probabilities = model.predict_proba(test.texts)  # (N, C)
        accuracy = float((np.asarray(model.classes_)[probabilities.argmax(1)] == labels).mean())
        if tiny:  # the same number as the CLI's scoring
            assert abs(accuracy - test_accuracy(out)["accuracy"]) < 1e-9, (out, accuracy)
        total = total + probabilities
        rows.append({"row": f"{MEMBER_ROW}{seed}", "test_accuracy": accuracy,
                     "n": len(labels), "time_s": round(vector_s + seconds, 1),
                     "train_s": round(seconds, 1), "train": trained})  # fmt: skip
    mean = np.asarray(model.classes_)[total.argmax(1)]  # classes_ agree: same data, same labels
    train_s = sum(seconds for _, _, seconds in members)
    rows.append({"row": f"{MEAN_ROW}{len(members)} seeds",
                 "test_accuracy": float((mean == labels).mean()), "n": len(labels),
                 "time_s": round(vector_s + train_s, 1), "vectors_s": round(vector_s, 1),
                 "vectors": made,
                 "scoring_s": round(time.monotonic() - start, 1)})  # fmt: skip
    return rows


def earlier_members(name: str) -> tuple[dict, float, list[tuple[Path, dict, float]]]:
    """The word vectors (their result and seconds) and the trained members of result NAME."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"--add-to: no result {path} (expected an earlier run's --name)")
    rows = json.loads(path.read_text())["rows"]
    members = [(Path(row["train"]["out"]), row["train"], row["train_s"])
               for row in rows if row["row"].startswith(MEMBER_ROW)]  # fmt: skip
    mean = next((row for row in rows if row["row"].startswith(MEAN_ROW)), None)
    if mean is None or not all(out.is_dir() for out, _, _ in members):
        raise SystemExit(
            f"--add-to: {path} has no word-vector members on this machine "
            "(expected a run with --members 2 or more, its run folders kept)"
        )
    return mean["vectors"], mean["vectors_s"], members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="slices and tiny models: a check")
    parser.add_argument("--minutes-scale", type=float, default=1.0,
                        help="multiply every stage's budget (default: 1)")  # fmt: skip
    parser.add_argument("--rows", default="bilstm,vectors,ulmfit,tfidf",
                        help="which rows, comma-separated (default: all four)")  # fmt: skip
    parser.add_argument("--runs", default="runs/transfer", help="where run folders go")
    parser.add_argument("--name", help="result name (default: transfer or transfer-tiny)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 on a shared machine)")
    parser.add_argument("--extra", default="",
                        help="more options for the BiLSTM rows' classifiers, e.g. "
                        "'--max-length 800 --lr-schedule cosine'")  # fmt: skip
    parser.add_argument("--members", type=int, default=1,
                        help="classifiers on the word vectors, seeds 0..K-1; above 1 the "
                        "row also scores their mean probabilities (default: 1)")  # fmt: skip
    parser.add_argument("--add-to", metavar="NAME",
                        help="add --members more seeds to the word-vector members of result "
                        "NAME (its vectors, its trained members, the seeds after theirs) and "
                        "score the mean of them all; times add up")  # fmt: skip
    parser.add_argument("--vectors-extra", default="",
                        help="more options for rnnkit vectors, e.g. '--dim 200'")  # fmt: skip
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tiny, runs = args.tiny, Path(args.runs)
    rows = args.rows.split(",")

    def budget(stage: str) -> list[str]:
        minutes = 0.05 if tiny else BUDGETS[stage] * args.minutes_scale
        return ["--max-time", f"{minutes:g}"]

    common = ["--overwrite", "--no-progress", *(["--threads", str(args.threads)]
                                                 if args.threads else [])]  # fmt: skip
    classify_options = [*(TINY["classify"] if tiny else []), *shlex.split(args.extra)]
    info, started, table = machine_info(), time.time(), []

    if "bilstm" in rows:
        out = runs / "bilstm"
        trained, seconds = timed(["train", "classify", "--data", "imdb", "--keep", "end",
                                  *budget("bilstm"), *classify_options,
                                  *(["--embed", "16"] if tiny else []), "--out", str(out),
                                  *common])  # fmt: skip
        scored = test_accuracy(out)
        table.append({"row": "plain BiLSTM", "test_accuracy": scored["accuracy"],
                      "n": scored["n"], "time_s": round(seconds, 1), "train": trained})  # fmt: skip
    if "vectors" in rows:
        if args.add_to:
            made, vector_s, members = earlier_members(args.add_to)
            vectors = Path(made["out"])
        else:
            vectors = runs / "imdb-vectors.txt"
            made, vector_s = timed(["vectors", "--data", "imdb-unsup", "--out", str(vectors),
                                    *(TINY["vectors"] if tiny else []),
                                    *shlex.split(args.vectors_extra)])  # fmt: skip
            members = []  # (run folder, training result, seconds) of each seed's classifier
        for seed in range(len(members), len(members) + args.members):
            out = runs / ("vectors" if args.members == 1 and not members
                          else f"vectors-seed{seed}")  # fmt: skip
            trained, seconds = timed(["train", "classify", "--data", "imdb", "--keep", "end",
                                      "--embeddings", str(vectors), *budget("vectors_classify"),
                                      *classify_options, *(["--seed", str(seed)] if seed else []),
                                      "--out", str(out), *common])  # fmt: skip
            members.append((out, trained, seconds))
        if len(members) == 1:
            out, trained, seconds = members[0]
            scored = test_accuracy(out)
            table.append({"row": "+ word vectors (word2vec on the unlabelled reviews)",
                          "test_accuracy": scored["accuracy"], "n": scored["n"],
                          "time_s": round(vector_s + seconds, 1), "vectors": made,
                          "train": trained})  # fmt: skip
        else:
            table.extend(ensemble_rows(members, vector_s, made, tiny))
    if "ulmfit" in rows:
        lm = runs / "lm"
        pretrained, lm_s = timed(["train", "lm", "--data", "imdb-unsup", "--level", "word", *LM,
                                  *budget("lm"), *(TINY["lm"] if tiny else []), "--out", str(lm),
                                  *common])  # fmt: skip
        out = runs / "ulmfit"
        trained, seconds = timed(["train", "classify", "--data", "imdb", "--encoder-from",
                                  str(lm), *ULMFIT, *budget("finetune"),
                                  *(TINY["finetune"] if tiny else []), "--out", str(out),
                                  *common])  # fmt: skip
        scored = test_accuracy(out)
        table.append({"row": "+ LM pre-training and fine-tuning (ULMFiT)",
                      "test_accuracy": scored["accuracy"], "n": scored["n"],
                      "time_s": round(lm_s + seconds, 1), "lm": pretrained,
                      "train": trained})  # fmt: skip
    if "tfidf" in rows:
        table.append(tfidf_row(tiny))

    name = args.name or ("transfer-tiny" if tiny else "transfer")
    result = {
        "benchmark": "transfer",
        "name": name,
        "tiny": tiny,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "rows": table,
        "wall_s": round(time.time() - started, 1),
        **({"added_to": args.add_to} if args.add_to else {}),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| IMDb{' (tiny check: meaningless)' if tiny else ''} | test accuracy | time |")
    print("|---|---|---|")
    for row in table:
        print(f"| {row['row']} | {100 * row['test_accuracy']:.2f}% | "
              f"{row['time_s'] / 60:.1f} min |")  # fmt: skip
    print(f"-> {path}")


if __name__ == "__main__":
    main()
