"""Speed of rnnkit's recurrent layers against torch.nn, training steps and inference, on CPU.

Everything is measured in one process and interleaved (each repeat times every contender once,
in turn), so a slow moment of a shared machine hits all of them; the table reports medians, and
fast groups repeat more (up to 4x ``--repeats``, about 2 s of rounds). The fp32 GEMM peak (best
of ``torch.mm`` and oneDNN) is measured in the same run, at its start and end, and every result
is also given as a share of it, counting a training step as three times the forward pass's
matrix-product FLOPs ``2·L·N·G·H·(H_in + H)``.

    python benchmarks/layers.py                      # the full grid, JSON to benchmarks/results/
    python benchmarks/layers.py --quick              # one shape, fewer repeats
    python benchmarks/layers.py --shapes 64,100,128,512 --modes GRU --repeats 9
    python benchmarks/layers.py --markdown results/layers-amd-epyc-2c.json  # README's table

Targets (issue "Fast recurrent engine"), fp32 training step unless said: LSTM ≤ 1.0× torch.nn
(≤ 0.85× at (64,100,128,512)), GRU ≤ 0.6×, RNN ≤ 1.0×, LSTM and GRU ≥ 70% of the GEMM peak at
(64,100,128,512); LSTM layer_norm / recurrent_dropout ≤ 1.3× torch.nn's plain LSTM; bf16
autocast ≤ torch.nn's bf16 time and ≤ 0.5× torch.nn fp32; inference ≤ 1.1× torch.nn.

bf16 autocast is measured only on CPUs with bf16 hardware (AVX-512 BF16 or AMX): elsewhere its
products are emulated (several times slower than fp32) or fail, as torch.nn's LSTM does under
autocast on an AVX2-only CPU; the JSON's ``bf16_unavailable`` then says why its rows are absent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch

from rnnkit import nn as rnn
from rnnkit.nn.engine import choose_backend
from rnnkit.train.device import fast_bf16

# (N, L, H_in, H); the last: rnnkit train music's default step (16 chunks of 100 frames, 88 keys)
SHAPES = [
    (64, 100, 128, 512), (32, 200, 256, 256), (128, 50, 64, 1024), (1, 1000, 64, 256),
    (16, 100, 88, 128),
]  # fmt: skip
MODES = ["LSTM", "GRU", "RNN"]
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
RESULTS = Path(__file__).parent / "results"


def machine_info() -> dict:
    model = platform.processor() or "unknown"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = match.group(1).strip() if match else model
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "onednn": torch.backends.mkldnn.is_available(),
    }


def machine_slug(info: dict) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-")
    return f"{slug}-{info['cores']}c"


def gemm_peak(size: int = 2048, repeats: int = 5) -> dict:
    """Best fp32 GFLOP/s of a size³ product: torch.mm (MKL) and oneDNN with a prepacked weight."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    flops = 2 * size**3
    found = {"mm": _best(lambda: torch.mm(a, b), repeats)}
    if hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        packed = torch.ops.mkldnn._reorder_linear_weight(b, size)
        found["onednn"] = _best(
            lambda: torch.ops.mkldnn._linear_pointwise(a, packed, None, "none", [], ""), repeats
        )
    return {name: flops / t / 1e9 for name, t in found.items()}


def _best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def forward_flops(mode: str, n: int, steps: int, size: int, hidden: int) -> float:
    return 2.0 * steps * n * GATES[mode] * hidden * (size + hidden)


class Case:
    """One contender: a module and how to run it (training step or inference, fp32 or bf16)."""

    def __init__(self, name, module, x, train: bool, bf16: bool):
        self.name, self.module, self.x, self.train, self.bf16 = name, module, x, train, bf16
        self.grad = None
        self.times: list[float] = []

    def run(self) -> float:
        module, x = self.module, self.x
        start = time.perf_counter()
        if self.train:
            module.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                out, _ = module(x)
            if self.grad is None:
                self.grad = torch.randn(out.shape, dtype=out.dtype)
            out.backward(self.grad)
        else:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                module(x)
        return time.perf_counter() - start


def make_module(cls, mode, size, hidden, **options):
    module = cls(size, hidden, batch_first=True, **options)
    return module.train()


# Fast groups repeat until their rounds add up to about this many seconds (at most
# MAX_ROUNDS_FACTOR x the asked repeats): a 30 ms step timed 7 times is at the mercy of one hiccup.
GROUP_SECONDS = 2.0
MAX_ROUNDS_FACTOR = 4


def run_group(cases: list[Case], repeats: int) -> None:
    for case in cases:  # warm-up: allocations, kernel builds, oneDNN primitive caches
        case.run()
    round_s = sum(case.run() for case in cases)  # a second warm-up, and the round's length
    rounds = max(repeats, min(MAX_ROUNDS_FACTOR * repeats, int(GROUP_SECONDS / round_s)))
    for _ in range(rounds):
        for case in cases:
            case.times.append(case.run())


def record(case: Case, flops: float, tokens: int, peak: float, baseline: float | None) -> dict:
    median = statistics.median(case.times)
    return {
        "ms": median * 1e3,
        "min_ms": min(case.times) * 1e3,
        "tokens_per_s": tokens / median,
        "gflops": flops / median / 1e9,
        "pct_peak": 100 * flops / median / 1e9 / peak,
        "ratio_to_torch": None if baseline is None else median / baseline,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="first shape only, 3 repeats")
    parser.add_argument("--shapes", help="batch,steps,input,hidden[;...]")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--no-extras", action="store_true", help="skip layer_norm/rec. dropout")
    parser.add_argument("--out", type=Path, help="JSON path (default results/layers-<machine>)")
    parser.add_argument("--markdown", type=Path, help="print a results JSON as a summary table")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    shapes = SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    repeats = args.repeats
    if args.quick:
        shapes, repeats = shapes[:1], min(repeats, 3)
    modes = [m.strip().upper() for m in args.modes.split(",")]
    info = machine_info()
    torch.manual_seed(0)
    peaks = [gemm_peak()]
    peak = max(peaks[0].values())
    print(f"# {info['cpu']}, {info['cores']} cores, torch {info['torch']}", file=sys.stderr)
    print(f"# fp32 GEMM peak: {', '.join(f'{k} {v:.0f}' for k, v in peaks[0].items())} GFLOP/s")
    rows = []
    bf16_unavailable = None
    if not args.no_bf16 and not fast_bf16(torch.device("cpu")):
        bf16_unavailable = "no bf16 hardware (AVX-512 BF16 or AMX) on this CPU: not measured"
        print(f"# bf16 autocast: {bf16_unavailable}", file=sys.stderr)
    dtypes = [False] if args.no_bf16 or bf16_unavailable else [False, True]
    for mode in modes:
        for n, steps, size, hidden in shapes:
            x = torch.randn(n, steps, size)
            flops1 = forward_flops(mode, n, steps, size, hidden)
            reference = make_module(getattr(torch.nn, mode), mode, size, hidden)
            auto = make_module(getattr(rnn, mode), mode, size, hidden)
            fused = make_module(getattr(rnn, mode), mode, size, hidden, backend="fused")
            for ours in (auto, fused):
                ours.load_state_dict(reference.state_dict())
            for train in (True, False):
                for bf16 in dtypes:
                    auto.train(train)
                    with (
                        torch.set_grad_enabled(train),
                        torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16),
                    ):
                        engine = choose_backend(auto, x.transpose(0, 1))
                    cases = [Case("torch.nn", reference.train(train), x, train, bf16)]
                    cases.append(Case(f"rnnkit auto={engine}", auto, x, train, bf16))
                    if engine != "fused":
                        cases.append(Case("rnnkit fused", fused.train(train), x, train, bf16))
                    rows += _measure(cases, repeats, mode, (n, steps, size, hidden), train, bf16,
                                     flops1, peak)  # fmt: skip
    if "LSTM" in modes and not args.no_extras:
        n, steps, size, hidden = shapes[0]
        x = torch.randn(n, steps, size)
        flops1 = forward_flops("LSTM", n, steps, size, hidden)
        reference = make_module(torch.nn.LSTM, "LSTM", size, hidden)
        cases = [Case("torch.nn", reference, x, True, False)]
        for options in ({"layer_norm": True}, {"recurrent_dropout": 0.25}):
            module = make_module(rnn.LSTM, "LSTM", size, hidden, **options)
            label = ",".join(f"{k}={v}" for k, v in options.items())
            cases.append(Case(f"rnnkit {label}", module, x, True, False))
        rows += _measure(cases, repeats, "LSTM", shapes[0], True, False, flops1, peak)
    peaks.append(gemm_peak())
    peak = max(max(p.values()) for p in peaks)
    for row in rows:  # shares of the best peak seen in the run
        row["pct_peak"] = 100 * row["gflops"] / peak
    _print_table(rows)
    out = args.out or RESULTS / f"layers-{machine_slug(info)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "gemm_peak_gflops": peaks, "peak_gflops": peak, "rows": rows}
    if bf16_unavailable:
        payload["bf16_unavailable"] = bf16_unavailable
    out.write_text(json.dumps(payload, indent=1))
    print(f"# wrote {out}", file=sys.stderr)
    return 0


def _measure(cases, repeats, mode, shape, train, bf16, flops1, peak) -> list[dict]:
    run_group(cases, repeats)
    n, steps = shape[0], shape[1]
    flops = flops1 * (3 if train else 1)
    baseline = statistics.median(cases[0].times)
    rows = []
    for i, case in enumerate(cases):
        row = {
            "mode": mode, "shape": list(shape), "task": "train" if train else "infer",
            "dtype": "bf16-autocast" if bf16 else "fp32", "engine": case.name,
        }  # fmt: skip
        row.update(record(case, flops, n * steps, peak, None if i == 0 else baseline))
        rows.append(row)
        print(_format(row), flush=True)
    return rows


HEADER = (
    f"{'mode':5} {'shape (N,L,I,H)':18} {'task':5} {'dtype':13} {'engine':32} {'ms':>8} "
    f"{'tok/s':>9} {'GFLOP/s':>8} {'%peak':>6} {'×torch':>7}"
)


def _format(row: dict) -> str:
    ratio = "" if row["ratio_to_torch"] is None else f"{row['ratio_to_torch']:.2f}"
    shape = ",".join(str(v) for v in row["shape"])
    return (
        f"{row['mode']:5} {shape:18} {row['task']:5} {row['dtype']:13} {row['engine']:32} "
        f"{row['ms']:8.1f} {row['tokens_per_s']:9.0f} {row['gflops']:8.1f} "
        f"{row['pct_peak']:6.1f} {ratio:>7}"
    )


def markdown(result: dict) -> str:
    """A Markdown summary of a results JSON: per cell and shape, training and inference times
    of torch.nn and of rnnkit's ``auto`` engine, with ratios (rnnkit / torch.nn)."""

    def pick(mode, shape, task, dtype, auto):
        for row in result["rows"]:
            key = (row["mode"], row["shape"], row["task"], row["dtype"])
            if key == (mode, shape, task, dtype):
                if row["engine"] == "torch.nn" and not auto:
                    return row
                if row["engine"].startswith("rnnkit auto") and auto:
                    return row
        return None

    lines = [
        "| cell | N, L, H_in, H | train fp32: torch.nn → rnnkit | × | % peak | "
        "train bf16: torch.nn → rnnkit | × | × fp32 | infer fp32 × | infer bf16 × |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    seen = []
    for row in result["rows"]:
        key = (row["mode"], row["shape"])
        if key in seen or row["engine"] != "torch.nn":
            continue
        seen.append(key)
        mode, shape = key
        cells = {}
        for task in ("train", "infer"):
            for dtype in ("fp32", "bf16-autocast"):
                cells[task, dtype] = (
                    pick(mode, shape, task, dtype, False), pick(mode, shape, task, dtype, True)
                )  # fmt: skip
        (t32, r32), (t16, r16) = cells["train", "fp32"], cells["train", "bf16-autocast"]
        if t32 is None or r32 is None:
            continue
        engine = r32["engine"].split("=")[-1]
        line = [
            mode, ", ".join(map(str, shape)),
            f"{t32['ms']:.0f} → {r32['ms']:.0f} ms ({engine})", f"{r32['ratio_to_torch']:.2f}",
            f"{r32['pct_peak']:.0f}%",
        ]  # fmt: skip
        if t16 and r16:
            engine16 = r16["engine"].split("=")[-1]
            line += [
                f"{t16['ms']:.0f} → {r16['ms']:.0f} ms ({engine16})",
                f"{r16['ratio_to_torch']:.2f}", f"{r16['ms'] / t32['ms']:.2f}",
            ]  # fmt: skip
        else:
            line += ["", "", ""]
        for dtype in ("fp32", "bf16-autocast"):
            _, ours = cells["infer", dtype]
            line.append(f"{ours['ratio_to_torch']:.2f}" if ours else "")
        lines.append("| " + " | ".join(line) + " |")
    for row in result["rows"]:  # the options torch.nn lacks, against its plain LSTM
        if (
            "=" in row["engine"]
            and row["engine"].startswith("rnnkit ")
            and "auto" not in row["engine"]
        ):
            option = row["engine"].removeprefix("rnnkit ")
            lines.append(
                f"\nLSTM `{option}` at {', '.join(map(str, row['shape']))}: training step "
                f"{row['ms']:.0f} ms, {row['ratio_to_torch']:.2f}× torch.nn's plain LSTM."
            )
    peak = result["peak_gflops"]
    lines.append(f"\nfp32 GEMM peak measured in the run: {peak:.0f} GFLOP/s.")
    if result.get("bf16_unavailable"):
        lines.append(f"\nbf16 autocast: {result['bf16_unavailable']}.")
    return "\n".join(lines)


def _print_table(rows: list[dict]) -> None:
    print()
    print(HEADER)
    for row in rows:
        print(_format(row))


if __name__ == "__main__":
    raise SystemExit(main())
