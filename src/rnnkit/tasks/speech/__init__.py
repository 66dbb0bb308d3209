"""Speech: spoken-digit recognition from WAV files — data and splits (``data``), the objective,
and the task object ``SpeechClassifier`` (features in :mod:`rnnkit.data.audio`, the model in
:mod:`rnnkit.models.speech`); connected digit strings and other transcribed utterances with CTC
(``strings``, ``ctc``) and the task object ``SpeechRecognizer``."""

from rnnkit.tasks.speech.recognizer import SpeechRecognizer
from rnnkit.tasks.speech.task import SpeechClassifier

__all__ = ["SpeechClassifier", "SpeechRecognizer"]
