"""How each learned tokenizer cuts Multi30k: pieces per sentence, unknown pieces, exact round trips.

For each language and each kind (``rnnkit.data.subword``: BPE and unigram at several sizes, and
words seen at least twice), learn the tokenizer on the training side, then measure on test2016:
the pieces per sentence (the decoder's steps), the share of unknown pieces, and how many
sentences ``detokenize(tokenize(s)) == s`` gives back exactly (what BLEU on raw references needs).

    RNNKIT_DATA=../shared/data python benchmarks/tokenization.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rnnkit.data.parallel import load_parallel
from rnnkit.data.subword import UNK, SubwordTokenizer

RESULTS = Path(__file__).parent / "results"
SETTINGS = [("bpe", 4000), ("bpe", 6000), ("bpe", 8000), ("unigram", 8000), ("word", 100_000)]


def main() -> None:
    corpus = load_parallel("multi30k", "de", "en")
    rows = []
    for side, language in enumerate(("de", "en")):
        train, test = corpus.splits["train"][side], corpus.splits["test"][side]
        for kind, size in SETTINGS:
            started = time.perf_counter()
            tokenizer = SubwordTokenizer.train(train, kind=kind, vocab_size=size, min_freq=2)
            seconds = time.perf_counter() - started
            pieces = tokenizer.batch(test)
            total = sum(len(p) for p in pieces)
            exact = sum(tokenizer.detokenize(p) == s for p, s in zip(pieces, test))
            rows.append({
                "language": language,
                "kind": kind,
                "pieces_learned": tokenizer.pieces,
                "pieces_per_sentence": round(total / len(test), 2),
                "unknown_share": round(sum(p.count(UNK) for p in pieces) / total, 4),
                "exact_round_trips": exact,
                "sentences": len(test),
                "train_seconds": round(seconds, 2),
            })  # fmt: skip
            row = rows[-1]
            print(
                f"{language} {kind:8s} {row['pieces_learned']:6d} pieces  "
                f"{row['pieces_per_sentence']:5.2f}/sentence  unknown {row['unknown_share']:.2%}"
                f"  exact {row['exact_round_trips']}/{row['sentences']}  ({seconds:.1f} s)"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "tokenizers-multi30k.json"
    path.write_text(json.dumps({"data": "multi30k train -> test2016", "rows": rows}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
