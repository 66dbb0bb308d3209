"""Flickr8k image captioning (issue #14): test-split corpus BLEU-1..4 (sacrebleu, 13a tokens,
caseless, all five references; beam search), CIDEr-D and METEOR (pycocoevalcap) within a
training budget on this CPU, beside an image-free baseline scored in the same harness, and where
the time goes.

    RNNKIT_DATA=../shared/data python benchmarks/caption.py scratch      # 120 min, BLEU-4 >= 10
    RNNKIT_DATA=../shared/data python benchmarks/caption.py pretrained   # 120 min, BLEU-4 >= 17
    python benchmarks/caption.py scratch --minutes 3 --name smoke \\
        --extra "--limit 300 --image-size 64 --hidden 256 --embed 128"  # a quick check

Targets (the issue): the frozen ImageNet encoder (--encoder efficientnet-lite0) BLEU-4 >= 17
and BLEU-1 >= 60; the ResNet trained from scratch BLEU-4 >= 10, above the baseline.

Two image-free baselines, scored in the same harness, show what a model gets without looking at
the images: one caption given to every image (among the training captions whose words are the
most frequent, 100 candidates of 6 to 12 words, the one with the best BLEU-4 on the validation
split), and the same decoder trained with the same options on the captions alone
(``--encoder none``, at most ``--baseline-minutes``), whose validation and test loss the
captioner must beat too.
The profile times one training batch's encoder and decoder (forward and backward) and the
decoding of JPEGs, and the run's training images per second. (A run with --limit N evaluates the
first N test images; the baseline always scores the whole test split.)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import sacrebleu
import torch
from quality import RESULTS, machine_info, run_json

from rnnkit.data.captions import read_flickr8k
from rnnkit.data.images import decode_images
from rnnkit.data.resolve import resolve
from rnnkit.tasks import load
from rnnkit.tasks.caption.data import CaptionBatches, CaptionSplit
from rnnkit.tasks.caption.decode import caption_bleu

CANDIDATES = 100  # constant captions tried by the image-free baseline
PRESETS = {
    # name -> (training arguments, minutes, {metric: minimum})
    # the task selects and schedules the from-scratch CNN on the validation loss (its greedy
    # validation BLEU swings from epoch to epoch); patience 10 lets a slow stretch pass
    "scratch": (["--patience", "10"], 120.0, {"bleu4": 10.0}),
    "pretrained": (
        ["--encoder", "efficientnet-lite0", "--attention", "soft"],
        120.0,
        {"bleu4": 17.0, "bleu1": 60.0},
    ),
}


def constant_caption_baseline(splits) -> dict:
    """The best single caption for every image (chosen on val), scored on test."""
    words = Counter(w for cs in splits["train"].captions for c in cs for w in c.lower().split())
    pool = {c.lower() for cs in splits["train"].captions for c in cs if 6 <= len(c.split()) <= 12}
    typical = sorted(pool, key=lambda c: -sum(words[w] for w in c.split()) / len(c.split()))
    val = splits["val"].captions
    streams = [[r[k] if k < len(r) else None for r in val] for k in range(max(map(len, val)))]
    metric = sacrebleu.metrics.BLEU(lowercase=True, force=True, references=streams)  # cached
    best, best_bleu = None, -1.0
    for candidate in typical[:CANDIDATES]:
        bleu4 = metric.corpus_score([candidate] * len(val), None).score
        if bleu4 > best_bleu:
            best, best_bleu = candidate, bleu4
    test, signature = caption_bleu([best] * len(splits["test"]), splits["test"].captions)
    return {"caption": best, "val_bleu4": best_bleu, "test": test, "signature": signature}


def image_free_decoder(train_args: list[str], run_dir: Path, minutes: float, beam: int) -> dict:
    """The same training command with ``--encoder none`` (the decoder learns the captions
    alone), evaluated on the test split: its losses and BLEU."""
    out = run_dir.with_name(run_dir.name + "-image-free")
    args = [*train_args, "--encoder", "none", "--out", str(out), "--max-time", str(minutes)]
    print(f"$ rnnkit {' '.join(args)}", file=sys.stderr)
    trained = run_json(args)
    evaluated = run_json(["evaluate", str(out), "--split", "test", "--beam", str(beam)])
    return {
        "command": "rnnkit " + " ".join(args),
        "epochs": trained["epochs"],
        "val_loss": trained.get("val_loss"),
        "test_loss": evaluated["loss"],
        "test": {f"bleu{n}": evaluated[f"bleu{n}"] for n in range(1, 5)},
        "examples": evaluated.get("examples"),
    }


def profile(run_dir: Path, splits, batches: int = 3) -> dict:
    """Seconds per training batch in the encoder and in the decoder, and JPEG decoding speed."""
    task = load(run_dir, device="cpu")
    model, text, data = task.model.train(), task.preprocessing, task.settings["data"]
    paths = splits["train"].paths[:64]
    started = time.perf_counter()
    decoded = decode_images(paths, data.image_size, verbose=0)
    decode_s = time.perf_counter() - started
    captions = splits["train"].captions
    split = CaptionSplit(decoded.pixels, [paths[i] for i in decoded.kept],
                         [captions[i] for i in decoded.kept])  # fmt: skip
    loader = CaptionBatches.of(split, text, data, train=True)
    encoder_s = decoder_s = 0.0
    for _, batch in zip(range(batches), loader):
        started = time.perf_counter()
        regions = model.regions(batch.images)  # (N, L, D)
        features = regions.detach().requires_grad_(regions.requires_grad)
        middle = time.perf_counter()
        model(features, batch.captions[:, :-1], batch.owner).logits.sum().backward()
        decoder_s += time.perf_counter() - middle
        if regions.requires_grad:
            start_backward = time.perf_counter()
            regions.backward(features.grad)
            encoder_s += time.perf_counter() - start_backward
        encoder_s += middle - started
    return {
        "decode_jpeg_images_per_s": round(len(paths) / decode_s, 1),
        "encoder_s_per_batch": round(encoder_s / batches, 3),
        "decoder_s_per_batch": round(decoder_s / batches, 3),
        "batch_images": data.batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("--minutes", type=float, help="training budget (default: the target's)")
    parser.add_argument("--extra", default="", help="more training options, e.g. '--hidden 256'")
    parser.add_argument("--name", help="result name (default: the preset's)")
    parser.add_argument("--runs", default="runs/bench", help="where run folders go")
    parser.add_argument("--beam", type=int, default=3, help="beam size of the test evaluation")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--baseline-minutes",
        type=float,
        default=30.0,
        help="training budget of the image-free decoder (0: not trained)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    base, minutes, targets = PRESETS[args.preset]
    minutes = args.minutes or minutes
    name = args.name or args.preset
    run_dir = Path(args.runs) / f"caption-{name}"
    train_args = ["train", "caption", "--data", "flickr8k", *base, "--max-time", str(minutes),
                  "--out", str(run_dir), "--overwrite", *shlex.split(args.extra)]  # fmt: skip
    info = machine_info()
    started = time.time()
    print(f"$ rnnkit {' '.join(train_args)}", file=sys.stderr)
    trained = run_json(train_args)
    evaluated = run_json(["evaluate", str(run_dir), "--split", "test", "--beam", str(args.beam),
                          "--meteor"])  # fmt: skip
    splits = read_flickr8k(resolve("flickr8k"))
    baseline = constant_caption_baseline(splits)
    decoder_only = None
    if args.baseline_minutes > 0:
        decoder_only = image_free_decoder(train_args, run_dir, args.baseline_minutes, args.beam)
    limit = json.loads((run_dir / "best" / "config.json").read_text())["data"]["limit"]
    train_images = min(limit or len(splits["train"]), len(splits["train"]))
    timing = profile(run_dir, splits)
    timing["train_images_per_s"] = round(
        train_images * trained["epochs"] / max(trained["train_time_s"], 1e-9), 2
    )
    scores = {f"bleu{n}": evaluated[f"bleu{n}"] for n in range(1, 5)}
    scores.update({k: evaluated[k] for k in ("cider", "meteor") if k in evaluated})
    result = {
        "benchmark": f"caption-{args.preset}",
        "name": name,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": "rnnkit " + " ".join(train_args),
        "max_minutes": minutes,
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "train": trained,
        "evaluate": {k: v for k, v in evaluated.items() if k != "examples"},
        "examples": evaluated.get("examples"),
        "test": scores,
        "baseline_image_free": baseline,
        "baseline_image_free_decoder": decoder_only,
        "above_baseline": scores["bleu4"] > baseline["test"]["bleu4"]
        and (decoder_only is None or scores["bleu4"] > decoder_only["test"]["bleu4"]),
        "targets": targets,
        "meets_targets": all(scores[k] >= v for k, v in targets.items()),
        "time": timing,
        "wall_s": round(time.time() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"caption-{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    shown = "  ".join(f"BLEU-{n} {scores[f'bleu{n}']:.2f}" for n in range(1, 5))
    base_shown = "  ".join(f"BLEU-{n} {baseline['test'][f'bleu{n}']:.2f}" for n in range(1, 5))
    print(f"{name}: test {shown} (targets {targets}) after {trained['epochs']} epoch(s), "
          f"{trained['train_time_s'] / 60:.1f} min\nimage-free baseline "
          f"({baseline['caption']!r}): {base_shown}\ntime: {timing}\n-> {path}")  # fmt: skip
    if decoder_only is not None:
        free = "  ".join(f"BLEU-{n} {decoder_only['test'][f'bleu{n}']:.2f}" for n in range(1, 5))
        print(f"image-free decoder: test {free}, test loss {decoder_only['test_loss']:.4f} "
              f"(captioner {evaluated['loss']:.4f}), val loss {decoder_only['val_loss']:.4f} "
              f"(captioner {trained.get('val_loss', float('nan')):.4f})")  # fmt: skip


if __name__ == "__main__":
    main()
