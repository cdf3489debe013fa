"""Places in the viewer: the ``place`` URL filter, the dashboard's places panel and the map's hover,
on corpus photos placed by the ``places`` indexer stage (Tuscany, Denmark, no GPS)."""

from __future__ import annotations

import shutil

import pytest

from gallerfs.search import Filters
from gallerfs.viewer import urlfilters
from tests.conftest import EXIF_CORPUS, run_gallerfs
from tests.viewer_support import HOST, make_app

TUSCANY = "exif-samples/jpg/gps/DSCN0021.jpg"  # Nikon COOLPIX P6000, near Arezzo
AARHUS = "lychee/aarhus.jpg"
NO_GPS = "exif-samples/jpg/Canon_40D.jpg"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("viewer-places")
    photos, library = root / "photos", root / "library"
    photos.mkdir()
    library.mkdir()
    for name in (TUSCANY, AARHUS, NO_GPS):
        shutil.copy2(EXIF_CORPUS / name, photos / name.replace("/", "__"))
    run_gallerfs(library, "add", str(photos))
    assert "places: 2 files placed" in run_gallerfs(library, "index").stdout
    return make_app(library).test_client()


def _names(client, query: str) -> list[str]:
    r = client.get(f"/api/grid?{query}", headers=HOST)
    assert r.status_code == 200, r.get_data(as_text=True)
    return sorted(item["name"] for item in r.get_json()["items"])


def test_the_place_filter_lives_in_the_url(client) -> None:
    assert _names(client, "place=Italy") == ["exif-samples__jpg__gps__DSCN0021.jpg"]
    assert _names(client, "place=italy%3BDenmark") == ["exif-samples__jpg__gps__DSCN0021.jpg", "lychee__aarhus.jpg"]
    assert _names(client, "place=Atlantis") == []
    assert len(_names(client, "")) == 3
    filters = urlfilters.parse({"place": " Tuscany ; Aarhus "})
    assert filters.places == ("Tuscany", "Aarhus")
    assert urlfilters.parse(urlfilters.to_args(filters)) == filters
    assert urlfilters.to_args(Filters()) == {}
    page = client.get("/?place=Italy", headers=HOST).get_data(as_text=True)
    assert 'name="place" value="Italy"' in page  # the filter bar shows it


def test_the_dashboard_lists_top_places_under_the_filters(client) -> None:
    data = client.get("/api/dashboard", headers=HOST).get_json()
    places = dict(data["places"]["top"])
    assert sum(places.values()) == 2 and any(name.endswith(", Italy") for name in places)
    assert any(name.endswith(", Denmark") for name in places)
    only = client.get("/api/dashboard?place=Denmark", headers=HOST).get_json()["places"]["top"]
    assert [name.endswith(", Denmark") for name, _ in only] == [True]
    assert "Places" in client.get("/dashboard", headers=HOST).get_data(as_text=True)


def test_the_map_hover_item_names_the_place(client) -> None:
    items = client.get("/api/grid", headers=HOST).get_json()["items"]
    ids = ",".join(str(i["id"]) for i in items)
    found = {i["name"]: i["place"] for i in client.get(f"/api/map/items?ids={ids}", headers=HOST).get_json()["items"]}
    assert found["exif-samples__jpg__gps__DSCN0021.jpg"].endswith("Italy")
    assert "Tuscany" in found["exif-samples__jpg__gps__DSCN0021.jpg"]
    assert found["lychee__aarhus.jpg"].endswith("Denmark")
    assert found["exif-samples__jpg__Canon_40D.jpg"] is None
