"""Seeing inside a language model: unit activations over a text and the next-token predictions.

As in Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks" (2015): the model
reads a text one token at a time; each chosen unit's activation at each position colours that
position's character (blue positive, red negative, in [-1, 1]: ``tanh(c_t)`` for LSTM cell
states, ``h_t`` for hidden states), and below, the model's top-k guesses for the next token at
each position, shaded by probability, with the true next token marked. Written as a
self-contained HTML page (hover a character for its numbers) or a PNG picture.
"""

from __future__ import annotations

import html
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.atomic import atomic_path, atomic_write_text
from rnnkit.data.tokenize import Tokenizer
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import UserError
from rnnkit.models import RNNLanguageModel
from rnnkit.tasks.lm.data import encode_text
from rnnkit.tasks.lm.generate import stepping

__all__ = [
    "STATES",
    "Trace",
    "pick_units",
    "render_html",
    "render_png",
    "trace_text",
    "trace_units",
    "visualize_units",
    "write_visualization",
]

logger = logging.getLogger(__name__)

STATES = ("cell", "hidden")
PNG_MAX_TOKENS = 600
HTML_MAX_TOKENS = 5_000  # a page of a few MB that a browser opens at once
SUFFIXES = (".html", ".htm", ".png")
PNG_WIDTH = 60  # characters per row of the picture


@dataclass
class Trace:
    """What the model did at each position ``t`` of a text of ``T`` tokens.

    Attributes:
        tokens: the input tokens as text, ``T`` of them.
        activations: ``(T, H)``: the chosen state of the chosen layer after reading token ``t``.
        top_tokens: per position, the ``k`` most likely next tokens (as text) ...
        top_probs: ... and their probabilities.
        next_tokens: the token that does come next (None after the last one).
        layer: the layer shown (1-based); state: "cell" or "hidden".
    """

    tokens: list[str]
    activations: torch.Tensor
    top_tokens: list[list[str]]
    top_probs: list[list[float]]
    next_tokens: list[str | None]
    layer: int
    state: str


@torch.no_grad()
def trace_text(
    model: RNNLanguageModel,
    ids: torch.Tensor,
    itos: tuple[str, ...],
    *,
    layer: int,
    state: str,
    top: int,
    device: torch.device,
    context: list[int] | None = None,
) -> Trace:
    """Step ``model`` through ``ids`` ``(T,)`` one token at a time, recording ``state`` of
    ``layer`` (1-based) and the top-``top`` predictions (the state is carried, never re-read).
    ``context`` (the model's warm-up text) is read first, unrecorded."""
    layers, is_lstm = model.config.layers, model.config.cell == "lstm"
    if not 1 <= layer <= layers:
        raise UserError(
            f"--layer must be in 1..{layers} for this {layers}-layer model, got {layer}"
        )
    if state not in STATES:
        raise UserError(f"--state must be one of {', '.join(STATES)}, got {state!r}")
    if state == "cell" and not is_lstm:
        raise UserError(
            f"--state cell needs an LSTM; this model is a {model.config.cell.upper()}: "
            "expected --state hidden"
        )
    top = max(1, min(top, len(itos)))
    rows, tops, probs = [], [], []
    carried = None
    if context:
        _, carried = model(torch.tensor([context], device=device))
    for t in range(ids.numel()):
        with stepping(model, torch.device(device)):
            logits, carried = model(ids[None, t : t + 1].to(device), carried)  # (1, 1, V)
        if is_lstm:
            h, c = carried  # (layers, 1, H) each
            value = torch.tanh(c[layer - 1, 0]) if state == "cell" else h[layer - 1, 0]
        else:
            value = carried[layer - 1, 0]  # (H,)
        rows.append(value.float().cpu())
        p, index = logits[0, -1].float().softmax(-1).topk(top)  # (k,), (k,)
        tops.append([itos[i] for i in index.tolist()])
        probs.append(p.cpu().tolist())
    tokens = [itos[i] for i in ids.tolist()]
    return Trace(
        tokens=tokens,
        activations=torch.stack(rows),  # (T, H)
        top_tokens=tops,
        top_probs=probs,
        next_tokens=tokens[1:] + [None],
        layer=layer,
        state=state,
    )


def pick_units(activations: torch.Tensor, units: list[int] | None, count: int) -> list[int]:
    """The given units (checked), else the ``count`` that vary most over the text."""
    hidden = activations.shape[1]
    if units:
        bad = [u for u in units if not 0 <= u < hidden]
        if bad:
            raise UserError(f"--units must be in 0..{hidden - 1} (hidden size {hidden}), got {bad}")
        return units
    if count < 1:
        raise UserError(f"--num-units must be at least 1, got {count}")
    spread = activations.std(dim=0) if activations.shape[0] > 1 else activations.abs()[0]
    return spread.topk(min(count, hidden)).indices.tolist()


# -- HTML ------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
.text { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap;
        line-height: 1.7; font-size: 14px; border: 1px solid #ddd; padding: .6em; }
.text span { border-radius: 2px; }
h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
h2 small { color: #777; font-weight: normal; }
table.pred { border-collapse: collapse; font-family: ui-monospace, Menlo, monospace;
             font-size: 12px; margin-bottom: 1em; }
table.pred td, table.pred th { width: 1.5em; height: 1.4em; text-align: center; padding: 0 2px;
             border: 1px solid #eee; white-space: pre; }
table.pred th { background: #f4f4f4; }
table.pred td.hit { outline: 2px solid #1a7f37; outline-offset: -2px; font-weight: bold; }
.legend span { display: inline-block; width: 3em; text-align: center; }
"""


def _show(token: str, word: bool) -> str:
    """A token as visible text: line ends as ↵, spaces as ␣ where they would vanish."""
    if token == "\n" or token == "<eos>":
        return "↵"
    if token == " ":
        return "␣"
    if token == "\t":
        return "⇥"
    return token


def _colour(value: float) -> str:
    a = min(1.0, abs(value)) * 0.85
    rgb = "33,102,172" if value >= 0 else "178,24,43"
    return f"rgba({rgb},{a:.3f})"


def render_html(trace: Trace, units: list[int], title: str, word: bool) -> str:
    sep = " " if word else ""
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Layer {trace.layer}, {'tanh(cell state)' if trace.state == 'cell' else 'hidden state'}"
        f" after each of {len(trace.tokens)} tokens. Hover a position for the unit's value; the "
        "table below shows the model's guesses for the next token.</p>",
        "<p class='legend'><span style='background:rgba(178,24,43,.85)'>−1</span>"
        "<span style='background:rgba(178,24,43,.4)'>−0.5</span><span>0</span>"
        "<span style='background:rgba(33,102,172,.4)'>+0.5</span>"
        "<span style='background:rgba(33,102,172,.85)'>+1</span></p>",
    ]
    for unit in units:
        column = trace.activations[:, unit].tolist()
        spread = float(trace.activations[:, unit].std()) if len(column) > 1 else 0.0
        parts.append(f"<h2>unit {unit} <small>(std {spread:.2f})</small></h2><div class='text'>")
        for t, (token, value) in enumerate(zip(trace.tokens, column)):
            shown = html.escape(token if token not in ("\n", "<eos>") else "↵\n")
            parts.append(
                f"<span style='background:{_colour(value)}' title='{value:+.3f}'>{shown}</span>"
                + (sep if t + 1 < len(trace.tokens) and token not in ("\n", "<eos>") else "")
            )
        parts.append("</div>")
    parts.append(
        f"<h2>Top {len(trace.top_tokens[0]) if trace.top_tokens else 0} next-token predictions "
        "<small>(shade: probability; outlined: the token that comes next)</small></h2>"
    )
    width = 12 if word else 40
    for start in range(0, len(trace.tokens), width):
        stop = min(start + width, len(trace.tokens))
        parts.append("<table class='pred'><tr>")
        parts.extend(
            f"<th>{html.escape(_show(trace.tokens[t], word))}</th>" for t in range(start, stop)
        )
        parts.append("</tr>")
        for rank in range(len(trace.top_tokens[0])):
            parts.append("<tr>")
            for t in range(start, stop):
                token, p = trace.top_tokens[t][rank], trace.top_probs[t][rank]
                hit = " class='hit'" if token == trace.next_tokens[t] else ""
                parts.append(
                    f"<td{hit} style='background:rgba(26,127,55,{0.9 * p:.3f})' "
                    f"title='{p:.3f}'>{html.escape(_show(token, word))}</td>"
                )
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


# -- PNG -------------------------------------------------------------------------------------


def render_png(trace: Trace, units: list[int], title: str, path: Path, word: bool) -> None:
    """Draw the trace into ``path`` (needs matplotlib): one panel per unit, then the guesses."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError(
            "a PNG needs matplotlib: pip install 'rnnkit[plot]' (or write --out FILE.html)"
        ) from None
    import numpy as np

    T = len(trace.tokens)
    width = 12 if word else PNG_WIDTH
    rows = math.ceil(T / width)
    k = len(trace.top_tokens[0])
    unit_h = 0.28 * rows + 0.45
    pred_h = (0.22 * (k + 1) + 0.25) * rows
    fig = Figure(
        layout="constrained",
        figsize=(width * (0.62 if word else 0.19) + 1.0, len(units) * unit_h + pred_h + 0.8),
    )
    heights = [unit_h] * len(units) + [pred_h]
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    fig.suptitle(
        f"{title} — layer {trace.layer}, {'tanh(cell)' if trace.state == 'cell' else 'hidden'}",
        fontsize=10,
    )
    font = {"family": "monospace", "fontsize": 7 if word else 8, "ha": "center", "va": "center"}
    cmap = matplotlib.colormaps["RdBu"]
    for panel, unit in enumerate(units):
        ax = fig.add_subplot(grid[panel])
        grid_values = np.full((rows, width), np.nan)
        values = trace.activations[:, unit].numpy()
        grid_values.flat[:T] = values
        ax.imshow(grid_values, cmap=cmap, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
        for t, token in enumerate(trace.tokens):
            ax.text(t % width, t // width, _show(token, word)[:8], **font)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"unit {unit}", fontsize=8, loc="left")
    # the guesses: for each row of text, k rows of top-k tokens shaded by probability
    ax = fig.add_subplot(grid[len(units)])
    block = k + 1
    probs = np.full((rows * block, width), np.nan)
    greens = matplotlib.colormaps["Greens"]
    for t in range(T):
        r, c = (t // width) * block, t % width
        ax.text(c, r, _show(trace.tokens[t], word)[:8], fontweight="bold", **font)
        for rank in range(k):
            p = trace.top_probs[t][rank]
            probs[r + 1 + rank, c] = p
            token = _show(trace.top_tokens[t][rank], word)[:8]
            hit = trace.top_tokens[t][rank] == trace.next_tokens[t]
            ax.text(c, r + 1 + rank, token, color="white" if p > 0.6 else "black",
                    fontweight="bold" if hit else "normal", **font)  # fmt: skip
    ax.imshow(probs, cmap=greens, vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(
        f"top {k} next-token guesses under each input token (bold: the true next token)",
        fontsize=8,
        loc="left",
    )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def write_visualization(trace: Trace, units: list[int], out: Path, title: str, word: bool) -> Path:
    """Write ``out`` as HTML or PNG (by its suffix)."""
    _check_suffix(out)
    if out.suffix.lower() == ".png":
        render_png(trace, units, title, out, word)
    else:
        atomic_write_text(out, render_html(trace, units, title, word))
    return out


def _check_suffix(out: Path) -> None:
    if out.suffix.lower() not in SUFFIXES:
        raise UserError(f"--out must end in .html or .png, got {out.name!r}")


def trace_units(
    model: RNNLanguageModel,
    vocab: Vocabulary,
    tokenizer: Tokenizer,
    level: str,
    text: str,
    *,
    layer: int | None,
    state: str | None,
    units: list[int] | None,
    num_units: int,
    top: int,
    device: torch.device,
    context: list[int],
    max_tokens: int = HTML_MAX_TOKENS,
) -> tuple[Trace, list[int]]:
    """Step ``model`` through ``text`` (its first ``max_tokens`` tokens): the :class:`Trace` of
    ``layer`` (default: the last) and ``state`` (default: the LSTM's cell, else the hidden
    state), with the ``units`` chosen (else the ``num_units`` that vary most) and the ``top``
    next-token guesses."""
    if top < 1:
        raise UserError(f"--top must be at least 1, got {top}")
    ids, unknown = encode_text(text, tokenizer, vocab, level, what="the text")
    if level == "word" and not text.endswith("\n") and ids.numel():
        ids = ids[:-1]  # no <eos> after an open last line
    if unknown:
        logger.warning("%d word(s) are not in the vocabulary and were read as <unk>: %s",
                       len(unknown), ", ".join(unknown[:10]))  # fmt: skip
    if ids.numel() == 0:
        raise UserError("the text is empty; expected some text to read")
    if ids.numel() > max_tokens:
        logger.warning(
            "showing the first %d of %d tokens (a longer page would not open quickly); "
            "pass a shorter text for the rest", max_tokens, ids.numel(),
        )  # fmt: skip
        ids = ids[:max_tokens]
    state = state or ("cell" if model.config.cell == "lstm" else "hidden")
    layer = model.config.layers if layer is None else layer  # 0 is refused, not the default
    trace = trace_text(
        model, ids, vocab.itos, layer=layer, state=state, top=top, device=device, context=context,
    )  # fmt: skip
    return trace, pick_units(trace.activations, units, num_units)


def visualize_units(
    model: RNNLanguageModel,
    vocab: Vocabulary,
    tokenizer: Tokenizer,
    level: str,
    text: str,
    out: Path,
    *,
    layer: int | None,
    state: str | None,
    units: list[int] | None,
    num_units: int,
    top: int,
    device: torch.device,
    context: list[int],
    title: str,
) -> dict:
    """Trace ``model`` over ``text`` and write the picture to ``out`` (.html or .png): the
    ``units`` (else the ``num_units`` that vary most) of ``layer`` (default: the last) and the
    ``top`` next-token guesses. Returns what ``rnnkit visualize --json`` prints."""
    _check_suffix(out)
    trace, chosen = trace_units(
        model, vocab, tokenizer, level, text, layer=layer, state=state, units=units,
        num_units=num_units, top=top, device=device, context=context,
        max_tokens=PNG_MAX_TOKENS if out.suffix.lower() == ".png" else HTML_MAX_TOKENS,
    )  # fmt: skip
    state = trace.state
    write_visualization(trace, chosen, out, title, word=level == "word")
    return {
        "out": str(out),
        "layer": trace.layer,
        "state": state,
        "units": chosen,
        "tokens": len(trace.tokens),
        "report": (
            f"wrote {out}: {len(chosen)} {state} unit(s) of layer {trace.layer} ({chosen}) over "
            f"{len(trace.tokens)} {'words' if level == 'word' else 'characters'}, with the top "
            f"{min(top, len(vocab))} next-token guesses"
        ),
    }
