"""Image captioning: data (``data``), greedy and beam search with BLEU-1..4 (``decode``), the
objective, and the task object ``ImageCaptioner``."""

from rnnkit.tasks.caption.task import ImageCaptioner

__all__ = ["ImageCaptioner"]
