"""Polyphonic music (issue #17): test NLL per time step (nats, summed over the 88 keys, averaged
over every frame of the test pieces) and frame accuracy of rnnkit's RNN/LSTM/GRU on Nottingham,
MuseData and Piano-midi.de, beside the baselines scored on the same frames and published numbers.

    RNNKIT_DATA=../shared/data python benchmarks/music.py --minutes 30          # the real run
    RNNKIT_DATA=../shared/data python benchmarks/music.py --datasets nottingham --cells lstm \\
        --minutes 0.5 --extra "--limit 40 --hidden 32" --name smoke --threads 1   # a quick check
    RNNKIT_DATA=../shared/data python benchmarks/music.py --cells rnn lstm gru --params 20000 \\
        --name small   # Chung et al. 2014's size: each cell's width picked for ~20k parameters

Baselines (fitted on the training frames, add-one smoothed): each key on with its training
frequency; a per-key two-state Markov chain; repeating the previous frame (accuracy only).
Published (NLL per time step): Nottingham — LSTM 3.29, GRU 3.46, tanh RNN 4.05 and TCN 3.07
(Bai et al. 2018's Table 1), RNN-NADE 2.31 (Boulanger-Lewandowski et al. 2012);
MuseData — RNN 6.99, Piano-midi.de — RNN 7.46 (Pascanu et al. 2013). The best epoch is chosen on
the validation split; the test split is scored once at the end. "NLL w/o 1st" leaves out each
piece's first frame (predicted from silence), as Bai et al. 2018's code scores.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
from pathlib import Path

from quality import add_run_options, run_json, start_run, write_result
from safetensors import safe_open

from rnnkit.models.music import PianoRollRNN, PianoRollRNNConfig

DATASETS = ("nottingham", "musedata", "piano-midi")
CELLS = ("rnn", "lstm", "gru")
PUBLISHED = {  # dataset -> model -> NLL per time step
    "nottingham": {"LSTM (Bai 2018)": 3.29, "GRU (Bai 2018)": 3.46,
                   "tanh RNN (Bai 2018)": 4.05, "TCN (Bai 2018)": 3.07,
                   "RNN-NADE (Boulanger-L. 2012)": 2.31},
    "musedata": {"RNN (Pascanu 2013)": 6.99},
    "piano-midi": {"RNN (Pascanu 2013)": 7.46},
}  # fmt: skip


def parameter_count(config: PianoRollRNNConfig) -> int:
    """The number of parameters of a :class:`PianoRollRNN` built from ``config``."""
    return sum(p.numel() for p in PianoRollRNN(config).parameters())


def hidden_for_parameters(cell: str, parameters: int, layers: int = 1) -> int:
    """The hidden size whose ``layers``-layer ``cell`` model has the parameter count nearest to
    ``parameters`` (the count grows with the width, so a bisection finds it)."""
    low, high = 1, 1
    while parameter_count(PianoRollRNNConfig(cell=cell, hidden=high, layers=layers)) < parameters:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        count = parameter_count(PianoRollRNNConfig(cell=cell, hidden=middle, layers=layers))
        low, high = (middle, high) if count < parameters else (low, middle)
    counts = {h: parameter_count(PianoRollRNNConfig(cell=cell, hidden=h, layers=layers))
              for h in (low, high)}  # fmt: skip
    return min(counts, key=lambda h: abs(counts[h] - parameters))


def saved_size(out: Path) -> dict:
    """The trained model's width, depth and parameter count, read from its best checkpoint."""
    model = json.loads((out / "best" / "config.json").read_text())["model"]
    with safe_open(out / "best" / "model.safetensors", "pt") as tensors:
        count = sum(math.prod(tensors.get_slice(name).get_shape()) for name in tensors.keys())
    return {"hidden": model["hidden"], "layers": model["layers"], "parameters": count}


def benchmark(dataset: str, cell: str, args: argparse.Namespace) -> dict:
    """Train ``cell`` on ``dataset`` within the budget (``--params``: at the width that gives
    about that many parameters) and score its test split."""
    out = Path(args.runs) / f"music-{args.name}-{dataset}-{cell}"
    argv = ["train", "music", "--data", dataset, "--cell", cell, "--out", str(out), "--overwrite",
            "--no-progress", "--max-time", str(args.minutes), *shlex.split(args.extra)]  # fmt: skip
    if args.params:
        argv += ["--hidden", str(hidden_for_parameters(cell, args.params))]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    trained = run_json(argv)
    tested = run_json(["evaluate", str(out), "--split", "test"])
    return {"dataset": dataset, "cell": cell, **saved_size(out), "train": trained, "test": tested}


def table(rows: list[dict]) -> str:
    lines = [f"{'dataset':<11} {'model':<44} {'test NLL':>9} {'accuracy':>9} {'NLL w/o 1st':>11}"]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        test = mine[0]["test"]
        for r in mine:
            label = (
                f"rnnkit {r['cell']} {r['hidden']}x{r['layers']}, "
                f"{r['parameters'] / 1000:.0f}k ({r['train']['epochs']} epochs)"
            )
            after_first = r["test"].get("nll_after_first_frame")
            after_first = "-" if after_first is None else f"{after_first:.3f}"
            lines.append(f"{dataset:<11} {label:<44} {r['test']['nll']:>9.3f} "
                         f"{r['test']['accuracy']:>9.3f} {after_first:>11}")  # fmt: skip
        for name, values in test["baselines"].items():
            nll = "-" if values["nll"] is None else f"{values['nll']:.3f}"
            lines.append(f"{'':<11} {'baseline: ' + name:<44} {nll:>9} "
                         f"{values['accuracy']:>9.3f}")  # fmt: skip
        for name, nll in PUBLISHED[dataset].items():
            lines.append(f"{'':<11} {'published: ' + name:<44} {nll:>9.2f} {'':>9}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget per run")
    parser.add_argument(
        "--params",
        type=int,
        help="pick each cell's hidden size (one layer) for about this many parameters, e.g. "
        "20000 (Chung et al. 2014's size)",
    )
    add_run_options(parser, "music", "--hidden 256")
    args = parser.parse_args()
    started, machine = start_run(args)
    rows = [benchmark(d, c, args) for d in args.datasets for c in args.cells]
    print(table(rows))
    write_result("music", args, started, machine, rows, published=PUBLISHED)


if __name__ == "__main__":
    main()
