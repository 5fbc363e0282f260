"""Small real images on disk for tests (importable: pytest puts tests/ on sys.path via pyproject)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# Fast synth render flags for tests: 4 frames of 32x32, in-process.
SMALL = ("--frames", "4", "--size", "32", "--workers", "0")


def textured_image(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """A smooth random colour texture (compresses like a photo, unlike white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def write_images(folder: Path, count: int, classes: int = 1) -> list[Path]:
    paths = []
    for i in range(count):
        sub = folder / f"class{i % classes}" if classes > 1 else folder
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"img{i:03d}.{'jpg' if i % 2 else 'png'}"
        cv2.imwrite(str(path), textured_image(i))
        paths.append(path)
    return paths
