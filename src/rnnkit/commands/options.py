"""Command-line options generated from settings dataclasses, so that a default is written once.

``add_settings_options(group, Settings, shown)`` adds one option per field: ``--field-name`` (or
the names in ``OPTION_NAMES``), its type from the annotation (``bool`` fields get
``--x/--no-x``), its choices from ``CHOICES``, its help from the class docstring and the default
shown from ``shown``. Every option defaults to ``None``, so ``given(args, Settings)`` can tell what
the user set from what the task fills in (its defaults, or a resumed run's saved settings).
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from rnnkit.settings import Settings

__all__ = ["OPTION_NAMES", "add_settings_options", "given"]

# field -> its option strings where they are not simply --field-name (older, shorter spellings)
OPTION_NAMES: dict[str, tuple[str, ...]] = {
    "source": ("--data",),
    "clip_norm": ("--clip", "--clip-norm"),
    "max_time_minutes": ("--max-time", "--max-time-minutes"),
}
METAVARS = {"source": "NAME_OR_PATH", "clip_norm": "NORM", "max_time_minutes": "MINUTES"}
TYPE_METAVARS = {int: "N", float: "X", str: "TEXT"}
LONG_CHOICES = 6  # more choices than this are listed in the help text, not the usage line


def add_settings_options(
    group: Any,
    settings: type[Settings],
    shown: Mapping[str, Any],
    *,
    skip: Iterable[str] = (),
    help_overrides: Mapping[str, str] | None = None,
) -> None:
    """One option per field of ``settings`` (except ``skip``) on ``group`` (a parser or group).

    ``shown``: field -> the default to print in --help (a value, or text such as
    "384 chars, 256 words"); ``help_overrides``: field -> help text instead of the docstring's.
    """
    hints = typing.get_type_hints(settings)
    helps = {**settings.field_help(), **(help_overrides or {})}
    skipped = set(skip)
    for name in settings.names():
        if name in skipped:
            continue
        kind, nargs = _option_type(hints[name])
        default = shown.get(name)
        shown_default = "none" if default is None else _shown(default)
        text = helps.get(name, "").replace("``", "").rstrip(".")
        choices = settings.CHOICES.get(name)
        if choices is not None and len(choices) > LONG_CHOICES:
            text += f"; one of: {', '.join(map(str, choices))}"
        if "default:" not in text:  # the docstring may say it better ("utf-8; latin-1 for ...")
            text = f"{text} (default: {shown_default})".strip()
        options: dict[str, Any] = {"dest": name, "default": None, "help": text.replace("%", "%%")}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = kind
            if nargs:
                options["nargs"] = nargs
            if choices is not None:
                options["choices"] = list(choices)
            if choices is not None and len(choices) > LONG_CHOICES:
                options["metavar"] = "NAME"
            elif choices is None:
                options["metavar"] = METAVARS.get(name, TYPE_METAVARS.get(kind, "VALUE"))
        names = OPTION_NAMES.get(name, ("--" + name.replace("_", "-"),))
        group.add_argument(*names, **options)


def given(args: argparse.Namespace, settings: Iterable[type[Settings]]) -> dict[str, Any]:
    """The settings among the fields of ``settings`` that the user set on the command line."""
    out: dict[str, Any] = {}
    for cls in settings:
        for name in cls.names():
            value = getattr(args, name, None)
            if value is not None:
                out[name] = list(value) if isinstance(value, list) else value
    return out


def _option_type(annotation: Any) -> tuple[Any, int | None]:
    """(the argparse ``type`` or ``bool``, ``nargs`` for tuples) of a field annotation."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple:
        return args[0], len(args)
    if args:  # X | None
        inner = [arg for arg in args if arg is not type(None)]
        return _option_type(inner[0])
    return annotation, None


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
