"""Shared pytest fixtures (keep this file small; fixtures for one package live beside its tests)."""

import os
from pathlib import Path

import pytest
import torch


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
