"""Search for the most likely output sequence of a step-by-step decoder: greedy and beam search.

A decoder is a function ``step(tokens (B,), state) -> (log_probs (B, V), state, attention (B, S))``
whose state is a tuple (or NamedTuple) of tensors with the batch first, so hypotheses are
reordered with ``index_select(0, ...)`` on each.

Beam search keeps the ``beam_size`` best live prefixes of each sentence by total log-probability;
a prefix that emits ``eos`` is finished and scored with the length normalisation of Wu et al.
(2016),

    score(y) = log p(y | x) / lp(|y|),    lp(n) = ((5 + n) / 6) ** alpha

where |y| counts the generated tokens with ``eos`` (``alpha=0``: the raw log-probability). Only
an ``eos`` among a sentence's ``beam_size`` best continuations finishes a hypothesis, and a
sentence stops once it has ``beam_size`` finished ones (the rule of fairseq and OpenNMT; with
``beam_size=1`` this is greedy search). The result is the best-scoring finished hypothesis (the
best live prefix only when none finished within ``max_length``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["Hypothesis", "beam_search", "greedy_search", "length_penalty", "select_rows"]

StepFn = Callable[[Tensor, Any], tuple[Tensor, Any, Tensor]]


@dataclass
class Hypothesis:
    """One output sequence: its tokens (without ``bos``/``eos``), scores and attention."""

    tokens: list[int]
    log_prob: float  # log p(y | x), eos included when finished
    score: float  # log_prob / lp(length)
    attention: Tensor  # (T, S) the attention weights of each generated token
    finished: bool = True


def length_penalty(length: int | Tensor, alpha: float) -> float | Tensor:
    """lp(n) = ((5 + n) / 6) ** alpha (Wu et al. 2016)."""
    return ((5 + length) / 6) ** alpha


def select_rows(state: Any, index: Tensor) -> Any:
    """``state`` with every tensor's rows (dim 0) taken at ``index``; tuples keep their type."""
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(select_rows(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(s, index) for s in state)
    return state


@torch.no_grad()
def greedy_search(
    step: StepFn, state: Any, batch_size: int, bos: int, eos: int, max_length: int
) -> list[Hypothesis]:
    """The most likely token at each step until ``eos`` or ``max_length`` tokens, per sentence."""
    device = _device_of(state)
    tokens = torch.full((batch_size,), bos, dtype=torch.long, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    outputs, log_probs, weights = [], torch.zeros(batch_size, device=device), []
    for _ in range(max_length):
        scores, state, attention = step(tokens, state)  # (B, V), ..., (B, S)
        best, tokens = scores.max(dim=-1)  # (B,), (B,)
        log_probs += torch.where(done, torch.zeros_like(best), best)
        outputs.append(torch.where(done, torch.full_like(tokens, eos), tokens))
        weights.append(attention.float())
        done |= tokens == eos
        if bool(done.all()):
            break
    out = torch.stack(outputs, 1).cpu()  # (B, T)
    attn = torch.stack(weights, 1).cpu()  # (B, T, S)
    results = []
    for b in range(batch_size):
        row = out[b].tolist()
        finished = eos in row
        n = row.index(eos) + 1 if finished else len(row)
        lp = float(log_probs[b])
        results.append(Hypothesis(row[: n - 1] if finished else row, lp, lp, attn[b, :n], finished))
    return results


@torch.no_grad()
def beam_search(
    step: StepFn,
    state: Any,
    batch_size: int,
    bos: int,
    eos: int,
    max_length: int,
    beam_size: int = 5,
    alpha: float = 1.0,
    n_best: int = 1,
) -> list[list[Hypothesis]]:
    """The ``n_best`` best hypotheses of each sentence, best first (see the module docstring).

    Args:
        step: the decoder step; ``state`` holds ``batch_size`` rows (one per sentence).
        bos, eos: the begin and end token indices.
        max_length: the most tokens generated per hypothesis (``eos`` included).
        beam_size: live prefixes kept per sentence (1 is greedy search).
        alpha: the length-normalisation exponent (0: raw log-probability).
        n_best: hypotheses returned per sentence (at most ``beam_size``).
    """
    if beam_size < 1 or max_length < 1 or not 1 <= n_best <= beam_size:
        raise ValueError(
            f"expected beam_size >= 1, max_length >= 1 and 1 <= n_best <= beam_size, got "
            f"{beam_size}, {max_length}, {n_best}"
        )
    B, K = batch_size, beam_size
    device = _device_of(state)
    state = select_rows(state, torch.arange(B, device=device).repeat_interleave(K))  # (B*K, ...)
    tokens = torch.full((B * K,), bos, dtype=torch.long, device=device)
    beam_scores = torch.full((B, K), float("-inf"), device=device)
    beam_scores[:, 0] = 0.0  # all beams start equal: expand only the first at step 1
    history = torch.zeros(B * K, 0, dtype=torch.long, device=device)  # (B*K, t)
    attention_history: Tensor | None = None  # (B*K, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    done = [False] * B
    for t in range(1, max_length + 1):
        log_probs, state, attention = step(tokens, state)  # (B*K, V), ..., (B*K, S)
        vocab = log_probs.shape[-1]
        candidates = (beam_scores.reshape(-1, 1) + log_probs.float()).view(B, K * vocab)
        top_scores, top_index = candidates.topk(min(2 * K, K * vocab), dim=-1)  # (B, 2K)
        beam_of, token_of = top_index // vocab, top_index % vocab  # (B, 2K)
        attention = attention.float()
        step_attention = (
            attention.unsqueeze(1)
            if attention_history is None
            else torch.cat([attention_history, attention.unsqueeze(1)], 1)
        )  # (B*K, t, S)
        next_rows = torch.zeros(B, K, dtype=torch.long)
        next_tokens = torch.full((B, K), eos, dtype=torch.long)
        next_scores = torch.full((B, K), float("-inf"))
        top_scores_cpu, beam_cpu, token_cpu = top_scores.cpu(), beam_of.cpu(), token_of.cpu()
        for b in range(B):
            if done[b]:
                next_rows[b] = b * K  # keep feeding something; its scores stay -inf
                continue
            live = 0
            for rank in range(top_scores_cpu.shape[1]):
                score = float(top_scores_cpu[b, rank])
                if score == float("-inf"):
                    break
                row = b * K + int(beam_cpu[b, rank])
                token = int(token_cpu[b, rank])
                if token == eos:
                    if rank < K:  # only an eos among the K best continuations finishes
                        finished[b].append(Hypothesis(
                            history[row].tolist(), score, score / length_penalty(t, alpha),
                            step_attention[row].cpu(), True,
                        ))  # fmt: skip
                    continue
                if live < K:
                    next_rows[b, live], next_tokens[b, live] = row, token
                    next_scores[b, live] = score
                    live += 1
            if live == 0 or len(finished[b]) >= K:
                done[b] = True
                next_scores[b] = float("-inf")
        if all(done):
            break
        rows = next_rows.view(-1).to(device)
        state = select_rows(state, rows)
        history = torch.cat([history[rows], next_tokens.view(-1, 1).to(device)], 1)
        attention_history = step_attention[rows]
        tokens = next_tokens.view(-1).to(device)
        beam_scores = next_scores.to(device)
    results = []
    for b in range(B):
        hypotheses = finished[b]
        if not hypotheses:  # nothing ended within max_length: the live prefixes, unfinished
            scores = beam_scores[b].cpu()
            hypotheses = [
                Hypothesis(
                    history[b * K + k].tolist(),
                    float(scores[k]),
                    float(scores[k]) / length_penalty(history.shape[1], alpha),
                    attention_history[b * K + k].cpu(),
                    False,
                )  # fmt: skip
                for k in range(K)
                if scores[k] > float("-inf")
            ]
        if not hypotheses:  # no token but eos could follow, and eos ranked below the beam
            hypotheses = [Hypothesis([], float("-inf"), float("-inf"), torch.zeros(0, 0), False)]
        results.append(sorted(hypotheses, key=lambda h: -h.score)[:n_best])
    return results


def _device_of(state: Any) -> torch.device:
    if isinstance(state, Tensor):
        return state.device
    if isinstance(state, (tuple, list)):
        for item in state:
            device = _device_of(item)
            if device is not None:
                return device
    return torch.device("cpu")
