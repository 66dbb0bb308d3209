"""The "hello" example runs as documented and ends by printing "ello"."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello.py"


def test_hello_learns_ello():
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, check=True, timeout=120
    )
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "ello"
    assert lines[0].startswith("iteration  1")
    assert "prediction 'ello'" in lines[-2]
