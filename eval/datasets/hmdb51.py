"""HMDB51 as distributed (https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/):
hmdb51_org.rar holds one <class>.rar per class, each unpacking to <class>/<video>.avi; test_train_splits.rar unpacks
to testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt with lines '<video>.avi <id>': 1 train, 2 test, 0 unused.

Class names come from the split files' names, sorted by name (so 'sword' precedes 'sword_exercise', although its
file name sorts after) and numbered from 0. Quirks handled: trailing spaces and CRLF; video names with &, (, ), !, [
and ]; videos in ROOT/<class>/ or ROOT/hmdb51_org/<class>/; ROOT may also be the video folder with the split
folder beside it.
"""
from __future__ import annotations

from pathlib import Path

from synth.errors import UserError

from .base import CaseInsensitiveTree, Listed, VideoList, read_lines, register, video_list

SPLITS, ORG = "testTrainMulti_7030_splits", "hmdb51_org"
PAGE = "https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/"
FLAGS = {"train": "1", "test": "2"}


@register("hmdb51", splits=3, sampling="dense",
          layout="ROOT/<class>/*.avi (or ROOT/hmdb51_org/<class>/) and ROOT/testTrainMulti_7030_splits/")
def read_hmdb51(root: Path, split: int, subset: str) -> VideoList:
    splits, videos = locate(root)
    suffix = f"_test_split{split}.txt"
    files = {p.name[: -len(suffix)]: p for p in splits.glob(f"*{suffix}")} if splits.is_dir() else {}
    if not files:
        raise UserError(f"{splits / ('<class>' + suffix)} not found; download test_train_splits.rar from {PAGE} "
                        f"and unrar it into {splits.parent}")
    classes = sorted(files)
    rows = [Listed(f"{name}/{video}", label) for label, name in enumerate(classes)
            for video in videos_flagged(files[name], FLAGS[subset])]
    return video_list(rows, classes, tree=CaseInsensitiveTree(videos), source=splits / f"*{suffix}",
                      fix=f"unrar hmdb51_org.rar from {PAGE}, then each <class>.rar in it, into {videos}")


def locate(root: Path) -> tuple[Path, Path]:
    """(split folder, video folder): ROOT holds the split folder and the class folders (or hmdb51_org/ of them), or
    ROOT is the video folder and the split folder sits beside it."""
    if (root / ORG).is_dir():
        return root / SPLITS, root / ORG
    if (root / SPLITS).is_dir() or not (root.parent / SPLITS).is_dir():
        return root / SPLITS, root
    return root.parent / SPLITS, root


def videos_flagged(path: Path, flag: str) -> list[str]:
    """Video names on the lines of one split file whose id is flag. The id is the last word, so a name with
    spaces would still parse."""
    names = []
    for n, line in read_lines(path):
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise UserError(f"{path}:{n}: expected '<video>.avi <0|1|2>', got {line!r}; re-download "
                            f"test_train_splits.rar")
        if parts[1] == flag:
            names.append(parts[0])
    return names
