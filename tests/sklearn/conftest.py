import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny models train faster on one thread."""
