"""The README's Python examples run as written and print what the README shows."""

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```(?:\s*```text\n(.*?)```)?", re.S)


def same_output(shown: str, printed: str) -> bool:
    """Tokens equal, except numbers, which may differ in the last digits across machines."""
    a, b = shown.split(), printed.split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        try:
            if abs(float(x) - float(y)) > 1e-6:
                return False
        except ValueError:
            if x != y:
                return False
    return True


@pytest.mark.parametrize("index", range(len(BLOCK.findall(README.read_text()))))
def test_readme_python_block(index, tmp_path, monkeypatch):
    code, shown = BLOCK.findall(README.read_text())[index]
    if "RNNKIT_DATA" in code and not os.environ.get("RNNKIT_DATA"):
        pytest.skip("this README example reads a real dataset: set RNNKIT_DATA")
    monkeypatch.chdir(tmp_path)  # files an example writes (runs/...) land here
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"README.md python block {index}", "exec"), {})
    if shown:
        assert same_output(shown, printed.getvalue()), printed.getvalue()
