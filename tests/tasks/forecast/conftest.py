import pytest


@pytest.fixture(autouse=True)
def _every_test_on_one_thread(one_thread):
    """Tiny models train faster on one thread (the fixture is in tests/conftest.py)."""
