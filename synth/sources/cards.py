"""Source cards: what a named dataset looks like on disk, its licence, and where to get it."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

CARDS_ENV = "PSEUDOMOTION_SOURCE_CARDS"


def cards_dirs() -> list[Path]:
    """Where cards are looked for: $PSEUDOMOTION_SOURCE_CARDS, the checkout, then the installed share folder."""
    here = Path(__file__).resolve().parents[2] / "manifests" / "sources"
    dirs = [Path(os.environ[CARDS_ENV])] if os.environ.get(CARDS_ENV) else []
    return [*dirs, here, Path(sys.prefix) / "share" / "pseudomotion" / "sources"]


@dataclass(frozen=True)
class SourceCard:
    name: str
    title: str
    layout: str  # folder | folder-labels | tar
    directory: str
    images: int
    license: str
    citation: str
    get: str
    offline: str

    def open(self, root: Path, *, min_side: int) -> Any:
        from .folder import FolderSource
        from .tarfiles import TarSource

        where = root / self.directory
        if not where.is_dir() or not any(where.iterdir()):
            raise UserError(
                f"source '{self.name}' not found at {where} (data root from --data-root or $PSEUDOMOTION_DATA_ROOT); "
                f"{self.get.replace('DATA_ROOT', str(root))} Offline, use the built-in --images {self.offline}")
        if self.layout == "tar" and any(where.rglob("*.tar")):  # as distributed; else already unpacked
            return TarSource(str(where), min_side=min_side, card=self.describe())
        return FolderSource(where, labels=self.layout == "folder-labels", min_side=min_side, card=self.describe())

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "license": self.license, "citation": self.citation}


@lru_cache(maxsize=1)
def load_cards() -> tuple[SourceCard, ...]:
    cards: dict[str, SourceCard] = {}
    for folder in cards_dirs():
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            fields = yaml.safe_load(path.read_text())
            cards.setdefault(fields["name"], SourceCard(**fields))
    return tuple(cards.values())


def find_card(name: str) -> SourceCard | None:
    return next((c for c in load_cards() if c.name == name), None)
