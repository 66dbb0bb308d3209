"""The Numenta Anomaly Benchmark: rnnkit's detectors and baselines over NAB's 58 series, scored
with NAB's function (``rnnkit.tasks.forecast.nab_score``) in its three application profiles.

Detectors: ``null`` (no detections: 0 by definition), NAB's ``windowed_gaussian`` (its published
baseline, reproduced here to check the scorer), a rolling ``zscore`` (a value's distance from
the mean of the values before it), and rnnkit's LSTM detectors ``prediction`` (one-step forecast
error) and ``autoencoder`` (window reconstruction error), both turned into an anomaly likelihood
and learning on each series' probationary period only. The last three are
``rnnkit.AnomalyDetector`` with its default settings (``DetectorSettings``), one alarm per event
(``quiet``) included.

Each detector is scored three ways:

* ``nab``: NAB's leaderboard protocol, one threshold per profile maximising the corpus score
  (chosen with every series' labels, as NAB's ``optimize`` step does);
* ``loo``: each series at the threshold that is best on the other series (its own labels
  unseen);
* ``own``: each series at the detector's label-free threshold (from its probationary period,
  see ``rnnkit.tasks.forecast.detect``); the null and windowed Gaussian detectors have none.

The detector defaults (``average`` 1, ``history`` 8640, ``quiet`` 400) were picked by comparing a
few values on this corpus' standard score, so the ``nab`` and ``loo`` figures of the LSTM and
zscore detectors are somewhat optimistic; NAB's published detectors were tuned the same way.

    RNNKIT_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/nab.py               # all 58
    RNNKIT_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/nab.py --series 3    # quick

Prints the table and writes ``benchmarks/results/nab[-NAME].json``. Published (NAB v1.1,
standard / low FP / low FN): windowed Gaussian 39.6 / 20.9 / 47.4, Numenta HTM 70.5 / 62.6 /
75.2; target (issue 15): a causal LSTM detector above 55 on the standard profile.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time

import numpy as np
import torch
from quality import RESULTS, machine_info
from tqdm.auto import tqdm

from rnnkit.data.resolve import resolve
from rnnkit.tasks.forecast.detect import AnomalyDetector, DetectorSettings, windowed_gaussian
from rnnkit.tasks.forecast.nab_score import (
    PROFILES,
    best_threshold,
    corpus_score,
    leave_one_out_thresholds,
    read_nab_corpus,
    sweep,
)

DETECTORS = ("null", "windowed_gaussian", "zscore", "prediction", "autoencoder")


def detect(name: str, values: np.ndarray, settings: DetectorSettings):
    """(scores (n,), the detector's label-free threshold or None)."""
    if name == "null":
        return np.zeros(len(values)), None
    if name == "windowed_gaussian":
        return windowed_gaussian(values), None
    detector = AnomalyDetector(settings.replace(method=name))
    return detector.fit_score(values), detector.threshold_


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, help="score only the first N series (a quick run)")
    parser.add_argument("--detectors", default=",".join(DETECTORS),
                        help=f"comma-separated, of {', '.join(DETECTORS)}")  # fmt: skip
    parser.add_argument("--epochs", type=int, help="LSTM epochs (default: the detector's)")
    parser.add_argument("--name", help="suffix of the results file")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [d.strip() for d in args.detectors.split(",") if d.strip()]
    unknown = set(names) - set(DETECTORS)
    if unknown:
        parser.error(f"unknown detector(s) {sorted(unknown)}; expected {', '.join(DETECTORS)}")
    settings = DetectorSettings()
    if args.epochs:
        settings = settings.replace(epochs=args.epochs)
    started = time.time()
    machine = machine_info()
    corpus = read_nab_corpus(resolve("nab"), args.series)
    windows = sum(len(s.windows) for s in corpus)
    print(f"{len(corpus)} series, {sum(len(s.values) for s in corpus)} rows, {windows} windows",
          file=sys.stderr)  # fmt: skip
    rows = []
    for name in names:
        tick = time.time()
        scored = [detect(name, s.values, settings)
                  for s in tqdm(corpus, desc=name, leave=False)]  # fmt: skip
        seconds = time.time() - tick
        row = {"detector": name, "seconds": round(seconds, 1), "profiles": {}}
        for profile, cost in PROFILES.items():
            sweeps = [sweep(scores, s.windows, cost) for (scores, _), s in zip(scored, corpus)]
            best, _ = best_threshold(sweeps, cost)
            ways = {
                "nab": [best] * len(sweeps),
                "loo": leave_one_out_thresholds(sweeps, cost),
            }
            if all(own is not None for _, own in scored):
                ways["own"] = [own for _, own in scored]
            result = {}
            for way, thresholds in ways.items():
                score = corpus_score(sweeps, thresholds, cost, windows)
                del score["series"]
                result[way] = {**score, "score": round(score["score"], 2)}
            result["nab"]["threshold"] = best
            row["profiles"][profile] = result
        rows.append(row)
        print(f"{name}: {seconds:.0f} s", file=sys.stderr)
    print(table(rows))
    out = RESULTS / f"nab{'-' + args.name if args.name else ''}.json"
    out.write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine,
        "note": "timings taken on a shared 2-core machine under load from other jobs",
        "series": len(corpus),
        "windows": windows,
        "settings": settings.to_dict(),
        "wall_s": round(time.time() - started, 1),
        "rows": rows,
    }, indent=2) + "\n")  # fmt: skip
    print(f"wrote {out}")
    return 0


def table(rows: list[dict]) -> str:
    """NAB scores: one line per detector and threshold choice, one column per profile."""
    short = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}
    lines = [f"{'detector':18}{'threshold':>10}" + "".join(f"{v:>10}" for v in short.values())
             + f"{'windows':>10}{'FP rows':>9}{'seconds':>9}"]  # fmt: skip
    for row in rows:
        for way in ("nab", "loo", "own"):
            if way not in row["profiles"]["standard"]:
                continue
            cells = "".join(f"{row['profiles'][p][way]['score']:>10.1f}" for p in short)
            standard = row["profiles"]["standard"][way]
            found = f"{standard['windows_detected']}/{standard['windows']}"
            lines.append(f"{row['detector']:18}{way:>10}{cells}{found:>10}"
                         f"{standard['false_positives']:>9}{row['seconds']:>9.0f}")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
