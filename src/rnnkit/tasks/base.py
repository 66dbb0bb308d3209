"""``Task``: the base every task's Python object derives from — settings, the fit skeleton as named
steps, the run folder, save and load.

A task (``TextClassifier``, ``LanguageModel``, ``Translator``, ...) is constructed with keyword
settings — the fields of its ``SECTIONS`` dataclasses (data, model, training), the same names as
its command-line options — and then::

    clf = TextClassifier(hidden=128, epochs=3)
    clf.fit(texts, labels)            # or fit(data="imdb"), fit(dataframe), ...
    clf.evaluate(texts, labels)       # the metrics dict `rnnkit evaluate --json` prints
    clf.predict(["new text"])
    clf.save("runs/mine")             # the run folder `rnnkit train` writes
    same = rnnkit.load("runs/mine")   # the right class, model kept loaded

``fit`` runs the same steps for every task (the skeleton lives here, once)::

    resolve the run folder and settings -> seed -> read_splits -> fit_preprocessing
    (or the saved one when resuming) -> build_model -> make_batches -> Trainer.fit
    -> load the best checkpoint

A task implements those steps plus ``restore`` (rebuild the loaded model from a checkpoint),
``summary_report`` and its verbs (``predict``, ``evaluate``, ``generate``, ...). Nothing here
reads a command line: the CLI builds its options from ``SECTIONS`` and calls these methods.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from rnnkit.errors import UserError
from rnnkit.settings import Settings
from rnnkit.train import (
    Callback,
    Checkpoint,
    Objective,
    TrainConfig,
    Trainer,
    load_checkpoint,
    load_model_state,
    resolve_device,
    seed_everything,
)
from rnnkit.train.monitor import better_direction
from rnnkit.train.run_dir import RunDirectory

__all__ = ["Task", "duration", "fit_summary", "log_to_stderr", "progress_bar", "text_list"]

logger = logging.getLogger(__name__)


class Task:
    """Settings, the fit skeleton and save/load shared by every task (see the module docstring).

    Class attributes a task sets:
        NAME: the task's name in ``rnnkit train NAME`` and in ``config.json``; the class
            docstring is the ``rnnkit train NAME --help`` text.
        SECTIONS: section name -> settings dataclass: "data", "model", "train" (a ``TrainConfig``)
            and any others the task needs.
        TRAIN_DEFAULTS: the task's ``TrainConfig`` defaults.
        FIXED: settings fields that are not user settings (sizes taken from the data, the data
            source given to ``fit``): left out of the keywords and the command line.
        EVALUATION_PLOT: the name of the plot ``evaluate(plot=...)`` draws (e.g. "confusion"),
            which ``rnnkit evaluate`` puts in the run folder by default; None: none.
        RESUME_SECTIONS: the sections whose settings may change when a run is resumed
            (training, and e.g. a language model's samples); the others made the weights.
    """

    NAME: ClassVar[str]
    SECTIONS: ClassVar[dict[str, type[Settings]]]
    TRAIN_DEFAULTS: ClassVar[TrainConfig]
    FIXED: ClassVar[tuple[str, ...]] = ("source",)
    EVALUATION_PLOT: ClassVar[str | None] = None  # the plot `rnnkit evaluate` draws, by name
    RESUME_SECTIONS: ClassVar[tuple[str, ...]] = ("train",)

    def __init__(self, *, verbose: int = 1, device: str = "auto", **settings: Any) -> None:
        unknown = sorted(set(settings) - set(self.setting_names()))
        if unknown:
            raise UserError(
                f"{type(self).__name__} has no setting {unknown[0]!r}; expected some of: "
                f"{', '.join(self.setting_names())}"
            )
        self.given = dict(settings)  # what the user chose; the rest comes from the defaults
        self.settings = self.resolve_settings(self.given)  # checked now, before any data loads
        self.verbose = verbose
        self.device = device
        self.run_dir: Path | None = None  # the run folder once fitted, saved or loaded
        self.checkpoint: Checkpoint | None = None  # its best checkpoint, loaded
        self.fit_result: dict[str, Any] | None = None  # what the last fit reported

    # -- settings --------------------------------------------------------------------------------

    @classmethod
    def setting_names(cls) -> list[str]:
        """The keyword settings, in section order (also the command-line options)."""
        return [
            name
            for settings in cls.SECTIONS.values()
            for name in settings.names()
            if name not in cls.FIXED
        ]

    @classmethod
    def presets(cls, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Section -> defaults that differ from the dataclasses' (a level's presets, the task's
        training defaults), for the settings ``given``."""
        return {"train": cls.TRAIN_DEFAULTS.to_dict()}

    @classmethod
    def resolve_settings(
        cls, given: Mapping[str, Any], saved: Mapping[str, Any] | None = None
    ) -> dict[str, Settings]:
        """Section -> settings: ``given`` over the ``saved`` run's settings (or the presets)."""
        base = saved if saved is not None else cls.presets(given)
        out = {}
        for section, settings in cls.SECTIONS.items():
            values = base.get(section) or {}
            if not isinstance(values, Mapping):
                raise UserError(
                    f"the {section!r} settings are a {type(values).__name__}; expected an object"
                )
            values = dict(values)
            values.update({k: v for k, v in given.items() if k in settings.names()})
            if "monitor" in given and "mode" not in given and "mode" in settings.names():
                values["mode"] = better_direction(str(given["monitor"])) or values["mode"]
            out[section] = settings.from_dict({**cls.placeholders(section), **values})
        return out

    @classmethod
    def shown_defaults(cls) -> dict[str, Any]:
        """Field -> the default ``--help`` shows (a task with levels may show text per level)."""
        presets, out = cls.presets({}), {}
        for section, settings in cls.SECTIONS.items():
            values = {**cls.placeholders(section), **presets.get(section, {})}
            out.update(settings.from_dict(values).to_dict())
        return out

    @classmethod
    def placeholders(cls, section: str) -> dict[str, Any]:
        """Values for a section's ``FIXED`` fields until the data gives the real ones."""
        return {}

    def get_params(self) -> dict[str, Any]:
        """Every keyword setting and its current value."""
        flat = {name: value for s in self.settings.values() for name, value in s.to_dict().items()}
        return {name: flat[name] for name in self.setting_names()}

    # -- the fit skeleton ----------------------------------------------------------------------

    def fit(
        self,
        X: Any = None,
        y: Any = None,
        *,
        data: str | None = None,
        validation_data: Any = None,
        callbacks: Iterable[Callback] = (),
        out: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
        max_time: float | None = None,
        precision: str | None = None,
        device: str | None = None,
    ) -> Task:
        """Train on in-memory data (``X``, ``y``) or a dataset name/path (``data``).

        ``validation_data`` selects the best epoch (else a split is cut from the training data);
        ``out`` is the run folder (a temporary one by default; ``save`` copies it);
        ``resume=True`` continues the run in ``out`` with its saved settings (training settings
        given again override them); ``max_time`` (minutes), ``precision`` and ``device`` are
        shortcuts for the settings of those names. Returns ``self`` with the best epoch loaded.
        """
        if X is None and data is None and not resume:
            raise UserError(
                "nothing to train on: expected in-memory data (fit(X, y)) or data='NAME or PATH'"
            )
        if X is not None and data is not None:
            raise UserError("expected either in-memory data (X, y) or data='...', got both")
        overrides = {"max_time_minutes": max_time, "precision": precision}
        given = {**self.given, **{k: v for k, v in overrides.items() if v is not None}}
        if self.verbose == 0:
            given.setdefault("progress", False)
        self.device = device or self.device
        resolve_device(self.device)  # a missing GPU is said before the data loads
        run = self._run_folder(out, resume, overwrite)
        saved = RunDirectory(run).load_last() if resume else None
        self.settings = self._settings_for(given, data, saved)
        train = self.settings["train"]
        if train.seed is not None:
            seed_everything(train.seed)  # before the model is built: a reproducible init
        splits = self.read_splits(X, y, validation_data)
        if saved is not None:  # the vocabulary and labels the saved weights were trained with
            preprocessing = self.restore_preprocessing(saved)
        else:
            preprocessing = self.fit_preprocessing(splits)
        model = self.build_model(preprocessing)
        train_batches, val_batches = self.make_batches(splits, preprocessing)
        trainer = Trainer(
            model,
            self.make_objective(preprocessing),
            train,
            callbacks=[*self.make_callbacks(preprocessing), *callbacks],
            device=self.device,
            checkpoint_config={
                "task": self.NAME,
                **{
                    section: s.to_dict()
                    for section, s in self.settings.items()
                    if section != "train"
                },
            },
            artifacts=self.artifacts(preprocessing),
        )
        with log_to_stderr(self.verbose):
            trainer.fit(train_batches, val_batches, out_dir=run, resume=resume, overwrite=overwrite)
        self.fit_result = fit_summary(trainer, run)
        self._load(run)
        return self

    def _run_folder(self, out: str | Path | None, resume: bool, overwrite: bool) -> Path:
        """The run folder, checked before any data is read."""
        if out is not None:
            folder = RunDirectory(out)
            if folder.path.exists() and not folder.path.is_dir():
                raise UserError(f"{out} is a file; expected a folder for the run")
            if not resume and not overwrite and folder.holds_run():
                raise UserError(folder.refusal())
            folder.check_free()  # another run writing there: refused before the data loads
            folder.check_writable()
            return folder.path
        if resume:
            raise UserError("resume=True needs out='the run folder to continue'")
        return Path(tempfile.mkdtemp(prefix=f"rnnkit-{self.NAME}-"))

    def _settings_for(
        self, given: dict[str, Any], data: str | None, saved: Checkpoint | None
    ) -> dict[str, Settings]:
        """Fresh: ``given`` over the presets. Resumed: the saved settings, where only training
        settings may change (the weights and vocabulary were made for the saved data and model)."""
        if saved is None:
            settings = self.resolve_settings(given)
            return {**settings, "data": settings["data"].replace(source=data)}
        stored = {section: saved.config.get(section) for section in self.SECTIONS}
        try:  # the saved settings as they are, checked (a damaged config.json is said here)
            settings = self.resolve_settings({}, saved=stored)
        except UserError as error:
            raise UserError(f"{saved.path / 'config.json'}: {error}") from None
        clash = [
            name
            for section, values in settings.items()
            if section not in self.RESUME_SECTIONS
            for name, value in values.to_dict().items()
            if name in given and given[name] != value
        ]
        if data is not None and data != settings["data"].source:
            clash.append("data")
        if clash:
            raise UserError(
                f"cannot change {', '.join(clash)} when resuming {saved.path.parent}: its weights "
                "and vocabulary were made for the saved settings; expected only training settings "
                "(e.g. epochs, max_time), or a new run in another folder"
            )
        return {
            section: values.replace(**{k: v for k, v in given.items() if k in values.names()})
            if section in self.RESUME_SECTIONS
            else values
            for section, values in settings.items()
        }

    # -- the steps a task implements -----------------------------------------------------------

    def read_splits(self, X: Any, y: Any, validation_data: Any) -> dict[str, Any]:
        """The "train" and "val" splits (and "test" where there is one) of the data settings'
        ``source`` or of the in-memory ``X``, ``y``."""
        raise NotImplementedError

    def fit_preprocessing(self, splits: dict[str, Any]) -> Any:
        """What is learned from the training split before the model: tokenizer, vocabulary,
        label names, scalers."""
        raise NotImplementedError

    def restore_preprocessing(self, checkpoint: Checkpoint) -> Any:
        """The preprocessing saved in ``checkpoint``'s artifacts."""
        raise NotImplementedError

    def artifacts(self, preprocessing: Any) -> dict[str, Any]:
        """Name -> JSON value saved beside the weights (``<name>.json``)."""
        raise NotImplementedError

    def build_model(self, preprocessing: Any) -> nn.Module:
        """The model for the current settings; fills the model settings' sizes from the data."""
        raise NotImplementedError

    def make_objective(self, preprocessing: Any) -> Objective:
        raise NotImplementedError

    def make_callbacks(self, preprocessing: Any) -> list[Callback]:
        return []

    def make_batches(self, splits: dict[str, Any], preprocessing: Any) -> tuple[Any, Any]:
        """(training batches, validation batches), each re-iterable."""
        raise NotImplementedError

    def restore(self, checkpoint: Checkpoint, device: torch.device) -> None:
        """Rebuild the preprocessing (``self.preprocessing``) and the model (``self.model``, eval
        mode, on ``device``) from ``checkpoint``; a task extends this to keep more."""
        self.preprocessing = self.restore_preprocessing(checkpoint)
        model = self.build_model(self.preprocessing)  # its sizes from the vocabulary and labels
        self.model = self.load_weights(model, checkpoint, device)
        self.model_device = device

    def summary_report(self, summary: Mapping[str, Any]) -> str:
        """What ``rnnkit train`` prints when a fit ends."""
        raise NotImplementedError

    def predict_rows(self, inputs: list[str]) -> list[dict[str, Any]]:
        """One JSON-ready dict per input: what ``rnnkit predict --json`` (and a server) return."""
        raise NotImplementedError

    def predict_report(self, rows: list[dict[str, Any]]) -> str:
        """``predict_rows``' rows as text for people."""
        raise NotImplementedError

    # -- save and load -------------------------------------------------------------------------

    def _load(self, checkpoint: str | Path | Checkpoint) -> None:
        if not isinstance(checkpoint, Checkpoint):
            checkpoint = load_checkpoint(checkpoint)
        stored = {section: checkpoint.config.get(section) for section in self.SECTIONS}
        try:
            self.settings = self.resolve_settings({}, saved=stored)
        except UserError as error:  # a damaged or hand-edited config.json
            raise UserError(f"{checkpoint.path / 'config.json'}: {error}") from None
        self.checkpoint = checkpoint
        self.run_dir = checkpoint.path.parent
        self.restore(checkpoint, resolve_device(self.device))

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint, *, device: str = "auto") -> Task:
        task = cls.__new__(cls)
        Task.__init__(task, device=device)
        task._load(checkpoint)
        return task

    def load_weights(self, model: nn.Module, checkpoint: Checkpoint, device: torch.device):
        """``model`` with the checkpoint's weights, in eval mode on ``device``."""
        load_model_state(model, checkpoint.state_dict)
        return model.to(device).eval()

    def require_model(self) -> Checkpoint:
        if self.checkpoint is None:
            raise UserError(
                f"this {type(self).__name__} has no trained model yet; expected fit(...) or "
                "rnnkit.load(DIR) first"
            )
        return self.checkpoint

    def save(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Copy the run folder (best/, last/, history.csv, curves.png, metrics.json) to
        ``directory``: the same folder ``rnnkit train --out`` writes."""
        self.require_model()
        target = Path(directory)
        if self.run_dir is not None and target.resolve() == self.run_dir.resolve():
            return target
        if target.exists() and any(target.iterdir()):
            if not overwrite:
                raise UserError(
                    f"{target} is not empty; expected a new folder (or save(..., overwrite=True))"
                )
            shutil.rmtree(target)
        shutil.copytree(self.run_dir, target, dirs_exist_ok=True)
        return target


def fit_summary(trainer: Trainer, out: Path) -> dict[str, Any]:
    """What every fit reports: the run folder, epochs, why it stopped, the time, and the best
    epoch's validation metrics as top-level ``val_*`` keys."""
    best = trainer.monitor.best_epoch
    row = trainer.history[best - 1] if best else trainer.history[-1]
    return {
        "out": str(out),
        "epochs": trainer.epoch,
        "best_epoch": best,
        "stop_reason": trainer.stop_reason,
        "train_time_s": round(trainer.elapsed_s, 3),
        "steps": trainer.global_step,
        **{key: value for key, value in row.items() if key.startswith("val_")},
    }


def duration(seconds: float) -> str:
    """A training time as a person reads it: "5.9 s" under a minute, "3.2 min" under an hour,
    "2 h 05 min" after."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min"


@contextlib.contextmanager
def log_to_stderr(verbose: int) -> Iterator[None]:
    """rnnkit's log lines (one per epoch, samples...) on stderr while a fit runs, also where
    nobody configured logging (a notebook, a script); ``verbose=0``: warnings only."""
    package = logging.getLogger("rnnkit")
    handler, level = None, package.level
    if verbose and not logging.getLogger().handlers and not package.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        package.addHandler(handler)
        package.setLevel(logging.INFO)
    elif not verbose:
        package.setLevel(logging.WARNING)
    try:
        yield
    finally:
        package.setLevel(level)
        if handler is not None:
            package.removeHandler(handler)


def progress_bar(items: Iterable[Any], desc: str, verbose: int) -> Iterable[Any]:
    """``items`` with a tqdm bar on stderr when ``verbose`` and stderr is a terminal or a
    notebook; ``verbose=0``: none."""
    return tqdm(items, desc=desc, unit="batch", disable=None if verbose else True, leave=False)


def text_list(texts: Any, what: str = "text") -> list[str]:
    """``texts`` (a list, tuple, NumPy array or pandas Series of strings) as a list; one string,
    or an item that is not one, is a ``UserError`` naming ``what`` they are."""
    if isinstance(texts, str):
        raise UserError(f"expected a list of {what}s, got one string (wrap it: [{what}])")
    texts = texts.tolist() if hasattr(texts, "tolist") else list(texts)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise UserError(f"{what} {bad} is a {type(texts[bad]).__name__}; expected str")
    return texts
