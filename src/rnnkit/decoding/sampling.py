"""Choosing the next token from a model's scores: greedy, temperature, top-k and top-p sampling.

Given the logits ``z`` of the next token (one row per sequence), sampling draws from

    p_i ∝ exp(z_i / T)            temperature T > 0: T < 1 sharpens, T > 1 flattens; T → 0 is
                                  greedy (argmax), which ``temperature=0`` means exactly
    top-k:  keep the k largest z_i, drop the rest (Fan et al. 2018)
    top-p:  keep the smallest set of most likely tokens whose probability sums to at least p
            (nucleus sampling, Holtzman et al. 2020); the most likely token is always kept

Filters are applied to ``z / T`` in that order (top-k, then top-p on what is left), as in
Hugging Face's ``generate``. Every random draw goes through an explicit ``torch.Generator``, so a
seed fixes the output and sampling never touches the global random state (a trainer's dropout).

A token is drawn as ``torch.multinomial`` (torch 2) draws one sample: ``argmax_j p_j / q_j``
with ``q_j ~ Exp(1)`` (the Gumbel-max trick with exponentials), so a seed gives the tokens it
gave through ``torch.multinomial``. Row ``i`` of the logits (sequence ``i`` of a batch) draws its
``q`` from its own generator, seeded with ``seed + i``: a sequence's draws do not depend on how
many are sampled together, and sequence ``i`` draws what a single sequence seeded ``seed + i``
draws.

:func:`sample_tokens` runs the generation loop for any recurrent model given one step function:
the state is carried from one token to the next, so the prefix is never read again::

    def step(tokens, state):                        # (N,) -> (N, V), new state
        logits, state = model(tokens[:, None], state)
        return logits[:, -1], state

    for token in sample_tokens(step, last_logits, state, length=200, temperature=0.8, seed=1):
        ...                                         # (N,) int64, one per sequence
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "Sampler",
    "check_sampling",
    "filter_logits",
    "sample_tokens",
    "top_k_filter",
    "top_p_filter",
]


def check_sampling(
    temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> None:
    """Raise ``ValueError`` ("expected X, got Y") for settings outside their ranges."""
    if isinstance(temperature, bool) or not (
        isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0
    ):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 (or None for all), got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1] (or None for all), got {top_p!r}")


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """``logits`` (..., V) with all but the ``k`` largest of each row set to ``-inf``."""
    if k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, -math.inf)


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """``logits`` (..., V) keeping, per row, the fewest most likely tokens with mass >= ``p``."""
    if p >= 1:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
    probs = sorted_logits.softmax(dim=-1)  # (..., V)
    # drop a token when the tokens before it already reach p; the first is always kept
    drop_sorted = (probs.cumsum(dim=-1) - probs) >= p  # (..., V)
    drop_sorted[..., 0] = False  # also when p is below float32's range (5e-324 reads as 0)
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, -math.inf)


def filter_logits(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """``(logits - max logits) / temperature`` with top-k then top-p filtering (``temperature``
    > 0): the softmax of ``logits / temperature``, shifted so that a tiny temperature gives
    0 for the likeliest token and -inf for the rest instead of inf - inf = nan."""
    check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding: expected temperature > 0 here")
    logits = logits.float()
    temperature = max(temperature, torch.finfo(torch.float32).tiny)  # not 0 in float32
    scaled = (logits - logits.amax(dim=-1, keepdim=True)) / temperature  # (..., V)
    if top_k is not None:
        scaled = top_k_filter(scaled, top_k)
    if top_p is not None:
        scaled = top_p_filter(scaled, top_p)
    return scaled


@dataclass
class Sampler:
    """Picks next tokens from logits ``(N, V)``: greedy, or sampled with temperature/top-k/top-p.

    Args:
        temperature: softmax temperature; 0 means greedy (argmax).
        top_k: sample among the k most likely tokens only (None: all).
        top_p: nucleus sampling mass (None: all).
        greedy: always take the most likely token (the same as ``temperature=0``).
        seed: seeds this sampler's own generator (None: a random seed); the global random
            state is never used.
        banned: token indices never produced (e.g. padding), or empty.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    seed: int | None = None
    banned: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_sampling(self.temperature, self.top_k, self.top_p)
        self.generator = torch.Generator()
        if self.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(self.seed)
        self._generators = [self.generator]  # row i's: seeded seed + i (see generators)
        self._banned: tuple[tuple[int, ...], Tensor] | None = None  # banned, as a tensor

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0

    def generators(self, rows: int) -> list[torch.Generator]:
        """The generators of the first ``rows`` rows: row 0's is :attr:`generator`, row i's is
        seeded with ``seed + i`` (a random seed without one), each made on first use and then
        kept, so that a sampler called again goes on with the same streams."""
        while len(self._generators) < rows:
            generator = torch.Generator()
            if self.seed is None:
                generator.seed()
            else:
                generator.manual_seed(self.seed + len(self._generators))
            self._generators.append(generator)
        return self._generators[:rows]

    def __call__(self, logits: Tensor) -> Tensor:
        """Next tokens ``(N,)`` int64 for logits ``(N, V)``."""
        if logits.dim() != 2:
            raise ValueError(f"expected logits (N, V), got shape {tuple(logits.shape)}")
        logits = logits.detach().float().cpu()
        if self.banned:
            logits = logits.index_fill(-1, self._banned_index(), -math.inf)
        if self.is_greedy:
            return logits.argmax(dim=-1)  # (N,)
        probs = filter_logits(logits, self.temperature, self.top_k, self.top_p).softmax(-1)
        return self.draw(probs)  # (N,)

    def draw(self, probs: Tensor) -> Tensor:
        """One token ``(N,)`` int64 per row of ``probs`` (N, V): ``argmax_j p_j / q_j``, ``q``
        (N, V) ~ Exp(1) drawn row by row from each row's generator -- what
        ``torch.multinomial(probs[i:i + 1], 1, generator=...)`` does, without its checks."""
        rows = probs.shape[0]
        noise = torch.empty_like(probs)  # (N, V)
        if rows == 1:
            noise.exponential_(generator=self.generator)
        else:
            for row, generator in zip(noise.split(1), self.generators(rows)):
                row.exponential_(generator=generator)  # (1, V), as for one sequence alone
        return torch.div(probs, noise, out=noise).argmax(dim=-1)  # (N,)

    def _banned_index(self) -> Tensor:
        """:attr:`banned` as an int64 tensor, made once per value of it."""
        if self._banned is None or self._banned[0] != self.banned:
            self._banned = (self.banned, torch.tensor(self.banned, dtype=torch.long))
        return self._banned[1]


def sample_tokens(
    step: Callable[[Tensor, Any], tuple[Tensor, Any]],
    logits: Tensor,
    state: Any,
    length: int,
    sampler: Sampler | None = None,
    **options: Any,
) -> Iterator[Tensor]:
    """Yield ``length`` next tokens ``(N,)``, stepping the recurrent state one token at a time.

    Args:
        step: ``step(tokens (N,), state) -> (logits (N, V), state)``: feeds one token per sequence.
        logits: the scores of the first token to choose, ``(N, V)`` (the model's output after the
            prime text).
        state: the recurrent state after the prime text.
        length: how many tokens to produce.
        sampler: how to choose each token; or ``**options`` for a new :class:`Sampler`.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    sampler = sampler if sampler is not None else Sampler(**options)
    for i in range(length):
        tokens = sampler(logits)  # (N,)
        yield tokens
        if i + 1 < length:
            logits, state = step(tokens.to(logits.device), state)
