"""Quantities as people read them."""

from __future__ import annotations


def human_bytes(n: int) -> str:
    """Decimal units, as file managers show sizes: 999 B, 1.2 KB, 12.0 MB."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
