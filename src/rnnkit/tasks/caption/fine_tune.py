"""Fine-tuning the pretrained encoder after N epochs (``fine_tune_after``).

Epochs 1..N train the decoder alone on the frozen encoder's features, computed once and cached
(:mod:`rnnkit.tasks.caption.features`); from epoch N + 1 on, the batches carry the decoded images
again (augmented with ``augment``), the encoder's weights take gradients too, and they move at
their own, lower rate. The captioner lists the encoder and the decoder as two layer groups, so
``lr_decay_per_layer`` = ξ (:data:`FINE_TUNE_LR_DECAY` unless given) gives the two param groups

    lr_encoder = lr / ξ,   lr_decoder = lr        (both scheduled alike)
    θ_enc unchanged for epochs t <= N;   θ_enc ← θ_enc - lr_encoder · Adam(∇θ_enc L) for t > N

The optimizer holds the encoder's parameters from the start, so a resumed run finds the same
param groups; until epoch N + 1 they have ``requires_grad`` off and no gradient, which the
optimizers skip (also their weight decay; the L1/L2 penalties give them no gradient), so the
encoder stays bit-for-bit the pretrained one. Its batch norms keep their ImageNet statistics
throughout (:mod:`rnnkit.models.pretrained_encoder`). The validation BLEU uses the images too
once the encoder trains. A CPU pays for it: each fine-tuned epoch runs the encoder forward and
backward on every training image instead of reading cached features.
"""

from __future__ import annotations

import logging

from rnnkit.models.captioner import Captioner
from rnnkit.tasks.caption.data import CaptionBatches, CaptionSplit
from rnnkit.tasks.caption.objective import CaptionObjective
from rnnkit.train import Callback

__all__ = ["FINE_TUNE_LR_DECAY", "FineTuneEncoder"]

logger = logging.getLogger(__name__)

FINE_TUNE_LR_DECAY = 10.0  # ξ: the fine-tuned encoder learns at lr / ξ unless given


class FineTuneEncoder(Callback):
    """Freezes ``model``'s encoder for epochs 1..``after`` (batches of cached ``features``) and
    trains it from epoch ``after`` + 1 on (batches of decoded ``images``, augmented when
    ``augment``); see the module docstring.

    Args:
        model: the captioner; its encoder's parameters must be in the optimizer.
        after: N, the epochs with the encoder frozen.
        train, val: the training and validation batches, whose split this switches.
        objective: its validation split (the validation BLEU's images) switches too.
        images: "train" and "val" splits of decoded images.
        features: the same splits as the frozen encoder's features (None when ``after`` is 0).
        augment: augment the training images while the encoder trains.
    """

    def __init__(
        self,
        model: Captioner,
        after: int,
        *,
        train: CaptionBatches,
        val: CaptionBatches,
        objective: CaptionObjective,
        images: dict[str, CaptionSplit],
        features: dict[str, CaptionSplit] | None,
        augment: bool,
    ) -> None:
        if after > 0 and features is None:
            raise ValueError("frozen epochs need the encoder's features")
        self.model, self.after = model, after
        self.train, self.val, self.objective = train, val, objective
        self.images, self.features, self.augment = images, features, augment
        self.tuning: bool | None = None  # the state set last (None: not yet)

    def on_epoch_start(self, trainer, epoch: int) -> None:
        tuning = epoch > self.after
        if tuning == self.tuning:
            return
        self.tuning = tuning
        self.model.encoder.requires_grad_(tuning)
        splits = self.images if tuning else self.features
        self.train.split, self.val.split = splits["train"], splits["val"]
        self.train.augment_images = tuning and self.augment
        self.objective.val = splits["val"]
        rates = [group["lr"] for group in trainer.optimizer.param_groups]
        if tuning:
            logger.info("epoch %d: fine-tuning the %s encoder from here on (lr %g; decoder %g), "
                        "on the images", epoch, self.model.config.encoder, rates[0],
                        rates[-1])  # fmt: skip
        else:
            logger.info("epochs %d..%d: the %s encoder frozen, its cached features used",
                        epoch, self.after, self.model.config.encoder)  # fmt: skip
