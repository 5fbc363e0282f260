"""Any directory tree of images, in a stable order; optional label = first sub-folder."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from .base import SourceImage, sha256_hex
from .imagefile import IMAGE_EXTENSIONS, decode_image


def is_hidden(name: str) -> bool:
    """Dot-files and macOS AppleDouble companions ('._x.jpg') are never images."""
    return name.startswith(".")


def scan_images(root: Path) -> list[str]:
    """Relative POSIX paths of image files under root, sorted, following symlinks, skipping hidden entries."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        for name in filenames:
            if not is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(found)


class FolderSource:
    """Images under `root`, ordered by relative path so every machine sees the same order.

    With labels=True the first path component is the class (FractalDB-1k, ImageNet-style trees);
    class ids are the sorted sub-folder names' positions.
    """

    name = "folder"

    def __init__(self, root: str | Path, *, labels: bool = False, min_side: int = 224,
                 card: dict[str, Any] | None = None):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise UserError(f"{root}: not a directory; pass a folder of images (jpg, png, webp, bmp, tif)")
        self.paths = scan_images(self.root)
        if not self.paths:
            raise UserError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)}); check the path")
        self.labels = labels
        self.min_side = min_side
        self.card = card  # licence and citation of a named dataset, for the manifest
        self.classes = sorted({p.split("/")[0] for p in self.paths if "/" in p}) if labels else []
        if labels and not self.classes:
            raise UserError(f"{root}: labels from sub-folders asked for, but all images lie directly in the folder")
        self._class_ids = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.paths)

    def read_bytes(self, index: int) -> bytes:
        return (self.root / self.paths[index]).read_bytes()

    def load(self, index: int) -> SourceImage:
        rel = self.paths[index]
        data = self.read_bytes(index)
        rgb = decode_image(data, rel, min_side=self.min_side)
        label = self._class_ids.get(rel.split("/")[0]) if self.labels and "/" in rel else None
        return SourceImage(rgb=rgb, source_id=rel, content_hash=sha256_hex(data), label=label)

    def fingerprint(self) -> str:
        """Names, sizes and content hashes of every file: reads each file once."""
        parts = [f"{rel}\0{sha256_hex(self.read_bytes(i))}" for i, rel in enumerate(self.paths)]
        return sha256_hex("folder-v1", *parts)

    def describe(self) -> dict[str, Any]:
        return {"kind": "folder", "root": str(self.root), "images": len(self), "labels": self.labels,
                "classes": self.classes, "card": self.card}
