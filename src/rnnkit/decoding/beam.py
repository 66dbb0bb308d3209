"""Beam search over a step-by-step decoder (see :mod:`rnnkit.decoding.state` for the step).

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

from typing import Any

import torch
from torch import Tensor

from rnnkit.decoding.hypothesis import Hypothesis
from rnnkit.decoding.state import StepFn, select_rows, state_device

__all__ = ["beam_search", "length_penalty"]


def length_penalty(length: int | Tensor, alpha: float) -> float | Tensor:
    """lp(n) = ((5 + n) / 6) ** alpha (Wu et al. 2016)."""
    return ((5 + length) / 6) ** alpha


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
    device = state_device(state)
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
