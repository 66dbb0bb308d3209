"""Text generation with a trained language model: the prime is read once, then the recurrent
state is stepped one token at a time (never re-reading the prefix), each token chosen by a
:class:`rnnkit.decoding.Sampler` (greedy, temperature, top-k, top-p; seeded).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from rnnkit.data.tokenize import Tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import Vocabulary
from rnnkit.decoding import Sampler, check_sampling, sample_tokens
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel, LanguageModelConfig
from rnnkit.tasks.lm_data import decode_tokens, encode_text
from rnnkit.train import Checkpoint, load_model_state

__all__ = [
    "GenerationResult",
    "GenerationSettings",
    "generate_text",
    "load_language_model",
    "start_token",
    "stepping",
]

logger = logging.getLogger(__name__)

DEFAULT_LENGTH = {"char": 500, "word": 100}


def load_language_model(
    checkpoint: Checkpoint, device: torch.device
) -> tuple[LanguageModel, Vocabulary, Tokenizer, str]:
    """(model in eval mode on ``device``, vocabulary, tokenizer, level) of an ``lm`` checkpoint.

    The model's ``warmup`` attribute holds the checkpoint's warm-up context (token ids, or an
    empty list for checkpoints without one): see :func:`generate_text`.
    """
    config = checkpoint.config
    if config.get("task") != "lm":
        raise UserError(
            f"{checkpoint.path} holds a {config.get('task')!r} model; expected a language model "
            "(a run of 'rnnkit train lm')"
        )
    model = LanguageModel(LanguageModelConfig(**config["model"]))
    load_model_state(model, checkpoint.state_dict)
    vocab = Vocabulary.from_dict(checkpoint.artifacts["vocab"])
    tokenizer = tokenizer_from_dict(checkpoint.artifacts["tokenizer"])
    warmup = checkpoint.artifacts.get("warmup") or {}
    model.warmup = [i for i in warmup.get("ids", []) if isinstance(i, int) and 0 < i < len(vocab)]
    return model.to(device).eval(), vocab, tokenizer, config["data"]["level"]


@dataclass
class GenerationSettings:
    """The options of ``rnnkit generate`` (and ``predict``), checked."""

    length: int
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    seed: int = 0

    @classmethod
    def from_args(cls, args: argparse.Namespace, level: str) -> GenerationSettings:
        length = getattr(args, "length", None)
        length = DEFAULT_LENGTH[level] if length is None else length
        if length < 0:
            raise UserError(f"--length must be >= 0, got {length}")
        seed = getattr(args, "seed", None)
        settings = cls(
            length=length,
            temperature=getattr(args, "temperature", 0.8),
            top_k=getattr(args, "top_k", None),
            top_p=getattr(args, "top_p", None),
            greedy=bool(getattr(args, "greedy", False)),
            seed=random.SystemRandom().randrange(2**31) if seed is None else seed,
        )
        try:
            check_sampling(settings.temperature, settings.top_k, settings.top_p)
        except ValueError as error:
            message = str(error)
            for name in ("temperature", "top_k", "top_p"):
                message = message.replace(name, "--" + name.replace("_", "-"), 1)
            raise UserError(message) from None
        return settings

    def sampler(self, vocab: Vocabulary) -> Sampler:
        return Sampler(
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            greedy=self.greedy,
            seed=self.seed,
            banned=(vocab.pad_index,),
        )


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
def stepping(model: LanguageModel, device: torch.device) -> Iterator[None]:
    """Run ``model`` one token at a time at its fastest: on the CPU, oneDNN's LSTM (what the
    ``auto`` backend picks for inference) spends ~15 ms per call preparing its weights, several
    times what the reference engine's plain step takes, so single steps use the latter."""
    rnn = model.rnn
    if device.type != "cpu" or getattr(rnn, "backend", None) != "auto":
        yield
        return
    rnn.backend = "reference"
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
    model: LanguageModel,
    vocab: Vocabulary,
    tokenizer: Tokenizer,
    level: str,
    prime: str,
    length: int,
    sampler: Sampler,
    device: torch.device,
    on_text: Callable[[str], Any] | None = None,
) -> GenerationResult:
    """Continue ``prime`` by ``length`` tokens; ``on_text(piece)`` receives the text as it comes.

    Characters the model never saw raise a ``UserError``; unknown words are read as ``<unk>``
    (listed in the result's ``unknown``). The model must be in eval mode.

    The model first reads its warm-up context (``model.warmup``: the end of a paragraph of the
    training text, saved with the model), which is not part of the result: a model trained with
    the state carried across a whole corpus has rarely seen the all-zero initial state, and
    starting there makes its first characters noticeably worse. Without a prime, the text
    starts a new paragraph; with one, the prime is read as if it began one.
    """
    if vocab.pad_index not in sampler.banned:
        sampler.banned = (*sampler.banned, vocab.pad_index)  # padding is never text
    ids, unknown = encode_text(prime, tokenizer, vocab, level, what="the prime text")
    if level == "word" and prime and not prime.endswith("\n") and ids.numel():
        ids = ids[:-1]  # encode_text ends every line with <eos>; an open last line continues
    started = time.perf_counter()
    context = torch.tensor(list(getattr(model, "warmup", None) or []), dtype=torch.long)
    if ids.numel() == 0 and context.numel() == 0:
        ids = torch.tensor([start_token(vocab, level)])
    ids = torch.cat([context, ids])  # (C + P,)
    with torch.no_grad():
        logits, state = model(ids[None, :].to(device))  # (1, P, V): the prime, read once

        def step(tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            out, state = model(tokens[:, None], state)  # (1, 1, V)
            return out[:, -1], state

        pieces: list[str] = []
        last_newline = (not prime) or prime[-1].isspace()
        tokens = sample_tokens(step, logits[:, -1], state, length, sampler)
        with stepping(model, torch.device(device)):
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
