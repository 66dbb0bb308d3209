"""The baselines a music model is compared with, fitted on the training frames (add-one
smoothed counts, so no probability is 0 or 1):

- ``frequency``: every key independently on with its training frequency,
  ``p_k = (Σ_t x_tk + 1) / (T + 2)``, whatever came before;
- ``markov``: every key a two-state Markov chain, ``P(x_tk = 1 | x_{t-1,k} = s) =
  (#(s → 1) + 1) / (#s + 2)``, the first frame following silence (as the model's does);
- ``repeat``: the previous frame again (frame accuracy only: a certain prediction has no finite
  likelihood; the Markov chain is its probabilistic form).

Each is scored like the model (:class:`~rnnkit.tasks.music.objective.FrameScores`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.data.pianoroll import KEYS
from rnnkit.errors import UserError
from rnnkit.tasks.music.objective import FrameScores

__all__ = ["Baselines"]

FIELDS = ("frequency", "after_off", "after_on")  # the saved arrays


def _previous(roll: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((1, KEYS), roll.dtype), roll[:-1]])  # (T, 88)


def _nll(probabilities: np.ndarray, roll: np.ndarray) -> float:
    """-Σ log P of the (T, 88) frames ``roll`` under per-key ``probabilities`` (T, 88)."""
    return float(-np.where(roll == 1, np.log(probabilities), np.log1p(-probabilities)).sum())


@dataclass
class Baselines:
    """The fitted baselines: the keys' frequencies and Markov transition probabilities (88,)."""

    frequency: np.ndarray  # p_k
    after_off: np.ndarray  # P(on | off before)
    after_on: np.ndarray  # P(on | on before)

    @classmethod
    def fit(cls, rolls: list[np.ndarray]) -> Baselines:
        frames = np.concatenate(rolls).astype(np.int64)  # (ΣT, 88)
        before = np.concatenate([_previous(r) for r in rolls]).astype(np.int64)  # (ΣT, 88)
        on_after_on = (frames & before).sum(0)
        on_after_off = (frames & (1 - before)).sum(0)
        return cls(
            (frames.sum(0) + 1) / (len(frames) + 2),
            (on_after_off + 1) / ((1 - before).sum(0) + 2),
            (on_after_on + 1) / (before.sum(0) + 2),
        )

    def to_dict(self) -> dict[str, list[float]]:
        return {name: getattr(self, name).tolist() for name in FIELDS}

    @classmethod
    def from_dict(cls, value: Any) -> Baselines:
        try:
            arrays = {name: np.asarray(value[name], dtype=np.float64) for name in FIELDS}
        except (KeyError, TypeError, ValueError):
            raise UserError("the saved baselines are damaged; expected frequency, after_off and "
                            f"after_on lists of {KEYS} probabilities") from None  # fmt: skip
        if any(a.shape != (KEYS,) or not ((a > 0) & (a < 1)).all() for a in arrays.values()):
            raise UserError(f"the saved baselines are damaged; expected {KEYS} probabilities "
                            "in (0, 1) each")  # fmt: skip
        return cls(**arrays)

    def score(self, rolls: list[np.ndarray]) -> dict[str, dict[str, float | None]]:
        """Baseline name -> ``{"nll", "accuracy"}`` on ``rolls``."""
        found = {name: FrameScores() for name in ("frequency", "markov", "repeat")}
        for roll in rolls:
            sounding, before = roll == 1, _previous(roll) == 1  # (T, 88)
            frequency = np.broadcast_to(self.frequency, roll.shape)  # (T, 88)
            markov = np.where(before, self.after_on, self.after_off)  # (T, 88)
            found["frequency"].add(_nll(frequency, roll), frequency > 0.5, sounding)
            found["markov"].add(_nll(markov, roll), markov > 0.5, sounding)
            found["repeat"].add(0.0, before, sounding)
        out = {}
        for name, scores in found.items():
            metrics = scores.metrics()
            nll = None if name == "repeat" else metrics["loss"]
            out[name] = {"nll": nll, "accuracy": metrics["accuracy"]}
        return out
