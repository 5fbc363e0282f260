"""Diving48 as distributed (http://www.svcl.ucsd.edu/projects/resound/dataset.html): Diving48_rgb.tar.gz unpacks to
rgb/<vid_name>.mp4; Diving48_V2_train.json and Diving48_V2_test.json list {"vid_name", "label", "start_frame",
"end_frame"}; Diving48_vocab.json (optional here) gives each of the 48 classes as [take-off, somersaults, twists,
flight position], which become names such as 'Back+15som+05Twis+FREE' (mmaction2's label map spells them so).

The V1 annotations (Diving48_train.json, Diving48_test.json) are read when V2's are absent. end_frame is taken as
exclusive, like a frame count, and clips are sampled within [start_frame, end_frame) of the decoded video.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synth.errors import UserError

from .base import CaseInsensitiveTree, Listed, VideoList, register, video_list

PAGE = "http://www.svcl.ucsd.edu/projects/resound/dataset.html"
ANNOTATIONS = ("Diving48_V2_{subset}.json", "Diving48_{subset}.json")  # V2 first, then V1
VOCAB = "Diving48_vocab.json"
CLASSES = 48


@register("diving48", splits=1, sampling="segment",
          layout="ROOT/rgb/<vid_name>.mp4 and ROOT/Diving48_V2_{train,test}.json")
def read_diving48(root: Path, split: int, subset: str) -> VideoList:
    names = [root / pattern.format(subset=subset) for pattern in ANNOTATIONS]
    annotations = next((p for p in names if p.is_file()), None)
    if annotations is None:
        raise UserError(f"{names[0]} not found; download it from {PAGE} into {root}")
    classes = read_vocab(root / VOCAB)
    rows = [parse_entry(annotations, i, entry, len(classes)) for i, entry in enumerate(load_json(annotations))]
    return video_list(rows, classes, tree=CaseInsensitiveTree(root / "rgb"), source=annotations,
                      fix=f"download Diving48_rgb.tar.gz from {PAGE} and untar it into {root}")


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not valid JSON ({e}); re-download it from {PAGE}") from None


def read_vocab(path: Path) -> list[str]:
    """Class names from Diving48_vocab.json, else the 48 label ids as text."""
    if not path.is_file():
        return [str(i) for i in range(CLASSES)]
    vocab = load_json(path)
    if not isinstance(vocab, list) or not vocab:
        raise UserError(f"{path}: expected a list of class attribute lists; re-download it from {PAGE}")
    return ["+".join(map(str, words)) if isinstance(words, list) else str(words) for words in vocab]


def parse_entry(path: Path, i: int, entry: Any, classes: int) -> Listed:
    if not isinstance(entry, dict) or "vid_name" not in entry or "label" not in entry:
        raise UserError(f"{path}: entry {i} lacks vid_name or label; expected Diving48 annotations, a list of "
                        f"{{vid_name, label, start_frame, end_frame}}")
    label = entry["label"]
    if not isinstance(label, int) or not 0 <= label < classes:
        raise UserError(f"{path}: entry {i} ({entry['vid_name']}) has label {label!r}, outside the {classes} "
                        f"classes of {VOCAB}; use annotations and vocabulary from the same release")
    end = entry.get("end_frame")
    return Listed(f"{entry['vid_name']}.mp4", label, int(entry.get("start_frame") or 0),
                  None if end is None else int(end))
