import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny models train faster on one thread, and far faster on a busy machine (the fixture is
    in tests/conftest.py)."""
