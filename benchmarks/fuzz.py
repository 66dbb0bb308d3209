"""Fuzz every loader for longer than the test suite does: bad bytes, names and options in, and
nothing but the data or rnnkit's own ``UserError`` out.

The targets are the test suite's (``tests/data/test_fuzz_loaders.py``: CSV/TSV tables, text
files, labelled and text folders, parallel corpora, images (real Flickr8k JPEGs and their
re-encodings, mutated), captioned-image tables and Flickr8k layouts, time-series CSVs (the real
series of ``$RNNKIT_DATA/timeseries``, mutated, and random ones);
``tests/data/test_fuzz_audio.py``: WAV files (real FSDD recordings and their re-encodings,
mutated) through the recordings reader and the speech task's features;
``tests/tasks/test_checkpoint_fuzz.py``: checkpoint JSON files and the training state of tiny
trained runs of classify, lm, translate, caption and forecast),
plus the tar reader with the hostile-archive tests' building blocks. Each target runs
``--examples`` hypothesis examples (random, not the suite's fixed ones); the table gives the calls,
how many ended in a ``UserError`` and how many in any other exception (a bug: the first few are
listed with the example's start). Writes ``benchmarks/results/fuzz.json``.

    RNNKIT_DATA=../shared/data python benchmarks/fuzz.py --examples 2000
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))  # the test suite's fuzz targets: tests.data..., tests.tasks...

import hypothesis  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def archive_target():
    """The tar reader on random bytes, mutated archives and pax records (the hostile-archive
    tests' strategies, well-formed archive and time limit)."""
    from tests.data.test_archive_hostile import _GOOD, pax_tar, read_all

    cases = st.one_of(
        st.binary(max_size=3000),
        st.tuples(st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1,
                           max_size=6), st.integers(0), st.booleans()),
        st.tuples(st.binary(max_size=120), st.booleans()),
    )  # fmt: skip

    def read(root: Path, case) -> None:
        if isinstance(case, bytes):
            data = case
        elif len(case) == 3:
            mutations, cut, compress = case
            buffer = bytearray(gzip.compress(_GOOD, mtime=0) if compress else _GOOD)
            for position, value in mutations:
                buffer[position % len(buffer)] = value
            data = bytes(buffer[: cut % (len(buffer) + 1)] if cut else buffer)
        else:
            records, with_length = case
            if with_length:
                records = b"%d %s\n" % (len(records) + len(str(len(records))) + 2, records)
            data = pax_tar(records)
        path = root / "fuzz.tar"
        path.write_bytes(data)
        read_all(path)  # every member, under the tests' time limit (a hang is a failure)

    return cases, read


def fuzz(name: str, strategy, target, run_case, examples: int, seed: int) -> dict:
    """Run ``examples`` examples of one target; count user errors and other failures."""
    counts = {"loader": name, "calls": 0, "ok": 0, "user_errors": 0, "other_failures": 0}
    failures: list[dict] = []

    @hypothesis.seed(seed)
    @settings(max_examples=examples, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=strategy)
    def check(case):
        counts["calls"] += 1
        try:
            outcome = run_case(target, case)
        except Exception as error:  # noqa: BLE001 - the point: anything but a UserError
            counts["other_failures"] += 1
            if len(failures) < 5:
                failures.append({
                    "error": f"{type(error).__name__}: {str(error)[:300]}",
                    "where": traceback.format_exc().strip().splitlines()[-3][:300],
                    "example": repr(case)[:300],
                })  # fmt: skip
            return
        counts["ok" if outcome == "ok" else "user_errors"] += 1

    start = time.perf_counter()
    check()
    counts["seconds"] = round(time.perf_counter() - start, 1)
    counts["failures"] = failures
    return counts


def run_targets(args: argparse.Namespace, scratch: Path) -> list[dict]:
    """Fuzz each target (tiny runs for the checkpoint targets made under ``scratch``)."""
    from tests.data.test_fuzz_audio import AUDIO_TARGETS
    from tests.data.test_fuzz_loaders import TARGETS, run_case
    from tests.tasks.test_checkpoint_fuzz import checkpoint_targets

    targets = {
        **TARGETS,
        **AUDIO_TARGETS,
        "tar archives": archive_target(),
        **checkpoint_targets(scratch),
    }
    rows = []
    for name, (strategy, target) in targets.items():
        if args.only and name not in args.only:
            continue
        row = fuzz(name, strategy, target, run_case, args.examples, args.seed)
        rows.append(row)
        print(f"{name:34s} {row['calls']:7d} calls {row['user_errors']:7d} user errors "
              f"{row['other_failures']:4d} other failures {row['seconds']:7.1f} s",
              flush=True)  # fmt: skip
        for failure in row["failures"]:
            print(
                f"    {failure['error']}\n      at {failure['where']}\n      {failure['example']}"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="per target (default: 500)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default: 0)")
    parser.add_argument("--only", nargs="*", help="run only these targets (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS / "fuzz.json")
    args = parser.parse_args()
    os.environ.setdefault("RNNKIT_OFFLINE", "1")
    scratch = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-"))  # the cache and the tiny runs
    os.environ["RNNKIT_CACHE"] = str(scratch / "cache")
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)  # the runs' progress lines; errors are counted, not logged
    warnings.simplefilter("ignore")

    try:
        rows = run_targets(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print("\n| loader | calls | user errors | other failures |\n|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['loader']} | {row['calls']:,} | {row['user_errors']:,} | "
              f"{row['other_failures']} |")  # fmt: skip
    total = {key: sum(row[key] for row in rows) for key in ("calls", "user_errors",
                                                               "other_failures")}  # fmt: skip
    print(f"| total | {total['calls']:,} | {total['user_errors']:,} | {total['other_failures']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:]),
        "examples_per_target": args.examples,
        "seed": args.seed,
        "total": total,
        "targets": rows,
    }, indent=2) + "\n")  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
