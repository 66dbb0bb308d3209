"""The search space: which task settings a search varies, and over what values.

A space file is TOML with one table per setting (the names of the task's keyword settings and
command-line options)::

    dropout = [0.2, 0.5]     # shorthand for choices (before the first table, as TOML wants)

    [lr]                     # a float setting: a range, here log-uniform
    low = 1e-4
    high = 1e-2
    log = true

    [hidden]                 # an int setting: integers, here 32, 64, ..., 256
    low = 32
    high = 256
    step = 32

    [optimizer]              # any setting: a list of choices
    choices = ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]

Everything is checked before any trial runs, each mistake as one ``UserError``: an unknown
setting (with the closest name), a key other than low/high/step/log/choices, an empty range
(``low >= high``), a range for a setting that is not a number, a value of the wrong type, a
value the setting refuses (both ends of a range and every choice are checked by the task's own
settings classes), and, for the grid sampler, a continuous range (a grid needs a step or
choices). Searching a setting also given as a fixed option is an error.
"""

from __future__ import annotations

import difflib
import math
import numbers
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from rnnkit.errors import UserError
from rnnkit.search.settings_file import read_toml

__all__ = ["Param", "SearchSpace", "read_space"]

KEYS = ("low", "high", "step", "log", "choices")
UNSEARCHABLE = ("monitor", "mode")  # what the search optimises


@dataclass(frozen=True)
class Param:
    """One searched setting and its Optuna distribution."""

    name: str
    distribution: BaseDistribution

    def suggest(self, trial: optuna.Trial) -> Any:
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return trial.suggest_categorical(self.name, d.choices)
        if isinstance(d, IntDistribution):
            return trial.suggest_int(self.name, d.low, d.high, step=d.step, log=d.log)
        return trial.suggest_float(self.name, d.low, d.high, step=d.step, log=d.log)

    def grid_values(self) -> list[Any] | None:
        """Every value, for the grid sampler; None for a continuous range."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return list(d.choices)
        if isinstance(d, IntDistribution):
            return list(range(d.low, d.high + 1, d.step))
        if d.step is None:
            return None
        count = round((d.high - d.low) / d.step) + 1
        return [round(d.low + i * d.step, 12) for i in range(count)]

    def spec(self) -> dict[str, Any]:
        """The JSON form, as in a space file."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return {"choices": list(d.choices)}
        out = {"low": d.low, "high": d.high}
        if d.log:
            out["log"] = True
        if d.step is not None and not (isinstance(d, IntDistribution) and d.step == 1):
            out["step"] = d.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    """The searched settings, in file order."""

    params: tuple[Param, ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Setting -> the value ``trial`` samples for it."""
        return {param.name: param.suggest(trial) for param in self.params}

    def grid(self) -> dict[str, list[Any]]:
        """Setting -> every value, for Optuna's ``GridSampler``."""
        out = {}
        for param in self.params:
            values = param.grid_values()
            if values is None:
                raise UserError(
                    f"space: [{param.name}] is a continuous range; the grid sampler needs a "
                    f"finite list: give it a step or choices = [...]"
                )
            out[param.name] = values
        return out

    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.grid().values())

    def spec(self) -> dict[str, dict[str, Any]]:
        """The space as JSON (what a study records to refuse resuming with another space)."""
        return {param.name: param.spec() for param in self.params}


def read_space(
    space: str | Path | Mapping[str, Any],
    task: Any,
    *,
    fixed: Mapping[str, Any] | None = None,
    sampler: str | None = None,
) -> SearchSpace:
    """The checked space from a TOML file or a mapping (``{"lr": {"low": ..., ...}, ...}``) for
    ``task`` (a ``Task`` class), with the ``fixed`` settings the trials share; ``sampler`` "grid"
    also needs every range to be finite."""
    if isinstance(space, Mapping):
        document, where = space, "space"
    else:
        document, where = read_toml(space), str(space)
    fixed = dict(fixed or {})
    kinds = setting_kinds(task)
    if not document:
        raise UserError(f"{where} names no settings; expected tables such as [lr] low = ...")
    params = []
    for name, spec in document.items():
        if name not in kinds:
            close = difflib.get_close_matches(str(name), list(kinds), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(
                f"{where}: {task.NAME} has no setting {name!r}{hint}; expected some of: "
                f"{', '.join(kinds)}"
            )
        if name in UNSEARCHABLE:
            raise UserError(f"{where}: [{name}] is what the search optimises; it cannot vary")
        if name in fixed:
            raise UserError(
                f"{where}: {name} is both searched and given as a fixed setting "
                f"({name}={fixed[name]!r}); expected one of them"
            )
        if isinstance(spec, list):  # shorthand: name = [choices]
            spec = {"choices": spec}
        if not isinstance(spec, Mapping):
            raise UserError(
                f"{where}: {name} = {spec!r}; expected a table ([{name}] with low/high or "
                f"choices) or a list of choices"
            )
        param = _param(name, spec, kinds[name], where, kinds)
        _check_values(param, task, fixed, where)
        params.append(param)
    out = SearchSpace(tuple(params))
    if sampler == "grid":
        out.grid()  # a continuous range is refused now, before any trial
    return out


def setting_kinds(task: Any) -> dict[str, Any]:
    """Keyword setting -> its type (``int``, ``float``, ``str``, ``bool``, ``tuple``)."""
    out = {}
    for settings in task.SECTIONS.values():
        hints = typing.get_type_hints(settings)
        for name in settings.names():
            if name not in task.FIXED:
                out[name] = _base_type(hints[name])
    return out


def _base_type(annotation: Any) -> Any:
    if typing.get_origin(annotation) is tuple:
        return tuple
    inner = [a for a in typing.get_args(annotation) if a is not type(None)]
    return _base_type(inner[0]) if inner else annotation


def _param(
    name: str, spec: Mapping[str, Any], kind: Any, where: str, settings: Collection[str]
) -> Param:
    unknown = [key for key in spec if key not in KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if unknown[0] in settings:  # `setting = [...]` after a table belongs to that table
            hint = f" (a line after [{name}] belongs to it: put '{unknown[0]} = ...' first)"
        raise UserError(
            f"{where}: [{name}] has an unknown key {unknown[0]!r}{hint}; expected low and high "
            "(with step or log), or choices"
        )
    if "choices" in spec:
        return Param(name, _choices(name, spec, where))
    if kind not in (int, float):
        what = "a pair" if kind is tuple else f"a {kind.__name__} setting"
        raise UserError(
            f"{where}: [{name}] is {what}: expected choices = [...], not a range of numbers"
        )
    missing = [key for key in ("low", "high") if key not in spec]
    if missing:
        raise UserError(f"{where}: [{name}] has no {missing[0]}; expected low and high, or choices")
    low, high = (_number(name, key, spec[key], kind, where) for key in ("low", "high"))
    if low >= high:
        raise UserError(
            f"{where}: [{name}] is an empty range: low {low!r} >= high {high!r}; "
            "expected low < high"
        )
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"{where}: [{name}] log = {log!r}; expected true or false")
    step = spec.get("step")
    if step is not None:
        step = _number(name, "step", step, kind, where)
        if step <= 0:
            raise UserError(f"{where}: [{name}] step = {step!r}; expected a positive step")
        if log:
            raise UserError(f"{where}: [{name}] has both step and log; expected one of them")
        high = low + math.floor((high - low) / step + 1e-9) * step  # the last value on the grid
    if log and low <= 0:
        raise UserError(f"{where}: [{name}] is log-uniform from {low!r}; expected low > 0")
    if kind is int:
        return Param(name, IntDistribution(low, high, log=log, step=step or 1))
    return Param(name, FloatDistribution(low, high, log=log, step=step))


def _choices(name: str, spec: Mapping[str, Any], where: str) -> CategoricalDistribution:
    others = [key for key in spec if key != "choices"]
    if others:
        raise UserError(f"{where}: [{name}] has choices and {others[0]}; expected only choices")
    choices = spec["choices"]
    if not isinstance(choices, list) or not choices:
        raise UserError(f"{where}: [{name}] choices = {choices!r}; expected a non-empty list")
    for value in choices:
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise UserError(
                f"{where}: [{name}] choice {value!r} is a {type(value).__name__}; expected "
                "strings, numbers or booleans"
            )
    if len(set(map(repr, choices))) < len(choices):
        raise UserError(f"{where}: [{name}] lists a choice twice: {choices!r}")
    return CategoricalDistribution(choices)


def _number(name: str, key: str, value: Any, kind: type, where: str) -> Any:
    if kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    else:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    if not ok:
        expected = "an integer" if kind is int else "a finite number"
        raise UserError(
            f"{where}: [{name}] {key} = {value!r}; {name} is a {kind.__name__} setting: "
            f"expected {expected}"
        )
    return kind(value)


def _check_values(param: Param, task: Any, fixed: Mapping[str, Any], where: str) -> None:
    """Every choice and both ends of a range through the task's settings classes."""
    d = param.distribution
    values = list(d.choices) if isinstance(d, CategoricalDistribution) else [d.low, d.high]
    for value in values:
        try:
            task.resolve_settings({**fixed, param.name: value})
        except UserError as error:
            message = f"{where}: [{param.name}] value {value!r} is refused: {error}"
            raise UserError(message) from None
