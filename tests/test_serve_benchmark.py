"""benchmarks/serve.py: the growth of the server's memory over the run's second half is read
from its RSS series and checked against the bound, and the load test runs end to end on tiny
models, sampling the RSS as it goes and writing its JSON and plot."""

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))
serve = pytest.importorskip("serve")


def test_the_growth_is_the_rss_after_all_requests_minus_after_half_of_them():
    rss = [[0, 0.0, 300.0], [100, 1.0, 380.0], [200, 2.0, 400.0], [300, 3.0, 420.0],
           [400, 4.0, 415.0]]  # fmt: skip
    growth = serve.memory_growth(rss, bound_mib=10)
    assert growth["half_served"] == 200 and growth["rss_half_mib"] == 400.0
    assert growth["rss_before_mib"] == 300.0 and growth["rss_after_mib"] == 415.0
    assert growth["rss_peak_mib"] == 420.0
    assert growth["growth_second_half_mib"] == 15.0 and not growth["within_bound"]
    assert serve.memory_growth(rss, bound_mib=15)["within_bound"]


@pytest.mark.slow
def test_the_load_test_samples_the_servers_memory_as_it_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(serve, "RESULTS", tmp_path)
    plot = tmp_path / "memory.png"
    argv = ["--tiny", "--classify", "12", "--generate", "2", "--length", "8",
            "--sample-every", "4", "--rss-bound-mib", "1000", "--tag", "test",
            "--plot", str(plot)]  # fmt: skip
    assert serve.main(argv) == 0
    result = json.loads((tmp_path / "serve-test.json").read_text())
    assert {row["errors"] for row in result["rows"]} == {0}
    settings = result["memory"]["settings"]
    assert set(settings) == {"no batching", "dynamic batching"}
    for memory in settings.values():
        served = [row[0] for row in memory["series"]]
        assert served == [0, 4, 8, 12, 14]  # before, every 4 requests, after the last
        assert all(row[2] > 50 for row in memory["series"])  # a real process's RSS in MiB
        assert memory["half_served"] == 8 and memory["within_bound"]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
