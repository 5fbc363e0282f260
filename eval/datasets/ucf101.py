"""UCF101 as distributed (https://www.crcv.ucf.edu/data/UCF101/): UCF101.rar unpacks to
UCF-101/<Class>/v_<Class>_gXX_cYY.avi, UCF101TrainTestSplits-RecognitionTask.zip to ucfTrainTestlist/ with
classInd.txt ('1 ApplyEyeMakeup', 1-based), trainlist0N.txt ('ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1') and
testlist0N.txt (the path alone; the class is the folder).

Quirks handled: CRLF line endings and trailing blank lines; class and file names matched case-insensitively (the
HandstandPushups folder holds v_HandStandPushups_* files, and copies change case further); ROOT may hold UCF-101/
and ucfTrainTestlist/, or be UCF-101/ itself with the lists inside it or beside it.
"""
from __future__ import annotations

from pathlib import Path

from synth.errors import UserError

from .base import CaseInsensitiveTree, Listed, VideoList, read_lines, register, require, video_list

VIDEOS, LISTS = "UCF-101", "ucfTrainTestlist"
PAGE = "https://www.crcv.ucf.edu/data/UCF101/"


@register("ucf101", splits=3, sampling="dense", layout="ROOT/UCF-101/<Class>/*.avi and ROOT/ucfTrainTestlist/")
def read_ucf101(root: Path, split: int, subset: str) -> VideoList:
    videos, lists = locate(root)
    fix = f"download UCF101TrainTestSplits-RecognitionTask.zip from {PAGE} and unzip it into {lists.parent}"
    classes = read_class_index(require(lists / "classInd.txt", fix))
    list_file = require(lists / f"{subset}list0{split}.txt", fix)
    ids = {name.casefold(): label for label, name in enumerate(classes)}
    rows = [parse_line(list_file, n, line, ids, classes) for n, line in read_lines(list_file)]
    return video_list(rows, classes, tree=CaseInsensitiveTree(videos), source=list_file,
                      fix=f"download UCF101.rar from {PAGE} and unrar it into {videos.parent}")


def locate(root: Path) -> tuple[Path, Path]:
    """(video folder, list folder) for ROOT holding UCF-101/, or ROOT being UCF-101/ (lists inside or beside)."""
    if (root / VIDEOS).is_dir():
        return root / VIDEOS, root / LISTS
    for lists in (root / LISTS, root.parent / LISTS):
        if lists.is_dir():
            return root, lists
    return root, root / LISTS


def read_class_index(path: Path) -> list[str]:
    """classInd.txt -> class names in label order (the file's 1-based ids minus one)."""
    names: dict[int, str] = {}
    for n, line in read_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise UserError(f"{path}:{n}: expected '<id> <ClassName>', got {line!r}; re-download the split zip")
        names[int(parts[0])] = parts[1]
    if sorted(names) != list(range(1, len(names) + 1)):
        raise UserError(f"{path}: class ids must run 1..{len(names)} without gaps; re-download the split zip")
    return [names[i] for i in range(1, len(names) + 1)]


def parse_line(list_file: Path, n: int, line: str, ids: dict[str, int], classes: list[str]) -> Listed:
    """'Class/v_Class_gXX_cYY.avi [id]' -> Listed; the folder decides the class, an id (train lists) must agree."""
    parts = line.split()
    folder = parts[0].split("/")[0]
    if len(parts) > 2 or "/" not in parts[0]:
        raise UserError(f"{list_file}:{n}: expected 'Class/v_Class_gXX_cYY.avi [class id]', got {line!r}; "
                        f"re-download the split zip")
    label = ids.get(folder.casefold())
    if label is None:
        raise UserError(f"{list_file}:{n}: class {folder!r} is not in classInd.txt; use the classInd.txt and lists "
                        f"from the same split zip")
    if len(parts) == 2 and parts[1] != str(label + 1):
        raise UserError(f"{list_file}:{n}: class id {parts[1]} disagrees with classInd.txt ({classes[label]} is "
                        f"{label + 1}); use the classInd.txt and lists from the same split zip")
    return Listed(parts[0], label)
