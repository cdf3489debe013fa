"""E-mail export of an entry: an RFC 5322 message that parses back with every linked image inline."""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from gallerfs.db import files as files_db
from gallerfs.db.connection import Database
from gallerfs.indexer.thumbnails import thumbnail_path
from tests.journal_support import build_library, gallerfs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("journal-eml"))


@pytest.fixture
def lib(built: tuple[Path, Path], tmp_path: Path) -> Path:
    library = tmp_path / "library"
    shutil.copytree(built[0], library, ignore=shutil.ignore_patterns("journal", "run"))
    return library


def parse(path: Path) -> email.message.EmailMessage:
    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line endings
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():  # a strict parse finds nothing wrong in any part
        assert not part.defects, (part.get_content_type(), part.defects)
        for name, value in part.items():
            assert not getattr(value, "defects", ()), (name, value.defects)
    return msg  # type: ignore[return-value]


def test_weekly_export_has_every_linked_photo_inline(lib: Path, tmp_path: Path) -> None:
    gallerfs(lib, "journal", "new", "2024-W28")
    entry = lib / "journal" / "2024-W28.md"
    entry.write_text(entry.read_text() + "\nA *great* week with **family**. [Site](https://example.org)\n")
    out = tmp_path / "week28.eml"
    report = json.loads(gallerfs(lib, "journal", "export", "2024-W28", "--eml", str(out), "--to",
                                 "Family <family@example.org>", "--max-px", "64", "--json").stdout)  # fmt: skip
    assert len(report["images"]) == 7 and report["skipped"] == []
    msg = parse(out)
    assert msg["Subject"] == "Week 28 of 2024 (8–14 July 2024)"
    assert msg["To"] == "Family <family@example.org>" and msg["From"] and msg["Date"] and msg["Message-ID"]
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert plain is not None and html_part is not None
    assert "A *great* week" in plain.get_content()
    text = plain.get_content()
    assert "[photo: beach party (sunset).jpg]" in text and "[photo: caf\ufffd.jpg]" in text and "_photos/" not in text
    html = html_part.get_content()
    assert "<em>great</em>" in html and "<strong>family</strong>" in html
    assert '<a href="https://example.org">Site</a>' in html
    assert "_photos/" not in html  # every photo link now points into the message
    related = [p for p in msg.walk() if p.get_content_maintype() == "image"]
    assert len(related) == 7
    cids_in_html = re.findall(r'src="cid:([^"]+)"', html)
    content_ids = [p["Content-ID"].strip().strip("<>") for p in related]
    assert sorted(cids_in_html) == sorted(content_ids)
    names = sorted(p.get_filename() for p in related)
    assert names == sorted(["IMG_0001.jpg", "IMG_0001.jpg", "beach party (sunset).jpg", "monday.jpg",
                            "wednesday.jpg", "no-date.jpg", "caf\ufffd.jpg"])  # fmt: skip
    for part in related:
        assert part.get_content_type() == "image/jpeg" and part.get_content_disposition() == "inline"
        with Image.open(io.BytesIO(part.get_content())) as im:
            im.load()
            assert im.format == "JPEG" and max(im.size) <= 64


def test_export_of_hand_written_links_and_missing_photos(lib: Path, tmp_path: Path) -> None:
    journal = lib / "journal"
    journal.mkdir()
    (journal / "2024-07-10.md").write_text(
        "---\ndate: 2024-07-10\n---\n# A long day\n\nWe went out.\n\n"
        "[the monday photo](_photos/2024-07-08/monday.jpg) and ![gone](_photos/2024-07-10/deleted.jpg)\n"
        "see [tomorrow](2024-07-11.md)\n"
    )
    out = tmp_path / "day.eml"
    proc = gallerfs(lib, "journal", "export", "2024-07-10", "--eml", str(out))
    assert "1 inline images" in proc.stdout and "not in the library" in proc.stdout
    msg = parse(out)
    assert msg["Subject"] == "A long day"
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert html.count('src="cid:') == 1 and "deleted.jpg" not in html.replace("alt", "")
    assert "2024-07-11.md" not in html and "tomorrow" in html  # a link to a note is kept as text
    assert len([p for p in msg.walk() if p.get_content_maintype() == "image"]) == 1

    proc = gallerfs(lib, "journal", "export", "2024-07-09", "--eml", str(tmp_path / "x.eml"), check=False)
    assert proc.returncode == 1 and "no journal entry 2024-07-09" in proc.stderr
    assert not (tmp_path / "x.eml").exists()


def test_export_uses_previews_offline_and_skips_what_it_cannot_show(tmp_path: Path) -> None:
    lib, photos = build_library(tmp_path)
    gallerfs(lib, "journal", "new", "2024-W28")
    entry = lib / "journal" / "2024-W28.md"
    # A hand-written link by the by-date path resolves like the template's.
    entry.write_text(entry.read_text() + "\n![again](../by-date/2024/07/10/wednesday.jpg)\n")

    # The photos' drive is unplugged: the cached previews are shown.
    photos.rename(tmp_path / "unplugged")
    out = tmp_path / "w.eml"
    report = json.loads(gallerfs(lib, "journal", "export", "2024-W28", "--eml", str(out), "--json").stdout)
    assert len(report["images"]) == 7 and report["skipped"] == []
    msg = parse(out)
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert html.count('src="cid:') == 8  # wednesday.jpg is shown twice, from one attached image
    assert len([p for p in msg.walk() if p.get_content_maintype() == "image"]) == 7

    # Back online, asked larger than the previews: the originals are decoded. One is now truncated
    # and its preview is gone: it is reported and left out, and the message is still written.
    (tmp_path / "unplugged").rename(photos)
    (photos / "trip" / "monday.jpg").write_bytes((photos / "trip" / "monday.jpg").read_bytes()[:200])
    with Database(lib / "library.sqlite3", readonly=True) as db:
        monday = files_db.file_by_path(db, 1, b"trip/monday.jpg")
    assert monday is not None
    thumbnail_path(lib / "thumbnails", monday.id, "preview").unlink()
    report = json.loads(gallerfs(lib, "journal", "export", "2024-W28", "--eml", str(out), "--max-px", "2000",
                                 "--json").stdout)  # fmt: skip
    assert len(report["images"]) == 6
    assert [(s["file_id"], s["reason"].split(":")[0]) for s in report["skipped"]] == [(monday.id, "cannot decode")]
    assert len([p for p in parse(out).walk() if p.get_content_maintype() == "image"]) == 6
