"""Shared pytest fixtures (keep this file small; fixtures for one package live beside its tests)."""

import os
from pathlib import Path

import pytest
import torch

from rnnkit.train.device import bf16_works


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real datasets folder named by ``$RNNKIT_DATA``; skips the test when it is unavailable."""
    value = os.environ.get("RNNKIT_DATA")
    if not value:
        pytest.skip("RNNKIT_DATA is not set; this test needs the real datasets folder")
    path = Path(value).expanduser()
    if not path.is_dir():
        pytest.skip(f"RNNKIT_DATA={value} is not a directory; this test needs the datasets folder")
    return path


@pytest.fixture
def one_thread():
    """Run the test on one torch thread: tiny models train faster so, and a busy machine varies
    less. Folders of such tests use it for every test (see their conftest.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``bf16`` where this CPU cannot multiply bfloat16 matrices (probed once,
    see ``rnnkit.train.device.bf16_works``). A CPU without bf16 hardware that emulates them (an
    AVX2 AMD EPYC does) runs them."""
    marked = [item for item in items if item.get_closest_marker("bf16")]
    if marked and not bf16_works("cpu"):
        skip = pytest.mark.skip(reason="this CPU cannot multiply bfloat16 matrices under autocast")
        for item in marked:
            item.add_marker(skip)
