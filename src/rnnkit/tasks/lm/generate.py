"""Text generation with a trained language model: the prime is read once, then the recurrent
state is stepped one token at a time (never re-reading the prefix), each token chosen by a
:class:`rnnkit.decoding.Sampler` (greedy, temperature, top-k, top-p; seeded).

``samples=N`` continues the prime N times at once: the prime is read once, its state copied to
N rows, and each step feeds one token per sample through one batched step. Sample ``i`` draws
its random numbers from its own generator, seeded with ``seed + i`` (see ``rnnkit.decoding``),
so it does not depend on N and is the text a single sample with seed ``seed + i`` gives -- up to
the rounding of the batched matrix products, which differs from one row's in the last bits and
can part the two where two tokens are almost exactly as likely.

On the CPU the steps run on :class:`rnnkit.models.language_model.LanguageModelStepper` (buffers
made once, the fused C step kernels, no autograd); models it does not cover (and other devices)
step through ``forward``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from rnnkit.data.tokenize import Tokenizer
from rnnkit.data.vocab import Vocabulary
from rnnkit.decoding import Sampler, sample_tokens
from rnnkit.errors import UserError
from rnnkit.models import RNNLanguageModel
from rnnkit.tasks.lm.data import encode_text

__all__ = [
    "DEFAULT_LENGTH",
    "MAX_SAMPLES",
    "GenerationResult",
    "NonFiniteLogitsError",
    "check_samples",
    "generate_text",
    "start_token",
    "stepping",
]

DEFAULT_LENGTH = {"char": 500, "word": 100}  # tokens generated when no length is given
MAX_SAMPLES = 1024  # the most samples of one prime generated together
STEPPED_READ = 64  # texts up to this many tokens are read a step at a time (see read_tokens)


class NonFiniteLogitsError(UserError):
    """The model's next-token scores hold NaN or infinities: its weights diverged."""


def _finite(logits: torch.Tensor) -> torch.Tensor:
    """``logits``, checked to be finite: their sum is NaN or infinite when one of them is (or
    when they are so large that they overflow it, which only a diverged model's are)."""
    if not math.isfinite(float(logits.sum())):
        raise NonFiniteLogitsError(
            "the model's next-token scores are NaN or infinite, so no text can be sampled; "
            "expected a model with finite weights: train it again with a lower lr or clip_norm"
        )
    return logits


@dataclass
class GenerationResult:
    """``text`` = the prime as given + ``generated``; ``tokens`` generated per sample in
    ``seconds``; ``samples``: every sample's continuation (``generated`` is the first)."""

    text: str
    prime: str
    generated: str
    tokens: int
    seconds: float
    unknown: list[str]
    samples: list[str] = field(default_factory=list)


def check_samples(samples: Any) -> int:
    """``samples`` if it is an integer in [1, MAX_SAMPLES], else a UserError saying so."""
    integer = isinstance(samples, int) and not isinstance(samples, bool)
    if not (integer and 1 <= samples <= MAX_SAMPLES):
        raise UserError(f"samples must be an integer from 1 to {MAX_SAMPLES}, got {samples!r}")
    return samples


@contextlib.contextmanager
def stepping(model: RNNLanguageModel, device: torch.device) -> Iterator[None]:
    """Run ``model`` one token at a time through ``forward`` at its fastest: on the CPU,
    oneDNN's LSTM (what the ``auto`` backend picks for inference) spends ~15 ms per call
    preparing its weights, several times what the time loop's plain step takes, so single steps
    use the latter."""
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


class _Pieces:
    """Turns one sample's tokens into text as they come: characters as they are; words with a
    space before each but the first of a line, ``<eos>`` as a line end."""

    def __init__(self, vocab: Vocabulary, level: str, prime: str) -> None:
        self.itos, self.level = vocab.itos, level
        self.eos, self.pad = vocab.eos_index, vocab.pad_index
        self.last_newline = (not prime) or prime[-1].isspace()

    def __call__(self, index: int) -> str:
        if index == self.pad:
            return ""
        if self.level == "char":
            return self.itos[index]
        if index == self.eos:
            piece = "\n"
        else:
            piece = ("" if self.last_newline else " ") + self.itos[index]
        self.last_newline = piece.endswith(("\n", " "))
        return piece


def _weights_version(model: torch.nn.Module) -> tuple:
    """Changes whenever a parameter of ``model`` is replaced or changed in place (an optimizer
    step, ``load_state_dict``): each one's storage and version counter."""
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def read_context(
    model: RNNLanguageModel, context: tuple[int, ...], device: torch.device
) -> tuple[torch.Tensor | None, Any]:
    """The last logits (1, V) and the state after reading ``context`` from the zero state (None,
    None for an empty one). The warm-up context is the same for every call, so the result is
    kept on the model for the weights it came from: reading the 200 tokens again took tens of
    milliseconds a call, more than a short text's generation."""
    if not context:
        return None, None
    key = (context, str(device), model.training, _weights_version(model))
    kept = getattr(model, "_read_context", None)
    if kept is None or kept[0] != key:
        ids = torch.tensor(context, dtype=torch.long)  # (C,)
        kept = (key, read_tokens(model, ids, None, device))
        model._read_context = kept
    # copies: what the caller does with them never reaches the kept ones
    return _map_tensors(torch.clone, kept[1])


def _map_tensors(function: Callable[[torch.Tensor], torch.Tensor], tensors: Any) -> Any:
    """``function`` applied to a tensor, or to every tensor of nested tuples (types kept)."""
    if isinstance(tensors, torch.Tensor):
        return function(tensors)
    return type(tensors)(_map_tensors(function, t) for t in tensors)


def read_tokens(
    model: RNNLanguageModel, ids: torch.Tensor, state: Any, device: torch.device
) -> tuple[torch.Tensor, Any]:
    """The last logits (1, V) and the state after reading ``ids`` (P,) from ``state`` (None:
    zeros). Up to :data:`STEPPED_READ` tokens go through a one-row stepper on the CPU, a token
    at a time (~0.2 ms a step for the 2 x 384 character model, where one call of oneDNN's LSTM
    costs ~6 ms before its first step); longer texts through ``forward`` at once."""
    reader = None
    if device.type == "cpu" and ids.numel() <= STEPPED_READ:
        reader = model.stepper(1)
    if reader is None:
        logits, state = model(ids[None, :].to(device), state)  # (1, P, V)
        return logits[:, -1], state
    if state is not None:
        reader.load(state)
    for token in ids.split(1):  # (1,) each
        logits = reader(token)  # (1, V), the stepper's buffer
    return logits.clone(), reader.state()


def _repeat_rows(state: Any, rows: int) -> Any:
    """A recurrent state (tensors (layers, 1, H), alone or in a tuple) with ``rows`` copies of
    its one row: (layers, rows, H)."""
    return _map_tensors(lambda s: s.expand(s.shape[0], rows, *s.shape[2:]).contiguous(), state)


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
    samples: int = 1,
    context: Sequence[int] = (),
    on_text: Callable[[Any], Any] | None = None,
) -> GenerationResult:
    """Continue ``prime`` by ``length`` tokens, ``samples`` times (in one batch).

    ``on_text(piece)`` receives the text as it comes: a string per token, or with ``samples``
    > 1 a list of one string per sample. Characters the model never saw raise a ``UserError``;
    unknown words are read as ``<unk>`` (listed in the result's ``unknown``). Non-finite scores
    (a diverged model) raise ``NonFiniteLogitsError``, a ``UserError``. The model must be in
    eval mode.

    The model first reads ``context`` (the warm-up context saved with a trained model: the end
    of a paragraph of its training text), which is not part of the result: a model trained with
    the state carried across a whole corpus has rarely seen the all-zero initial state, and
    starting there makes its first characters noticeably worse. Without a prime, the text
    starts a new paragraph; with one, the prime is read as if it began one.
    """
    device = torch.device(device)
    samples = check_samples(samples)
    if vocab.pad_index not in sampler.banned:
        sampler.banned = (*sampler.banned, vocab.pad_index)  # padding is never text
    ids, unknown = encode_text(prime, tokenizer, vocab, level, what="the prime text")
    if level == "word" and prime and not prime.endswith("\n") and ids.numel():
        ids = ids[:-1]  # encode_text ends every line with <eos>; an open last line continues
    started = time.perf_counter()
    if ids.numel() == 0 and not context:
        ids = torch.tensor([start_token(vocab, level)])
    pieces = [_Pieces(vocab, level, prime) for _ in range(samples)]
    texts: list[list[str]] = [[] for _ in range(samples)]
    with torch.inference_mode():
        logits, state = read_context(model, tuple(context), device)  # (1, V) or None
        if ids.numel():
            logits, state = read_tokens(model, ids, state, device)  # (1, V): read once
        logits = _finite(logits).expand(samples, -1)  # (N, V)
        state = _repeat_rows(state, samples)  # each (layers, N, H)
        stepper = model.stepper(samples) if device.type == "cpu" else None
        if stepper is not None:
            stepper.load(state)

            def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
                return _finite(stepper(tokens)), None  # (N, V)

        else:

            def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
                out, state = model(tokens[:, None], state)  # (N, 1, V)
                return _finite(out[:, -1]), state

        chosen = torch.empty(length, samples, dtype=torch.long)  # (T, N)
        with stepping(model, device):
            for t, tokens in enumerate(sample_tokens(step, logits, state, length, sampler)):
                chosen[t] = tokens
                if on_text is None:
                    continue
                if samples == 1:
                    piece = pieces[0](int(tokens[0]))
                    texts[0].append(piece)
                    on_text(piece)
                else:
                    step_pieces = [p(i) for p, i in zip(pieces, tokens.tolist())]
                    for text, piece in zip(texts, step_pieces):
                        text.append(piece)
                    on_text(step_pieces)
    if on_text is None:  # the text of every sample at the end
        for sample, (piece, text) in enumerate(zip(pieces, texts)):
            indices = chosen[:, sample].tolist()
            if level == "char":  # characters as they are (padding is banned, so never drawn)
                text.extend(map(vocab.itos.__getitem__, indices))
            else:
                text.extend(map(piece, indices))
    outputs = ["".join(text) for text in texts]
    return GenerationResult(
        text=prime + outputs[0],
        prime=prime,
        generated=outputs[0],
        tokens=length,
        seconds=time.perf_counter() - started,
        unknown=unknown,
        samples=outputs,
    )
