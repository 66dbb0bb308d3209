"""Text generation with a trained language model: the prime is read once, then the recurrent
state is stepped one token at a time (never re-reading the prefix), each token chosen by a
:class:`rnnkit.decoding.Sampler` (greedy, temperature, top-k, top-p; seeded).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnnkit.data.tokenize import Tokenizer
from rnnkit.data.vocab import Vocabulary
from rnnkit.decoding import Sampler, sample_tokens
from rnnkit.errors import UserError
from rnnkit.models import RNNLanguageModel
from rnnkit.tasks.lm.data import decode_tokens, encode_text

__all__ = [
    "DEFAULT_LENGTH",
    "GenerationResult",
    "NonFiniteLogitsError",
    "generate_text",
    "start_token",
    "stepping",
]

DEFAULT_LENGTH = {"char": 500, "word": 100}  # tokens generated when no length is given


class NonFiniteLogitsError(UserError):
    """The model's next-token scores hold NaN or infinities: its weights diverged."""


def _finite(logits: torch.Tensor) -> torch.Tensor:
    if not bool(torch.isfinite(logits).all()):
        raise NonFiniteLogitsError(
            "the model's next-token scores are NaN or infinite, so no text can be sampled; "
            "expected a model with finite weights: train it again with a lower lr or clip_norm"
        )
    return logits


@dataclass
class GenerationResult:
    """``text`` = the prime as given + ``generated``; ``tokens`` generated in ``seconds``."""

    text: str
    prime: str
    generated: str
    tokens: int
    seconds: float
    unknown: list[str]


@contextlib.contextmanager
def stepping(model: RNNLanguageModel, device: torch.device) -> Iterator[None]:
    """Run ``model`` one token at a time at its fastest: on the CPU, oneDNN's LSTM (what the
    ``auto`` backend picks for inference) spends ~15 ms per call preparing its weights, several
    times what the time loop's plain step takes, so single steps use the latter."""
    rnn = model.rnn
    if device.type != "cpu" or getattr(rnn, "backend", None) != "auto":
        yield
        return
    rnn.backend = "loop"
    try:
        yield
    finally:
        rnn.backend = "auto"


def start_token(vocab: Vocabulary, level: str) -> int:
    """What an empty prime starts from: a line end (``\\n`` or ``<eos>``), else the commonest."""
    if level == "word" and vocab.eos_index is not None:
        return vocab.eos_index
    if "\n" in vocab:
        return vocab.index("\n")
    return len(vocab.specials)  # the most frequent regular token


def generate_text(
    model: RNNLanguageModel,
    vocab: Vocabulary,
    tokenizer: Tokenizer,
    level: str,
    prime: str,
    length: int,
    sampler: Sampler,
    device: torch.device | str,
    *,
    context: Sequence[int] = (),
    on_text: Callable[[str], Any] | None = None,
) -> GenerationResult:
    """Continue ``prime`` by ``length`` tokens; ``on_text(piece)`` receives the text as it comes.

    Characters the model never saw raise a ``UserError``; unknown words are read as ``<unk>``
    (listed in the result's ``unknown``). Non-finite scores (a diverged model) raise
    ``NonFiniteLogitsError``, a ``UserError``. The model must be in eval mode.

    The model first reads ``context`` (the warm-up context saved with a trained model: the end
    of a paragraph of its training text), which is not part of the result: a model trained with
    the state carried across a whole corpus has rarely seen the all-zero initial state, and
    starting there makes its first characters noticeably worse. Without a prime, the text
    starts a new paragraph; with one, the prime is read as if it began one.
    """
    device = torch.device(device)
    if vocab.pad_index not in sampler.banned:
        sampler.banned = (*sampler.banned, vocab.pad_index)  # padding is never text
    ids, unknown = encode_text(prime, tokenizer, vocab, level, what="the prime text")
    if level == "word" and prime and not prime.endswith("\n") and ids.numel():
        ids = ids[:-1]  # encode_text ends every line with <eos>; an open last line continues
    started = time.perf_counter()
    warmup = torch.tensor(list(context), dtype=torch.long)
    if ids.numel() == 0 and warmup.numel() == 0:
        ids = torch.tensor([start_token(vocab, level)])
    ids = torch.cat([warmup, ids])  # (C + P,)
    with torch.no_grad():
        logits, state = model(ids[None, :].to(device))  # (1, C + P, V): read once

        def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            out, state = model(tokens[:, None], state)  # (1, 1, V)
            return _finite(out[:, -1]), state

        pieces: list[str] = []
        last_newline = (not prime) or prime[-1].isspace()
        tokens = sample_tokens(step, _finite(logits[:, -1]), state, length, sampler)
        with stepping(model, device):
            for token in tokens:
                index = int(token[0])
                if level == "char":
                    piece = decode_tokens([index], vocab, level)
                elif index == vocab.eos_index:
                    piece = "\n"
                else:
                    piece = ("" if last_newline else " ") + vocab.itos[index]
                last_newline = piece.endswith(("\n", " ")) if level == "word" else False
                pieces.append(piece)
                if on_text is not None:
                    on_text(piece)
    generated = "".join(pieces)
    return GenerationResult(
        text=prime + generated,
        prime=prime,
        generated=generated,
        tokens=length,
        seconds=time.perf_counter() - started,
        unknown=unknown,
    )
