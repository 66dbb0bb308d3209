"""Tiny training runs of the core tasks for the reliability tests: tiny models, small data (real
slices of $RNNKIT_DATA or a few synthetic lines), one thread, so that a run takes a second or
two."""

import csv
import gzip
import itertools
import json
import wave
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from rnnkit.cli import main

CORE = ("classify", "lm", "translate")

# tiny model and batch settings of each core task
TINY = {
    "classify": ["--embed", "4", "--hidden", "4", "--min-freq", "1", "--batch-size", "8",
                 "--max-length", "20"],
    "lm": ["--embed", "4", "--hidden", "4", "--layers", "1", "--seq-length", "8",
           "--sample-length", "0"],
    "translate": ["--embed", "4", "--encoder-hidden", "4", "--hidden", "4", "--tokens", "word",
                  "--min-freq", "1", "--src-vocab", "16", "--tgt-vocab", "16"],
    "caption": ["--image-size", "16", "--channels", "4", "--stages", "2", "--embed", "8",
                "--hidden", "8", "--attention-size", "8", "--min-freq", "1", "--bleu-images", "4",
                "--batch-size", "8"],
    "forecast": ["--hidden", "4", "--input-length", "12", "--horizon", "2", "--batch-size", "16",
                 "--test-size", "24", "--val-size", "24"],
    "speech": ["--hidden", "4", "--layers", "1", "--batch-size", "8"],
    "speech-ctc": ["--hidden", "4", "--layers", "1", "--batch-size", "8", "--train-strings", "8",
                   "--eval-strings", "4"],
    "music": ["--hidden", "4", "--batch-size", "8"],
}  # fmt: skip
QUIET = ["--threads", "1", "--no-progress", "--no-plot"]


def synthetic_data(root: Path) -> dict[str, Path]:
    """A few lines of data for each core task, captioning (six pictures), forecasting (a daily
    series), speech and speech-ctc (32 tones) and music (ten piano rolls in a .mat file) under
    ``root``: task -> its --data path."""
    rows = ["text,label"] + [f'"{w} film {i}",{w}' for i in range(10) for w in ("good", "bad")]
    (root / "reviews.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "corpus.txt").write_text("the cat sat on the mat.\n" * 20, encoding="utf-8")
    pairs = root / "pairs"
    pairs.mkdir()
    for split, n in (("train", 16), ("val", 4)):
        (pairs / f"{split}.de").write_text("".join(f"ein hund {i}\n" for i in range(n)))
        (pairs / f"{split}.en").write_text("".join(f"a dog {i}\n" for i in range(n)))
    from PIL import Image  # the image extra

    pictures = root / "pictures"  # six 16 px pictures (colour ramps), two captions each
    pictures.mkdir()
    rows = ["image,caption"]
    for i, colour in enumerate(("red", "green", "blue", "grey", "dark", "light")):
        pixels = np.full((16, 16, 3), 40 * i, dtype=np.uint8)
        pixels[:, :, i % 3] = np.linspace(0, 255, 16, dtype=np.uint8)
        Image.fromarray(pixels).save(pictures / f"{i}.png")
        rows += [f"{i}.png,a {colour} picture", f"{i}.png,the {colour} square"]
    (pictures / "captions.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    days = np.arange(120)
    values = 10 + 3 * np.sin(2 * np.pi * days / 7) + days / 30
    lines = ["date,value"] + [f"{date(2020, 1, 1) + timedelta(days=int(d))},{v:.4f}"
                              for d, v in zip(days, values)]  # fmt: skip
    (root / "series.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    recordings = root / "recordings"  # tones named the FSDD way: digit 0 low, 1 high
    recordings.mkdir()
    t = np.arange(800) / 8000  # 0.1 s at 8 kHz
    for digit, speaker, index in itertools.product((0, 1), ("ann", "bob"), range(8)):
        tone = 0.3 * np.sin(2 * np.pi * (300 + 500 * digit + 20 * index) * t)
        with wave.open(str(recordings / f"{digit}_{speaker}_{index}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes((tone * 32767).astype("<i2").tobytes())
    from scipy.io import savemat  # the music extra

    pieces = {}  # broken chords of 8-20 frames: 6 train, 2 valid, 2 test pieces
    for key, lengths in (("traindata", (8, 12, 16, 20, 10, 14)), ("validdata", (9, 13)),
                         ("testdata", (11, 15))):  # fmt: skip
        cells = pieces[key] = np.empty((1, len(lengths)), dtype=object)
        for i, length in enumerate(lengths):
            cells[0, i] = np.zeros((length, 88), np.uint8)
            cells[0, i][np.arange(length), 30 + 4 * (np.arange(length) % 3)] = 1
    savemat(root / "music.mat", pieces)
    return {"classify": root / "reviews.csv", "lm": root / "corpus.txt", "translate": pairs,
            "caption": pictures / "captions.csv", "forecast": root / "series.csv",
            "speech": recordings, "speech-ctc": recordings,
            "music": root / "music.mat"}  # fmt: skip


def real_slices(data_dir: Path, root: Path) -> dict[str, list[str]]:
    """Small real data for each core task: task -> its data options. classify: 120 GOP-debate
    tweets; lm: the first 12,000 characters of Tiny Shakespeare; translate: the first 60
    training and 8 validation pairs of Multi30k; caption: the first 12 images of each Flickr8k
    split; forecast: the airline passengers series; speech: 24 FSDD recordings of each split;
    music: 12 Nottingham pieces of each split."""
    text = (data_dir / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:12000]
    (root / "shakespeare.txt").write_text(text, encoding="utf-8")
    pairs = root / "m30k"
    pairs.mkdir()
    for split, stem, n in (("train", "train", 60), ("val", "val", 8)):
        for lang in ("de", "en"):
            with gzip.open(
                data_dir / "multi30k" / f"{stem}.{lang}.gz", "rt", encoding="utf-8"
            ) as f:
                (pairs / f"{split}.{lang}").write_text("".join(next(f) for _ in range(n)))
    return {
        "caption": ["--data", "flickr8k", "--limit", "12"],
        "forecast": ["--data", "airline", "--transform", "log-diff"],
        "speech": ["--data", "fsdd", "--limit", "24"],
        "music": ["--data", "nottingham", "--limit", "12"],
        "classify": ["--data", "gop-debate", "--limit", "120"],
        "lm": ["--data", str(root / "shakespeare.txt"), "--batch-size", "8"],
        "translate": ["--data", str(pairs), "--batch-size", "16"],
    }


def train(task: str, data: list[str], out: Path, *options: str) -> None:
    """``rnnkit train TASK DATA --out OUT TINY QUIET OPTIONS``, which must succeed."""
    argv = ["train", task, *map(str, data), "--out", str(out), *TINY[task], *QUIET, *options]
    assert main(argv) == 0, argv


def run_state(run: Path) -> dict:
    """What must match between two runs that should be the same: the weights of best/ and
    last/ (exact bytes), the history and metrics without their wall-clock times."""
    state = {}
    for name in ("best", "last"):
        weights = load_file(str(run / name / "model.safetensors"))
        state[name] = {key: value.numpy().tobytes() for key, value in weights.items()}
    with open(run / "history.csv", newline="", encoding="utf-8") as f:
        state["history"] = [_untimed(row) for row in csv.DictReader(f)]
    state["metrics"] = _untimed(json.loads((run / "metrics.json").read_text(encoding="utf-8")))
    return state


def _untimed(value):
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if not k.endswith(("time_s", "elapsed_s"))}
    return value
