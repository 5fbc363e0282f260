"""Action-recognition datasets read from their official layouts, by name: ucf101, hmdb51, diving48, plus the
generic folder and csv. Each reader turns (root, split, subset) into a VideoList of labelled video paths."""
from __future__ import annotations

from pathlib import Path

from synth.errors import UserError

from . import diving48, generic, hmdb51, ucf101  # noqa: F401  (each registers its readers)
from .base import DATASETS, SUBSETS, Dataset, VideoItem, VideoList

__all__ = ["DATASETS", "Dataset", "VideoItem", "VideoList", "load_split"]


def load_split(name: str, root: str | Path, split: int = 1, subset: str = "train") -> VideoList:
    """The videos of one official split's subset ('train' or 'test'); split numbers follow the dataset's own
    (1..3 for UCF101 and HMDB51, 1 for the rest)."""
    dataset = DATASETS.get(name.casefold())
    if dataset is None:
        raise UserError(f"dataset {name!r}: unknown; choose one of {', '.join(sorted(DATASETS))}")
    if subset not in SUBSETS:
        raise UserError(f"subset {subset!r}: choose one of {', '.join(SUBSETS)}")
    root = Path(root).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such file or folder; pass the {dataset.name} root ({dataset.layout})")
    return dataset(root, split, subset)
