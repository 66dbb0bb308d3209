"""Finding a dataset: explicit path -> ``$RNNKIT_DATA`` -> user cache -> download -> clear error.

:func:`resolve` looks for a registered dataset (see :mod:`rnnkit.data.registry`) in this order:

1. an explicit path (a file, a folder, an archive; or a folder that holds the dataset);
2. ``$RNNKIT_DATA/<target>`` (a folder of datasets, e.g. a lab's shared copy);
3. the user cache, ``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``;
3b. the copy shipped inside the package, for the small datasets that have one (Tiny Shakespeare);
4. a download from the canonical address into the cache, with a progress bar on stderr and
   a checksum check (``RNNKIT_OFFLINE=1`` or ``download=False`` turns this step off);
5. a ``UserError`` saying the address and where to put the file.

Local copies (steps 1-3) are used as they are; only downloads are verified.
:func:`load_dataset` resolves a registered name, or takes any path, and calls the right loader.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rnnkit.data.archive import is_archive
from rnnkit.data.download import DownloadError, download
from rnnkit.data.imdb import looks_like_imdb, read_imdb
from rnnkit.data.registry import DATASETS, DatasetEntry, get_entry
from rnnkit.data.tabular import load_csv_dataset
from rnnkit.data.text import read_text
from rnnkit.errors import UserError

__all__ = ["cache_dir", "load_dataset", "loader_for_path", "resolve"]

logger = logging.getLogger(__name__)

# resolve() downloads through this name (its ``download`` argument shadows the function).
download_file = download


def cache_dir() -> Path:
    """The user cache for downloads: ``$RNNKIT_CACHE``, else ``~/.cache/rnnkit``."""
    return Path(os.environ.get("RNNKIT_CACHE") or "~/.cache/rnnkit").expanduser()


def _data_dir() -> Path | None:
    value = os.environ.get("RNNKIT_DATA")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        logger.warning("RNNKIT_DATA=%s is not a directory; ignoring it", value)
    return path


def _find_in(root: Path, entry: DatasetEntry) -> Path | None:
    """The dataset's path under ``root`` if a local copy is there."""
    target = root / entry.target
    if entry.files and all((root / f.path).exists() for f in entry.files):
        return target
    if not entry.files and target.exists():
        return target
    for alternative in entry.alternatives:
        if (root / alternative).exists():
            return root / alternative
    return None


def _offline_error(entry: DatasetEntry, reasons: list[str]) -> UserError:
    data = _data_dir()
    places = [
        f"$RNNKIT_DATA/{entry.target}" + (f" ({data / entry.target})" if data else " (unset)"),
        str(cache_dir() / entry.target),
    ]
    if entry.files:
        urls = ", ".join(f.url for f in entry.files)
        why = "; ".join(reasons) or "downloads are off"
        how = f"it could not be downloaded ({why}); get it from {urls}"
    else:
        how = f"it cannot be downloaded automatically ({entry.manual}): {entry.homepage}"
    return UserError(
        f"dataset {entry.name!r} was not found and {how}, and put it at "
        f"{' or '.join(places)}, or pass its path"
    )


def resolve(
    name: str, path: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """Find (or download) the registered dataset ``name``; return the path for its loader.

    Args:
        name: a key of ``DATASETS``.
        path: an explicit location: the dataset itself, or a folder that holds it.
        download: allow step 4 (also off when the environment has ``RNNKIT_OFFLINE=1``).
    """
    entry = get_entry(name)
    if path is not None:
        path = Path(path).expanduser()
        if not path.exists():
            raise UserError(f"no such file or directory: {path} (expected dataset {name!r})")
        return (_find_in(path, entry) if path.is_dir() else None) or path
    for root in (_data_dir(), cache_dir()):
        if root is not None and (found := _find_in(root, entry)) is not None:
            logger.debug("found %s at %s", name, found)
            return found
    if entry.bundled and (bundled := Path(__file__).parent / entry.bundled).is_file():
        logger.debug("using the copy of %s shipped with rnnkit: %s", name, bundled)
        return bundled
    offline = os.environ.get("RNNKIT_OFFLINE", "") not in ("", "0")
    if not entry.files or not download or offline:
        raise _offline_error(entry, [])
    reasons: list[str] = []
    cache = cache_dir()
    for remote in entry.files:
        dest = cache / remote.path
        if dest.exists():
            continue
        for url in (remote.url, *remote.mirrors):
            try:
                logger.info("downloading %s from %s", remote.path, url)
                download_file(url, dest, sha256=remote.sha256)
                break
            except DownloadError as error:
                reasons.append(str(error))
        else:
            raise _offline_error(entry, reasons)
    return cache / entry.target


def loader_for_path(path: str | os.PathLike[str]) -> Callable[..., Any]:
    """Guess how to read a path that is not a registered name, from what it is.

    An aclImdb tree or a tar archive -> :func:`read_imdb`; ``.csv``/``.tsv``/``.tab`` ->
    :func:`load_csv_dataset`; ``.txt`` -> :func:`read_text`.
    """
    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    if path.is_dir() or is_archive(path):
        if looks_like_imdb(path):
            return read_imdb
        raise UserError(
            f"{path}: cannot tell what dataset this folder holds; expected an aclImdb tree "
            "(train/pos, train/neg, test/...)"
        )
    if name.endswith((".csv", ".tsv", ".tab")):
        return load_csv_dataset
    if name.endswith(".txt"):
        return read_text
    raise UserError(
        f"{path}: cannot tell how to read this file; expected a folder, a .tar.gz archive, "
        "a .csv/.tsv file or a .txt file"
    )


def load_dataset(
    source: str | os.PathLike[str],
    *,
    path: str | os.PathLike[str] | None = None,
    download: bool = True,
    **options: Any,
) -> Any:
    """Load a dataset by registry name or from a path.

    Args:
        source: a key of ``DATASETS`` (``"imdb"``, ``"gop-debate"``...) or a path to data
            (an aclImdb tree or tarball, a CSV/TSV file, a text file).
        path: for a registered name, an explicit location overriding the search.
        download: allow downloading a registered dataset that is not found locally.
        **options: loader options, overriding the entry's defaults (e.g. ``encoding=...``).

    Returns:
        What the loader returns: ``dict[str, LabeledTexts]`` for classification data, ``str``
        for a text corpus, ``{split: str}`` for PTB, ``{split: (sources, targets)}`` for Multi30k.
    """
    if isinstance(source, str) and source in DATASETS:
        entry = DATASETS[source]
        if entry.loader is None:
            raise UserError(
                f"dataset {source!r} has no loader yet; find its files with resolve({source!r})"
            )
        location = resolve(source, path, download=download)
        return entry.loader(location, **{**entry.options, **options})
    if path is not None:
        raise UserError(f"unknown dataset {str(source)!r}; expected one of {', '.join(DATASETS)}")
    location = Path(source).expanduser()
    if not location.exists():
        raise UserError(
            f"{str(source)!r} is neither a known dataset ({', '.join(DATASETS)}) "
            "nor an existing file or folder"
        )
    return loader_for_path(location)(location, **options)
