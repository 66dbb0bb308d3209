"""Generation speed (issue #18): characters a second of the default Shakespeare character model
(a 2 x 384 LSTM, embedding 64, Tiny Shakespeare's vocabulary) sampled one character at a time,
on one thread, against torch.nn.LSTM stepping the same weights with the same sampling.

    python benchmarks/generate.py --threads 1                       # random weights
    python benchmarks/generate.py --threads 1 --checkpoint runs/shakespeare   # a trained run
    python benchmarks/generate.py --threads 1 --length 100 --rounds 2 --name smoke

Speed does not depend on what the weights learned, so without ``--checkpoint`` the model has
random weights of the default shape (``--extra`` changes it, e.g. ``--extra "--hidden 256"``;
``--runs`` is not used: nothing is trained). Contenders, each continuing the prime "ROMEO:" by
``--length`` characters at temperature 0.8 with the same seed, one after the other in each of
``--rounds`` rounds (the median rate is reported, so a busy machine slows all of them alike):

- rnnkit, 1 sample and ``--samples`` samples in one batch (characters of all samples a second):
  ``generate_text``, the path of ``rnnkit generate`` (the model's fast stepper);
- rnnkit before this stepper: 1 sample through the model's ``forward`` a step at a time,
  drawing with ``torch.multinomial`` (the same draws as now, through its checks);
- torch.nn.LSTM with the same weights (embedding, LSTM, linear head from torch.nn), stepped a
  token at a time with the same sampler: as it comes (its CPU LSTM goes to oneDNN, which
  prepares its weights on every call) and with oneDNN turned off (ATen's own LSTM), 1 sample and
  ``--samples`` samples.

Each text is compared with rnnkit's of the same seed and number of samples: they agree until
the rounding of the two implementations first tips a draw (``agree``: characters equal before
the first difference, over all samples). Rates are taken both on the wall clock and on the
thread's CPU time (``time.thread_time``: with one thread, the work itself, whatever else the
machine runs); the ratios between contenders are what to read on a busy machine, and the load
average is recorded.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import time
from collections.abc import Callable

import torch
from quality import add_run_options, start_run, write_result
from torch import nn
from tqdm.auto import tqdm

from rnnkit.data.tokenize import get_tokenizer
from rnnkit.decoding import Sampler
from rnnkit.models import LanguageModelConfig, RNNLanguageModel
from rnnkit.tasks import load
from rnnkit.tasks.lm.data import build_vocabulary, encode_text, load_corpus
from rnnkit.tasks.lm.generate import generate_text

PRIME = "ROMEO:"
TEMPERATURE = 0.8
SEED = 1


def random_model(extra: str) -> tuple[RNNLanguageModel, object, object]:
    """The default character model of Tiny Shakespeare with random weights (``extra``: model
    options such as ``--hidden 256``), its vocabulary and tokenizer."""
    corpus = load_corpus("tinyshakespeare")
    tokenizer = get_tokenizer("char")
    vocab = build_vocabulary(corpus.texts, tokenizer, "char")
    words = shlex.split(extra)
    options = {
        words[i].lstrip("-").replace("-", "_"): int(words[i + 1]) for i in range(0, len(words), 2)
    }
    torch.manual_seed(0)
    config = LanguageModelConfig(vocab_size=len(vocab), **options)
    return RNNLanguageModel(config).eval(), vocab, tokenizer


class TorchLanguageModel(nn.Module):
    """The same model on torch.nn's layers, with a copy of ``model``'s weights."""

    def __init__(self, model: RNNLanguageModel) -> None:
        super().__init__()
        c = model.config
        self.embedding = nn.Embedding(c.vocab_size, c.embed)
        self.rnn = nn.LSTM(c.embed, c.hidden, c.layers, batch_first=True)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        self.embedding.load_state_dict(model.embedding.state_dict())
        self.rnn.load_state_dict(model.rnn.state_dict(), strict=False)
        self.head.load_state_dict(model.head.state_dict())
        self.eval()

    def forward(self, tokens, state=None):
        out, state = self.rnn(self.embedding(tokens), state)  # (N, L, H)
        return self.head(out), state  # (N, L, V)


def torch_generate(model: TorchLanguageModel, ids: torch.Tensor, length: int, samples: int,
                   sampler: Sampler) -> list[list[int]]:  # fmt: skip
    """Each sample's tokens: the prime ``ids`` read once, then one token per step per sample."""
    chosen = []
    with torch.inference_mode():
        logits, state = model(ids[None, :])  # (1, P, V)
        logits = logits[:, -1].expand(samples, -1)  # (N, V)
        state = tuple(s.expand(s.shape[0], samples, s.shape[2]).contiguous() for s in state)
        for t in range(length):
            tokens = sampler(logits)  # (N,)
            chosen.append(tokens)
            if t + 1 < length:
                out, state = model(tokens[:, None], state)  # (N, 1, V)
                logits = out[:, -1]
    return torch.stack(chosen, 1).tolist() if chosen else [[] for _ in range(samples)]


class MultinomialSampler(Sampler):
    """The sampler as it was before: ``torch.multinomial`` for a single sequence."""

    def draw(self, probs: torch.Tensor) -> torch.Tensor:
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)  # (1,)


def rnnkit_generate(model, vocab, tokenizer, length: int, samples: int, sampler: Sampler,
                    *, fast: bool = True) -> list[str]:  # fmt: skip
    """Each sample's text from ``generate_text`` (``fast=False``: through ``forward``)."""
    if not fast:
        model.stepper = lambda rows: None  # what generate_text did before the stepper
    try:
        result = generate_text(model, vocab, tokenizer, "char", PRIME, length, sampler, "cpu",
                               samples=samples)  # fmt: skip
    finally:
        model.__dict__.pop("stepper", None)
    return result.samples


def timed(work: Callable[[], list]) -> tuple[float, float, list]:
    """Wall-clock and CPU seconds of ``work()``, and what it returns."""
    wall, cpu = time.perf_counter(), time.thread_time()
    out = work()
    return time.perf_counter() - wall, time.thread_time() - cpu, out


def matmul_floor(model: RNNLanguageModel, rows: int, repeats: int = 200) -> dict:
    """The matrix products of one step of ``rows`` samples alone, on this thread: layer 0's
    ``h (rows, H) @ W_hh^T (H, 4H)`` (its input projection is a table lookup), each higher
    layer's ``[x, h] (rows, 2H) @ [W_ih, W_hh]^T (2H, 4H)`` and the output layer
    ``h @ W_out^T`` (the gate nonlinearities, the state update and the sampling left out). No
    batched step can cost less than these products on this BLAS, which bounds what batching
    can gain."""
    c = model.config
    sizes = [c.hidden if layer == 0 else 2 * c.hidden for layer in range(c.layers)]
    products = [(torch.randn(rows, k), torch.randn(4 * c.hidden, k)) for k in sizes]
    products.append((torch.randn(rows, c.hidden), torch.randn(c.vocab_size, c.hidden)))
    flops = sum(2 * rows * w.shape[0] * w.shape[1] for _, w in products)
    with torch.inference_mode():
        for _ in range(10):  # warm caches
            [x @ w.T for x, w in products]
        start = time.thread_time()
        for _ in range(repeats):
            [x @ w.T for x, w in products]
        seconds = (time.thread_time() - start) / repeats
    return {"rows": rows, "ms": round(seconds * 1e3, 4), "gflops": round(flops / seconds / 1e9, 1)}


def agreement(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` share before they first differ."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=500, help="characters per sample and run")
    parser.add_argument("--samples", type=int, default=32, help="samples of the batched runs")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--checkpoint", help="a trained run's folder (default: random weights)")
    add_run_options(parser, "shakespeare", "--hidden 256")
    args = parser.parse_args()
    args.minutes = None  # nothing is trained
    started, machine = start_run(args)
    if args.checkpoint:
        task = load(args.checkpoint, device="cpu")
        model, prep = task.model.eval(), task.preprocessing
        vocab, tokenizer = prep.vocab, prep.tokenizer
    else:
        model, vocab, tokenizer = random_model(args.extra)
    reference = TorchLanguageModel(model)
    ids, _ = encode_text(PRIME, tokenizer, vocab, "char")
    n, length = args.samples, args.length
    itos = vocab.itos

    def text(tokens: list[int]) -> str:
        return "".join(itos[i] for i in tokens)

    def sampler(kind: type[Sampler] = Sampler) -> Sampler:
        return kind(temperature=TEMPERATURE, seed=SEED, banned=(vocab.pad_index,))

    def torch_texts(samples: int, onednn: bool) -> list[str]:
        with torch.backends.mkldnn.flags(enabled=onednn):
            tokens = torch_generate(reference, ids, length, samples, sampler())
        return [text(t) for t in tokens]

    contenders = {  # name -> (samples, work)
        "rnnkit, 1 sample": (1, lambda: rnnkit_generate(model, vocab, tokenizer, length, 1,
                                                        sampler())),
        f"rnnkit, {n} samples": (n, lambda: rnnkit_generate(model, vocab, tokenizer, length, n,
                                                            sampler())),
        "rnnkit before (forward, torch.multinomial), 1 sample": (1, lambda: rnnkit_generate(
            model, vocab, tokenizer, length, 1, sampler(MultinomialSampler), fast=False)),
        "torch.nn.LSTM, 1 sample": (1, lambda: torch_texts(1, True)),
        "torch.nn.LSTM (oneDNN off), 1 sample": (1, lambda: torch_texts(1, False)),
        f"torch.nn.LSTM (oneDNN off), {n} samples": (n, lambda: torch_texts(n, False)),
    }  # fmt: skip
    rates = {name: {"wall": [], "cpu": []} for name in contenders}
    texts: dict[str, list[str]] = {}
    for _ in tqdm(range(args.rounds), desc="rounds"):
        for name, (samples, work) in contenders.items():
            wall, cpu, texts[name] = timed(work)
            rates[name]["wall"].append(samples * length / wall)
            rates[name]["cpu"].append(samples * length / cpu)
    median = {name: {clock: statistics.median(r) for clock, r in rates[name].items()}
              for name in contenders}  # fmt: skip
    single = median["rnnkit, 1 sample"]
    ours = {1: texts["rnnkit, 1 sample"], n: texts[f"rnnkit, {n} samples"]}
    rows = []
    for name, (samples, _) in contenders.items():
        rows.append({
            "contender": name, "samples": samples,
            "chars_per_second": round(median[name]["wall"], 1),
            "chars_per_cpu_second": round(median[name]["cpu"], 1),
            "vs_rnnkit_1": round(median[name]["wall"] / single["wall"], 2),
            "vs_rnnkit_1_cpu": round(median[name]["cpu"] / single["cpu"], 2),
            "rates": {clock: [round(r, 1) for r in values]
                      for clock, values in rates[name].items()},
            "agree": min(agreement(a, b) for a, b in zip(texts[name], ours[samples])),
        })  # fmt: skip
    print(f"{length} characters a sample, {args.rounds} rounds, {torch.get_num_threads()} "
          f"thread(s), load average {machine['load_average_at_start']} at the start, "
          f"{os.getloadavg()} at the end")  # fmt: skip
    print("| contender | characters/s | x rnnkit 1 | characters/CPU-s | x rnnkit 1 | agree |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['contender']} | {row['chars_per_second']:,.0f} | "
              f"{row['vs_rnnkit_1']:.2f} | {row['chars_per_cpu_second']:,.0f} | "
              f"{row['vs_rnnkit_1_cpu']:.2f} | {row['agree']} |")  # fmt: skip
    floor = {rows: matmul_floor(model, rows) for rows in (1, n)}
    step_1 = 1e3 / single["cpu"]  # ms of CPU time per character of one sample
    ceiling = {
        "matmul_floor": list(floor.values()),
        "rnnkit_1_ms_per_step": round(step_1, 4),
        # the most a batch of n can gain over one sample if its whole step cost only its
        # matrix products (one sample's step as measured)
        "max_batched_ratio": round(n * step_1 / floor[n]["ms"], 2),
    }
    print(f"the matrix products alone: {floor[1]['ms']:.3f} ms a step of 1 sample "
          f"({floor[1]['gflops']} GFLOP/s), {floor[n]['ms']:.3f} ms of {n} "
          f"({floor[n]['gflops']} GFLOP/s); one sample's whole step {step_1:.3f} ms, so "
          f"{n} samples in one batch can be at most {ceiling['max_batched_ratio']:.1f}x one "
          f"sample's characters per CPU second")  # fmt: skip
    config = model.config.to_dict()
    write_result("generate", args, started, machine, rows, model=config, length=length,
                 ceiling=ceiling,
                 weights=args.checkpoint or "random", prime=PRIME, temperature=TEMPERATURE,
                 sample=texts["rnnkit, 1 sample"][0][:200])  # fmt: skip


if __name__ == "__main__":
    main()
