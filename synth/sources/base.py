"""What every image source provides: a fixed-length, deterministic sequence of RGB images."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class SourceImage:
    """One still image, ready for the motion generator.

    rgb: uint8 array (H, W, 3), C-contiguous.
    source_id: stable name of the image inside its source (relative path, tar member, generator id).
    content_hash: sha256 hex of the encoded file bytes (files) or of the generator's parameters (built-ins).
    label: integer class where the source has one (FractalDB category, first sub-folder), else None.
    """

    rgb: np.ndarray
    source_id: str
    content_hash: str
    label: int | None = None


@runtime_checkable
class ImageSource(Protocol):
    """A deterministic, indexable image collection. Must be picklable (it is shipped to Ray workers).

    load(i) is a pure function of the source's parameters and i; it raises BadImage for an unusable image.
    """

    name: str

    def __len__(self) -> int: ...

    def load(self, index: int) -> SourceImage: ...

    def fingerprint(self) -> str:
        """sha256 hex identifying exactly which images this source yields (names and contents)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-safe description for the manifest: kind, parameters, image count, class names if any."""
        ...


def sha256_hex(*parts: bytes | str) -> str:
    """sha256 over parts, each length-prefixed so that ("ab", "c") and ("a", "bc") differ."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()
