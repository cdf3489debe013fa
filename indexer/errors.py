"""Errors raised while reading one media file in phase 2.

A `MediaError` carries a one-line message meant for the `failures` table and
for users: it says what is wrong with the file (corrupt, truncated, too large,
unsupported), never a traceback.
"""

from __future__ import annotations


class MediaError(Exception):
    """A file could not be read as the media it claims to be. One-line message."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(message: object, limit: int = 300) -> str:
    """Collapse any message to a single trimmed line of at most `limit` characters."""
    text = " ".join(str(message).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def describe(exc: BaseException) -> str:
    """One line for an exception: MediaError text as is, others prefixed with their type."""
    if isinstance(exc, MediaError):
        return str(exc)
    text = one_line(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
