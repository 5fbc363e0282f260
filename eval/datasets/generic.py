"""Datasets without an official layout: class folders ('folder') and path,label tables ('csv').

folder: ROOT/<class>/<videos> (searched recursively; hidden files skipped) is a training set only, so that nobody
tests on the videos they trained on; ROOT/train/<class>/... with ROOT/test/<class>/... gives both subsets, labelled
from the union of their class folders so the two agree.

csv: ROOT/train.csv and ROOT/test.csv, or ROOT naming one CSV file; rows 'path,label' with paths relative to the
CSV's folder, an optional header row ('path,label'), labels either all integers (0-based ids, classes named by
number) or class names (sorted, numbered from 0). A table named train.csv or test.csv takes its class names from
both tables beside it, so the subsets agree.
"""
from __future__ import annotations

import csv
from pathlib import Path

from synth.errors import UserError

from .base import (SUBSETS, VIDEO_EXTENSIONS, CaseInsensitiveTree, Listed, VideoItem, VideoList, register,
                   require, video_list)

HEADER_LABELS = frozenset({"label", "class", "class_name", "category"})


@register("folder", splits=1, sampling="dense", layout="ROOT/<class>/<video> or ROOT/{train,test}/<class>/<video>")
def read_folder(root: Path, split: int, subset: str) -> VideoList:
    if not root.is_dir():
        raise UserError(f"{root}: not a folder; pass a folder of <class>/<video> folders")
    if (root / "train").is_dir() or (root / "test").is_dir():
        base = root / subset
        if not base.is_dir():
            raise UserError(f"{base} not found; put the {subset} videos in {base}/<class>/")
        classes = sorted({name for s in SUBSETS for name in class_folders(root / s)})
    elif subset == "test":
        raise UserError(f"{root / 'test'} not found; a folder dataset tests on ROOT/test/<class>/ (with "
                        f"ROOT/train/<class>/ to train), never on its training videos")
    else:
        base, classes = root, class_folders(root)
    items = [VideoItem(path, label) for label, name in enumerate(classes) for path in videos_in(base / name)]
    if not items:
        extensions = ", ".join(sorted(VIDEO_EXTENSIONS))
        raise UserError(f"{base}: no videos ({extensions}) in class folders; expected {base}/<class>/<video>")
    return VideoList(items, classes)


def class_folders(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def videos_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS
                  and not p.name.startswith(".") and p.is_file())


@register("csv", splits=1, sampling="dense", layout="ROOT/{train,test}.csv or a CSV file of path,label rows")
def read_csv(root: Path, split: int, subset: str) -> VideoList:
    table = root / f"{subset}.csv" if root.is_dir() else root
    require(table, f"write {subset}.csv there with 'path,label' rows (paths relative to it), or pass a CSV file")
    rows = read_table(table)
    labels = [label for sibling in sibling_tables(table) for _, _, label in read_table(sibling)]
    numeric = all(label.isdigit() for label in labels)
    classes = [str(i) for i in range(max(map(int, labels)) + 1)] if numeric else sorted(set(labels))
    ids = {name: i for i, name in enumerate(classes)}
    listed = [Listed(path, int(label) if numeric else ids[label]) for _, path, label in rows]
    return video_list(listed, classes, tree=CaseInsensitiveTree(table.parent), source=table,
                      fix=f"fix the paths (relative to {table.parent}) or copy the videos there")


def sibling_tables(table: Path) -> list[Path]:
    """The tables whose labels name the classes: train.csv and test.csv together, any other table alone."""
    names = [f"{s}.csv" for s in SUBSETS]
    if table.name not in names:
        return [table]
    return [table.parent / name for name in names if (table.parent / name).is_file()]


def read_table(table: Path) -> list[tuple[int, str, str]]:
    """(line number, path, label) rows, without blank rows or a header; backslashes in paths become slashes."""
    with table.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
        rows = [(n, [cell.strip() for cell in row]) for n, row in enumerate(csv.reader(f), 1) if any(row)]
    if rows and rows[0][1][-1].casefold() in HEADER_LABELS:
        rows = rows[1:]
    out = []
    for n, cells in rows:
        if len(cells) != 2 or not cells[0] or not cells[1]:
            raise UserError(f"{table}:{n}: expected 'path,label', got {','.join(cells)!r}; quote paths that "
                            f"hold commas")
        out.append((n, cells[0].replace("\\", "/"), cells[1]))
    if not out:
        raise UserError(f"{table}: no 'path,label' rows; add one row per video")
    return out
