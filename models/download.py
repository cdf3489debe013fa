"""Fetching one model file over HTTP(S): resumable, size- and sha256-checked.

This is the only network access gallerfs makes, and only when the user runs
``gallerfs models install``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from gallerfs.errors import GallerfsError
from gallerfs.models.manifest import FileSpec

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TIMEOUT_S = 60
Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: Path, spec: FileSpec) -> None:
    """Raise a one-line error unless the file has the size and sha256 the manifest names."""
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise GallerfsError(f"{spec.name}: size {size} bytes, the manifest says {spec.size}")
    got = sha256_file(path)
    if got != spec.sha256:
        raise GallerfsError(f"{spec.name}: checksum mismatch (sha256 {got}, the manifest says {spec.sha256})")


def _open(url: str, offset: int) -> urllib.response.addinfourl:
    request = urllib.request.Request(url, headers={"User-Agent": "gallerfs-models-install"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def fetch(spec: FileSpec, url: str, dest: Path, progress: Progress | None = None) -> None:
    """Download ``url`` to ``dest`` (via ``dest.part``, resumed when present) and verify it.

    A file that fails verification is deleted, so the next try starts afresh.
    """
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if spec.size is not None and offset > spec.size:
        part.unlink()
        offset = 0
    try:
        if spec.size is None or offset < spec.size:
            with _open(url, offset) as response:
                status = getattr(response, "status", 200)
                if offset and status != 206:
                    log.info("%s: the server does not resume downloads; starting over", spec.name)
                    offset = 0
                length = response.headers.get("Content-Length")
                total = offset + int(length) if length and length.isdigit() else spec.size
                with open(part, "ab" if offset else "wb") as out:
                    done = offset
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                    out.flush()
                    os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise GallerfsError(f"cannot download {spec.name} from {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise GallerfsError(
            f"cannot download {spec.name} from {url}: {reason} (run the command again to resume, "
            "or fetch the files yourself and use 'gallerfs models import DIR')"
        ) from None
    try:
        check_file(part, spec)
    except GallerfsError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
