"""The library grid as a timeline: its sections by month or by day (or none, one flat grid), chosen
by the ``group`` argument of the page's URL, so a reload or a bookmark keeps it.

The sections come from ``Views.groups`` (cached per view and library generation); the page's script
lays their headers out as rows of the virtualised grid, so 100,000 photos in 3,000 days still put
only the rows on screen into the page.
"""

from __future__ import annotations

from typing import Mapping

from gallerfs.viewer.errors import bad_request

SECTIONS = ("month", "day")  # what /api/groups?by= takes
GROUPINGS = (*SECTIONS, "none")
DEFAULT = "month"


def parse_group(args: Mapping[str, str], default: str = DEFAULT) -> str:
    value = args.get("group", "").strip()
    if not value:
        return default
    if value not in GROUPINGS:
        raise bad_request(f"group must be one of {', '.join(GROUPINGS)}, not {value[:40]!r}")
    return value


def carried(group: str) -> str | None:
    """The grouping as the photo page's links carry it: only when it is not the default."""
    return group if group in GROUPINGS and group != DEFAULT else None
