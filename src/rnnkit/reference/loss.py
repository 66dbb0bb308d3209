"""The output head every reference model uses: a linear map to class scores, softmax cross-entropy.

At every step t and for every sequence n of the batch,

    y_t = W_hy h_t + b_y                               (N, C) class scores (logits)
    p_t = softmax(y_t),   p_{t,c} = e^{y_{t,c}} / Σ_c' e^{y_{t,c'}}
    l_t = Σ_n -log p_{t,n,k_{t,n}}                     k_{t,n}: the target class
    L   = Σ_t w_t l_t                                  w_t = 1 for the usual loss

(summed, not averaged, over time and batch: torch's ``cross_entropy(..., reduction="sum")``).
The step weights w_t select part of the loss, e.g. w = (0, …, 0, 1) for L_T, the last step's.

Backward: the softmax and the log cancel into the familiar

    dL/dy_t = w_t (p_t - onehot(k_t))                  (N, C)
    dL/dW_hy = Σ_t (dL/dy_t)^T h_t,   dL/db_y = Σ_t Σ_n dL/dy_t,   dL/dh_t = (dL/dy_t) W_hy

where dL/dh_t here is only the *direct* gradient of step t's own loss; BPTT adds what reaches
h_t from later steps through the recurrence.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["HEAD_PARAMS", "head_backward", "head_forward", "init_head"]

HEAD_PARAMS = ("weight_hy", "bias_y")


def init_head(
    hidden_size: int, num_classes: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """torch.nn.Linear's default: W_hy (C, H) and b_y (C,) drawn from U(-1/√H, 1/√H)."""
    bound = 1.0 / np.sqrt(hidden_size)
    return {
        "weight_hy": rng.uniform(-bound, bound, size=(num_classes, hidden_size)),
        "bias_y": rng.uniform(-bound, bound, size=(num_classes,)),
    }


def head_forward(
    params: Mapping[str, np.ndarray], h: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (p, l): softmax probabilities (T, N, C) and the per-step losses l_t (T,).

    Args:
        h: the hidden states h_1..h_T, shape (T, N, H).
        targets: target classes k_t, integers of shape (T, N).
    """
    logits = h @ params["weight_hy"].T + params["bias_y"]  # (T, N, C)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (T, N, C), for stability
    log_z = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (T, N, 1)
    log_p = shifted - log_z  # (T, N, C)
    picked = np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]  # (T, N)
    return np.exp(log_p), -picked.sum(axis=1)


def head_backward(
    params: Mapping[str, np.ndarray],
    h: np.ndarray,
    probs: np.ndarray,
    targets: np.ndarray,
    step_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return (dL/dh_t for every t from its own loss term, shape (T, N, H); head gradients).

    ``step_weights`` (T,) are the w_t of L = Σ_t w_t l_t; None means all ones.
    """
    d_logits = probs.copy()  # (T, N, C)
    np.put_along_axis(
        d_logits, targets[..., None], np.take_along_axis(probs, targets[..., None], -1) - 1.0, -1
    )
    if step_weights is not None:
        d_logits *= step_weights[:, None, None]  # (T, N, C)
    grads = {
        "weight_hy": np.einsum("tnc,tnh->ch", d_logits, h),  # (C, H)
        "bias_y": d_logits.sum(axis=(0, 1)),  # (C,)
    }
    dh = d_logits @ params["weight_hy"]  # (T, N, H)
    return dh, grads
