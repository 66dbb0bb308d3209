"""Download one file over HTTP(S): progress bar on stderr, SHA-256 check, atomic placement.

The bytes stream into a temporary file beside the destination and are hashed on the way; only a
complete download whose checksum matches is renamed to the destination, so an interrupted,
truncated or corrupted download never leaves a file that looks finished. A ``None`` checksum skips
the verification with a warning.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from rnnkit import __version__
from rnnkit.data.files import atomic_path
from rnnkit.errors import UserError

__all__ = ["ChecksumError", "DownloadError", "download"]

logger = logging.getLogger(__name__)


class DownloadError(UserError):
    """The file could not be fetched (offline, refused, HTTP error, truncated transfer)."""


class ChecksumError(UserError):
    """The fetched bytes do not have the expected SHA-256 (nothing was kept)."""


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    chunk_size: int = 1 << 16,
) -> Path:
    """Fetch ``url`` to ``dest`` and return ``dest``.

    Args:
        url: the address (``http``, ``https`` or ``file``).
        dest: where the file goes; its folder is created.
        sha256: the expected hex digest; ``None`` skips verification (with a warning).
        progress: show a tqdm progress bar on stderr.
        timeout: seconds to wait for the server to connect or send data.
        chunk_size: bytes read at a time.

    Raises:
        DownloadError: the server could not be reached or the transfer failed.
        ChecksumError: the bytes do not match ``sha256``.
    """
    from tqdm import tqdm  # only downloads need it

    dest = Path(dest)
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": f"rnnkit/{__version__}"})
    received = 0
    try:
        with atomic_path(dest) as tmp:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                total = response.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else None
                with (
                    open(tmp, "wb") as out,
                    tqdm(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=dest.name,
                        file=sys.stderr,
                        disable=not progress,
                    ) as bar,
                ):
                    while chunk := response.read(chunk_size):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if total is not None and received != total:
                raise DownloadError(
                    f"could not download {url}: the transfer stopped after {received:,} of "
                    f"{total:,} bytes"
                )
            actual = digest.hexdigest()
            if sha256 is None:
                logger.warning(
                    "no checksum known for %s; skipping verification (sha256 %s)", url, actual
                )
            elif actual != sha256.lower():
                raise ChecksumError(
                    f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {actual}; "
                    "the download was deleted (a proxy, a moved file or a corrupted transfer?)"
                )
    except urllib.error.HTTPError as error:
        raise DownloadError(f"could not download {url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"could not download {url}: {reason}") from None
    logger.info("downloaded %s (%s bytes) to %s", url, f"{received:,}", dest)
    return dest
