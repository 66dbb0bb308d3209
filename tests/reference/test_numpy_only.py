"""rnnkit.reference must work without torch: it is the independent NumPy reference."""

import subprocess
import sys
import textwrap


def test_reference_imports_and_runs_with_torch_blocked():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None  # any "import torch" now raises ImportError
        import numpy as np
        import rnnkit.reference as R
        cell = R.make_cell("lstm")
        p = R.random_problem(cell, steps=3, rng=np.random.default_rng(0))
        R.bptt(cell, p.params, p.x, p.targets, p.state0, truncate=2)
        R.last_step_grad_norms(cell, p.params, p.x, p.targets, p.state0)
        R.check_gradients(cell, p.params, p.x[:1], p.targets[:1], p.state0)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "torch" and sys.modules[m])
        assert not loaded, loaded
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
