"""``LanguageModel``: character- and word-level language models trained with truncated BPTT, and
the verbs of a trained one (generate, evaluate, predict, visualize)."""

from __future__ import annotations

import logging
import math
import numbers
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.data.tokenize import Tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import Vocabulary
from rnnkit.data.word_vectors import WordVectors
from rnnkit.decoding import Sampler, check_sampling
from rnnkit.errors import UserError
from rnnkit.models import LanguageModelConfig, RNNLanguageModel
from rnnkit.settings import Settings
from rnnkit.tasks.base import Task, duration, progress_bar, text_list
from rnnkit.tasks.embeddings import (
    WordVectorSettings,
    check_vectors_file,
    embed_from_vectors,
    read_vectors,
    start_embedding,
)
from rnnkit.tasks.lm.data import (
    LEVELS,
    LMData,
    build_vocabulary,
    data_source,
    decode_tokens,
    encode_text,
    evaluation_text,
    make_tokenizer,
    read_corpus,
    warmup_ids,
)
from rnnkit.tasks.lm.generate import DEFAULT_LENGTH, check_samples, generate_text
from rnnkit.tasks.lm.objective import (
    LanguageModelObjective,
    LMRegularization,
    SampleCallback,
    SampleSettings,
    make_stream,
)
from rnnkit.tasks.lm.visualize import trace_units, visualize_units
from rnnkit.train import Callback, Checkpoint, TrainConfig
from rnnkit.train.averaging import NonMonotonicTrigger

__all__ = ["WORD_PRESETS", "LanguageModel"]

logger = logging.getLogger(__name__)

# The word level's differences from the defaults of the settings dataclasses, which are the
# character level's (see the class docstring for how both were chosen).
WORD_PRESETS: dict[str, dict[str, Any]] = {
    "data": {"seq_length": 35, "max_vocab": 30_000},
    "model": {"hidden": 256, "embed": 256, "tie_weights": True, "dropout": 0.3},
    "sample": {"sample_length": 60},
    "train": {"lr_gamma": 0.8, "precision": "auto"},
}


@dataclass
class Preprocessing:
    """What a language model learns from its training split before the model: the tokenizer,
    the vocabulary, and the warm-up context samples start after (see ``generate_text``)."""

    tokenizer: Tokenizer
    vocab: Vocabulary
    warmup: list[int] = field(default_factory=list)
    vectors: WordVectors | None = None  # --embeddings, until the model is built


class LanguageModel(Task):
    """Train a language model: embedding -> stacked LSTM/GRU/RNN -> next-token softmax.

    Data: --data tinyshakespeare (shipped with rnnkit), --data ptb (Penn Treebank: $RNNKIT_DATA,
    ~/.cache/rnnkit, or downloaded), --data imdb-unsup (IMDb's unlabelled and training reviews,
    never its test reviews, for a classifier to start from: --max-documents N for a quick run), or
    a path: a UTF-8 text file, or a folder of text files (its train/valid/test files when it has
    them). A single text is cut into the first 90% for training and the last 10% for validation
    (--val-fraction, --test-fraction).

    The AWD-LSTM's regularisers (Merity et al. 2017), off by default: --weight-drop (DropConnect
    on the recurrent weights), --embed-dropout (whole words), --locked-dropout (one dropout mask
    per sequence; --input-dropout and --output-dropout apart from --dropout), --ar and --tar
    (activation regularisation), --tie-weights (on for words), and --optimizer ntasgd (SGD that
    averages its weights once validation has not improved for --asgd-patience epochs).
    --embeddings FILE starts the word embedding from word2vec/GloVe/fastText vectors (tied
    weights need --hidden of the vectors' size; --freeze-embeddings needs --no-tie-weights).

    Truncated BPTT the standard way: the corpus as --batch-size parallel streams, windows of
    --seq-length steps, the hidden state carried between windows (detached), gradients clipped by
    norm. An epoch is one pass over the windows; each evaluation prints a sample.

    Defaults (chosen from tokens per second of each size and validation loss after a time budget on
    a 2-core CPU): characters, a 2-layer LSTM of 384 units, embedding 64, dropout 0.2, windows of
    100 steps, batch 32; words, a 2-layer LSTM of 256 units with tied embeddings, dropout 0.3,
    windows of 35, batch 32; Adam lr 2e-3 decayed per epoch (x0.9 characters, x0.8 words),
    clipping at 5; words also run in bf16 autocast where the hardware multiplies bf16 (the softmax
    over the vocabulary dominates their time; --precision fp32 turns it off).

    Examples:
      rnnkit train lm --data tinyshakespeare --max-time 15 --out runs/shakespeare
      rnnkit train lm --data ptb --level word --max-time 30 --out runs/ptb
      rnnkit train lm --data my_novel.txt --hidden 256 --out runs/novel
      rnnkit train lm --data ptb --level word --weight-drop 0.5 --ar 2 --tar 1 --out runs/awd
      rnnkit train lm --data imdb-unsup --level word --max-time 60 --out runs/imdb-lm
      rnnkit train lm --resume runs/shakespeare --max-time 10      (continue)
      rnnkit generate runs/shakespeare --prime "ROMEO:" --length 500

    In Python::

      lm = rnnkit.LanguageModel(hidden=256).fit(open("novel.txt").read(), max_time=10)
      lm.generate("Chapter 1", 300, seed=1)["text"]; lm.save("runs/novel")
    """

    NAME: ClassVar[str] = "lm"
    SECTIONS: ClassVar[dict[str, type[Settings]]] = {
        "data": LMData,
        "model": LanguageModelConfig,
        "regularization": LMRegularization,
        "vectors": WordVectorSettings,
        "sample": SampleSettings,
        "train": TrainConfig,
    }
    TRAIN_DEFAULTS: ClassVar[TrainConfig] = TrainConfig(
        epochs=30, lr=2e-3, clip_norm=5.0, lr_schedule="exponential", lr_gamma=0.9
    )
    FIXED: ClassVar[tuple[str, ...]] = ("source", "vocab_size")
    RESUME_SECTIONS: ClassVar[tuple[str, ...]] = ("train", "regularization", "sample")

    # -- settings ------------------------------------------------------------------------------

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        return {"vocab_size": 1} if section == "model" else {}

    @classmethod
    def presets(cls, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The level's defaults; one-hot input and an adaptive softmax tie nothing, and tying
        makes embed = hidden."""
        presets = super().presets(given)
        if given.get("level") == "word":
            for section, values in WORD_PRESETS.items():
                presets[section] = {**presets.get(section, {}), **values}
        model = presets.setdefault("model", {})
        if (given.get("one_hot") or given.get("adaptive_softmax")) and "tie_weights" not in given:
            model["tie_weights"] = False  # nothing to tie to
        if given.get("tie_weights", model.get("tie_weights")) and "embed" not in given:
            model["embed"] = given.get("hidden", model.get("hidden", LanguageModelConfig.hidden))
        return presets

    @classmethod
    def shown_defaults(cls) -> dict[str, Any]:
        """Each level's default where they differ, e.g. "384 chars, 256 words"."""
        char, word = (
            {
                name: value
                for settings in cls.resolve_settings({"level": level}).values()
                for name, value in settings.to_dict().items()
            }
            for level in LEVELS
        )
        return {
            name: value if name == "level" or word[name] == value else _per_level(value, word[name])
            for name, value in char.items()
        }

    @classmethod
    def resolve_settings(cls, given, saved=None):
        if saved is not None:  # runs saved before the sample settings, and with vocab_size
            saved = {
                section: dict(values) if isinstance(values, Mapping) else values
                for section, values in saved.items()
                if values
            }  # anything else is for the base class to refuse with a clear message
            data = saved.setdefault("data", {})
            if isinstance(data, dict) and "vocab_size" in data:
                data["max_vocab"] = data.pop("vocab_size")
        return super().resolve_settings(given, saved)

    # -- fit steps -----------------------------------------------------------------------------

    def fit(
        self,
        X: str | list[str] | None = None,
        *,
        data: str | None = None,
        validation_data: str | list[str] | None = None,
        **options: Any,
    ) -> LanguageModel:
        """Train on in-memory text ``X`` (a string, or a list of documents joined with line
        ends) or on ``data`` (tinyshakespeare, ptb, a text file or a folder of them).

        ``validation_data`` (text) selects the best epoch, else the last ``val_fraction`` of a
        single text is cut off for it; the other options are ``Task.fit``'s (``out``, ``resume``,
        ``max_time``, ...). Returns ``self`` with the best epoch loaded.
        """
        source = None if data is None else data_source(data)
        if not options.get("resume"):
            self._check_vectors()
        return super().fit(X, data=source, validation_data=validation_data, **options)

    def read_splits(self, X, y, validation_data):
        corpus = read_corpus(self.settings["data"], X, validation_data)
        logger.info("data: %s", corpus.summary())
        return corpus.texts

    def fit_preprocessing(self, splits):
        data = self.settings["data"]
        tokenizer = make_tokenizer(data.level, data.source)
        vocab = build_vocabulary(
            splits, tokenizer, data.level, max_size=data.max_vocab, min_freq=data.min_freq
        )
        vectors = read_vectors(self.settings["vectors"], vocab)  # --embeddings, else None
        return Preprocessing(tokenizer, vocab, vectors=vectors)

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Preprocessing:
        artifacts = checkpoint.artifacts
        vocab = Vocabulary.from_dict(artifacts["vocab"])
        saved = artifacts.get("warmup") or {"ids": []}
        ids = saved.get("ids") if isinstance(saved, dict) else None
        if not isinstance(ids, list):
            raise UserError(
                f"{checkpoint.path / 'warmup.json'}: expected an object with 'ids', a list of "
                f"token ids, got {type(saved).__name__} with ids {type(ids).__name__}"
            )
        warmup = [i for i in ids if isinstance(i, int) and 0 < i < len(vocab)]
        return Preprocessing(tokenizer_from_dict(artifacts["tokenizer"]), vocab, warmup)

    def artifacts(self, prep: Preprocessing) -> dict[str, Any]:
        level = self.settings["data"].level
        return {
            "tokenizer": prep.tokenizer.to_dict(),
            "vocab": prep.vocab.to_dict(),
            "warmup": {"ids": prep.warmup, "text": decode_tokens(prep.warmup, prep.vocab, level)},
        }

    def _check_vectors(self) -> None:
        """--embeddings needs an embedding to fill, and --freeze-embeddings an embedding not tied
        to the output layer; a missing or unreadable file is said now, before the data loads."""
        vectors, model = self.settings["vectors"], self.settings["model"]
        if vectors.embeddings is not None and model.one_hot:
            raise UserError(
                "embeddings fill an embedding layer; expected one_hot=False with embeddings, "
                f"got one_hot=True and embeddings={vectors.embeddings!r}"
            )
        if vectors.freeze_embeddings and (model.tie_weights or model.one_hot):
            raise UserError(
                "freeze_embeddings keeps the embedding fixed; expected an embedding that is not "
                "tied to the output layer (tie_weights=False) nor one-hot, got "
                f"tie_weights={model.tie_weights}, one_hot={model.one_hot}"
            )
        check_vectors_file(vectors)

    def _embed_from_vectors(
        self, config: LanguageModelConfig, vectors: WordVectors | None
    ) -> LanguageModelConfig:
        """``config`` with the word vectors' embedding size (unless embed was given); tied
        weights then need that hidden size too."""
        if vectors is None or "embed" in self.given or config.embed == vectors.vector_size:
            return config
        if config.tie_weights and config.hidden != vectors.vector_size:
            raise UserError(
                f"the word vectors have dimension {vectors.vector_size} and tie_weights shares "
                f"the embedding with the output layer, which needs hidden {vectors.vector_size}; "
                f"got hidden {config.hidden} (set hidden={vectors.vector_size}, or "
                "tie_weights=False)"
            )
        return embed_from_vectors(config, vectors, self.given)

    def build_model(self, prep: Preprocessing) -> nn.Module:
        config = self.settings["model"].replace(vocab_size=len(prep.vocab))
        config = self.settings["model"] = self._embed_from_vectors(config, prep.vectors)
        model = RNNLanguageModel(config)
        if model.embedding is not None:
            freeze = self.settings["vectors"].freeze_embeddings
            start_embedding(model.embedding, prep.vocab, prep.vectors, freeze)
        prep.vectors = None
        logger.info(
            "model: %d-layer %s, hidden %d, %s, %s parameters", config.layers,
            config.cell.upper(), config.hidden,
            "one-hot input" if config.one_hot else f"embedding {config.embed}",
            f"{sum(p.numel() for p in model.parameters()):,}",
        )  # fmt: skip
        return model

    def make_batches(self, splits, prep: Preprocessing):
        data = self.settings["data"]
        ids = {
            split: encode_text(text, prep.tokenizer, prep.vocab, data.level,
                               what=f"the {split} split", quote=False)[0]
            for split, text in splits.items()
        }  # fmt: skip
        prep.warmup = warmup_ids(ids["train"], prep.vocab, data.level)  # saved in artifacts()
        train = make_stream(ids["train"], data.batch_size, data.seq_length, "training split")
        val = make_stream(ids["val"], data.eval_batch_size, data.seq_length, "validation split")
        logger.info(
            "%s-level vocabulary of %d; tokens: %s; %d windows of %dx%d per epoch", data.level,
            len(prep.vocab), ", ".join(f"{k} {v.numel():,}" for k, v in ids.items()), len(train),
            train.batch_size, data.seq_length,
        )  # fmt: skip
        return train, val

    def make_objective(self, prep: Preprocessing) -> LanguageModelObjective:
        extra = self.settings["regularization"]
        return LanguageModelObjective(self.settings["data"].level, ar=extra.ar, tar=extra.tar)

    def make_callbacks(self, prep: Preprocessing) -> list[Callback]:
        sample, level = self.settings["sample"], self.settings["data"].level
        if sample.sample_prime:  # an unknown character is said now, not at the first sample
            encode_text(sample.sample_prime, prep.tokenizer, prep.vocab, level, what="sample_prime")
        seed = self.settings["train"].seed or 0
        callbacks: list[Callback] = [
            SampleCallback(
                prep.vocab, prep.tokenizer, level, sample, context=prep.warmup, seed=seed
            )
        ]
        if self.settings["train"].optimizer == "ntasgd":
            patience = self.settings["regularization"].asgd_patience
            callbacks.insert(0, NonMonotonicTrigger(patience))  # averages before samples
        return callbacks

    def summary_report(self, summary: Mapping[str, Any]) -> str:
        unit = self._unit()
        bpc = f", {summary['val_bpc']:.3f} bits/char" if "val_bpc" in summary else ""
        out = summary["out"]
        return (
            f"trained {summary['epochs']} epoch(s), {summary['steps']} steps in "
            f"{duration(summary['train_time_s'])} ({summary['stop_reason']}); best epoch "
            f"{summary['best_epoch']}: val loss {summary.get('val_loss', math.nan):.4f} "
            f"nats/{unit}, perplexity {summary.get('val_perplexity', math.nan):.2f}{bpc}\n"
            f'saved in {out}/best — next: rnnkit generate {out} --prime "..."'
        )

    # -- the loaded model ----------------------------------------------------------------------

    def _unit(self) -> str:
        return "char" if self.settings["data"].level == "char" else "word"

    def generate(
        self,
        prime: str = "",
        length: int | None = None,
        *,
        temperature: float = 0.8,
        top_k: int | None = None,
        top_p: float | None = None,
        greedy: bool = False,
        seed: int | None = None,
        samples: int = 1,
        on_text: Callable[[Any], Any] | None = None,
    ) -> dict[str, Any]:
        """Continue ``prime`` by ``length`` tokens (default: 500 characters or 100 words).

        ``temperature`` (0 or ``greedy``: the most likely token), ``top_k``, ``top_p`` (nucleus
        sampling); the same ``seed`` gives the same text (None: a random one, reported);
        ``on_text(piece)`` receives the text as it comes. Returns ``{"input": prime, "output":
        the continuation, "text": both, ...}`` with the sampling settings and the timing.

        ``samples`` > 1 continues the prime that many times in one batch (at most
        ``MAX_SAMPLES``): ``"outputs"`` and ``"texts"`` (one per sample) replace ``"output"`` and
        ``"text"``, ``"samples"`` says how many, ``tokens_per_second`` counts every sample's,
        and ``on_text`` receives a list of one piece per sample. Sample ``i`` is what a single
        sample with seed ``seed + i`` gives (up to the rounding of the batched products).
        """
        self.require_model()
        level = self.settings["data"].level
        length = DEFAULT_LENGTH[level] if length is None else length
        if not _is_int(length) or length < 0:
            raise UserError(f"length must be >= 0 (an integer), got {length!r}")
        samples = check_samples(samples)
        if greedy and (top_k is not None or top_p is not None):
            raise UserError("greedy takes the most likely token: expected no top_k or top_p")
        try:
            check_sampling(temperature, top_k, top_p)
        except ValueError as error:
            raise UserError(str(error)) from None
        if seed is not None and not _is_int(seed):
            raise UserError(f"seed must be an integer, got {seed!r}")
        if seed is not None and not -(2**63) <= seed <= 2**64 - samples:  # seed + i per sample
            raise UserError(
                f"seed must be from {-(2**63)} to {2**64 - samples} (with {samples} sample(s): "
                f"sample i is seeded seed + i), got {seed}"
            )
        seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
        sampler = Sampler(temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
                          seed=seed)  # fmt: skip
        prep = self.preprocessing
        result = generate_text(
            self.model, prep.vocab, prep.tokenizer, level, prime, length, sampler,
            self.model_device, samples=samples, context=prep.warmup, on_text=on_text,
        )  # fmt: skip
        if result.unknown:
            shown = ", ".join(result.unknown[:10]) + (" ..." if len(result.unknown) > 10 else "")
            logger.warning(
                "%d word(s) of the prime are not in the vocabulary and were read as <unk>: %s",
                len(result.unknown), shown,
            )  # fmt: skip
        rate = samples * result.tokens / result.seconds if result.seconds > 0 else math.inf
        if samples == 1:
            texts = {"output": result.generated, "text": result.text}
        else:
            texts = {
                "outputs": result.samples,
                "texts": [result.prime + sample for sample in result.samples],
                "samples": samples,
            }
        return {
            "input": result.prime,
            **texts,
            "level": level,
            "tokens": result.tokens,
            "seed": seed,
            "temperature": 0.0 if greedy else temperature,
            "top_k": top_k,
            "top_p": top_p,
            "greedy": sampler.is_greedy,
            "seconds": round(result.seconds, 3),
            "tokens_per_second": round(rate, 1),
            "unknown": result.unknown,
        }

    def predict_rows(self, texts: list[str], **sampling: Any) -> list[dict[str, Any]]:
        """Each text continued as ``generate`` continues a prime: ``{"input", "output", "text"}``.

        ``sampling``: ``generate``'s keywords (``length``, ``temperature``, ``seed``, ...), the
        same for every text; without a seed one random seed serves them all.
        """
        texts = text_list(texts)
        if sampling.get("samples", 1) != 1:
            raise UserError(
                "predict continues each text once; expected no samples option (generate gives "
                f"several samples of one prime), got samples={sampling['samples']!r}"
            )
        sampling.setdefault("seed", random.SystemRandom().randrange(2**31))
        rows = []
        for text in texts:
            result = self.generate(text, **sampling)
            rows.append({key: result[key] for key in ("input", "output", "text")})
        return rows

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        return "\n\n".join(row["text"] for row in rows)

    def evaluate(
        self,
        X: str | list[str] | None = None,
        *,
        data: str | None = None,
        split: str = "val",
        batch_size: int | None = None,
    ) -> dict[str, Any]:
        """Loss (nats per token), perplexity and, for characters, bits per character of
        in-memory text ``X`` or a file given as ``data`` (each scored whole: split "all"), or of
        a split of the training data or of a dataset with its own splits (ptb).

        Returns ``{"split", "data", "n" (tokens), "loss", "perplexity", ["bpc",] "report"}``.
        """
        self.require_model()
        if X is not None and data is not None:
            raise UserError("expected either in-memory text (X) or data='...', got both")
        settings, prep = self.settings["data"], self.preprocessing
        text, name, where = evaluation_text(settings, X, data, split)
        what = "text" if name == "all" else f"{name} split"
        ids, unknown = encode_text(text, prep.tokenizer, prep.vocab, settings.level,
                                   what=f"the {what}", quote=X is not None)  # fmt: skip
        if unknown:
            logger.info("%d distinct words of the %s are not in the vocabulary: <unk>",
                        len(unknown), what)  # fmt: skip
        size = batch_size or settings.eval_batch_size
        stream = make_stream(ids, size, settings.seq_length, what)
        objective = LanguageModelObjective(settings.level)
        objective.start_epoch(self.model, train=False)
        device = self.model_device
        windows = progress_bar(stream, "evaluate", self.verbose)
        batches = ((x.to(device), y.to(device)) for x, y in windows)
        with torch.no_grad():
            metrics = objective.evaluate(self.model, batches)
        unit = self._unit()
        bpc = f"  bits/char {metrics['bpc']:.4f}" if "bpc" in metrics else ""
        return {
            "split": name,
            "data": where,
            "n": ids.numel(),
            **metrics,
            "report": (
                f"{where}, {'all of it' if name == 'all' else what}: {ids.numel():,} {unit}s\n"
                f"loss {metrics['loss']:.4f} nats/{unit}  perplexity {metrics['perplexity']:.2f}"
                f"{bpc}"
            ),
        }

    def visualize(
        self,
        text: str,
        out: str | Path,
        *,
        layer: int | None = None,
        state: str | None = None,
        units: list[int] | None = None,
        num_units: int = 6,
        top: int = 5,
    ) -> dict[str, Any]:
        """Draw what the model's units do over ``text`` into ``out`` (.html or .png), as in
        Karpathy's char-RNN pictures: the ``units`` (else the ``num_units`` that vary most) of
        ``layer`` (default: the last), ``state`` "cell" (LSTM, as tanh(c_t)) or "hidden", and the
        ``top`` next-token guesses at each position. Returns what ``rnnkit visualize`` prints."""
        self.require_model()
        prep = self.preprocessing
        return visualize_units(
            self.model, prep.vocab, prep.tokenizer, self.settings["data"].level, text, Path(out),
            layer=layer, state=state, units=units, num_units=num_units, top=top,
            device=self.model_device, context=prep.warmup,
            title=f"rnnkit visualize {self.run_dir.name if self.run_dir else 'model'}",
        )  # fmt: skip

    def activations(
        self,
        text: str,
        *,
        layer: int | None = None,
        state: str | None = None,
        units: list[int] | None = None,
        num_units: int = 6,
        top: int = 5,
    ) -> dict[str, Any]:
        """What ``visualize`` draws, as numbers: the model steps through ``text`` and records
        ``state`` ("cell": tanh(c_t) of an LSTM, its default; "hidden": h_t) of ``layer``
        (default: the last) after each token. Returns ``{"input", "level", "layer", "state",
        "hidden_size", "tokens" (T), "units" (the chosen ones, else the ``num_units`` that vary
        most), "activations" (T rows of one value per unit), "guesses" (T rows of the ``top``
        next tokens as [token, probability])}``."""
        self.require_model()
        prep, level = self.preprocessing, self.settings["data"].level
        trace, chosen = trace_units(
            self.model, prep.vocab, prep.tokenizer, level, text, layer=layer, state=state,
            units=units, num_units=num_units, top=top, device=self.model_device,
            context=prep.warmup,
        )  # fmt: skip
        values = trace.activations[:, chosen]  # (T, U)
        return {
            "input": text,
            "level": level,
            "layer": trace.layer,
            "state": trace.state,
            "hidden_size": trace.activations.shape[1],
            "tokens": trace.tokens,
            "units": chosen,
            "activations": [[round(v, 4) for v in row] for row in values.tolist()],
            "guesses": [
                [[token, round(p, 4)] for token, p in zip(tokens, probs)]
                for tokens, probs in zip(trace.top_tokens, trace.top_probs)
            ],
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _per_level(char: Any, word: Any) -> str:
    """How --help shows a default that differs by level: "384 chars, 256 words"."""
    numbers_only = all(_is_number(v) for v in (char, word))
    by = "" if numbers_only else "for "
    return f"{_shown(char)} {by}chars, {_shown(word)} {by}words"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else value
