"""Encoder-decoder translation: data (``data``), beam search and BLEU (``decode``), objective,
and the task object ``Translator``."""

from rnnkit.tasks.translate.task import Translator

__all__ = ["Translator"]
