"""Place names of geotagged files (issue 13): derived from metadata.latitude/longitude by the
``places`` indexer stage, so the table can be dropped and computed again at any time."""

VERSION = 17

SQL = """
-- One row per file whose GPS position was reverse-geocoded (also when it has no place: far at sea).
CREATE TABLE places (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    latitude        REAL NOT NULL,      -- the position the place was computed from (metadata's, when done)
    longitude       REAL NOT NULL,
    country_code    TEXT,               -- ISO 3166-1 alpha-2; NULL when unknown
    country         TEXT COLLATE NOCASE,  -- English name; NULL: no country (far out at sea)
    region          TEXT COLLATE NOCASE,  -- first-level division (state, region, province), NULL if unknown
    city            TEXT COLLATE NOCASE,  -- nearest larger populated place of that country, NULL if none near
    geocoder        TEXT NOT NULL       -- rule and data version (gallerfs.places.geocode.version)
);
-- Columns compare without ASCII case ('italy' finds Italy), so these indexes serve the place filter.
CREATE INDEX places_by_country ON places (country, region, city);
CREATE INDEX places_by_region ON places (region);
CREATE INDEX places_by_city ON places (city);
"""
