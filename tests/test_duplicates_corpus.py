"""Near and exact duplicates on real photos, built and listed with the real CLI.

The library holds the corpus' real duplicate groups (``neardup/real``), its
hard negatives (solid-colour placeholders that share one perceptual hash),
and near copies derived here from other corpus photos: resized 50%, JPEG
quality 70, cropped 5%, brightened 10%, and rotated with a compensating EXIF
orientation tag. Precision and recall are measured over pairs.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageOps

from tests.dup_helpers import CORPORA, gallerfs

NEARDUP = CORPORA / "neardup"
# Camera photos (not in neardup/) with enough structure to hash; the variants are derived from these.
DERIVE_FROM = [
    "exif-samples/jpg/exif-org/fujifilm-mx1700.jpg",
    "exif-samples/jpg/exif-org/nikon-e950.jpg",
    "exif-samples/jpg/exif-org/sony-cybershot.jpg",
    "exif-samples/jpg/gps/DSCN0021.jpg",
    "exif-samples/jpg/gps/DSCN0040.jpg",
    "exif-samples/jpg/mobile/jolla.jpg",
]
HARD_NEGATIVES = [
    "exif-samples/jpg/tests/67-0_length_string.jpg",
    "immich/metadata/dates/date-priority-test.jpg",
    "exiftool/GPS.jpg",
]


def _variants(src: Path, out: Path) -> list[Path]:
    with Image.open(src) as im:
        exif = im.getexif()
        base = ImageOps.exif_transpose(im).convert("RGB")
    exif.pop(0x0112, None)
    out.mkdir(parents=True)
    w, h = base.size
    made = {
        "half.jpg": base.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "crop.jpg": base.crop(
            (int(w * 0.025), int(h * 0.025), int(w * 0.975), int(h * 0.975))
        ),
        "bright.jpg": ImageEnhance.Brightness(base).enhance(1.1),
    }
    paths = []
    for name, image in made.items():
        image.save(out / name, "JPEG", quality=90, exif=exif)
        paths.append(out / name)
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=70)
    (out / "q70.jpg").write_bytes(buf.getvalue())
    paths.append(out / "q70.jpg")
    # Stored rotated, displayed upright thanks to the tag (Orientation 6: rotate 90° clockwise to view).
    rotated = base.transpose(Image.Transpose.ROTATE_90)
    exif[0x0112] = 6
    rotated.save(out / "orient6.jpg", "JPEG", quality=90, exif=exif)
    paths.append(out / "orient6.jpg")
    return paths


@pytest.fixture(scope="module")
def corpus_library(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("dupcorpus")
    derived, negatives, lib = tmp / "derived", tmp / "negatives", tmp / "lib"
    truth: list[set[str]] = []
    for k, rel in enumerate(DERIVE_FROM):
        original = derived / f"g{k}" / Path(rel).name
        original.parent.mkdir(parents=True)
        shutil.copy2(CORPORA / "exif" / rel, original)
        truth.append(
            {
                str(original),
                *(
                    str(p)
                    for p in _variants(CORPORA / "exif" / rel, derived / f"g{k}" / "v")
                ),
            }
        )
    negatives.mkdir()
    for k, rel in enumerate(HARD_NEGATIVES):
        shutil.copy2(CORPORA / "exif" / rel, negatives / f"{k}_{Path(rel).name}")
    gallerfs(lib, "add", str(NEARDUP / "real"), "--name", "corpus")
    gallerfs(lib, "add", str(derived), str(negatives))
    gallerfs(lib, "index")
    groups = json.loads((NEARDUP / "groups.json").read_text())
    for g in groups["real"]:
        if g["group"] == "r13_live_photo_pair":
            continue  # a still and its movie: related, not a duplicate either way; not scored
        truth.append({str(CORPORA / m["file"]) for m in g["members"]})
    listing = json.loads(gallerfs(lib, "duplicates", "--json").stdout)
    return lib, truth, listing, negatives


def _pairs(groups: list[set[str]]) -> set[tuple[str, str]]:
    return {
        tuple(sorted(p)) for g in groups for p in itertools.combinations(sorted(g), 2)
    }  # type: ignore[misc]


def test_near_duplicates_precision_and_recall(corpus_library) -> None:
    lib, truth, listing, negatives = corpus_library
    indexed = {
        m["path"] for k in ("exact", "near") for s in listing[k] for m in s["members"]
    }
    everything = json.loads(gallerfs(lib, "status", "--json").stdout)["files"]
    assert everything >= 57 + 6 * 6 + 3
    found = [
        {m["path"] for m in s["members"]} for k in ("exact", "near") for s in listing[k]
    ]
    found_pairs = _pairs(found)
    # r11's copy without a file extension is recognised by its content, indexed and paired with its original.
    no_ext = str(NEARDUP / "real/r11_exact_copy_no_extension/lychee__mongolia")
    assert no_ext in indexed
    truth_pairs = _pairs(truth)
    scored = set().union(*truth) | {str(p) for p in negatives.iterdir()}
    predicted = {p for p in found_pairs if p[0] in scored and p[1] in scored}
    tp = len(predicted & truth_pairs)
    precision, recall = tp / len(predicted), tp / len(truth_pairs)
    print(
        f"near-duplicate pairs: precision {precision:.3f}, recall {recall:.3f} ({tp}/{len(truth_pairs)})"
    )
    assert precision >= 0.98, sorted(predicted - truth_pairs)[:10]
    assert recall >= 0.95, sorted(truth_pairs - predicted)[:10]
    # Every derived variant is found with its original.
    for group in truth[: len(DERIVE_FROM)]:
        assert any(group <= f for f in found), sorted(group)
    # Solid-colour placeholders share one hash but are never grouped, with each other or with the white set.
    for neg in negatives.iterdir():
        assert not any(str(neg) in f for f in found), neg


def test_exact_sets_and_keepers(corpus_library) -> None:
    lib, _, listing, _ = corpus_library
    exact = [
        {os.path.basename(m["path"]) for m in s["members"]} for s in listing["exact"]
    ]
    assert {"immich__albums__nature__el_torcal_rocks.jpg", "immich__formats__jpeg__el_torcal_rocks.jpeg",
            "immich__formats__jpg__el_torcal_rocks.jpg"} in exact  # fmt: skip
    assert {"exif-samples__jpg__Canon_PowerShot_S40.jpg", "pillow__flower.jpg"} in exact
    for s in listing["exact"]:
        assert len({m["content_hash"] for m in s["members"]}) == 1
        assert s["reclaimable"] == s["members"][0]["size"] * (len(s["members"]) - 1)
    # Largest resolution is the suggested keeper of a near set: the half-size copy never is.
    for s in listing["near"]:
        keeper = s["members"][0]
        assert keeper["width"] * keeper["height"] == max(
            m["width"] * m["height"] for m in s["members"]
        )
        assert not keeper["path"].endswith("/v/half.jpg")
    # The sets come largest reclaimable first within each kind.
    for kind in ("exact", "near"):
        sizes = [s["reclaimable"] for s in listing[kind]]
        assert sizes == sorted(sizes, reverse=True)
    only_exact = json.loads(gallerfs(lib, "duplicates", "--exact", "--json").stdout)
    assert "near" not in only_exact and only_exact["exact"] == listing["exact"]


def test_keep_and_trash_a_near_copy_with_the_cli(
    corpus_library, tmp_path: Path
) -> None:
    """Runs last in this module: it changes the library (the derived copies live in a temp dir)."""
    lib, truth, _, negatives = corpus_library
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    group = sorted(truth[0])
    original = next(p for p in group if "/v/" not in p)
    half = next(p for p in group if p.endswith("/v/half.jpg"))
    # Choose the half-size copy as keeper: the listing then shows it first, marked as chosen.
    gallerfs(lib, "duplicates", "keep", half)
    listing = json.loads(gallerfs(lib, "duplicates", "--near", "--json").stdout)
    [s] = [
        s for s in listing["near"] if any(m["path"] == original for m in s["members"])
    ]
    assert s["members"][0]["path"] == half and s["keeper_chosen"]
    # The set's only full-resolution member (most pixels, then most bytes) is refused, in one line...
    largest = max(s["members"], key=lambda m: (m["width"] * m["height"], m["size"]))
    proc = gallerfs(lib, "duplicates", "trash", largest["path"], env=env, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "only full-resolution copy" in proc.stderr and Path(largest["path"]).exists()
    # ... while a smaller copy (the quality-70 re-encode) is trashed: another member is verified.
    q70 = next(p for p in group if p.endswith("/v/q70.jpg"))
    assert q70 != largest["path"]
    out = json.loads(
        gallerfs(lib, "duplicates", "trash", q70, "--json", env=env).stdout
    )
    assert out["set_kind"] == "near" and out["kept"] == half
    assert (
        not Path(q70).exists() and (tmp_path / "xdg/Trash/files/q70.jpg").exists()
    )
    info = (tmp_path / "xdg/Trash/info/q70.jpg.trashinfo").read_text()
    assert f"Path={q70}" in info.replace("%20", " ")
    # A file with no duplicate at all is refused, in one line (a temp copy: corpus files are never at risk).
    lone = min(negatives.iterdir())
    proc = gallerfs(lib, "duplicates", "trash", str(lone), env=env, check=False)
    assert (
        proc.returncode == 1
        and "last remaining copy" in proc.stderr
        and proc.stderr.count("\n") == 1
    )
    assert lone.exists()
