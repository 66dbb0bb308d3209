"""Encoder-decoder with attention (Sutskever et al. 2014; Cho et al. 2014; Bahdanau et al. 2015).

Encoder, over the packed source x_1..x_S (bidirectional, stacked; from rnnkit.nn):

    k_1..k_S, h_S = RNN_enc(E_src[x_1..x_S])                  (N, S, D*H_e)
    s_0 = tanh(W_b h_S + b_b)           the bridge: each layer's final states (both directions)
                                        mapped to the decoder's initial state (LSTM: c too)

Decoder, one step per target token, fed its previous token y_{t-1} (the reference while
teacher forcing, its own prediction otherwise):

    e_t = E_tgt[y_{t-1}]                                        (N, E)
    c_t, a_t = attention(s_{t-1}, k_1..k_S)                     (N, D*H_e), (N, S)
    s_t = RNN_dec([e_t; c_t], s_{t-1})                          stacked cells, (N, H)
    o_t = tanh(W_o [s_t; c_t; e_t] + b_o)                       (N, E)
    p(y_t | y_<t, x) = softmax(W_y o_t + b_y)                   (N, V_tgt); W_y = E_tgt if tied

The attention query is the state before the step, as in Bahdanau et al.; its score is additive
(Bahdanau) or multiplicative (Luong's dot and general), see :mod:`rnnkit.models.attention`.
With ``attention="none"`` every c_t is the encoder's final state (Cho et al. 2014). While teacher
forcing at ratio 1, o_t and the output layer run once over all steps after the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.models.attention import ATTENTIONS, Attention, PreparedKeys, padding_mask
from rnnkit.models.recurrent import CELLS, build_cell, build_recurrent
from rnnkit.nn.init import INIT_NAMES
from rnnkit.settings import Settings

__all__ = ["DecoderState", "Seq2Seq", "Seq2SeqConfig"]


@dataclass
class Seq2SeqConfig(Settings):
    """Everything needed to rebuild a :class:`Seq2Seq` (saved in config.json).

    Args:
        src_vocab_size: source embedding rows (from the source vocabulary).
        tgt_vocab_size: target embedding rows and outputs (from the target vocabulary).
        embed: embedding size (of both languages).
        encoder_hidden: encoder units per direction.
        hidden: decoder units.
        layers: stacked layers in the encoder and in the decoder.
        cell: the encoder's and the decoder's cell.
        bidirectional: read the source both ways.
        attention: additive (Bahdanau), dot or general (Luong), or none (Cho et al. 2014).
        dropout: on embeddings, between layers and before the output layer.
        tie_embeddings: share the target embedding with the output layer.
        init: recurrent weight initialisation (orthogonal, xavier_uniform, uniform, ...).
        padding_idx: the padding token's index.
    """

    KIND: ClassVar[str] = "model setting"
    CHOICES: ClassVar[dict[str, Any]] = {
        "cell": CELLS,
        "attention": (*ATTENTIONS, "none"),
        "init": INIT_NAMES,
    }
    RANGES: ClassVar[dict[str, str]] = {
        "src_vocab_size": "[1, inf)",
        "tgt_vocab_size": "[1, inf)",
        "embed": "[1, inf)",
        "encoder_hidden": "[1, inf)",
        "hidden": "[1, inf)",
        "layers": "[1, inf)",
        "dropout": "[0, 1)",
        "padding_idx": "[0, inf)",
    }

    src_vocab_size: int
    tgt_vocab_size: int
    embed: int = 256
    encoder_hidden: int = 256
    hidden: int = 512
    layers: int = 1
    cell: str = "gru"
    bidirectional: bool = True
    attention: str = "additive"
    dropout: float = 0.3
    tie_embeddings: bool = True
    init: str | None = "orthogonal"
    padding_idx: int = 0


class DecoderState(NamedTuple):
    """What a decoder step reads and writes; every tensor has the batch first, so beam search
    can reorder hypotheses with ``index_select(0, ...)`` on each field."""

    hidden: Tensor  # (N, L, H) each layer's state
    cell: Tensor  # (N, L, H) each layer's LSTM cell state (N, 0, H) for other cells
    keys: Tensor  # (N, S, K) encoder outputs
    projected: Tensor  # (N, S, A) their attention projection
    mask: Tensor  # (N, S) True at real source positions
    summary: Tensor  # (N, K) the encoder's final state (the context without attention)


class Seq2Seq(nn.Module):
    """Encoder-decoder with attention; see the module docstring for the equations.

    ``forward(src, src_lengths, tgt_in)`` returns the logits ``(N, T, V_tgt)`` of the next target
    tokens under teacher forcing; ``encode`` and ``step`` decode one token at a time (greedy and
    beam search in :mod:`rnnkit.decoding`).
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        directions = 2 if c.bidirectional else 1
        key_size = directions * c.encoder_hidden
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.embed, padding_idx=c.padding_idx)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.embed, padding_idx=c.padding_idx)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder = build_recurrent(
            c.cell, c.embed, c.encoder_hidden, c.layers, bidirectional=c.bidirectional,
            dropout=c.dropout, init=c.init, forget_bias=1.0 if c.cell == "lstm" else None,
        )  # fmt: skip
        self.bridge = nn.Linear(key_size, c.hidden)
        self.cell_bridge = nn.Linear(key_size, c.hidden) if c.cell == "lstm" else None
        self.attention = (
            Attention(c.attention, c.hidden, key_size) if c.attention != "none" else None
        )
        self.cells = nn.ModuleList(
            build_cell(
                c.cell,
                (c.embed + key_size) if layer == 0 else c.hidden,
                c.hidden,
                init=c.init,
                forget_bias=1.0 if c.cell == "lstm" else None,
            )  # fmt: skip
            for layer in range(c.layers)
        )
        self.pre_output = nn.Linear(c.hidden + key_size + c.embed, c.embed)
        self.output = nn.Linear(c.embed, c.tgt_vocab_size)
        for embedding in (self.src_embedding, self.tgt_embedding):
            # small, as for tied language models (Press & Wolf 2017): N(0, 1) rows would start the
            # tied output layer with logits of standard deviation sqrt(embed)
            nn.init.uniform_(embedding.weight, -0.1, 0.1)
            with torch.no_grad():
                embedding.weight[c.padding_idx].zero_()
        if c.tie_embeddings:
            self.output.weight = self.tgt_embedding.weight

    # -- encoder --------------------------------------------------------------------------------
    def encode(self, src: Tensor, src_lengths: Tensor) -> DecoderState:
        """``src (N, S)`` padded, ``src_lengths (N,)`` → the decoder's initial state."""
        c = self.config
        embedded = self.dropout(self.src_embedding(src))  # (N, S, E)
        packed = pack_padded_sequence(
            embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        packed_keys, final = self.encoder(packed)
        keys, _ = pad_packed_sequence(packed_keys, batch_first=True, total_length=src.shape[1])
        h_n = final[0] if isinstance(final, tuple) else final  # (L*D, N, H_e)
        n = src.shape[0]
        directions = 2 if c.bidirectional else 1
        # (L*D, N, H_e) -> (N, L, D*H_e): per layer, the directions' final states side by side
        last = h_n.view(c.layers, directions, n, c.encoder_hidden).permute(2, 0, 1, 3)
        last = last.reshape(n, c.layers, directions * c.encoder_hidden)
        hidden = torch.tanh(self.bridge(last))  # (N, L, H)
        if self.cell_bridge is not None:
            c_n = final[1].view(c.layers, directions, n, c.encoder_hidden).permute(2, 0, 1, 3)
            cell = self.cell_bridge(c_n.reshape(n, c.layers, -1))  # (N, L, H)
        else:
            cell = hidden.new_zeros(n, 0, c.hidden)
        summary = last[:, -1]  # (N, K) the top layer's final states
        if self.attention is not None:
            prepared = self.attention.prepare(keys, src_lengths)
        else:
            mask = padding_mask(src_lengths.to(keys.device), keys.shape[1])
            prepared = PreparedKeys(keys, keys.new_zeros(n, keys.shape[1], 0), mask)
        return DecoderState(hidden, cell, prepared.keys, prepared.projected, prepared.mask, summary)

    # -- decoder --------------------------------------------------------------------------------
    def _context(self, state: DecoderState) -> tuple[Tensor, Tensor | None]:
        if self.attention is None:
            return state.summary, None
        prepared = PreparedKeys(state.keys, state.projected, state.mask)
        return self.attention(state.hidden[:, -1], prepared)  # (N, K), (N, S)

    def _advance(
        self, embedded: Tensor, state: DecoderState
    ) -> tuple[DecoderState, Tensor, Tensor | None]:
        """One step from the embedded previous token ``(N, E)``: (new state, c_t, a_t)."""
        context, weights = self._context(state)  # (N, K), (N, S)
        x = torch.cat([embedded, context], dim=-1)  # (N, E + K)
        hiddens, cells = [], []
        for layer, step_cell in enumerate(self.cells):
            if state.cell.shape[1]:
                h, c = step_cell(x, (state.hidden[:, layer], state.cell[:, layer]))
                cells.append(c)
            else:
                h = step_cell(x, state.hidden[:, layer])
            hiddens.append(h)
            x = self.dropout(h) if layer + 1 < len(self.cells) else h
        new_state = state._replace(
            hidden=torch.stack(hiddens, dim=1),  # (N, L, H)
            cell=torch.stack(cells, dim=1) if cells else state.cell,
        )
        return new_state, context, weights

    def _logits(self, top: Tensor, context: Tensor, embedded: Tensor) -> Tensor:
        """``[s_t; c_t; e_t]`` (..., H + K + E) → logits (..., V)."""
        features = torch.cat([top, context, embedded], dim=-1)
        return self.output(self.dropout(torch.tanh(self.pre_output(self.dropout(features)))))

    def step(self, tokens: Tensor, state: DecoderState) -> tuple[Tensor, DecoderState, Tensor]:
        """One token ``(N,)`` → (log-probabilities ``(N, V)``, new state, attention ``(N, S)``)."""
        embedded = self.dropout(self.tgt_embedding(tokens))  # (N, E)
        state, context, weights = self._advance(embedded, state)
        logits = self._logits(state.hidden[:, -1], context, embedded)  # (N, V)
        if weights is None:
            weights = state.mask.float() / state.mask.sum(1, keepdim=True)  # uniform: no attention
        return torch.log_softmax(logits.float(), dim=-1), state, weights

    def forward(
        self,
        src: Tensor,
        src_lengths: Tensor,
        tgt_in: Tensor,
        *,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Logits ``(N, T, V)`` for ``tgt_in (N, T)`` (``<bos>`` then the target, shifted).

        With ``teacher_forcing < 1`` each step after the first is fed the model's own greedy
        prediction instead of the reference with probability ``1 - teacher_forcing`` (per step,
        for the whole batch, as in the PyTorch tutorials); then the output layer runs per step.
        """
        state = self.encode(src, src_lengths)
        embedded_all = self.dropout(self.tgt_embedding(tgt_in))  # (N, T, E)
        steps = tgt_in.shape[1]
        if teacher_forcing >= 1.0:
            tops, contexts = [], []
            for t in range(steps):
                state, context, _ = self._advance(embedded_all[:, t], state)
                tops.append(state.hidden[:, -1])
                contexts.append(context)
            return self._logits(torch.stack(tops, 1), torch.stack(contexts, 1), embedded_all)
        logits = []
        embedded = embedded_all[:, 0]
        draws = torch.rand(steps, generator=generator)
        for t in range(steps):
            state, context, _ = self._advance(embedded, state)
            step_logits = self._logits(state.hidden[:, -1], context, embedded)  # (N, V)
            logits.append(step_logits)
            if t + 1 < steps:
                if draws[t + 1] < teacher_forcing:
                    embedded = embedded_all[:, t + 1]
                else:
                    predicted = step_logits.argmax(-1)  # (N,)
                    embedded = self.dropout(self.tgt_embedding(predicted))
        return torch.stack(logits, dim=1)  # (N, T, V)
