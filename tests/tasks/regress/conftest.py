import pytest

import rnnkit.atomic


@pytest.fixture(autouse=True)
def _every_test_on_one_thread(one_thread):
    """Tiny models train faster on one thread (the fixture is in tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch):
    """These run folders are temporary: flushing each epoch's checkpoint to disk is most of a
    tiny fit's time and proves nothing these tests check."""
    monkeypatch.setattr(rnnkit.atomic, "fsync_path", lambda path: None)
