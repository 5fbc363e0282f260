"""Built-in procedural images: a bank of numpy "shader" programs in the spirit of Shaders1k.

Baradad et al. (NeurIPS 2022) pre-train on images rendered by OpenGL fragment shaders collected from the web.
This source is an offline stand-in written for this project, not that dataset: about two dozen hand-written program
families (shader_families.py), each drawing its parameters from numpy.random.default_rng([seed, index]), so
image i is a pure function of (seed, i, size) and needs no files, GPU or network.

Image i uses family order[i % F], where order is a permutation of the chosen families seeded by `seed`: every
family appears once in each run of F consecutive images. label = the family's index in the sorted chosen names.

Speed at size 256 on one core (2-core x86 CPU shared with other jobs, Python 3.11, numpy 2.4, taskset -c 0,
OPENBLAS_NUM_THREADS=1; 20 images per family after one warm-up, timing ProceduralSource(families=(f,)).load):
mean 4.1 ms per image over an even family mix (4.0 ms over the first 300 images of the default source);
slowest family flow_streaks 9.5 ms, then cell_edges 8.7, mandelbrot 7.9, domain_warp 7.9, sdf_shapes 7.8;
fastest quasicrystal 0.9 ms. Much of the rest is fresh-page cost of new arrays: with glibc told to keep freed
memory (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised) the mean fell to about 3.4 ms.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np

from ..errors import UserError
from .base import SourceImage, sha256_hex
from .shader_families import FAMILIES
from .shader_ops import Params, square_coords

__all__ = ["ProceduralSource", "FAMILIES", "GENERATOR_VERSION"]

GENERATOR_VERSION = "procedural-v1"
CITATION = ("Baradad, Chen, Wulff, Wang, Feris, Torralba, Isola. Procedural Image Programs for Representation "
            "Learning. NeurIPS 2022 (Shaders1k/Shaders21k). These images come from an offline numpy stand-in "
            "written in that spirit; they are not the Shaders1k dataset.")
MIN_SIZE, MAX_SIZE = 16, 4096


class ProceduralSource:
    """`images` procedural images of `size` x `size` pixels drawn from `families` (None: all of FAMILIES)."""

    name = "procedural"

    def __init__(self, images: int = 1000, size: int = 256, seed: int = 0,
                 families: Iterable[str] | str | None = None):
        self.images = _whole_number("images", images, 1, None)
        self.size = _whole_number("size", size, MIN_SIZE, MAX_SIZE)
        self.seed = _whole_number("seed", seed, 0, None)
        self.families = _family_names(families)

    def __len__(self) -> int:
        return self.images

    def family_of(self, index: int) -> str:
        """Every family once per run of len(families) images, in an order fixed by the seed."""
        order = np.random.default_rng(self.seed).permutation(len(self.families))
        return self.families[order[index % len(self.families)]]

    def load(self, index: int) -> SourceImage:
        if not 0 <= index < self.images:
            raise IndexError(f"procedural image {index} out of range 0..{self.images - 1}")
        family = self.family_of(index)
        params = Params(np.random.default_rng([self.seed, index]))
        rgb = FAMILIES[family](square_coords(self.size), params)
        pixels = np.ascontiguousarray((rgb * 255.0 + 0.5).astype(np.uint8))
        return SourceImage(
            rgb=pixels,
            source_id=f"procedural/{family}/{index:06d}",
            content_hash=sha256_hex(GENERATOR_VERSION, family, f"size={self.size}", *params.record()),
            label=self.families.index(family),
        )

    def fingerprint(self) -> str:
        return sha256_hex(GENERATOR_VERSION, json.dumps(self._params(), sort_keys=True))

    def describe(self) -> dict[str, Any]:
        return {"kind": "procedural", **self._params(), "license": "generated; no licence restrictions",
                "citation": CITATION}

    def _params(self) -> dict[str, Any]:
        return {"images": self.images, "size": self.size, "seed": self.seed, "families": list(self.families)}


def _whole_number(name: str, value: Any, low: int, high: int | None) -> int:
    """An int in [low, high]; bools and floats are refused so a typo cannot silently round."""
    in_range = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value \
        and (high is None or value <= high)
    if not in_range:
        limits = f"{low}..{high}" if high is not None else f">= {low}"
        raise UserError(f"procedural: {name}={value!r} is not valid; give a whole number {limits}")
    return int(value)


def _family_names(families: Iterable[str] | str | None) -> tuple[str, ...]:
    """Sorted, de-duplicated family names; the sort fixes the label of each family."""
    names = (families,) if isinstance(families, str) else tuple(FAMILIES if families is None else families)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown or not names:
        raise UserError(f"procedural: families={list(unknown or names)!r} is not valid; choose one or more of: "
                        f"{', '.join(sorted(FAMILIES))}")
    return tuple(sorted(set(names)))
