"""Connected spoken digits (issue #17): the digit (word) error rate of rnnkit's CTC recogniser on
3-5-digit strings made from FSDD's test recordings, decoded greedily and with a prefix beam
search, beside the baselines a user would pick instead, on the same strings in the same run:

- energy segments + logistic regression: cut each string where it is loud
  (:class:`rnnkit.tasks.speech.energy_segments.EnergySegmenter`, its thresholds chosen on the
  validation strings), then classify each segment (its MFCC deltas recomputed within it, as for
  a recording alone) with logistic regression on pooled MFCCs (mean and standard deviation;
  ``benchmarks/speech.py``'s baseline) trained on the single training recordings — the
  recordings the CTC training strings were made from;
- the same classifier on the known digit positions (an oracle segmenter: what segmentation
  costs);
- always the most common string (``rnnkit evaluate``'s trivial baseline).

    RNNKIT_DATA=../shared/data python benchmarks/speech_ctc.py --threads 1          # 15 minutes
    RNNKIT_DATA=../shared/data python benchmarks/speech_ctc.py --minutes 1 --threads 1 \\
        --extra "--train-strings 300 --eval-strings 100 --hidden 32" --name smoke   # a quick check

Strings (``rnnkit train speech-ctc``'s data): 2-5 recordings of one speaker for training and
validation, 3-5 for test (``--test-min-digits 3 --test-max-digits 5``), joined with silences
of 0-150 ms (digital zeros) and gains within ±3 dB, each split from its own recordings (FSDD's
official split: recordings 0-4 of every speaker and digit are test). Every digit is a word, so
the word error rate is the token error rate: (substitutions + insertions + deletions) / digits.
The model is chosen on the validation strings (greedy decoding); the test strings are scored once
per decoder. Where two digits are joined by less silence than the segmenter's shortest gap, it
merges them (one digit lost); the table says how many test strings were cut into the right
number of segments.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
from pathlib import Path

import torch
from quality import add_run_options, run_json, start_run, write_result
from speech import fit_logistic, pooled

from rnnkit.data.audio import read_wavs
from rnnkit.tasks.speech.ctc import string_scores
from rnnkit.tasks.speech.data import extract_features, load_recordings, split_recordings
from rnnkit.tasks.speech.energy_segments import (
    EnergySegmenter,
    Span,
    frame_log_energy,
    span_features,
)
from rnnkit.tasks.speech.strings import (
    SpeechStringData,
    UtteranceSplit,
    extract_utterances,
    split_utterances,
)

# the segmenter's settings tried on the validation strings (milliseconds become frames)
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
MIN_GAPS_MS = (0, 20, 40, 80)
MIN_SPEECH_MS = (30, 60, 100)
PADS_MS = (0, 20)


def segment_strings(segmenter: EnergySegmenter, energies: list[torch.Tensor]) -> list[list[Span]]:
    """The segmenter's spans of each utterance (its frame energies ``(T,)``)."""
    return [segmenter(energy) for energy in energies]


def classify_spans(
    model, split: UtteranceSplit, spans: list[list[Span]], data: SpeechStringData
) -> list[list[str]]:
    """The classifier's digit for each span of each utterance (deltas recomputed per span)."""
    pieces = [span_features(f, s, data) for f, cut in zip(split.features, spans) for s in cut]
    labels = iter(model.predict(pooled(pieces)).tolist() if pieces else [])
    return [[next(labels) for _ in cut] for cut in spans]


def scores(split: UtteranceSplit, digits: list[list[str]], spans: list[list[Span]]) -> dict:
    """Token (word) error rate and string accuracy against the transcripts, and how many
    utterances were cut into too few, the right number of, and too many segments."""
    references = [list(u.tokens) for u in split.utterances]
    counts = [len(c) - len(r) for c, r in zip(spans, references)]
    return {
        **string_scores(references, digits),
        "strings_too_few_segments": sum(c < 0 for c in counts),
        "strings_right_segments": sum(c == 0 for c in counts),
        "strings_too_many_segments": sum(c > 0 for c in counts),
    }


def known_spans(split: UtteranceSplit, data: SpeechStringData) -> list[list[Span]]:
    """Each utterance's digits' frames, from the silences and recording lengths it was built
    from (frame ``t`` is centred on sample ``t * hop``)."""
    paths = sorted({p for u in split.utterances for p in u.paths})
    read = read_wavs(paths, data.sample_rate)
    length = {paths[i]: len(s) for i, s in zip(read.kept, read.samples)}
    hop = data.frame[2]
    out = []
    for utterance in split.utterances:
        start, cut = utterance.gaps_ms[0] * data.sample_rate / 1000, []
        for path, gap in zip(utterance.paths, utterance.gaps_ms[1:]):
            end = start + length[path]
            cut.append(Span(round(start / hop), max(round(end / hop), round(start / hop) + 1)))
            start = end + gap * data.sample_rate / 1000
        out.append(cut)
    return out


def energy_baseline(data: SpeechStringData) -> dict:
    """Fit the classifier on the single training recordings, choose the segmenter on the
    validation strings (lowest token error rate), score the test strings."""
    recordings = split_recordings(load_recordings(data), data)
    train = extract_features(recordings["train"], data, "train")
    model = fit_logistic(train.features, train.labels)
    strings = split_utterances(data)
    val = extract_utterances(strings["val"], data, "val")
    test = extract_utterances(strings["test"], data, "test")
    energy = {
        name: [frame_log_energy(f, data.features) for f in split.features]
        for name, split in (("val", val), ("test", test))
    }
    ms_per_frame = data.hop_ms
    tried = []
    for threshold, gap, speech, pad in itertools.product(
        THRESHOLDS, MIN_GAPS_MS, MIN_SPEECH_MS, PADS_MS
    ):
        in_frames = [round(ms / ms_per_frame) for ms in (gap, speech, pad)]
        segmenter = EnergySegmenter(threshold, *in_frames)
        spans = segment_strings(segmenter, energy["val"])
        digits = classify_spans(model, val, spans, data)
        tried.append((scores(val, digits, spans)["ter"], segmenter))
    val_ter, best = min(tried, key=lambda pair: pair[0])
    spans = segment_strings(best, energy["test"])
    oracle = known_spans(test, data)
    return {
        "segmenter": {
            **vars(best),
            "hop_ms": data.hop_ms,
            "val_ter": val_ter,
            "settings_tried": len(tried),
        },
        "energy_segments": scores(test, classify_spans(model, test, spans, data), spans),
        "known_segments": scores(test, classify_spans(model, test, oracle, data), oracle),
        "classifier_train_recordings": len(train),
        "test_strings": len(test),
        "test_digits": sum(len(u.tokens) for u in test.utterances),
    }


def table(greedy: dict, beam: dict, baseline: dict) -> str:
    rows = [
        ("rnnkit CTC BiGRU, greedy (beam 1)", greedy),
        (f"rnnkit CTC BiGRU, prefix beam {beam['beam']}", beam),
        ("energy segments + logistic regression", baseline["energy_segments"]),
        ("known segments + logistic regression (oracle)", baseline["known_segments"]),
        (f"always {greedy['baselines']['most_common']['output']!r}",
         greedy["baselines"]["most_common"]),
    ]  # fmt: skip
    lines = ["| model / decoder | digit (word) error rate | string accuracy | right # segments |",
             "|---|---:|---:|---:|"]  # fmt: skip
    for name, r in rows:
        right = r.get("strings_right_segments")
        share = f"{right / baseline['test_strings']:.3f}" if right is not None else ""
        lines.append(f"| {name} | {r['ter']:.4f} | {r['string_accuracy']:.4f} | {share} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget")
    parser.add_argument("--beam", type=int, default=8, help="prefix beam width")
    parser.add_argument("--test-digits", type=int, nargs=2, default=(3, 5), metavar=("MIN", "MAX"),
                        help="digits per test string")  # fmt: skip
    add_run_options(parser, "fsdd", "--hidden 64")
    args = parser.parse_args()
    started, machine = start_run(args)
    out = Path(args.runs) / f"speech-ctc-{args.name}"
    argv = ["train", "speech-ctc", "--data", "fsdd", "--split", "official", "--out", str(out),
            "--test-min-digits", str(args.test_digits[0]), "--test-max-digits",
            str(args.test_digits[1]), "--overwrite", "--no-progress", "--max-time",
            str(args.minutes), *shlex.split(args.extra)]  # fmt: skip
    if args.threads:
        argv += ["--threads", str(args.threads)]
    trained = run_json(argv)
    greedy = run_json(["evaluate", str(out), "--split", "test", "--beam", "1"])
    beam = run_json(["evaluate", str(out), "--split", "test", "--beam", str(args.beam)])
    config = json.loads((out / "best" / "config.json").read_text())
    baseline = energy_baseline(SpeechStringData.from_dict(config["data"]))
    print(f"{trained['epochs']} epochs, {trained['train_time_s'] / 60:.1f} min of training; "
          f"test: {baseline['test_strings']} strings of {args.test_digits[0]}-"
          f"{args.test_digits[1]} digits, {baseline['test_digits']} digits; segmenter chosen on "
          f"the validation strings: {baseline['segmenter']}")  # fmt: skip
    print(table(greedy, beam, baseline))
    run = {"train": trained, "greedy": greedy, "beam": beam, "baselines": baseline}
    write_result("speech-ctc", args, started, machine, [run])


if __name__ == "__main__":
    main()
