"""Near duplicates never put a unique photo up for removal; rm keeps the full-resolution one.

The library is indexed with the real CLI (no CLIP model) over:
- true copies, derived here from corpus photos: resized 50% and 25% (PNG),
  JPEG quality 70, cropped 2.5% each side and 2% off one corner, brightened,
  stored rotated with a compensating Orientation tag;
- hard negatives built here, each a different picture from every other file:
  solid colours (same size, and one colour at two sizes), the demo sample's
  circle images (``scripts/make_sample.py``), burst shots (a subject moving
  over a corpus photo), panned shots of one scene, stub thumbnails (8x8, 16x16,
  1x1 PNGs, the corpus' 8x8 camera stubs), copies under 64 px of the photos
  above, and low-entropy pictures (gradients, stripes);
- the whole shared corpus (``exif/`` and ``neardup/real``).
A near set's members other than its keeper are removal candidates: every one
must be a true copy of the keeper (precision 1.0), and every derived group
must be found whole (recall 1.0).
"""

from __future__ import annotations

import errno
import importlib.util
import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from gallerfs.indexer.duplicates.look import look_of, same_picture
from tests.dup_helpers import CORPORA, ROOT, gallerfs
from tests.mountutil import Mount, wait_until

EXIF_ORG = CORPORA / "exif" / "exif-samples" / "jpg" / "exif-org"
PHOTOS = ["fujifilm-mx1700.jpg", "nikon-e950.jpg", "sony-cybershot.jpg"]
STUBS = ["Apple.jpg", "Canon.jpg", "Sony.jpg", "Olympus2.jpg", "GoPro.jpg", "Pentax.jpg"]


def _upright(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def _copies(base: Image.Image, out: Path) -> list[Path]:
    """True near copies of base (and base itself)."""
    out.mkdir(parents=True)
    w, h = base.size
    made = {
        "original.jpg": base,
        "half.jpg": base.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        "crop.jpg": base.crop((int(w * 0.025), int(h * 0.025), int(w * 0.975), int(h * 0.975))),
        "corner_crop.jpg": base.crop((int(w * 0.02), int(h * 0.02), w, h)),
        "bright.jpg": ImageEnhance.Brightness(base).enhance(1.1),
    }
    for name, image in made.items():
        image.save(out / name, "JPEG", quality=92)
    base.save(out / "q70.jpg", "JPEG", quality=70)
    base.resize((w // 4, h // 4), Image.Resampling.LANCZOS).save(out / "quarter.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90° clockwise: upright again
    base.transpose(Image.Transpose.ROTATE_90).save(out / "orient6.jpg", "JPEG", quality=90, exif=exif)
    return sorted(out.iterdir())


def _bursts_and_pans(base: Image.Image, out: Path, k: int) -> None:
    w, h = base.size
    patch = base.crop((0, 0, w // 5, h // 5)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    for s in range(4):  # a subject moving across the scene, shot after shot
        shot = base.copy()
        shot.paste(patch, (int(w * (0.1 + 0.18 * s)), int(h * 0.45)))
        shot.save(out / f"burst{k}_{s}.jpg", quality=90)
    cw, ch = int(w * 0.8), int(h * 0.8)
    for s, (dx, dy) in enumerate([(0, 0), (int(w * 0.12), 0), (int(w * 0.2), int(h * 0.2))]):
        base.crop((dx, dy, dx + cw, dy + ch)).save(out / f"pan{k}_{s}.jpg", quality=90)
    base.resize((48, 36), Image.Resampling.LANCZOS).save(out / f"under64_{k}.jpg", quality=90)


def _hard_negatives(out: Path, bases: list[Image.Image]) -> None:
    out.mkdir(parents=True)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (128, 128, 128), (200, 0, 0), (180, 0, 0)]
    for k, colour in enumerate(colours):
        Image.new("RGB", (800, 600), colour).save(out / f"solid{k}.jpg", quality=90)
    # (The corpus' own white 100x150 copies are a true set; these are another size, and each other's.)
    Image.new("RGB", (110, 160), (255, 255, 255)).save(out / "white_small.jpg", quality=90)
    Image.new("RGB", (220, 320), (255, 255, 255)).save(out / "white_large.jpg", quality=90)
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "scripts" / "make_sample.py")
    assert spec is not None and spec.loader is not None
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)
    sample.make(out / "demo", 24)
    for k, base in enumerate(bases):
        _bursts_and_pans(base, out, k)
    rng = np.random.default_rng(4)
    for k in range(6):
        side = 8 if k < 3 else 16
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(out / f"stub{k}.jpg")
    for k, name in enumerate(STUBS):
        shutil.copy2(CORPORA / "exif" / "exiftool" / name, out / f"camera_stub_{k}_{name}")
    Image.new("RGB", (1, 1), (0, 0, 0)).save(out / "pixel_black.png")
    Image.new("RGB", (1, 1), (255, 255, 255)).save(out / "pixel_white.png")
    for k in range(4):
        ramp = np.linspace(0, 255, 640)
        grey = np.tile(ramp, (480, 1)) if k % 2 == 0 else np.tile(ramp[:480, None], (1, 640))
        rgb = np.stack([grey * (k + 1) / 4, grey, 255 - grey], axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(out / f"gradient{k}.jpg", quality=90)
        stripes = np.zeros((480, 640, 3), np.uint8)
        stripes[:, :: 8 + 4 * k] = (200, 30 * k, 90)
        Image.fromarray(stripes).save(out / f"stripes{k}.png")
    # A circle on a flat background, drawn twice 3% apart: the low-detail tier needs pixel agreement.
    for k, x in enumerate((300, 336)):
        im = Image.new("RGB", (1200, 800), (40, 80, 210))
        ImageDraw.Draw(im).ellipse((x, 200, x + 400, 600), fill=(255, 255, 255))
        im.save(out / f"shifted_circle{k}.jpg", quality=88)


def _decoded_copy(a: str, b: str) -> bool:
    """Independent oracle for pairs outside the derived groups: same size, pixels within 4 levels on average."""
    try:
        pa, pb = _upright(Path(a)), _upright(Path(b))
    except OSError:
        return False
    if pa.size != pb.size or min(pa.size) < 64:
        return False
    diff = np.abs(np.asarray(pa, dtype=np.int16) - np.asarray(pb, dtype=np.int16))
    return float(diff.mean()) <= 4.0


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("nearsafety")
    bases = [_upright(EXIF_ORG / name) for name in PHOTOS]
    # Each group: the corpus photo itself (the corpus is indexed too) and its copies made here.
    truth = [{str(EXIF_ORG / name), *map(str, _copies(base, tmp / "copies" / f"g{k}"))}
             for k, (name, base) in enumerate(zip(PHOTOS, bases))]  # fmt: skip
    _hard_negatives(tmp / "negatives", bases)
    lib = tmp / "lib"
    gallerfs(lib, "add", str(tmp / "copies"), str(tmp / "negatives"))
    gallerfs(lib, "add", str(CORPORA / "exif"), "--name", "exif")
    gallerfs(lib, "add", str(CORPORA / "neardup" / "real"), "--name", "real")
    gallerfs(lib, "index")
    listing = json.loads(gallerfs(lib, "duplicates", "--json").stdout)
    return tmp, lib, truth, listing


def test_removal_candidates_are_all_true_copies(library) -> None:
    tmp, _, truth, listing = library
    group_of = {p: k for k, g in enumerate(truth) for p in g}
    groups = json.loads((CORPORA / "neardup" / "groups.json").read_text())["real"]
    for k, g in enumerate(groups, start=len(truth)):
        if g["group"] != "r13_live_photo_pair":  # a still and its movie: related, not copies
            for m in g["members"]:
                group_of[str(CORPORA / m["file"])] = group_of[str(CORPORA / m["copy_of"])] = k
    negatives = {str(p) for p in (tmp / "negatives").rglob("*") if p.is_file()}
    candidates = wrong = 0
    for s in listing["near"]:
        keeper = s["members"][0]["path"]
        for m in s["members"][1:]:
            candidates += 1
            path = m["path"]
            same_group = path in group_of and group_of.get(path) == group_of.get(keeper)
            if path in negatives or keeper in negatives or not (same_group or _decoded_copy(keeper, path)):
                wrong += 1
                print("false removal candidate:", path, "kept:", keeper)
    assert candidates >= sum(len(g) - 1 for g in truth)
    assert wrong == 0  # precision 1.0
    # No hard negative is in any near set.
    in_near = {m["path"] for s in listing["near"] for m in s["members"]}
    assert not in_near & negatives, sorted(in_near & negatives)[:10]
    stubs = {str(CORPORA / "exif" / "exiftool" / n) for n in STUBS} | {str(CORPORA / "exif" / "elodie" / "photo.png")}
    assert not in_near & stubs


def test_derived_copies_are_found_whole(library) -> None:
    _, _, truth, listing = library
    found = [{m["path"] for m in s["members"]} for s in listing["near"]]
    for group in truth:  # recall 1.0 on resized, re-encoded, cropped, brightened and re-oriented copies
        assert any(group <= f for f in found), sorted(group - max(found, key=lambda f: len(f & group)))
    # The corpus' real re-encodes and orientation variants stay grouped too.
    real = json.loads((CORPORA / "neardup" / "groups.json").read_text())["real"]
    for g in real:
        if g["group"] in ("r05_lychee_orientation", "r06_hopper_orientation", "r07_flower_jpg_webp",
                          "r08_flower2_jpg_webp", "r12_same_pixels_different_metadata"):  # fmt: skip
            members = {str(CORPORA / m["file"]) for m in g["members"]}
            grouped = [f | e for f in found for e in ([{m["path"] for m in s["members"]} for s in listing["exact"]])]
            assert any(members <= f for f in found + grouped), g["group"]


def test_pixel_check_tells_shots_from_copies() -> None:
    """The rule itself, on pictures made in memory: copies pass, every other shot fails."""
    base = _upright(EXIF_ORG / PHOTOS[0])
    w, h = base.size
    copies = [
        base.resize((w // 2, h // 2)),
        base.crop((int(w * 0.025), int(h * 0.025), int(w * 0.975), int(h * 0.975))),
        base.crop((0, 0, int(w * 0.95), int(h * 0.95))),
        ImageEnhance.Brightness(base).enhance(1.1),
    ]
    for copy in copies:
        assert same_picture(look_of(base), look_of(copy))
        assert same_picture(look_of(copy), look_of(base))
    patch = base.crop((0, 0, w // 5, h // 5)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    shots = []
    for s in range(3):
        shot = base.copy()
        shot.paste(patch, (int(w * (0.1 + 0.25 * s)), int(h * 0.45)))
        shots.append(shot)
    for a, b in itertools.combinations([base, *shots], 2):
        assert not same_picture(look_of(a), look_of(b))
    pan = base.crop((int(w * 0.12), 0, w, int(h * 0.88)))
    assert not same_picture(look_of(base), look_of(pan))
    red, green = Image.new("RGB", (800, 600), (255, 0, 0)), Image.new("RGB", (800, 600), (0, 255, 0))
    assert not same_picture(look_of(red), look_of(green))
    assert same_picture(look_of(red), look_of(red.copy()))
    assert not same_picture(look_of(red), look_of(red.resize((400, 300))))
    tiny = base.resize((48, 36))
    assert not same_picture(look_of(tiny), look_of(tiny.copy()))


def test_rm_keeps_the_only_full_resolution_copy_and_the_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    photos = tmp_path / "photos"
    photos.mkdir()
    base = _upright(EXIF_ORG / PHOTOS[1])
    base.save(photos / "original.jpg", quality=95)
    base.save(photos / "reencoded.jpg", quality=70)  # same pixels, fewer bytes: not full resolution
    base.resize((base.width // 2, base.height // 2)).save(photos / "half.jpg", quality=90)
    base.resize((base.width // 3, base.height // 3)).save(photos / "third.jpg", quality=90)
    library = tmp_path / "library"
    gallerfs(library, "add", str(photos), "--name", "home")
    gallerfs(library, "index")
    [near] = json.loads(gallerfs(library, "duplicates", "--json").stdout)["near"]
    assert len(near["members"]) == 4
    folder = near["folder"]
    assert folder.endswith(" original.jpg near")

    with Mount(library, tmp_path / "mnt") as m:
        dups = m.path / "duplicates"
        assert os.listdir(dups) == [folder]
        # The only full-resolution copy: EPERM in the mount (there is no flag to pass here).
        with pytest.raises(PermissionError) as excinfo:
            os.unlink(dups / folder / "original (home).jpg")
        assert excinfo.value.errno == errno.EPERM and (photos / "original.jpg").exists()
        # A smaller copy goes to the trash; the set keeps its folder name.
        os.unlink(dups / folder / "half (home).jpg")
        assert not (photos / "half.jpg").exists() and (xdg / "Trash" / "files" / "half.jpg").exists()
        assert wait_until(lambda: len(os.listdir(dups / folder)) == 3, 10)
        assert os.listdir(dups) == [folder]
        os.unlink(dups / folder / "reencoded (home).jpg")
        assert wait_until(lambda: len(os.listdir(dups / folder)) == 2, 10)
        assert os.listdir(dups) == [folder]

    # The CLI refuses it too, in one line, unless the user names it with --full-resolution.
    proc = gallerfs(library, "duplicates", "trash", str(photos / "original.jpg"), check=False,
                    env={"XDG_DATA_HOME": str(xdg)})  # fmt: skip
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "only full-resolution copy" in proc.stderr and "--full-resolution" in proc.stderr
    assert (photos / "original.jpg").exists()
    out = json.loads(gallerfs(library, "duplicates", "trash", "--full-resolution", str(photos / "original.jpg"),
                              "--json", env={"XDG_DATA_HOME": str(xdg)}).stdout)  # fmt: skip
    assert out["kept"] == str(photos / "third.jpg") and not (photos / "original.jpg").exists()
    assert (xdg / "Trash" / "files" / "original.jpg").exists()
