"""What an empty view says: why nothing matches and what to do next, never a bare "no results".

A filtered view with no photo is explained filter by filter: each filter the user set is tried alone
(through the cached views, so this costs at most one query per filter) and the first that matches
nothing on its own is named with what would fill it; when each alone matches something, the
combination is what is empty.
"""

from __future__ import annotations

import dataclasses

from gallerfs.db.connection import Database
from gallerfs.search import Filters
from gallerfs.viewer.views import Views

DATES = ("since", "until")  # tried together: one range


def _hint(name: str, value: object) -> str:
    if name == "has_gps":
        if value:
            return ("No photo in the library has a GPS position yet. Phones and many cameras record one, and "
                    "'gallerfs index' reads it; set GPS to “any” to see every photo.")  # fmt: skip
        return "Every photo in the library has a GPS position."
    if name == "online":
        if value:
            return ("Every source is offline: plug its drive in, then rescan it on the Sources page. Meanwhile its "
                    "photos stay browsable with Drive set to “offline” or “any”.")  # fmt: skip
        return "Every source is online: no photo is on an unplugged drive."
    if name == "favourites":
        return "No favourite yet: press f on a photo (or ☆ on its page) to mark one."
    if name == "journaled":
        return ("No journal entry links to a photo yet: write one ('gallerfs journal new') and link photos "
                "from it.")  # fmt: skip
    if name == "album":
        return f"The album “{value}” is empty: add photos from a photo's page, or save a filtered view into it."
    if name == "source":
        return f"The source “{value}” has no files yet: rescan it on the Sources page."
    if name == "person":
        return f"No photo is known to show “{value}”: faces are found by 'gallerfs index' with the faces extra."
    if name == "kind":
        return f"The library has no {value} file."
    if name == "camera":
        return f"No photo was taken with a camera matching “{value}” (names come from each photo's EXIF make and model)."
    if name in DATES:
        return "No photo was taken in this date range (dates are when each photo was taken, as by-date/ files them)."
    return f"No photo matches the {name.replace('_', ' ')} filter on its own."


def explain(db: Database, views: Views, filters: Filters) -> list[str]:
    """Why this filtered view is empty, as one or two sentences (the view is known to be empty)."""
    default = Filters()
    set_fields = [f.name for f in dataclasses.fields(Filters) if getattr(filters, f.name) != getattr(default, f.name)]
    tried: set[str] = set()
    for name in set_fields:
        if name in tried:
            continue
        group = [n for n in DATES if n in set_fields] if name in DATES else [name]
        tried.update(group)
        alone = dataclasses.replace(default, **{n: getattr(filters, n) for n in group})
        if not views.ids(db, alone.to_spec()):
            return [_hint(name, getattr(filters, name))]
    return ["Each of these filters matches some photos, but no photo matches all of them together: clear one."]
