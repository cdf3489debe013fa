"""The viewer's search page shows how a query was understood (filters from its words, CLIP on the rest)."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from tests.mountutil import build_library
from tests.viewer_support import HOST, make_app



@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    library, _ = build_library(tmp_path_factory.mktemp("viewerquery"))
    return make_app(library).test_client()


def _page(client, url: str) -> str:
    r = client.get(url, headers=HOST)
    assert r.status_code == 200
    return htmllib.unescape(r.get_data(as_text=True))


def test_the_interpretation_line_and_the_ignored_words(client):
    page = _page(client, "/search?q=sunset+photos+from+2008")
    line = re.search(r'<p class="understood">([^<]*)</p>', page)
    assert line and line[1] == ("Understood as: date \u201cfrom 2008\u201d = 2008-01-01 to 2008-12-31; "
                                "CLIP: \u201csunset\u201d")  # fmt: skip
    assert "no CLIP model is installed, so \u201csunset\u201d was ignored" in page
    tiles = re.findall(r'<a class="tile[^"]*" href="/photo/\d+"', page)
    assert tiles  # the 2008 photos, by date


def test_a_plain_query_without_a_model_still_says_how_to_install_one(client):
    page = _page(client, "/search?q=dog+on+the+beach")
    assert "gallerfs models install" in page and 'class="understood"' not in page


def test_the_photo_page_shows_the_place(tmp_path):
    import shutil

    from tests.conftest import EXIF_CORPUS, run_gallerfs

    library, photos = tmp_path / "library", tmp_path / "photos"
    library.mkdir()
    photos.mkdir()
    shutil.copy2(EXIF_CORPUS / "exif-samples" / "jpg" / "gps" / "DSCN0021.jpg", photos / "arezzo.jpg")
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index")
    client = make_app(library).test_client()
    grid = _page(client, "/search?q=Arezzo")
    photo = re.search(r'href="(/photo/\d+)', grid)
    assert photo
    page = _page(client, photo[1])
    assert re.search(r"<dt>Place</dt>\s*<dd>Arezzo, Tuscany, Italy</dd>", page), page[page.find("exif"):][:600]
