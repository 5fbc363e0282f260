"""Built-in FractalDB generator (Kataoka et al., "Pre-training without Natural Images", ACCV 2020).

A category is a random iterated function system (IFS): N affine maps (x, y) -> (a x + b y + e, c x + d y + f),
N uniform in 2..8, the six parameters of each map uniform in [-1, 1], map probabilities proportional to |ad - bc|.
A candidate becomes a category only if its attractor is spread out: 100,000 chaos-game points drawn as single
pixels on a 512 x 512 canvas (6 px margin) must cover at least `fill_threshold` of it (the paper's filling rate,
default 0.2). Category c is the first passing candidate drawn from an RNG seeded with (seed, c, attempt), so it
is a pure function of (seed, c, fill_threshold); the search does not depend on `size` or `points`, so a category
looks the same at every resolution. About 2% of candidates pass at 0.2 (~0.3 s of search per category, cached
per process by `category_ifs`).

Instances follow the authors' renderer: instance j takes weight variant j % 25, flip (j // 25) % 4, and its own
random patch masks and chaos-game draws from an RNG seeded with (seed, c, j). The 25 weight variants are the
category itself followed by one parameter (the same letter in every map, cycling a..f) multiplied by 0.9, 1.1,
0.8, then 1.2 (probabilities unchanged). The weight step is 0.1, the renderer's default; the authors' script
recommends 0.4 (factors 0.2..1.8), but we measured that ~22% of those variants collapse to under a third of the
category's filling rate (near-empty images), against ~0.4% at 0.1. Flips are none, vertical, horizontal, both.

Rendering is the paper's "patch_gray" mode: the point cloud is scaled to the canvas with a margin of 6/512 of
the side (x and y scaled independently, as in the paper); every point stamps a random non-empty 3 x 3 binary
patch of grey level 127 on black. Default 200,000 points per image (the authors' rendering setting).

Speed: median 12.8 ms per image (11.8 ms best) at size 256 with the default 200,000 points, category search
already cached; 2-core x86 CPU shared with other jobs, Python 3.11, numpy 2.4. Measured by timing each of
`FractalDBSource(categories=4).load(i)` for i in 0..39, three passes, after one load per category. About 5 ms
is the chaos game (2,048 chains in lock-step as numpy arrays, 20 burn-in steps each), 2 ms the patch stamping.
"""
from __future__ import annotations

import functools
import json
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synth.errors import UserError
from synth.sources.base import SourceImage, sha256_hex

GENERATOR_VERSION = "fractaldb-v1"
CITATION = (
    "H. Kataoka, K. Okayasu, A. Matsumoto, E. Yamagata, R. Yamada, N. Inoue, A. Nakamura, Y. Satoh. "
    "Pre-training without Natural Images. ACCV 2020."
)

# Category search (paper values).
MIN_MAPS, MAX_MAPS = 2, 8
DEFAULT_FILL_THRESHOLD = 0.2
MAX_FILL_THRESHOLD = 0.25  # ~0.1% of candidates pass it (measured); above, the search becomes impractical
SEARCH_POINTS = 100_000
SEARCH_SIZE = 512  # px
SEARCH_PAD = 6  # px
FILL_SEED = 100  # fixed chaos-game seed, so the filling rate is a function of the IFS alone
MAX_ATTEMPTS = 20_000  # safety net; at 0.25 the expected search is ~750 attempts (~3 ms each)

# Instances.
WEIGHTS = (0.9, 1.1, 0.8, 1.2)  # closest to the category first
VARIANTS = 1 + 6 * len(WEIGHTS)
FLIPS = 4

# Rendering.
DEFAULT_POINTS = 200_000
CHAINS = 2048
BURN_IN = 20  # steps; brings a chain started at the origin to within a pixel of the attractor
PAD_FRACTION = SEARCH_PAD / SEARCH_SIZE
GREY = 127
PATCH_OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # bit k of a patch mask -> offset k

# Seed-sequence streams, so search draws and render draws never coincide.
SEARCH_STREAM, RENDER_STREAM = 0, 1


@dataclass(frozen=True, eq=False)
class IFS:
    """An iterated function system.

    maps: (N, 6) float64 rows (a, b, c, d, e, f) for (x, y) -> (a x + b y + e, c x + d y + f).
    probs: (N,) float64 probabilities of choosing each map, summing to 1.
    """

    maps: np.ndarray
    probs: np.ndarray


def random_ifs(rng: np.random.Generator) -> IFS:
    """One candidate category: N in [MIN_MAPS, MAX_MAPS], parameters uniform in [-1, 1], p proportional to |det|."""
    n = int(rng.integers(MIN_MAPS, MAX_MAPS + 1))
    maps = rng.uniform(-1.0, 1.0, size=(n, 6))
    det = np.abs(maps[:, 0] * maps[:, 3] - maps[:, 1] * maps[:, 2])
    return IFS(maps, det / det.sum())


def chaos_game(ifs: IFS, points: int, rng: np.random.Generator) -> np.ndarray:
    """`points` samples of the attractor, (2, points) float64 x/y in IFS coordinates.

    CHAINS chains run in lock-step so each step is a handful of array operations instead of a Python loop over
    every point; each chain starts at the origin and discards BURN_IN steps.
    """
    steps = -(-points // CHAINS)
    cdf = np.cumsum(ifs.probs)
    cdf[-1] = 1.0  # so rounding never picks a map past the last
    choice = np.searchsorted(cdf, rng.random((BURN_IN + steps, CHAINS)), side="right")  # (T, CHAINS)
    a, b, c, d, e, f = ifs.maps.T
    x = np.zeros(CHAINS)
    y = np.zeros(CHAINS)
    xy = np.empty((2, steps, CHAINS))
    for t, k in enumerate(choice):
        x, y = a.take(k) * x + b.take(k) * y + e.take(k), c.take(k) * x + d.take(k) * y + f.take(k)
        if t >= BURN_IN:
            xy[0, t - BURN_IN] = x
            xy[1, t - BURN_IN] = y
    return xy.reshape(2, -1)[:, :points]


def pixel_indices(xy: np.ndarray, size: int, pad: int) -> np.ndarray:
    """Flat (row * size + col) pixel of each point after scaling the cloud's bounding box to the canvas minus pad."""
    lo = xy.min(axis=1, keepdims=True)
    span = np.maximum(xy.max(axis=1, keepdims=True) - lo, 1e-12)  # a collapsed attractor lands on one pixel
    scale = (size - 1 - 2 * pad) / span  # px per IFS unit, per axis
    pix = xy * scale
    pix += pad - lo * scale
    col, row = pix.astype(np.intp)
    row *= size
    row += col
    return row


def filling_rate(ifs: IFS) -> float:
    """Fraction of a SEARCH_SIZE^2 canvas covered by SEARCH_POINTS single-pixel points: the paper's category test."""
    idx = pixel_indices(chaos_game(ifs, SEARCH_POINTS, np.random.default_rng(FILL_SEED)), SEARCH_SIZE, SEARCH_PAD)
    covered = np.zeros(SEARCH_SIZE * SEARCH_SIZE, dtype=bool)
    covered[idx] = True
    return float(np.count_nonzero(covered)) / covered.size


@functools.lru_cache(maxsize=4096)
def category_ifs(seed: int, category: int, fill_threshold: float) -> IFS:
    """The IFS of one category: the first candidate from RNG (seed, category, attempt) whose filling rate passes.

    Cached because every instance of a category starts from it and the search costs ~0.3 s.
    """
    for attempt in range(MAX_ATTEMPTS):
        candidate = random_ifs(np.random.default_rng([seed, category, SEARCH_STREAM, attempt]))
        if filling_rate(candidate) >= fill_threshold:
            return candidate
    raise UserError(
        f"fractal fill_threshold {fill_threshold} found no category {category} in {MAX_ATTEMPTS} attempts; "
        f"lower fill_threshold (paper default {DEFAULT_FILL_THRESHOLD})"
    )


def weighted_ifs(ifs: IFS, variant: int) -> IFS:
    """Weight variant 0..VARIANTS-1: 0 is the category itself, then one parameter letter times one of WEIGHTS."""
    if variant == 0:
        return ifs
    weight_index, param = divmod(variant - 1, 6)
    maps = ifs.maps.copy()
    maps[:, param] *= WEIGHTS[weight_index]
    return IFS(maps, ifs.probs)


def patch_mask(idx: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size) bool: every point stamps a random non-empty 3 x 3 patch centred on its pixel.

    Masks of points sharing a pixel are OR-ed, then each of the 9 bits is one shifted copy of the canvas.
    """
    masks = np.zeros(size * size, dtype=np.uint16)
    np.bitwise_or.at(masks, idx, rng.integers(1, 1 << len(PATCH_OFFSETS), size=idx.size, dtype=np.uint16))
    masks = masks.reshape(size, size)
    canvas = np.zeros((size + 2, size + 2), dtype=bool)  # one spare pixel each side for the shifts
    for bit, (dy, dx) in enumerate(PATCH_OFFSETS):
        canvas[1 + dy : 1 + dy + size, 1 + dx : 1 + dx + size] |= (masks & (1 << bit)).astype(bool)
    return canvas[1:-1, 1:-1]


def render(ifs: IFS, size: int, points: int, flip: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) uint8 patch rendering of the attractor, flipped: 0 none, 1 vertical, 2 horizontal, 3 both."""
    pad = max(2, round(size * PAD_FRACTION))  # >= 2 keeps every 3 x 3 patch inside the canvas
    mask = patch_mask(pixel_indices(chaos_game(ifs, points, rng), size, pad), size, rng)
    if flip & 1:
        mask = mask[::-1]
    if flip & 2:
        mask = mask[:, ::-1]
    return np.repeat((mask * np.uint8(GREY))[:, :, None], 3, axis=2)  # (size, size, 3), C-contiguous


def _require_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"fractal {name} must be an integer in [{low}, {high}], got {value!r}; pass one in range")


@dataclass(frozen=True)
class FractalDBSource:
    """FractalDB images, index i -> (category i // instances, instance i % instances), label = category.

    Holds only plain parameters, so it pickles cheaply to Ray workers; each worker rebuilds its categories.
    """

    categories: int = 100
    instances: int = 10
    size: int = 256  # px, square
    seed: int = 0
    points: int = DEFAULT_POINTS  # chaos-game points per image
    fill_threshold: float = DEFAULT_FILL_THRESHOLD
    name: str = field(default="fractal", init=False)

    def __post_init__(self) -> None:
        _require_int("categories", self.categories, 1, 1_000_000)
        _require_int("instances", self.instances, 1, 1_000_000)
        _require_int("size", self.size, 16, 4096)
        _require_int("seed", self.seed, 0, 2**63 - 1)
        _require_int("points", self.points, 1_000, 10_000_000)
        threshold = self.fill_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise UserError(f"fractal fill_threshold must be a number, got {threshold!r}; pass e.g. 0.2")
        if not 0 < threshold <= MAX_FILL_THRESHOLD:
            raise UserError(
                f"fractal fill_threshold must be in (0, {MAX_FILL_THRESHOLD}], got {threshold}; "
                f"use the paper default {DEFAULT_FILL_THRESHOLD}"
            )

    def __len__(self) -> int:
        return self.categories * self.instances

    def load(self, index: int) -> SourceImage:
        index = operator.index(index)  # numpy integers too; labels stay plain ints
        if not 0 <= index < len(self):
            raise IndexError(f"fractal index {index} out of range [0, {len(self)})")
        category, instance = divmod(index, self.instances)
        variant, flip = instance % VARIANTS, (instance // VARIANTS) % FLIPS
        ifs = weighted_ifs(category_ifs(self.seed, category, float(self.fill_threshold)), variant)
        rng = np.random.default_rng([self.seed, category, RENDER_STREAM, instance])
        return SourceImage(
            rgb=render(ifs, self.size, self.points, flip, rng),
            source_id=f"fractal/c{category:04d}/i{instance:04d}",
            content_hash=sha256_hex(GENERATOR_VERSION, self._params_json(category=category, instance=instance)),
            label=category,
        )

    def fingerprint(self) -> str:
        return sha256_hex(GENERATOR_VERSION, self._params_json(categories=self.categories, instances=self.instances))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "fractal",
            "categories": self.categories,
            "instances": self.instances,
            "size": self.size,
            "seed": self.seed,
            "points": self.points,
            "fill_threshold": self.fill_threshold,
            "images": len(self),
            "citation": CITATION,
            "license": "generated; no licence restrictions",
        }

    def _params_json(self, **extra: int) -> str:
        """Canonical JSON of the parameters shared by every image plus `extra`, for hashing."""
        params = {"seed": self.seed, "size": self.size, "points": self.points, "fill_threshold": self.fill_threshold}
        return json.dumps({**params, **extra}, sort_keys=True)
