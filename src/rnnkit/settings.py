"""``Settings``: the base of every settings dataclass (training loop, data, model of each task).

A settings class is a plain ``@dataclass`` that derives from ``Settings``; its defaults are the
only place a default is written. Every way a setting arrives — in code (``TrainConfig(lr=0.01)``),
from the command line (options generated from the fields, see ``rnnkit.commands.options``), from
the Python API's keywords, from a saved ``config.json`` (``from_dict``) — goes through the same
checks, so a typo or a value out of range never silently trains with something else:

* types from the annotations (``bool``, ``int``, ``float``, ``str``, ``X | None``,
  ``tuple[float, float]``); ints are accepted for floats, a bool is never a number, floats must be
  finite;
* ``CHOICES``: field -> the allowed values;
* ``RANGES``: field -> an interval such as ``"[0, 1)"`` or ``"[1, inf)"``;
* ``check()``: what involves several fields.

A failed check raises ``UserError`` in the "expected X, got Y" style. The class docstring's
``Args:`` section documents each field; ``field_help()`` hands that text to ``--help``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
import types
import typing
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, TypeVar

from rnnkit.errors import UserError

__all__ = ["Settings", "check_setting"]

S = TypeVar("S", bound="Settings")


class Settings:
    """Base class: checked construction, ``from_dict`` / ``to_dict`` / ``replace``, field help.

    Subclasses are dataclasses and may set ``CHOICES``, ``RANGES``, ``KIND`` (how messages name
    the settings, e.g. "model setting") and override ``check``.
    """

    CHOICES: ClassVar[Mapping[str, Collection[Any]]] = {}
    RANGES: ClassVar[Mapping[str, str]] = {}
    KIND: ClassVar[str] = "setting"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            name, value = field.name, getattr(self, field.name)
            setattr(self, name, _coerce(self.KIND, name, value, hints[name]))
        for name, value in self.to_dict().items():
            if name in self.CHOICES and value is not None:
                choices = ", ".join(map(str, self.CHOICES[name]))
                if value not in self.CHOICES[name]:
                    raise UserError(f"{name} must be one of {choices}; got {value!r}")
            if name in self.RANGES and value is not None:
                _check_range(name, value, self.RANGES[name])
        self.check()

    def check(self) -> None:
        """Checks that involve several fields (none by default)."""

    @classmethod
    def names(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[S], values: Mapping[str, Any]) -> S:
        """Settings from a JSON-like dict; unknown keys and wrong types raise UserError."""
        if not isinstance(values, Mapping):
            raise UserError(f"{cls.KIND}s must be a mapping, got {type(values).__name__}")
        known = cls.names()
        unknown = [key for key in values if key not in known]
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(
                f"unknown {cls.KIND} {key!r}{hint}; expected one of: {', '.join(known)}"
            )
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in values
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise UserError(f"{cls.KIND}s lack {', '.join(missing)}; expected a value for each")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists) that ``from_dict`` reads back."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    def replace(self: S, **changes: Any) -> S:
        """A copy with some settings changed, checked like new settings."""
        return type(self).from_dict({**self.to_dict(), **changes})

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Each field's description from the class docstring's ``Args:`` section, and those of
        the settings classes it extends."""
        out: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, Settings) and "__doc__" in vars(klass):
                out.update(_docstring_args(klass.__doc__ or ""))
        return out


def check_setting(ok: bool, message: str, value: Any) -> None:
    """``UserError(f"{message}, got {value!r}")`` unless ``ok``."""
    if not ok:
        raise UserError(f"{message}, got {value!r}")


_INTERVAL = re.compile(r"^([\[(])\s*(-?[\w.]+)\s*,\s*(-?[\w.]+)\s*([\])])$")


def _check_range(name: str, value: Any, interval: str) -> None:
    """``value`` lies in ``interval`` ("[0, 1)", "(0, inf)", ...) or a UserError says where."""
    match = _INTERVAL.match(interval)
    if match is None:
        raise ValueError(f"bad interval {interval!r} for {name}")
    left, low, high, right = match.groups()
    low, high = float(low), float(high)
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        above = v >= low if left == "[" else v > low
        below = v <= high if right == "]" else v < high
        if not (above and below):
            if math.isinf(high):
                bound = {("(", 0.0): "positive", ("[", 0.0): ">= 0"}.get((left, low))
                bound = bound or (f"at least {low:g}" if left == "[" else f"above {low:g}")
                raise UserError(f"{name} must be {bound}, got {value!r}")
            raise UserError(f"{name} must lie in {interval}, got {value!r}")


def _docstring_args(doc: str) -> dict[str, str]:
    """``{"name": "text", ...}`` from a Google-style ``Args:`` section (``a, b: text`` too)."""
    lines = doc.expandtabs().splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Args:")
    except StopIteration:
        return {}
    out: dict[str, str] = {}
    current: list[str] = []
    indent = None
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        if depth < indent:
            break
        head = re.match(r"^([\w, ]+):\s*(.*)$", line.strip()) if depth == indent else None
        if head:
            current = [n.strip() for n in head.group(1).split(",")]
            for name in current:
                out[name] = head.group(2)
        else:
            for name in current:
                out[name] += " " + line.strip()
    return out


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _coerce(kind: str, name: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against a field annotation; ints are accepted (and converted) for floats."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            try:
                return _coerce(kind, name, value, inner[0])
            except UserError:
                pass
        raise _type_error(kind, name, annotation, value)
    if origin is tuple:
        args = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise _type_error(kind, name, annotation, value)
        return tuple(_coerce(kind, name, item, arg) for item, arg in zip(value, args, strict=True))
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise _type_error(kind, name, annotation, value)
        if not math.isfinite(value):
            raise UserError(f"{kind} {name!r} expected a finite number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise _type_error(kind, name, annotation, value)
        return int(value)
    if annotation in (bool, str):
        if not isinstance(value, annotation):
            raise _type_error(kind, name, annotation, value)
        return value
    raise TypeError(f"settings field {name!r} has an unsupported annotation {annotation!r}")


def _type_error(kind: str, name: str, annotation: Any, value: Any) -> UserError:
    return UserError(
        f"{kind} {name!r} expected {_type_name(annotation)}, got {type(value).__name__} {value!r}"
    )
