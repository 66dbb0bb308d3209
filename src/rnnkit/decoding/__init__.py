"""Choosing output tokens from a model's scores, one concept per module.

==============  ===============================================================================
``sampling``    ``Sampler``: greedy, temperature, top-k and top-p sampling; ``sample_tokens``
``state``       the decoder step that searches drive; ``select_rows`` reorders its state
``hypothesis``  ``Hypothesis``: one output sequence with its scores and attention
``greedy``      ``greedy_search``: the most likely token at each step
``beam``        ``beam_search`` with the length normalisation of Wu et al. (2016)
==============  ===============================================================================
"""

from rnnkit.decoding.beam import beam_search, length_penalty
from rnnkit.decoding.greedy import greedy_search
from rnnkit.decoding.hypothesis import Hypothesis
from rnnkit.decoding.sampling import (
    Sampler,
    check_sampling,
    filter_logits,
    sample_tokens,
    top_k_filter,
    top_p_filter,
)
from rnnkit.decoding.state import StepFn, select_rows

__all__ = [
    "Hypothesis",
    "Sampler",
    "StepFn",
    "beam_search",
    "check_sampling",
    "filter_logits",
    "greedy_search",
    "length_penalty",
    "sample_tokens",
    "select_rows",
    "top_k_filter",
    "top_p_filter",
]
