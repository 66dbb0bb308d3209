"""Character- and word-level language models: data (``data``), training with truncated BPTT
(``objective``), text generation (``generate``), pictures of the units (``visualize``) and the
task object (``task``)."""

from rnnkit.tasks.lm.task import LanguageModel

__all__ = ["LanguageModel"]
