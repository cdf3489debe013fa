"""All of phase 2's per-file work, as one pure function for a worker process.

`process_file` hashes the file, reads its metadata, decodes the image (or a
video frame, or a RAW file's embedded preview) ONCE at reduced scale, and
derives the thumbnails and perceptual hashes from that decode. It never
touches the database and never raises for bad input: every stage that fails
is listed in `FileResult.errors` as (stage, one-line message) and the other
stages still run (e.g. an undecodable file still gets its content hash).

Run it in worker processes, not threads: the pixel limit is applied through
Pillow's process-wide Image.MAX_IMAGE_PIXELS for the duration of a call.

Stages: 'hash', 'metadata', 'decode' (pixel data unreadable or corrupt),
'thumbnail' (writing the files), 'phash'. When a file cannot even be opened
as media, only 'metadata' is listed: nothing after it could be attempted.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import warnings
from dataclasses import dataclass, replace

from PIL import Image

from .errors import MediaError, describe
from .hashing import file_hashes, perceptual_hashes
from .media import content_kind
from .metadata import Metadata, read_head, unsupported_jxl, with_mtime_fallback
from .metadata import image as imagemod
from .metadata import raw as rawmod
from .metadata import video as videomod
from .metadata.sniff import sniff
from .thumbnails import make_sizes, write_thumbnails

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileResult:
    metadata: Metadata | None  # None if nothing could be read
    content_hash: str | None  # sha256 hex of the whole file
    partial_hash: str | None  # sha256 hex of size + first 64 KiB + last 64 KiB
    phash: int | None  # 64-bit DCT perceptual hash, signed int64
    dhash: int | None  # 64-bit difference hash, signed int64
    thumbnails: tuple[str, ...]  # size names written, e.g. ("grid", "preview")
    errors: tuple[tuple[str, str], ...]  # (stage, one-line message) per failed stage
    kind: str | None = None  # 'image', 'raw' or 'video' by content (None: not read), see media.content_kind


class _Run:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.kind: str | None = None

    def fail(self, stage: str, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else describe(exc)
        self.errors.append((stage, message))


def process_file(path: bytes, kind: str, file_id: int, thumb_root: str, grid_px: int,
                 preview_px: int, quality: int, max_pixels: int) -> FileResult:
    """Hash, metadata, one decode, thumbnails and perceptual hashes of one file."""
    run = _Run()
    content_hash = partial_hash = None
    try:
        # O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; what was opened is
        # checked on the descriptor itself, so a file swapped for a FIFO after phase 1 is refused too.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        run.fail("hash", f"cannot read file: {exc.strerror or exc}")
        run.fail("metadata", f"cannot read file: {exc.strerror or exc}")
        return FileResult(None, None, None, None, None, (), tuple(run.errors))
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        if regular:
            os.set_blocking(fd, True)
    except OSError:
        regular = False
    if not regular:  # a FIFO or device would block or never end
        os.close(fd)
        run.fail("metadata", "not a regular file")
        return FileResult(None, None, None, None, None, (), tuple(run.errors))
    try:
        content_hash, partial_hash = file_hashes(fd)  # reads, then closes, the checked descriptor
    except OSError as exc:
        run.fail("hash", f"cannot read file: {exc.strerror or exc}")

    metadata, upright = _read(path, kind, preview_px, max_pixels, run)

    thumbnails: tuple[str, ...] = ()
    p_hash = d_hash = None
    if upright is not None:
        images = make_sizes(upright, {"preview": preview_px, "grid": grid_px})
        try:
            thumbnails = write_thumbnails(images, file_id, thumb_root, quality)
        except (OSError, ValueError) as exc:
            run.fail("thumbnail", exc)
        try:  # from the grid image: hashes only need 32x32 pixels
            p_hash, d_hash = perceptual_hashes(images["grid"])
        except (OSError, ValueError) as exc:
            run.fail("phash", exc)
    return FileResult(metadata, content_hash, partial_hash, p_hash, d_hash, thumbnails, tuple(run.errors), run.kind)


def _read(path: bytes, kind: str, preview_px: int, max_pixels: int,
          run: _Run) -> tuple[Metadata | None, Image.Image | None]:
    """Metadata and the upright decoded picture (either may be None on failure)."""
    try:
        st = os.stat(path)
        head = read_head(path)
    except OSError as exc:
        run.fail("metadata", f"cannot read file: {exc.strerror or exc}")
        return None, None
    sniffed = sniff(head)
    run.kind = content_kind(sniffed.handler, kind)
    if sniffed.handler == "empty":
        run.fail("metadata", "empty file (0 bytes)")
        return None, None
    if sniffed.handler == "jxl":
        run.fail("decode", "JPEG XL is not supported: no decoder installed")
        return with_mtime_fallback(unsupported_jxl(), st.st_mtime), None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd metadata
            metadata, upright = _dispatch(path, kind, sniffed, preview_px, max_pixels, run)
    except MediaError as exc:
        run.fail("metadata", exc)
        return None, None
    except Exception as exc:  # a parser bug on odd input must not kill the worker
        log.debug("unexpected error reading %r", path, exc_info=True)
        run.fail("metadata", f"unreadable {sniffed.format}: {describe(exc)}")
        return None, None
    return with_mtime_fallback(metadata, st.st_mtime), upright


def _dispatch(path: bytes, kind: str, sniffed, preview_px: int, max_pixels: int,
              run: _Run) -> tuple[Metadata, Image.Image | None]:
    if sniffed.handler in ("raw-tiff", "raw-cr3") or (sniffed.handler == "tiff" and kind == "raw"):
        return _read_raw(path, sniffed, preview_px, max_pixels, run)
    if sniffed.handler == "video" or (sniffed.handler == "unknown" and kind == "video"):
        return _read_video(path, sniffed, preview_px, run)
    return _read_image(path, sniffed, preview_px, max_pixels, run)


def _read_image(path: bytes, sniffed, preview_px: int, max_pixels: int,
                run: _Run) -> tuple[Metadata, Image.Image | None]:
    with imagemod.open_image(path, sniffed, max_pixels) as im:
        metadata = imagemod.image_metadata(im, sniffed, path)
        upright = None
        try:
            upright = imagemod.decode_oriented(im, preview_px)
        except MediaError as exc:
            run.fail("decode", exc)
    if upright is not None and im.format in ("JPEG", "MPO"):
        try:
            with open(path, "rb") as f:
                problem = imagemod.check_jpeg_data(f.read())
        except OSError as exc:
            problem = f"cannot re-read JPEG data: {exc.strerror or exc}"
        if problem:
            run.fail("decode", problem)
    return metadata, upright


def _read_raw(path: bytes, sniffed, preview_px: int, max_pixels: int,
              run: _Run) -> tuple[Metadata, Image.Image | None]:
    info = rawmod.read_raw(path, sniffed)
    metadata = info.metadata
    if info.preview is None:
        run.fail("decode", f"{metadata.format} file has no embedded JPEG preview")
        return metadata, None
    try:
        data = rawmod.read_preview(path, info.preview)
        preview_sniff = sniff(data[:64])
        with imagemod.pixel_limit(max_pixels), Image.open(io.BytesIO(data)) as im:
            preview_size = im.size  # as stored, before the reduced decode
            im.draft("RGB", imagemod.draft_box(im.size, preview_px))
            im.load()
            upright = imagemod.shrink_and_orient(imagemod.to_rgb(im), preview_px, metadata.orientation)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        run.fail("decode", f"embedded preview unreadable: {describe(exc)}")
        return metadata, None
    extra = dict(metadata.extra, preview_format=preview_sniff.format, preview_size=list(preview_size))
    return replace(metadata, extra=extra), upright


def _read_video(path: bytes, sniffed, preview_px: int, run: _Run) -> tuple[Metadata, Image.Image | None]:
    metadata, frame, problem = videomod.read_video(path, sniffed)
    if problem is not None or frame is None:
        run.fail("decode", problem or "video has no decodable frame")
        return metadata, None
    return metadata, imagemod.shrink_and_orient(frame.convert("RGB"), preview_px, None)
