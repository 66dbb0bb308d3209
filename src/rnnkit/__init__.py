"""rnnkit: recurrent neural networks from the gate equations to trained, usable models.

The Python API, one object per task (see ``rnnkit.tasks``)::

    import rnnkit
    clf = rnnkit.TextClassifier(epochs=3).fit(texts, labels)
    clf.predict(["a new text"]); clf.save("runs/mine")
    clf = rnnkit.load("runs/mine")

Subpackages (imports flow one way): ``rnnkit.nn`` (cells and layers, torch.nn-compatible),
``rnnkit.reference`` (NumPy forward pass and hand-written BPTT), ``rnnkit.data``,
``rnnkit.models``, ``rnnkit.train``, ``rnnkit.tasks`` (the task objects), and the command line
in ``rnnkit.cli``. The task objects are imported on first use, so ``import rnnkit`` stays light.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module defining it
_API = {
    "TextClassifier": "rnnkit.tasks.classify",
    "LanguageModel": "rnnkit.tasks.lm",
    "Translator": "rnnkit.tasks.translate",
    "Forecaster": "rnnkit.tasks.forecast",
    "AnomalyDetector": "rnnkit.tasks.forecast.detect",
    "ImageCaptioner": "rnnkit.tasks.caption",
    "SpeechClassifier": "rnnkit.tasks.speech",
    "SpeechRecognizer": "rnnkit.tasks.speech",
    "MusicModel": "rnnkit.tasks.music",
    "SequenceRegressor": "rnnkit.tasks.regress",
    "load": "rnnkit.tasks",
}

__all__ = [
    "AnomalyDetector",
    "Forecaster",
    "ImageCaptioner",
    "LanguageModel",
    "MusicModel",
    "SequenceRegressor",
    "SpeechClassifier",
    "SpeechRecognizer",
    "TextClassifier",
    "Translator",
    "__version__",
    "load",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
