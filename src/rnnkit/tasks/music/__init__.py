"""Music: polyphonic music modelling on 88-key piano rolls — data and splits (``data``), the
objective and its metrics, the baselines, sampling (``generate``), the piano-roll plot, and the
task object ``MusicModel`` (piano rolls in :mod:`rnnkit.data.pianoroll`, the model in
:mod:`rnnkit.models.music`)."""

from rnnkit.tasks.music.task import MusicModel

__all__ = ["MusicModel"]
