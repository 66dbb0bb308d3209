"""End-to-end training speed of real tasks under each recurrent engine, on CPU.

Each task's model, objective and training settings are built as ``rnnkit train`` builds them with
its defaults (read from the task modules: ``classify`` for IMDb sentiment, the character level of
``lm`` for Tiny Shakespeare, ``music`` for Nottingham with its LSTM (``music-lstm``) and with a
GRU (``music-gru``)), and ``Trainer.train_step`` is timed: forward, loss, backward, gradient
clipping and the optimizer step, in the task's precision. IMDb and Nottingham batches come from
the task's length-bucketed batches of the real training split, picked at evenly spaced quantiles
of their padded length so that their mean step is the epoch's; Tiny Shakespeare batches are the
first TBPTT windows of the training stream, the state carried between them. For each engine in
``--backends`` the ``backend`` attribute of every rnnkit recurrent layer is set; all engines start
from the same weights and are timed interleaved (each repeat runs every engine once, in turn)
after one warm-up pass. The table gives the median ms per step, steps per second, the projected
minutes per epoch (batches in an epoch of the training split / steps per second) and the ratio to
the first engine. Without the data, or with ``--random-data``, random token ids of the real
vocabulary sizes stand in (IMDb reviews then all at full length: an upper bound), and for
Nottingham random piano rolls of its training split's size.

    RNNKIT_DATA=../shared/data python benchmarks/engine_tasks.py      # JSON to benchmarks/results/
    RNNKIT_DATA=../shared/data python benchmarks/engine_tasks.py --tasks imdb --repeats 9
    python benchmarks/engine_tasks.py --backends torch,fused,auto --threads 1
    RNNKIT_DATA=../shared/data python benchmarks/engine_tasks.py --tasks music-lstm,music-gru \
        --backends auto --threads 1 --steps-per-repeat 16 --repeats 9
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from layers import RESULTS, machine_info, machine_slug

from rnnkit.data import SequenceDataset, get_tokenizer, make_loader
from rnnkit.data.pianoroll import KEYS
from rnnkit.errors import UserError
from rnnkit.models import RNNLanguageModel, SequenceClassifier
from rnnkit.models.music import PianoRollRNN
from rnnkit.nn.engine import check_backend, choose_backend
from rnnkit.tasks.classify import TextClassifier
from rnnkit.tasks.classify.data import encode_texts, fit_vocabulary, load_splits
from rnnkit.tasks.classify.objective import ClassificationObjective
from rnnkit.tasks.lm import LanguageModel
from rnnkit.tasks.lm.data import build_vocabulary, encode_text, make_tokenizer, read_corpus
from rnnkit.tasks.lm.objective import LanguageModelObjective, make_stream
from rnnkit.tasks.music import MusicModel
from rnnkit.tasks.music.data import PianoRollBatches, load_piano_rolls, split_piano_rolls
from rnnkit.tasks.music.objective import MusicObjective
from rnnkit.train import Trainer, seed_everything

IMDB_TRAIN, SHAKESPEARE_CHARS, SHAKESPEARE_VOCAB = 25_000, 1_115_394, 66  # documented sizes
NOTTINGHAM_PIECES, NOTTINGHAM_FRAMES = 694, (40, 1_788)  # train pieces, their lengths' range
CLASSIFY_SETTINGS: dict = {}  # keyword settings over the classify task's defaults
LM_SETTINGS: dict = {}  # keyword settings over the lm task's defaults (none: its defaults)
MUSIC_SETTINGS: dict = {}  # keyword settings over the music task's defaults


def imdb_setup(steps: int, random_data: bool) -> dict:
    """The classify task's default model, objective and config, and ``steps`` real batches."""
    settings = TextClassifier.resolve_settings(CLASSIFY_SETTINGS)
    data, config = settings["data"].replace(source="imdb"), settings["train"]
    batch_size = data.batch_size
    train_set, source = None, "random"
    if not random_data:
        try:
            splits = load_splits(data)
            tokenizer = get_tokenizer(data.level)
            vocab, encoder = fit_vocabulary(splits["train"], tokenizer, data)
            train_set = encode_texts(splits["train"], tokenizer, vocab, encoder, data)
            vocab_size, classes, source = len(vocab), len(encoder), "real"
        except UserError as error:
            print(f"# IMDb not found ({error}); random token ids instead", file=sys.stderr)
    if train_set is None:  # every review at full length, the epoch of the documented train split
        vocab_size, classes, length = data.max_vocab, 2, data.max_length or 400
        ids = torch.randint(1, vocab_size, (steps * batch_size, length)).tolist()
        train_set = SequenceDataset(ids, [i % classes for i in range(len(ids))])
    batches = list(make_loader(train_set, batch_size, shuffle=True, seed=config.seed or 0))
    by_length = sorted(batches, key=lambda b: b.tokens.shape[1])  # (N, L) tokens
    picked = [by_length[int((j + 0.5) * len(by_length) / steps)] for j in range(steps)]
    epoch = len(batches)
    if source == "random":
        epoch = math.ceil((IMDB_TRAIN - round(IMDB_TRAIN * data.val_fraction)) / batch_size)
    seed_everything(config.seed or 0)
    model = SequenceClassifier(
        settings["model"].replace(vocab_size=vocab_size, num_classes=classes)
    )
    lengths = [b.tokens.shape[1] for b in picked]
    return {
        "model": model, "objective": ClassificationObjective(classes), "config": config,
        "batches": picked, "epoch_batches": epoch, "data": source, "batch_size": batch_size,
        "packed": True,  # reviews of different lengths: the layer sees their lengths
        "mean_length": statistics.mean(lengths),
        "epoch_mean_length": statistics.mean(b.tokens.shape[1] for b in batches),
    }  # fmt: skip


def shakespeare_setup(steps: int, random_data: bool) -> dict:
    """The lm task's default character model, objective and config, and ``steps`` windows."""
    settings = LanguageModel.resolve_settings(LM_SETTINGS)
    data, config = settings["data"].replace(source="tinyshakespeare"), settings["train"]
    if random_data:
        train_fraction = 1 - data.val_fraction - data.test_fraction
        vocab_size, source = SHAKESPEARE_VOCAB, "random"
        ids = torch.randint(1, vocab_size, (int(SHAKESPEARE_CHARS * train_fraction),))
    else:
        corpus = read_corpus(data)
        tokenizer = make_tokenizer(data.level, data.source)
        vocab = build_vocabulary(
            corpus.texts, tokenizer, data.level, max_size=data.max_vocab, min_freq=data.min_freq
        )
        ids = encode_text(corpus.texts["train"], tokenizer, vocab, data.level)[0]  # (T,)
        vocab_size, source = len(vocab), "real"
    stream = make_stream(ids, data.batch_size, data.seq_length, "training split")
    batches = [batch for _, batch in zip(range(steps), stream)]
    seed_everything(config.seed or 0)
    model = RNNLanguageModel(settings["model"].replace(vocab_size=vocab_size))
    return {
        "model": model, "objective": LanguageModelObjective(data.level), "config": config,
        "batches": batches, "epoch_batches": len(stream), "data": source,
        "batch_size": stream.batch_size, "mean_length": data.seq_length, "packed": False,
        "epoch_mean_length": data.seq_length,
    }  # fmt: skip


def music_setup(cell: str, steps: int, random_data: bool) -> dict:
    """The music task's default model with ``cell``, objective and config, and ``steps`` batches
    of Nottingham's training chunks (padded to the longest in the batch, not packed: the loss
    masks the padding)."""
    settings = MusicModel.resolve_settings({**MUSIC_SETTINGS, "cell": cell})
    data, config = settings["data"].replace(source="nottingham"), settings["train"]
    pieces, source = None, "random"
    if not random_data:
        try:
            pieces, source = split_piano_rolls(load_piano_rolls(data), data)["train"], "real"
        except UserError as error:
            print(f"# Nottingham not found ({error}); random piano rolls instead", file=sys.stderr)
    if pieces is None:
        generator = torch.Generator().manual_seed(0)
        count = min(NOTTINGHAM_PIECES, data.limit or NOTTINGHAM_PIECES)
        lengths = torch.randint(*NOTTINGHAM_FRAMES, (count,), generator=generator)
        pieces = [
            (torch.rand(int(n), KEYS, generator=generator) < 0.05).float().numpy()  # (T, 88)
            for n in lengths
        ]
    seed = config.seed or 0
    batches = list(PianoRollBatches(
        pieces, data.batch_size, chunk_length=data.chunk_length, shuffle=True, seed=seed
    ))  # fmt: skip
    by_length = sorted(batches, key=lambda b: b.inputs.shape[1])  # (N, T, 88) inputs
    picked = [by_length[int((j + 0.5) * len(by_length) / steps)] for j in range(steps)]
    seed_everything(seed)
    model = PianoRollRNN(settings["model"])
    return {
        "model": model, "objective": MusicObjective(), "config": config, "batches": picked,
        "epoch_batches": len(batches), "data": source, "batch_size": data.batch_size,
        "packed": False, "mean_length": statistics.mean(b.inputs.shape[1] for b in picked),
        "epoch_mean_length": statistics.mean(b.inputs.shape[1] for b in batches),
    }  # fmt: skip


TASKS = {
    "imdb": imdb_setup,
    "shakespeare": shakespeare_setup,
    "music-lstm": functools.partial(music_setup, "lstm"),
    "music-gru": functools.partial(music_setup, "gru"),
}


def make_trainer(setup: dict, backend: str) -> tuple[Trainer, str]:
    """A trainer of a copy of the task's model with every recurrent layer on ``backend``."""
    model, objective = copy.deepcopy(setup["model"]), copy.deepcopy(setup["objective"])
    layers = [m for m in model.modules() if hasattr(m, "backend")]
    if not layers:
        raise SystemExit(f"{type(model).__name__} has no layer with a backend attribute")
    for layer in layers:
        layer.backend = check_backend(backend, layer)
    trainer = Trainer(model, objective, setup["config"], device="cpu")
    trainer.setup()
    model.train()
    if hasattr(objective, "start_epoch"):
        objective.start_epoch(model, train=True)
    engines = set()
    steps, n = round(setup["mean_length"]), setup["batch_size"]
    lengths = torch.full((n,), steps) if setup["packed"] else None
    if lengths is not None:
        lengths[-1] = max(1, steps // 2)
    for layer in layers:  # what "auto" resolves to on these batches (choose_backend's inputs)
        probe = torch.empty(steps, n, layer.input_size)  # (L, N, H_in)
        with torch.enable_grad(), trainer.autocast():
            engines.add(choose_backend(layer, probe, lengths) if backend == "auto" else backend)
    return trainer, ",".join(sorted(engines))


def run_pass(trainer: Trainer, batches: list) -> float:
    """Seconds per training step, averaged over one pass over ``batches``."""
    start = time.perf_counter()
    for batch in batches:
        trainer.train_step(batch)
    return (time.perf_counter() - start) / len(batches)


def measure(task: str, setup: dict, backends: list[str], repeats: int) -> list[dict]:
    trainers = {name: make_trainer(setup, name) for name in backends}
    for trainer, _ in trainers.values():  # warm-up: allocations, kernel builds, oneDNN caches
        run_pass(trainer, setup["batches"])
    times: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(repeats):
        for name, (trainer, _) in trainers.items():
            times[name].append(run_pass(trainer, setup["batches"]))
    baseline = statistics.median(times[backends[0]])
    rows = []
    for name, (trainer, engine) in trainers.items():
        median = statistics.median(times[name])
        rows.append({
            "task": task, "data": setup["data"], "backend": name, "engine": engine,
            "precision": "bf16-autocast" if trainer.bf16 else "fp32",
            "batch_size": setup["batch_size"], "steps_timed": len(setup["batches"]),
            "mean_length": setup["mean_length"], "epoch_mean_length": setup["epoch_mean_length"],
            "ms": median * 1e3, "min_ms": min(times[name]) * 1e3, "steps_per_s": 1 / median,
            "epoch_batches": setup["epoch_batches"],
            "epoch_minutes": setup["epoch_batches"] * median / 60,
            "ratio": median / baseline, "baseline": backends[0],
            "times_ms": [t * 1e3 for t in times[name]],
        })  # fmt: skip
    return rows


def _format(row: dict) -> str:
    engine = f"{row['backend']}→{row['engine']}" if row["backend"] == "auto" else row["backend"]
    return (
        f"{row['task']:12} {row['data']:6} {engine:14} {row['precision']:8} {row['ms']:9.1f} "
        f"{row['steps_per_s']:7.2f} {row['epoch_batches']:7d} {row['epoch_minutes']:9.1f} "
        f"{row['ratio']:6.2f}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS), help=",".join(TASKS))
    parser.add_argument("--backends", default="torch,auto", help="auto,torch,fused,loop")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps-per-repeat", type=int, default=8, help="batches per repeat")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="(default: all)")
    parser.add_argument("--random-data", action="store_true", help="random token ids, no corpus")
    parser.add_argument("--out", type=Path, help="JSON path (default results/engine-tasks-...)")
    args = parser.parse_args(argv)
    tasks = [t.strip() for t in args.tasks.split(",")]
    backends = [b.strip() for b in args.backends.split(",")]
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown or min(args.repeats, args.steps_per_repeat, args.threads) < 1:
        parser.error(f"expected tasks among {list(TASKS)} and counts >= 1, got {vars(args)}")
    torch.set_num_threads(args.threads)
    info = machine_info()
    print(f"# {info['cpu']}, {info['cores']} cores, {args.threads} threads", file=sys.stderr)
    rows = []
    header = f"{'task':12} {'data':6} {'backend':14} {'dtype':8} {'ms/step':>9} {'steps/s':>7} "
    print(header + f"{'batches':>7} {'min/epoch':>9} {'ratio':>6}", flush=True)
    for task in tasks:
        setup = TASKS[task](args.steps_per_repeat, args.random_data)
        for row in measure(task, setup, backends, args.repeats):
            rows.append(row)
            print(_format(row), flush=True)
    out = args.out or RESULTS / f"engine-tasks-{machine_slug(info)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    out.write_text(json.dumps({"machine": info, "settings": settings, "rows": rows}, indent=1))
    print(f"# wrote {out} (ratio: to {backends[0]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
