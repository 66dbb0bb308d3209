"""The sequence-regression objective: the mean squared error on standardised targets; MAE, RMSE
and R² in the targets' own units when evaluating.

With ``ŷ`` and ``y`` in original units (N, k):

    MAE  = (1/(N k)) Σ |ŷ - y|
    RMSE = sqrt((1/(N k)) Σ (ŷ - y)^2)
    R²   = (1/k) Σ_j [1 - Σ_n (ŷ_nj - y_nj)^2 / Σ_n (y_nj - ȳ_j)^2]

(R² averaged uniformly over the outputs, as scikit-learn's ``r2_score``; an output whose targets
are constant scores 1 when predicted exactly, else 0.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnnkit.data.audio import FeatureScaler
from rnnkit.train import Objective

__all__ = ["RegressionObjective", "regression_metrics"]


def regression_metrics(predictions: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """MAE, RMSE and R² of ``predictions`` against ``targets``, both (N, k) in original units."""
    predictions, targets = predictions.double(), targets.double()
    error = predictions - targets  # (N, k)
    residual = (error**2).sum(0)  # (k,)
    total = ((targets - targets.mean(0)) ** 2).sum(0)  # (k,)
    exact = torch.where(residual == 0, 1.0, 0.0).to(residual)  # constant targets
    r2 = torch.where(total > 0, 1 - residual / total.clamp(min=1e-300), exact)  # (k,)
    return {
        "mae": error.abs().mean().item(),
        "rmse": error.pow(2).mean().sqrt().item(),
        "r2": r2.mean().item(),
    }


class RegressionObjective(Objective):
    """``L = (1/(N k)) Σ (ŷ - z)^2`` with ``z`` the standardised targets, on
    :class:`~rnnkit.data.frame_batches.FrameBatch`-shaped batches (features, lengths, targets);
    evaluation adds MAE, RMSE and R² in the units ``target_scaler`` maps back to."""

    def __init__(self, target_scaler: FeatureScaler) -> None:
        self.target_scaler = target_scaler

    def train_loss(self, model, batch):
        outputs = model(batch.features, batch.lengths)  # (N, k)
        loss = F.mse_loss(outputs.float(), batch.targets)
        return loss, {"n": len(batch.targets)}

    @torch.no_grad()
    def predictions(self, model, batches) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs and targets (N, k), standardised, over all ``batches`` in order."""
        outputs, targets = [], []
        for batch in batches:
            outputs.append(model(batch.features, batch.lengths).float().cpu())
            targets.append(batch.targets.cpu())
        return torch.cat(outputs), torch.cat(targets)

    def unscale(self, values: torch.Tensor) -> torch.Tensor:
        """Standardised values (N, k) in the targets' own units, in float64."""
        scaler = self.target_scaler
        return values.double() * scaler.std.double() + scaler.mean.double()  # (N, k)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """The loss (standardised) and MAE, RMSE, R² (original units) of (N, k) outputs."""
        return {
            "loss": F.mse_loss(outputs.float(), targets.float()).item(),
            **regression_metrics(self.unscale(outputs), self.unscale(targets)),
        }

    def evaluate(self, model, batches):
        return self.metrics(*self.predictions(model, batches))
