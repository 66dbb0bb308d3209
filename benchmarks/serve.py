"""Load test of ``rnnkit serve``: requests a second and p50/p95/p99 latency, with and without
dynamic batching, from N concurrent clients (httpx, asynchronous).

For each setting (``--max-batch-size 1``: no batching; then the server's batching), starts a
real server process (``rnnkit serve``, one torch thread) serving a classifier and a language
model, sends ``--classify`` classify requests (one text each) and ``--generate`` generate
requests (``--length`` characters each) at ``--concurrency`` requests in flight, and records
each kind's latencies, errors, throughput, and the server's resident memory (RSS): before the
run, then every ``--sample-every`` requests served, so the JSON holds RSS against requests served
and the growth over the run's second half (RSS after all requests minus RSS after half of them),
checked against ``--rss-bound-mib``: memory levels off when that growth stays under the bound.
Prints a table, writes ``benchmarks/results/serve-TAG.json`` and, with ``--plot``, a PNG of RSS
against requests served.

    python benchmarks/serve.py --classifier runs/imdb --lm runs/shakespeare
    python benchmarks/serve.py --tiny --classify 40 --generate 8   # tiny models: a smoke run
    python benchmarks/serve.py --classifier runs/imdb --lm runs/shakespeare --classify 3000 \
        --generate 300 --plot benchmarks/results/serve-memory.png   # does memory level off?

``--tiny`` trains a tiny classifier and language model first (seconds): it checks that the
benchmark runs, its numbers say nothing of a real model.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from quality import RESULTS, machine_info

# short reviews for the classify requests (``--texts FILE``: one text a line instead)
TEXTS = [
    "A wonderful film: the acting is superb and the story never lets go.",
    "Dull, slow and far too long. I nearly walked out.",
    "The cast does what it can with a script that goes nowhere.",
    "One of the best films of the year, funny and moving at once.",
    "I expected more from this director; the ending is a mess.",
    "Beautifully shot, but the characters are paper thin.",
    "An instant classic. I will watch it again tomorrow.",
    "Not bad, not great: a pleasant evening and nothing more.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resident_mib(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB (Linux: /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(classifier: Path, lm: Path, options: list[str]) -> tuple[subprocess.Popen, str]:
    """A ``rnnkit serve`` process of the two models on a free port, once it answers /health."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", "--name", f"classifier={classifier}",
         "--name", f"lm={lm}", "--port", str(port), "--device", "cpu", *options],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.communicate()[1]}")
        try:
            httpx.get(f"{url}/health", timeout=1).raise_for_status()
            return server, url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                server.kill()
                raise SystemExit("the server did not start in 60 s") from None
            time.sleep(0.2)


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGINT)
    try:
        server.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()


async def load(
    url: str,
    requests: list[tuple[str, str, dict]],
    concurrency: int,
    pid: int | None = None,
    sample_every: int = 0,
) -> dict:
    """Send ``requests`` (kind, path, body), ``concurrency`` at a time: each kind's latencies
    (seconds) and errors, the wall time of the whole run and, given the server's ``pid`` and
    ``sample_every`` > 0, its RSS as ``[requests served, seconds, MiB]`` rows: one before the
    first request, one after every ``sample_every`` requests served and one after the last."""
    latencies: dict[str, list[float]] = {}
    errors: dict[str, list[str]] = {}
    queue = list(reversed(requests))
    rss: list[list[float]] = []
    served = 0
    sampling = pid is not None and sample_every > 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while queue:
            kind, path, body = queue.pop()
            started = time.perf_counter()
            try:
                response = await client.post(path, json=body)
                failed = None if response.status_code == 200 else response.text[:200]
            except httpx.HTTPError as error:
                failed = repr(error)
            if failed is None:
                latencies.setdefault(kind, []).append(time.perf_counter() - started)
            else:
                errors.setdefault(kind, []).append(failed)
            nonlocal served
            served += 1
            if sampling and served % sample_every == 0 and served < len(requests):
                sample(served)

    def sample(served: int) -> None:
        seconds = time.perf_counter() - run_started
        rss.append([served, round(seconds, 2), round(resident_mib(pid), 1)])

    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        run_started = time.perf_counter()
        if sampling:
            sample(0)
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
        wall = time.perf_counter() - run_started
        if sampling:
            sample(served)
    return {"latencies": latencies, "errors": errors, "seconds": wall, "rss": rss}


def memory_growth(rss: list[list[float]], bound_mib: float) -> dict:
    """RSS before the run, after half the requests and after all of them (MiB, from the
    ``[served, seconds, MiB]`` rows of :func:`load`), the growth over the second half
    (end - half) and whether it stays within ``bound_mib``."""
    total = rss[-1][0]
    half = min(rss, key=lambda row: abs(row[0] - total / 2))
    growth = round(rss[-1][2] - half[2], 1)
    return {"rss_before_mib": rss[0][2], "rss_half_mib": half[2], "rss_after_mib": rss[-1][2],
            "rss_peak_mib": max(row[2] for row in rss), "half_served": half[0],
            "growth_second_half_mib": growth, "bound_mib": bound_mib,
            "within_bound": growth <= bound_mib}  # fmt: skip


def plot_memory(series: dict[str, list[list[float]]], bound_mib: float, out: Path) -> None:
    """RSS against requests served, one line per setting (a PNG at ``out``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    for name, rss in series.items():
        axes.plot([row[0] for row in rss], [row[2] for row in rss], marker=".", label=name)
    axes.set_xlabel("requests served")
    axes.set_ylabel("server RSS (MiB)")
    axes.set_title(f"rnnkit serve: resident memory under load (bound: +{bound_mib:g} MiB "
                   "over the second half)", fontsize=9)  # fmt: skip
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def summary(latencies: list[float], errors: list[str], seconds: float) -> dict:
    """Count, errors, this kind's completed requests a second over the whole run's wall time
    (the kinds run mixed) and latency percentiles (ms)."""
    ms = np.array(latencies) * 1000
    row = {"requests": len(latencies) + len(errors), "errors": len(errors),
           "requests_per_second": round(len(latencies) / seconds, 2)}  # fmt: skip
    for q in (50, 95, 99):
        row[f"p{q}_ms"] = round(float(np.percentile(ms, q)), 1) if len(ms) else None
    if errors:
        row["first_error"] = errors[0]
    return row


def tiny_models(root: Path) -> tuple[Path, Path]:
    """A tiny classifier and language model trained in seconds (for a smoke run)."""
    import rnnkit

    texts = [text for text in TEXTS for _ in range(4)]
    labels = ["pos" if i % 2 == 0 else "neg" for i in range(len(TEXTS)) for _ in range(4)]
    rnnkit.TextClassifier(embed=8, hidden=8, min_freq=1, epochs=1, verbose=0).fit(
        texts, labels, out=root / "classifier"
    )
    corpus = "\n".join(TEXTS * 20)
    rnnkit.LanguageModel(embed=8, hidden=8, layers=1, seq_length=16, epochs=1, sample_length=0,
                         verbose=0).fit(corpus, out=root / "lm")  # fmt: skip
    return root / "classifier", root / "lm"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", type=Path, help="a classify run folder")
    parser.add_argument("--lm", type=Path, help="a language model's run folder")
    parser.add_argument("--tiny", action="store_true", help="train tiny models (a smoke run)")
    parser.add_argument("--texts", type=Path, help="texts to classify, one a line")
    parser.add_argument("--classify", type=int, default=1000, help="classify requests")
    parser.add_argument("--generate", type=int, default=200, help="generate requests")
    parser.add_argument("--length", type=int, default=100, help="characters a generation")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--max-batch-size", type=int, default=32, help="with batching")
    parser.add_argument("--max-batch-delay-ms", type=float, default=2.0, help="with batching")
    parser.add_argument(
        "--sample-every", type=int, default=100, help="RSS sampled after every N requests served"
    )
    parser.add_argument(
        "--rss-bound-mib",
        type=float,
        default=25.0,
        help="the most RSS may grow over the run's second half (MiB)",
    )
    parser.add_argument("--plot", type=Path, help="a PNG of RSS against requests served")
    parser.add_argument("--tag", help="the result file's name: serve-TAG.json")
    args = parser.parse_args(argv)
    given = args.classifier is not None and args.lm is not None
    if args.tiny == given or (not args.tiny and (args.classifier or args.lm) and not given):
        parser.error("expected --classifier DIR and --lm DIR, or --tiny")
    texts = TEXTS
    if args.texts:
        texts = [line for line in args.texts.read_text().splitlines() if line.strip()]
    rng = random.Random(0)
    requests = [("classify", "/v1/models/classifier/predict", {"texts": [rng.choice(texts)]})
                for _ in range(args.classify)] + [
        ("generate", "/v1/models/lm/generate", {"length": args.length, "seed": i})
        for i in range(args.generate)
    ]  # fmt: skip
    rng.shuffle(requests)
    settings = {
        "no batching": ["--max-batch-size", "1"],
        "dynamic batching": ["--max-batch-size", str(args.max_batch_size),
                             "--max-batch-delay-ms", str(args.max_batch_delay_ms)],
    }  # fmt: skip
    rows = []
    memory: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="rnnkit-serve-bench-") as tmp:
        classifier, lm = tiny_models(Path(tmp)) if args.tiny else (args.classifier, args.lm)
        for name, options in settings.items():
            server, url = start_server(classifier, lm, options)
            try:
                result = asyncio.run(
                    load(url, requests, args.concurrency, server.pid, max(1, args.sample_every))
                )
            finally:
                stop_server(server)
            growth = memory_growth(result["rss"], args.rss_bound_mib)
            memory[name] = {**growth, "series": result["rss"]}
            for kind in ("classify", "generate"):
                row = summary(result["latencies"].get(kind, []), result["errors"].get(kind, []),
                              result["seconds"])  # fmt: skip
                rows.append({"setting": name, "kind": kind, **row,
                             "rss_before_mib": growth["rss_before_mib"],
                             "rss_half_mib": growth["rss_half_mib"],
                             "rss_after_mib": growth["rss_after_mib"],
                             "seconds": round(result["seconds"], 2)})  # fmt: skip
    header = ("setting", "kind", "requests", "errors", "requests_per_second", "p50_ms", "p95_ms",
              "p99_ms", "rss_before_mib", "rss_half_mib", "rss_after_mib")  # fmt: skip
    print("\t".join(header))
    for row in rows:
        print("\t".join(str(row.get(key)) for key in header))
    for name, growth in memory.items():
        verdict = "within" if growth["within_bound"] else "BEYOND"
        print(f"{name}: RSS {growth['rss_before_mib']} -> {growth['rss_half_mib']} (after "
              f"{growth['half_served']} requests) -> {growth['rss_after_mib']} MiB; second half "
              f"{growth['growth_second_half_mib']:+} MiB, {verdict} the bound of "
              f"{args.rss_bound_mib:g} MiB")  # fmt: skip
    if args.plot:
        plot_memory({name: m["series"] for name, m in memory.items()}, args.rss_bound_mib,
                    args.plot)  # fmt: skip
        print(f"written: {args.plot}", file=sys.stderr)
    failed = any(row["errors"] for row in rows) or not all(
        growth["within_bound"] for growth in memory.values()
    )
    if args.tiny and args.tag is None:
        print("a smoke run of tiny models: no JSON written (--tag TAG writes one)", file=sys.stderr)
        return 1 if failed else 0
    out = RESULTS / f"serve-{args.tag or 'models'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "serve load test",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "models": {"classifier": "tiny" if args.tiny else str(args.classifier),
                   "lm": "tiny" if args.tiny else str(args.lm)},
        "concurrency": args.concurrency, "length": args.length,
        "server_threads": 1, "rows": rows,
        "memory": {"sample_every": args.sample_every, "bound_mib": args.rss_bound_mib,
                   "series_columns": ["requests served", "seconds", "rss MiB"],
                   "settings": memory},
    }, indent=2) + "\n")  # fmt: skip
    print(f"written: {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
