"""Inference graphs of trained models that ONNX and TorchScript can record with dynamic batch and
sequence axes.

rnnkit's layers run packed sequences through ``pack_padded_sequence`` (a sort by length, then a
loop over the packed batch sizes) and, under export, through the loop engine's unrolled steps:
both fix the sequence length of a recorded graph. Here each recurrent layer is mirrored by
``torch.nn``'s own layer holding the same weights (rnnkit's parameter names, shapes and gate
order are torch.nn's), which records as one ``LSTM``/``GRU``/``RNN`` node over any length, and
variable lengths are handled on padded input:

- forward direction: ``h_t`` depends only on ``x_1..x_t``, so the outputs at the valid steps
  ``t < T_n`` are those of the packed run, and the final state is ``h_{T_n}``, gathered;
- backward direction: each sequence is reversed within its length,
  ``x'_t = x_{T_n - 1 - t}`` for ``t < T_n`` (padding stays at the end), run forward, and its
  outputs reversed back the same way; its final state is its output at ``t = 0``.

Only options torch.nn has can be mirrored: layer norm and residual connections (which change
inference) are refused with a UserError; recurrent dropout, weight drop and locked dropout act
in training only and are left out.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.errors import UserError
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.forecaster import (
    EnsembleForecaster,
    RNNForecaster,
    Seq2SeqForecaster,
    combine_members,
    point_forecast,
)
from rnnkit.models.language_model import RNNLanguageModel
from rnnkit.models.sequence_regressor import SequenceRegressorModel
from rnnkit.models.speech import SpeechClassifierModel
from rnnkit.nn import RNNBase

__all__ = [
    "ClassifierGraph",
    "EnsembleForecasterGraph",
    "ForecasterGraph",
    "LanguageModelStep",
    "Seq2SeqForecasterGraph",
    "forecaster_graph",
    "mirror_layer",
    "reverse_within_lengths",
]

# rnnkit's mode -> (torch.nn layer, its nonlinearity option)
TORCH_LAYERS: dict[str, tuple[type[nn.RNNBase], dict]] = {
    "LSTM": (nn.LSTM, {}),
    "GRU": (nn.GRU, {}),
    "RNN_TANH": (nn.RNN, {"nonlinearity": "tanh"}),
    "RNN_RELU": (nn.RNN, {"nonlinearity": "relu"}),
}


def check_mirrorable(layer: RNNBase) -> None:
    """A UserError if ``layer`` uses an option torch.nn's layers lack at inference."""
    found = [name for name in ("layer_norm", "residual") if getattr(layer, name, False)]
    if found:
        raise UserError(
            f"export cannot record a recurrent layer with {' and '.join(found)}=True (torch.nn's "
            "layers, which ONNX and TorchScript record over any length, lack it); expected a "
            "model trained without --layer-norm/--residual"
        )


def mirror_layer(
    layer: RNNBase, layers: range | None = None, direction: int = 0, input_size: int | None = None
) -> nn.RNNBase:
    """A batch-first unidirectional ``torch.nn`` layer holding ``layer``'s weights of the layers
    ``layers`` (default: all) in ``direction`` (0 forward, 1 backward), in eval mode."""
    check_mirrorable(layer)
    layers = range(layer.num_layers) if layers is None else layers
    torch_class, extra = TORCH_LAYERS[layer.mode]
    if layer.mode == "LSTM" and layer.proj_size:
        extra = {**extra, "proj_size": layer.proj_size}
    mirror = torch_class(
        input_size or layer.input_size, layer.hidden_size, len(layers), bias=layer.bias,
        batch_first=True, **extra,
    )  # fmt: skip
    suffix = "_reverse" if direction else ""
    state = {}
    for name in mirror.state_dict():  # e.g. weight_ih_l0
        base, _, index = name.rpartition("_l")
        state[name] = getattr(layer, f"{base}_l{layers[int(index)]}{suffix}").detach()
    mirror.load_state_dict(state)
    return mirror.eval()


def reverse_within_lengths(x: Tensor, lengths: Tensor) -> Tensor:
    """Each sequence of ``x`` (N, L, F) reversed within its length (N,); padding stays at the
    end: ``y[n, t] = x[n, T_n - 1 - t]`` for ``t < T_n``, ``x[n, t]`` after. Its own inverse."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, L)
    last = lengths.unsqueeze(1) - 1  # (N, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (N, L)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))  # (N, L, F)


class ClassifierGraph(nn.Module):
    """A :class:`SequenceClassifier` (or a :class:`SpeechClassifierModel` or
    :class:`SequenceRegressorModel`) at inference over padded input: tokens (N, L) int64 padded
    with the vocabulary's pad index (or standardised feature frames (N, L, F) float), lengths
    (N,) int64, each in [1, L] -> logits (N, C) (a regressor's values (N, k)), the same as the
    model's packed run."""

    def __init__(
        self, model: SequenceClassifier | SpeechClassifierModel | SequenceRegressorModel
    ) -> None:
        super().__init__()
        rnn = model.rnn
        check_mirrorable(rnn)
        self.embedding = getattr(model, "embedding", None) or nn.Identity()  # speech: frames
        self.pool, self.head = model.pool, model.head
        self.hidden = rnn.proj_size or rnn.hidden_size  # proj_size: LSTM only
        self.bidirectional = rnn.bidirectional
        directions = 2 if rnn.bidirectional else 1
        width = self.hidden * directions
        self.forward_layers = nn.ModuleList(
            mirror_layer(rnn, range(k, k + 1), 0, rnn.input_size if k == 0 else width)
            for k in range(rnn.num_layers)
        )
        self.backward_layers = nn.ModuleList(
            mirror_layer(rnn, range(k, k + 1), 1, rnn.input_size if k == 0 else width)
            for k in range(rnn.num_layers if rnn.bidirectional else 0)
        )
        self.eval()

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(tokens)  # (N, L, E): token vectors or feature frames
        for k, forward_layer in enumerate(self.forward_layers):
            out, _ = forward_layer(x)  # (N, L, H)
            if self.bidirectional:
                back, _ = self.backward_layers[k](reverse_within_lengths(x, lengths))  # (N, L, H)
                out = torch.cat([out, reverse_within_lengths(back, lengths)], dim=-1)  # (N, L, 2H)
            x = out
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.hidden)  # (N, 1, H)
        finals = [x[:, :, : self.hidden].gather(1, last).squeeze(1)]  # [(N, H)]: h_{T_n}
        if self.bidirectional:
            finals.append(x[:, 0, self.hidden :])  # (N, H): the backward pass's last step
        top = torch.stack(finals)  # (D, N, H)
        return self.head(self.pool(x, lengths, top))  # (N, C)


class LanguageModelStep(nn.Module):
    """An :class:`RNNLanguageModel` stepped from a given state, so a runtime can generate: tokens
    (N, L) int64 and the state — ``h`` (layers, N, H) and for an LSTM ``c`` (layers, N, H) —
    -> next-token logits (N, L, V) and the state after the last token (zeros: the start)."""

    def __init__(self, model: RNNLanguageModel) -> None:
        super().__init__()
        self.model = model
        self.rnn = mirror_layer(model.rnn)
        self.lstm = model.rnn.mode == "LSTM"
        self.eval()

    def forward(self, tokens: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        x = self.model.embed(tokens)  # (N, L, E), no dropout in eval mode
        out, new_state = self.rnn(x, tuple(state) if self.lstm else state[0])  # (N, L, H)
        logits = self.model.scores(out)  # (N, L, V)
        return (logits, *new_state) if self.lstm else (logits, new_state)


class ForecasterGraph(nn.Module):
    """An :class:`RNNForecaster` at inference: windows (N, L, input_size) of scaled values ->
    its raw output (N, horizon, targets, P), P by its head (point 1, gaussian 2, quantile 3)."""

    def __init__(self, model: RNNForecaster) -> None:
        super().__init__()
        self.rnn, self.head = mirror_layer(model.rnn), model.head
        c = model.config
        self.shape = (c.output_steps, c.num_targets, model.outputs)
        self.eval()

    def forward(self, windows: Tensor) -> Tensor:
        out, _ = self.rnn(windows)  # (N, L, H)
        return self.head(out[:, -1]).reshape(-1, *self.shape)  # (N, h, k, P)


class Seq2SeqForecasterGraph(nn.Module):
    """A :class:`Seq2SeqForecaster` at inference: windows (N, L, input_size) of scaled values ->
    its raw output (N, horizon, targets, P); the decoder's steps (a fixed number, the horizon)
    are recorded one after the other, each reading the previous step's point forecast."""

    def __init__(self, model: Seq2SeqForecaster) -> None:
        super().__init__()
        self.encoder, self.decoder = mirror_layer(model.encoder), mirror_layer(model.decoder)
        self.head = model.head
        c = model.config
        self.steps, self.targets, self.outputs, self.kind = (
            c.output_steps, c.num_targets, model.outputs, c.head,
        )  # fmt: skip
        self.eval()

    def forward(self, windows: Tensor) -> Tensor:
        _, state = self.encoder(windows)  # (layers, N, H), a pair for an LSTM
        previous = windows[:, -1:, : self.targets]  # (N, 1, k)
        steps = []
        for _ in range(self.steps):
            out, state = self.decoder(previous, state)  # (N, 1, H)
            output = self.head(out).reshape(-1, 1, self.targets, self.outputs)  # (N, 1, k, P)
            steps.append(output)
            previous = point_forecast(output, self.kind)  # (N, 1, k)
        return torch.cat(steps, dim=1)  # (N, h, k, P)


class EnsembleForecasterGraph(nn.Module):
    """An :class:`EnsembleForecaster` at inference: each member's graph, their raw outputs
    combined as the model combines them (``combine_members``) -> (N, horizon, targets, P)."""

    def __init__(self, model: EnsembleForecaster) -> None:
        super().__init__()
        self.members = nn.ModuleList(forecaster_graph(member) for member in model.members)
        self.kind = model.config.head
        self.eval()

    def forward(self, windows: Tensor) -> Tensor:
        outputs = torch.stack([member(windows) for member in self.members])  # (M, N, h, k, P)
        return combine_members(outputs, self.kind)  # (N, h, k, P)


def forecaster_graph(model: nn.Module) -> nn.Module:
    """The inference graph of a forecaster of any architecture, or of an ensemble of them."""
    if isinstance(model, EnsembleForecaster):
        return EnsembleForecasterGraph(model)
    if isinstance(model, Seq2SeqForecaster):
        return Seq2SeqForecasterGraph(model)
    return ForecasterGraph(model)
