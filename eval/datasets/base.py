"""What every reader returns, the registry readers join, and the parsing and checks they share."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from synth.errors import UserError

SUBSETS = ("train", "test")
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})


@dataclass(frozen=True)
class VideoItem:
    """One labelled video. start_frame and end_frame bound the frames a clip may use, [start, end) in decoded-frame
    numbers (end None: to the last frame); only annotations that give a range (Diving48) set them."""

    path: Path
    label: int
    start_frame: int = 0
    end_frame: int | None = None


@dataclass(frozen=True)
class VideoList:
    """The videos of one split's subset; label i names classes[i]. missing: listed videos not found on disk
    (skipped with a warning)."""

    items: list[VideoItem]
    classes: list[str]
    missing: int = 0

    def __len__(self) -> int:
        return len(self.items)


Reader = Callable[[Path, int, str], VideoList]


@dataclass(frozen=True)
class Dataset:
    """A registered reader, called as reader(root, split, subset), with what callers need to know about it.

    splits: official splits, numbered 1..splits. sampling: the frame sampling VideoMAE uses for the dataset
    (a name in eval.sampling.SAMPLERS). layout: the expected tree, for messages.
    """

    name: str
    read: Reader
    splits: int
    sampling: str
    layout: str

    def __call__(self, root: Path, split: int, subset: str) -> VideoList:
        if not 1 <= split <= self.splits:
            choices = "1" if self.splits == 1 else f"1 to {self.splits}"
            raise UserError(f"split={split}: {self.name} has official splits {choices}; pass one of them")
        return self.read(root, split, subset)


DATASETS: dict[str, Dataset] = {}


def register(name: str, *, splits: int, sampling: str, layout: str) -> Callable[[Reader], Reader]:
    def wrap(read: Reader) -> Reader:
        DATASETS[name] = Dataset(name, read, splits, sampling, layout)
        return read

    return wrap


class Listed(NamedTuple):
    """One video as a list names it: a path relative to the video folder, and its label."""

    relative: str
    label: int
    start_frame: int = 0
    end_frame: int | None = None


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of a text file's non-blank lines.

    Official lists end lines in CRLF, end in blank lines and (HMDB51) carry trailing spaces; bytes that are not
    UTF-8 survive as surrogate escapes, so a name still maps to the same file name on disk.
    """
    text = path.read_text(encoding="utf-8-sig", errors="surrogateescape")
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def require(path: Path, fix: str) -> Path:
    if not path.is_file():
        raise UserError(f"{path} not found; {fix}")
    return path


class CaseInsensitiveTree:
    """Finds listed files whose names differ in case from the list's, as in the real UCF101 (the HandstandPushups
    folder holds v_HandStandPushups_* files) and in copies that went through case-folding file systems.

    The exact path is tried first; folder listings are cached, so a list of 13k videos lists each folder once.
    """

    def __init__(self, base: Path):
        self.base = base
        self._listings: dict[Path, dict[str, str]] = {}

    def find(self, relative: str) -> Path | None:
        exact = self.base / relative
        if exact.is_file():
            return exact
        if Path(relative).is_absolute():
            return None
        here = self.base
        for part in relative.split("/"):
            name = self._listing(here).get(part.casefold())
            if name is None:
                return None
            here = here / name
        return here if here.is_file() else None

    def _listing(self, folder: Path) -> dict[str, str]:
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = {name.casefold(): name for name in names}
        return self._listings[folder]


def video_list(rows: Iterable[Listed], classes: list[str], *, tree: CaseInsensitiveTree, source: Path,
               fix: str) -> VideoList:
    """The listed videos found under tree.base. Missing ones are counted and skipped with a warning (a partial
    download still evaluates); none found at all is a UserError naming the list (source) and the fix."""
    items, missing, example = [], 0, ""
    for row in rows:
        path = tree.find(row.relative)
        if path is None:
            missing += 1
            example = example or row.relative
            continue
        items.append(VideoItem(path, row.label, row.start_frame, row.end_frame))
    if not items and not missing:
        raise UserError(f"{source}: lists no videos for this subset; re-download the split files")
    if not items:
        raise UserError(f"{source}: none of its {missing} videos exist under {tree.base} (e.g. {example}); {fix}")
    if missing:
        warnings.warn(f"{source}: {missing} of {missing + len(items)} listed videos are missing under {tree.base} "
                      f"(e.g. {example}); skipping them", RuntimeWarning, stacklevel=2)
    return VideoList(items, classes, missing)
