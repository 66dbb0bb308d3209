"""Train word vectors (word2vec, with gensim) on your own text, for ``--embeddings``.

The texts come from a dataset name or a path: labelled text (imdb, imdb-unsup: IMDb's 50,000
unlabelled and 25,000 training reviews, gop-debate, a CSV/TSV) gives every split but test; a
text file gives one document a line. Words are tokenised as ``rnnkit train classify`` tokenises
them. The vectors are written in word2vec text format (--binary: word2vec binary). Needs
gensim: pip install 'rnnkit[vectors]'.

Examples:
  rnnkit vectors --data imdb-unsup --out vectors.txt
  rnnkit vectors --data reviews.csv --dim 50 --epochs 10 --out reviews-vectors.txt
  rnnkit train classify --data imdb --embeddings vectors.txt --out runs/imdb-vectors
"""

from __future__ import annotations

import argparse
import inspect
from typing import Any

from rnnkit.tasks.vectors import fit_word_vectors

__all__ = ["add_arguments", "run"]

# option -> (type, help); the defaults are fit_word_vectors' own
_OPTIONS = {
    "dim": (int, "vector size"),
    "window": (int, "context words on each side"),
    "min_count": (int, "the rarest word kept occurs this often"),
    "epochs": (int, "passes over the text"),
    "limit": (int, "use only the first N documents (quick runs)"),
    "seed": (int, "random seed (one worker: the same vectors)"),
    "workers": (int, "training threads"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = {
        name: p.default for name, p in inspect.signature(fit_word_vectors).parameters.items()
    }
    parser.add_argument("--data", required=True, help="a dataset name or a path (see above)")
    parser.add_argument("--out", required=True, help="the vector file to write")
    for name, (kind, text) in _OPTIONS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=kind,
            default=None,
            metavar="N",
            help=f"{text} (default: {defaults[name]})",
        )
    parser.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram")
    parser.add_argument("--binary", action="store_true", help="write word2vec binary format")


def run(args: argparse.Namespace) -> dict[str, Any]:
    given = {name: getattr(args, name) for name in _OPTIONS if getattr(args, name) is not None}
    result = fit_word_vectors(
        args.data, args.out, skip_gram=not args.cbow, binary=args.binary, **given
    )
    result["report"] = (
        f"{result['words']:,} word vectors of dimension {result['dim']} from "
        f"{result['documents']:,} documents ({result['tokens']:,} tokens) in "
        f"{result['train_time_s']:.1f} s, saved in {result['out']} — next: rnnkit train "
        f"classify --embeddings {result['out']} ..."
    )
    return result
