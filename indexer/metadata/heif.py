"""HEIC/HEIF support through pillow-heif.

pillow-heif applies the HEIF transform boxes (irot/imir) while decoding and
resets the EXIF Orientation it reports to 1, keeping the file's value in
`info['original_orientation']`. gallerfs records that original value in
`orientation` (what the file says) but never rotates HEIF pixels again.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_registered = False


def ensure_heif_opener() -> None:
    """Register pillow-heif's Image.open plugin once per process."""
    global _registered
    if _registered:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - dependency declared in pyproject
        log.warning("pillow-heif is not installed: HEIC/HEIF files cannot be read")
    _registered = True
