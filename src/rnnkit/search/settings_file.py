"""Settings files: a task's keyword settings as TOML or JSON, read by ``rnnkit train --config``
and written by a search for its best trial (``best.toml``, ``best.json``).

A settings file is a flat table of settings (``hidden = 64``, ``lr = 0.002``), or one table per
settings section (``[model] hidden = 64``, ``[train] lr = 0.002``); an optional ``task`` key
must name the task it is read for. An unknown key is an error, with the closest name.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_text
from rnnkit.errors import UserError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package, where installed
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

__all__ = ["read_settings_file", "read_toml", "write_settings_file"]


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML document in ``path``, or a ``UserError`` saying what is wrong with it."""
    path = Path(path)
    if tomllib is None:
        raise UserError(f"reading {path} needs Python 3.11+, or pip install tomli")
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise UserError(f"{path} does not exist; expected a TOML file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder; expected a TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; expected a TOML file") from None


def read_settings_file(path: str | Path, task: Any) -> dict[str, Any]:
    """Setting -> value from the TOML or JSON file ``path`` (JSON when it ends in ``.json``)
    for ``task`` (a ``Task`` class); the values are checked when the task is built."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path} does not exist; expected a settings file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UserError(f"{path} is not valid JSON: {error}") from None
    else:
        document = read_toml(path)
    if not isinstance(document, Mapping):
        raise UserError(f"{path} holds a {type(document).__name__}; expected an object")
    settings: dict[str, Any] = {}
    names = task.setting_names()
    for key, value in document.items():
        if key == "task":
            if value != task.NAME:
                raise UserError(f"{path} is for task {value!r}; expected {task.NAME!r}")
        elif key in task.SECTIONS and isinstance(value, Mapping):
            settings.update(value)
        else:
            settings[key] = value
    unknown = [key for key in settings if key not in names]
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(str(key), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        fixed = " (it comes from the data or the command line)" if key in task.FIXED else ""
        raise UserError(
            f"{path}: {task.NAME} has no setting {key!r}{hint}{fixed}; expected some of: "
            f"{', '.join(names)}"
        )
    return settings


def write_settings_file(path: str | Path, settings: Mapping[str, Any], comment: str = "") -> Path:
    """Write ``settings`` as a flat TOML (``.toml``) or JSON file; TOML has no null, so a
    setting set to None is written as a comment there (the JSON file holds it)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        text = json.dumps(dict(settings), indent=2) + "\n"
    else:
        lines = [f"# {line}".rstrip() for line in comment.splitlines()]
        for key, value in settings.items():
            value = list(value) if isinstance(value, tuple) else value
            if value is None:
                lines.append(f"# {key} = none (TOML has no null: use the .json file to keep it)")
            else:  # JSON's strings, numbers, booleans and arrays are valid TOML values
                lines.append(f"{key} = {json.dumps(value)}")
        text = "\n".join(lines) + "\n"
    atomic_write_text(path, text)
    return path
