"""``TaskEstimator``: a scikit-learn estimator over one rnnkit task object.

The estimator is a thin front end (like the command line): its parameters are the task's
keyword settings, read off the task class — the same names as the command-line options, the
same defaults, written once in the settings dataclasses — plus ``verbose`` and ``device``.
Following scikit-learn's rules, ``__init__`` only stores them; they are checked when ``fit``
builds the task, and a bad one is a ``ValueError``. A subclass names its task class and the
settings that make no sense for in-memory data (file columns, encodings, plots)::

    class RNNClassifier(ClassifierMixin, TaskEstimator):
        TASK = TextClassifier
        EXCLUDED = ("text_column", ...)

``fit`` trains in a temporary run folder and keeps the best checkpoint's files in memory
(``checkpoint_``, a few MB): the estimator then pickles (``GridSearchCV(n_jobs=2)`` sends fitted
estimators between processes) without pickling torch modules — unpickling reads the files with
``rnnkit.load``'s checks — and ``save(directory)`` writes a folder ``rnnkit.load`` and the
command line (``rnnkit predict DIR``) read.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from rnnkit.errors import UserError
from rnnkit.tasks import Task, load

__all__ = ["TaskEstimator"]

# the estimator's own parameters beside the task's settings, with their defaults
OWN_PARAMS = {"verbose": 0, "device": "auto"}
# settings every estimator fixes: no plots, progress bars or logs for each of a search's many fits
FORCED = {"plot": False, "progress": False, "log": "none", "log_every": 0}


class TaskEstimator(BaseEstimator):
    """A scikit-learn estimator that fits and predicts through ``TASK`` (see the module
    docstring). Fitted attributes: ``task_`` (the fitted task object, model loaded),
    ``checkpoint_`` (the best checkpoint's files: name -> bytes) and ``fit_result_`` (what
    the fit reported: epochs, best epoch, validation metrics, time)."""

    TASK: ClassVar[type[Task]]
    EXCLUDED: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give each estimator class an ``__init__`` whose signature lists its parameters, as
        scikit-learn's ``get_params``/``clone`` read them."""
        super().__init_subclass__(**kwargs)
        defaults = cls.param_defaults()

        def __init__(self, **params: Any) -> None:
            unknown = sorted(set(params) - set(defaults))
            if unknown:
                raise TypeError(
                    f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}"
                )
            for name, default in defaults.items():
                setattr(self, name, params.get(name, default))

        __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [
                inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
                for name, default in defaults.items()
            ]
        )
        __init__.__doc__ = f"Store the parameters (see {cls.TASK.__name__}'s settings)."
        cls.__init__ = __init__  # type: ignore[method-assign]

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """Parameter -> default: the task's settings (its defaults) less ``EXCLUDED`` and the
        forced ones, then ``verbose`` and ``device``."""
        shown = cls.TASK.shown_defaults()
        names = [n for n in cls.TASK.setting_names() if n not in cls.EXCLUDED and n not in FORCED]
        # a list (JSON's form of betas) as a tuple: a default must be immutable
        return {
            **{n: tuple(shown[n]) if isinstance(shown[n], list) else shown[n] for n in names},
            **OWN_PARAMS,
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # raw variable-length inputs, not a feature matrix
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    # -- fit -----------------------------------------------------------------------------------

    def make_task(self) -> Task:
        """A fresh task object with the current parameters (checked now: a bad one is a
        ``ValueError`` naming it)."""
        params = self.get_params()
        settings = {k: v for k, v in params.items() if k not in OWN_PARAMS}
        try:
            return self.TASK(
                **settings, **FORCED, verbose=params["verbose"], device=params["device"]
            )
        except UserError as error:
            raise ValueError(str(error)) from None

    def fit_task(self, *args: Any, **kwargs: Any) -> Task:
        """Fit a fresh task on ``args`` (as its ``fit`` takes them) in a temporary run folder;
        keep the best checkpoint's files and the fit's report. A ``UserError`` (bad data) is
        re-raised as the ``ValueError`` scikit-learn's callers expect."""
        task = self.make_task()
        with tempfile.TemporaryDirectory(prefix="rnnkit-sklearn-") as folder:
            run = Path(folder) / "run"
            try:
                task.fit(*args, out=run, **kwargs)
            except UserError as error:
                raise ValueError(str(error)) from None
            self.checkpoint_ = _read_files(run / "best")
        self.fit_result_ = dict(task.fit_result or {})
        self.task_ = task
        return task

    def fitted_task(self) -> Task:
        """The fitted task, or scikit-learn's ``NotFittedError``."""
        if not hasattr(self, "checkpoint_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, y) before using it"
            )
        return self.task_

    # -- save, load, pickle --------------------------------------------------------------------

    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write the fitted model as a checkpoint folder (``directory/best``) that
        ``rnnkit.load`` and ``rnnkit predict DIR`` read."""
        self.fitted_task()
        best = Path(directory) / "best"
        if best.exists() and not overwrite:
            raise ValueError(f"{best} exists; expected a new folder (or overwrite=True)")
        _write_files(best, self.checkpoint_)
        return Path(directory)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())  # a copy: object's is the live __dict__
        state.pop("task_", None)  # rebuilt from checkpoint_: no torch module in the pickle
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "checkpoint_" in state:
            with tempfile.TemporaryDirectory(prefix="rnnkit-sklearn-") as folder:
                _write_files(Path(folder), self.checkpoint_)
                self.task_ = load(folder, device=self.device)


def _read_files(folder: Path) -> dict[str, bytes]:
    """A checkpoint folder's files (it holds no subfolders): name -> contents."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def _write_files(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, contents in files.items():
        if Path(name).name != name:  # names come from a pickle: plain file names only
            raise ValueError(f"checkpoint file name {name!r} is not a plain name")
        (folder / name).write_bytes(contents)
