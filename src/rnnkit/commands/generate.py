"""Generate text with a trained language model (a run of `rnnkit train lm`), or music with a
trained music model (a run of `rnnkit train music`: a MIDI file and a piano-roll PNG).

The prime text is read once; then the model's recurrent state is stepped one token at a time,
each next token drawn from the model's distribution: --temperature (below 1: safer, above 1:
wilder; 0 or --greedy: always the most likely token), --top-k (only the K most likely tokens),
--top-p (only the most likely tokens that make up probability P). The same --seed gives the same
text; without one a random seed is used and reported with --json. --samples N continues the
prime N times at once (one batched step per token: many samples cost far less than N runs);
sample i is the text --seed SEED+i gives alone.

Examples:
  rnnkit generate runs/shakespeare --prime "ROMEO:" --length 500
  rnnkit generate runs/shakespeare --prime "ROMEO:" --length 200 --samples 8 --seed 1
  rnnkit generate runs/shakespeare --temperature 0.5 --seed 1 --stream
  rnnkit generate runs/ptb --prime "the company said" --length 50 --top-p 0.9 --json
  rnnkit generate runs/nottingham --length 200 --out piece.mid      (music: piece.mid, piece.png)
"""

from __future__ import annotations

import argparse
import sys

from rnnkit.errors import UserError
from rnnkit.tasks import Task, load

__all__ = [
    "add_arguments",
    "check_language_model",
    "load_language_model",
    "run",
    "run_music",
    "samples_report",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="DIR", help="a run folder (or a checkpoint in it)")
    parser.add_argument(
        "--prime", default="", help="the text to continue; music: a MIDI file (default: none)"
    )
    parser.add_argument(
        "--length",
        type=int,
        help="tokens to generate (default: 500 characters or 100 words); music: frames (200)",
    )
    parser.add_argument(
        "--temperature", type=float, help="softmax temperature (default: 0.8; music: 1)"
    )
    parser.add_argument("--top-k", type=int, help="sample among the K most likely tokens only")
    parser.add_argument("--top-p", type=float, help="nucleus sampling: the top tokens of mass P")
    parser.add_argument(
        "--greedy", action="store_true", help="always take the most likely token (no sampling)"
    )
    parser.add_argument("--seed", type=int, help="random seed: the same seed, the same text")
    parser.add_argument("--stream", action="store_true", help="print the text as it is generated")
    parser.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="N",
        help="continue the prime N times in one batch (sample i: the text of --seed SEED+i; "
        "default: 1)",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument(
        "--out",
        metavar="MID",
        help="music: the MIDI file to write, with its piano roll beside it as PNG (default: "
        "generated.mid in the run folder)",
    )


def load_language_model(directory: str, device: str) -> Task:
    """The language model in ``directory``, or a UserError naming what it holds instead."""
    return check_language_model(load(directory, device=device), directory)


def check_language_model(task: Task, directory: str) -> Task:
    """``task`` if it is a language model, else a UserError naming what ``directory`` holds."""
    if task.NAME != "lm":
        raise UserError(
            f"{directory} holds a {task.NAME!r} model; expected a language model (a run of "
            "'rnnkit train lm')"
        )
    return task


def run_music(task: Task, args: argparse.Namespace) -> dict:
    """Sample a piece from a music model and write it as MIDI and PNG."""
    text_options = (args.top_k, args.top_p, args.greedy or None, args.stream or None)
    if any(option is not None for option in text_options) or args.samples != 1:
        raise UserError(
            "--top-k, --top-p, --greedy, --stream and --samples are for text; expected a "
            "music model's --length, --prime MIDI, --temperature, --seed or --out"
        )
    out = args.out or task.run_dir / "generated.mid"
    sampling = {} if args.temperature is None else {"temperature": args.temperature}
    result = task.generate(args.length, prime=args.prime or None, seed=args.seed, out=out,
                           **sampling)  # fmt: skip
    return {**result, "checkpoint": str(task.checkpoint.path)}


def run(args: argparse.Namespace) -> dict:
    task = load(args.checkpoint, device=args.device)
    if task.NAME == "music":
        return run_music(task, args)
    check_language_model(task, args.checkpoint)
    if args.out is not None:
        raise UserError("--out is for music models; a language model's text goes to stdout")
    if args.stream and args.samples != 1:
        raise UserError(
            f"--stream prints one text as it comes; expected --samples 1 with --stream, got "
            f"--samples {args.samples}"
        )

    def show(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    if args.stream:
        show(args.prime)
    sampling = {} if args.temperature is None else {"temperature": args.temperature}
    result = task.generate(
        args.prime, args.length, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
        seed=args.seed, samples=args.samples, on_text=show if args.stream else None, **sampling,
    )  # fmt: skip
    if args.stream:
        show("\n")
    return {
        **result,
        "checkpoint": str(task.checkpoint.path),
        "report": None if args.stream else samples_report(result),
    }


def samples_report(result: dict) -> str:
    """The text for people: the one text, or each sample under a line naming its seed."""
    if "texts" not in result:
        return result["text"]
    return "\n\n".join(
        f"--- sample {i + 1} of {result['samples']} (seed {result['seed'] + i}) ---\n{text}"
        for i, text in enumerate(result["texts"])
    )
