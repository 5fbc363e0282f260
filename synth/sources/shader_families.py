"""Procedural image programs ("shaders") in numpy, registered by name, in the spirit of Shaders1k.

A family is a pure function (Coords, Params) -> float32 RGB (H, W, 3) in [0, 1]. Coordinates span [-1, 1] on both
axes; `Params` draws every random number a family uses and remembers it, so the source can hash the exact
parameters of an image. Colour comes from Inigo Quilez's cosine palettes a + b*cos(2*pi*(c*t + d)).

Speed is the design constraint (images feed a video renderer): everything is vectorised float32, noise and plane
waves are computed as separable matrix products on the regular pixel grid, and other coordinates read those
textures back with a bilinear lookup instead of re-evaluating noise per pixel.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Callable, Sequence, TypeVar

import numpy as np

TAU = 2.0 * np.pi
T = TypeVar("T")


@dataclass(frozen=True)
class Coords:
    """Pixel centres of a square image in [-1, 1]: x grows right, shape (1, W); y grows down, shape (H, 1).

    Row and column vectors broadcast to (H, W) only where a term needs both, so separable terms cost O(size).
    """

    size: int
    x: np.ndarray
    y: np.ndarray

    @property
    def px(self) -> float:
        """One pixel in coordinate units (for anti-aliasing widths)."""
        return 2.0 / self.size


@lru_cache(maxsize=8)
def square_coords(size: int) -> Coords:
    """Shared between images of one size, hence read-only."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    axis.setflags(write=False)
    return Coords(size, axis[None, :], axis[:, None])


class Params:
    """A family's random numbers, drawn from one Generator and recorded for the image's content hash."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self.drawn: list[np.ndarray] = []

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        value = float(self._rng.uniform(low, high))
        self.drawn.append(np.float64(value))
        return value

    def uniforms(self, low: float, high: float, shape: int | tuple[int, ...]) -> np.ndarray:
        values = self._rng.uniform(low, high, shape).astype(np.float32)
        self.drawn.append(values)
        return values

    def integer(self, low: int, high: int) -> int:
        """One integer in [low, high)."""
        value = int(self._rng.integers(low, high))
        self.drawn.append(np.int64(value))
        return value

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options))]

    def record(self) -> list[bytes]:
        """The drawn values as bytes, one part per draw, for sha256_hex."""
        return [np.ascontiguousarray(v).tobytes() for v in self.drawn]


Family = Callable[[Coords, Params], np.ndarray]
FAMILIES: dict[str, Family] = {}


def family(name: str) -> Callable[[Family], Family]:
    """Register a family under `name`; the registered function clips to [0, 1] and returns float32 (H, W, 3)."""

    def register(fn: Family) -> Family:
        @wraps(fn)
        def render(c: Coords, p: Params) -> np.ndarray:
            rgb = np.broadcast_to(fn(c, p), (c.size, c.size, 3))
            return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)

        FAMILIES[name] = render
        return render

    return register


# ---------------------------------------------------------------- building blocks

def palette(p: Params) -> Callable[[np.ndarray], np.ndarray]:
    """A random cosine palette t (any shape) -> RGB (t.shape + (3,)); t is unitless, a period is 0.7-2 units.

    Colours are computed channel-first and returned as a transposed view: numpy broadcasts (H, W, 1) against
    (3,) about 30 times slower than (1, H, W) against (3, 1, 1), and later arithmetic keeps the fast layout.
    """
    a, b = p.uniforms(0.35, 0.65, 3), p.uniforms(0.3, 0.5, 3)
    freq, phase = p.uniforms(0.5, 1.5, 3) * TAU, p.uniforms(0.0, 1.0, 3) * TAU

    def colour(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, np.float32)
        axes = (3,) + (1,) * t.ndim
        rgb = a.reshape(axes) + b.reshape(axes) * np.cos(t * freq.reshape(axes) + phase.reshape(axes))
        return np.moveaxis(rgb, 0, -1)

    return colour


def stretch(t: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1] so every image uses its palette's full range."""
    lo, hi = float(t.min()), float(t.max())
    return (t - lo) * (1.0 / max(hi - lo, 1e-6))


def mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Blend colours a -> b by weight w (H, W)."""
    return a + (b - a) * w[..., None]


def coverage(d: np.ndarray, edge: float | np.ndarray, soft: float) -> np.ndarray:
    """1 inside d < edge, 0 outside, with a linear ramp `soft` wide (d's units, about a pixel) to anti-alias."""
    return np.clip(0.5 - (d - edge) * (1.0 / soft), 0.0, 1.0)


def length(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Euclidean length; np.hypot is overflow-safe but about 5x slower, and our values are small."""
    return np.sqrt(x * x + y * y)


def wrap(x: np.ndarray, period: float) -> np.ndarray:
    """x modulo period for floats; np.mod is about 10x slower because it fixes up signs exactly."""
    return x - np.floor(x * (1.0 / period)) * period


def polar(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return length(x, y), np.arctan2(y, x)


def _lattice_weights(size: int, cells: int, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel quintic weights (size, cells) of the two lattice corners around each pixel, and the same
    weights times the pixel's offset from each corner (the gradient term); the lattice wraps around."""
    u = (np.arange(size, dtype=np.float32) + 0.5) * (cells / size) + offset
    base = np.floor(u)
    t = u - base
    i0 = base.astype(np.intp) % cells
    i1 = (i0 + 1) % cells
    s = t * t * t * (t * (t * 6.0 - 15.0) + 10.0)
    rows = np.arange(size)
    weights, offsets = np.zeros((size, cells), np.float32), np.zeros((size, cells), np.float32)
    weights[rows, i0] = 1.0 - s
    weights[rows, i1] += s
    offsets[rows, i0] = (1.0 - s) * t
    offsets[rows, i1] += s * (t - 1.0)
    return weights, offsets


def perlin(p: Params, size: int, cells: int) -> np.ndarray:
    """Tileable gradient noise (size, size) with `cells` lattice cells across, roughly in [-0.7, 0.7].

    Perlin noise on a grid is separable: sum_ij wy_j wx_i (g_ij . d) = Wy Gx Dx^T + Dy Gy Wx^T.
    """
    angle = p.uniforms(0.0, TAU, (cells, cells))
    wx, dx = _lattice_weights(size, cells, p.uniform(0.0, cells))
    wy, dy = _lattice_weights(size, cells, p.uniform(0.0, cells))
    return wy @ np.cos(angle) @ dx.T + dy @ np.sin(angle) @ wx.T


def fbm(p: Params, size: int, cells: int, octaves: int, gain: float = 0.5,
        shape: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Fractional Brownian motion: octaves of perlin noise doubling in frequency, each `shape`d (ridges,
    turbulence) before summing; the finest octave stops at 2 pixels per cell."""
    total, amp, norm = np.zeros((size, size), np.float32), 1.0, 0.0
    for _ in range(octaves):
        octave = perlin(p, size, max(1, min(cells, size // 2)))
        total += amp * (shape(octave) if shape else octave)
        norm += amp
        amp *= gain
        cells *= 2
    return total * (1.0 / norm)


def sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a tileable texture at texel coordinates (u right, v down), wrapping around."""
    h, w = tex.shape
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = u - u0, v - v0
    i0, j0 = u0.astype(np.int32) % w, v0.astype(np.int32) % h
    i1, row0, row1 = (i0 + 1) % w, j0 * w, (j0 + 1) % h * w
    flat = tex.ravel()
    top = flat.take(row0 + i0)
    top += (flat.take(row0 + i1) - top) * fu
    bottom = flat.take(row1 + i0)
    bottom += (flat.take(row1 + i1) - bottom) * fu
    return top + (bottom - top) * fv


def to_texels(c: Coords, coord: np.ndarray) -> np.ndarray:
    """Coordinate units -> texels of a size x size texture laid over [-1, 1]."""
    return (coord + 1.0) * (0.5 * c.size) - 0.5


def wave_sum(c: Coords, kx: np.ndarray, ky: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """sum_j cos(kx_j x + ky_j y + phase_j) as one complex matrix product, since plane waves are separable."""
    ey = np.exp(1j * (c.y * ky + phase)).astype(np.complex64)  # (H, J)
    ex = np.exp(1j * (c.x.T * kx)).astype(np.complex64)  # (W, J)
    return (ey @ ex.T).real


def worley(p: Params, size: int, cells: int, jitter: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cellular noise over a tileable jittered grid: distances to the nearest and second-nearest feature
    point (F1, F2, in cell units) and the nearest point's cell id, searching the 3 x 3 neighbouring cells."""
    u = (np.arange(size, dtype=np.float32) + 0.5) * (cells / size)
    cell = np.floor(u).astype(np.intp)
    corner = cell.astype(np.float32) - u  # pixel -> its cell's corner, in cell units
    jx = p.uniforms(0.5 - jitter / 2, 0.5 + jitter / 2, (cells, cells))
    jy = p.uniforms(0.5 - jitter / 2, 0.5 + jitter / 2, (cells, cells))
    f1 = np.full((size, size), np.inf, np.float32)
    f2, winner = f1.copy(), np.zeros((size, size), np.int8)  # winner: which of the 9 neighbours is nearest
    neighbours = [(oy, ox) for oy in (-1, 0, 1) for ox in (-1, 0, 1)]
    for k, (oy, ox) in enumerate(neighbours):
        ry, rx = (cell + oy) % cells, (cell + ox) % cells
        fx = (corner + ox)[None, :] + jx[ry][:, rx]  # rows then columns: 5x faster than np.ix_
        fy = (corner + oy)[:, None] + jy[ry][:, rx]
        d = fx * fx + fy * fy
        closer = d < f1
        np.minimum(f2, d, out=f2)
        np.copyto(f2, f1, where=closer)
        np.copyto(f1, d, where=closer)
        np.copyto(winner, k, where=closer)
    oy, ox = winner // 3 - 1, winner % 3 - 1
    ids = (cell[:, None] + oy) % cells * cells + (cell[None, :] + ox) % cells
    return np.sqrt(f1), np.sqrt(f2), ids


def escape_time(z: np.ndarray, c: np.ndarray | complex, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Iterate z <- z^2 + c; return the smooth escape count (NaN where the orbit stays bounded) and the final
    |z| of bounded orbits (0 elsewhere). Escaped pixels leave the working set, so cost falls as they go."""
    shape, bailout = z.shape, 64.0
    z = z.ravel().astype(np.complex64)
    c = np.broadcast_to(np.asarray(c, np.complex64), shape).ravel()
    alive, count = np.arange(z.size), np.full(z.size, np.nan, np.float32)
    for n in range(iterations):
        z = z * z + c
        m = z.real * z.real + z.imag * z.imag
        gone = m > bailout * bailout
        if gone.any():
            count[alive[gone]] = n + 1 - np.log2(np.log2(m[gone]) * 0.5)
            keep = ~gone
            z, c, alive = z[keep], c[keep], alive[keep]
    final = np.zeros(count.size, np.float32)
    final[alive] = np.abs(z)
    return count.reshape(shape), final.reshape(shape)


@lru_cache(maxsize=16)
def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    i = np.arange(size, dtype=np.float32)
    g = np.exp(-((i[:, None] - i[None, :]) ** 2) / (2.0 * sigma * sigma)).astype(np.float32)
    g.setflags(write=False)
    return g


def blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur of a square image as two matrix products. The kernel peaks at 1 (not unit sum),
    so a one-pixel line keeps about its height; sigma is rounded to half pixels to reuse cached kernels."""
    g = _gaussian_matrix(img.shape[0], max(0.5, round(sigma_px * 2) / 2))
    return g @ img @ g


def glow_curve(c: Coords, p: Params, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Neon rendering of a densely sampled curve: a thin core and a soft halo, i.e. a palette over a Gaussian
    of the distance to the curve, coloured by the curve parameter."""
    n = c.size
    ix = np.clip(((xs + 1.0) * 0.5 * n).astype(np.intp), 0, n - 1)
    iy = np.clip(((ys + 1.0) * 0.5 * n).astype(np.intp), 0, n - 1)
    flat = iy * n + ix
    hit, along = np.zeros(n * n, np.float32), np.zeros(n * n, np.float32)
    hit[flat] = 1.0
    along[flat] = np.linspace(0.0, 1.0, xs.size, dtype=np.float32)
    hit, along = hit.reshape(n, n), along.reshape(n, n)
    scale = n / 256.0
    core = 1.0 - np.exp(-blur(hit, 0.8 * scale))
    sigma = p.uniform(3.0, 8.0) * scale
    soft = blur(hit, sigma)
    hue = blur(along, sigma) / (soft + 1e-3)
    halo = 1.0 - np.exp(-soft * p.uniform(0.05, 0.15))
    pal = palette(p)
    background = pal(np.full((1, 1), p.uniform(0.0, 1.0))) * 0.15
    return background + pal(hue * p.uniform(0.5, 2.0)) * (0.8 * core + halo)[..., None]


# ---------------------------------------------------------------- noise families

@family("fbm")
def fbm_clouds(c: Coords, p: Params) -> np.ndarray:
    """Gradient-noise fBm: soft clouds banded by the palette."""
    h = stretch(fbm(p, c.size, p.integer(2, 6), p.integer(4, 7), p.uniform(0.4, 0.65)))
    return palette(p)(h * p.uniform(0.7, 2.5) + p.uniform(0.0, 1.0))


@family("domain_warp")
def domain_warp(c: Coords, p: Params) -> np.ndarray:
    """fBm read at a position displaced by two other fBms (Quilez's warped noise): marbled swirls."""
    n, cells = c.size, p.integer(2, 5)
    qx, qy, base = (fbm(p, n, cells, 4) for _ in range(3))
    k = p.uniform(0.15, 0.45) * n
    grid = np.arange(n, dtype=np.float32)
    h = stretch(sample(base, grid[None, :] + k * qx, grid[:, None] + k * qy))
    pal = palette(p)
    return pal(h * p.uniform(0.8, 2.0) + stretch(qx) * p.uniform(0.2, 0.8)) * (0.55 + 0.45 * h)[..., None]


@family("ridged")
def ridged(c: Coords, p: Params) -> np.ndarray:
    """Ridged multifractal: octaves of (1 - |noise|)^2 give sharp mountain-crest lines."""
    h = stretch(fbm(p, c.size, p.integer(2, 5), 5, p.uniform(0.45, 0.6),
                    shape=lambda o: np.square(1.0 - np.minimum(np.abs(o) * 1.5, 1.0))))
    return palette(p)(h * p.uniform(0.5, 1.5)) * (0.3 + 0.7 * h)[..., None]


@family("marble")
def marble(c: Coords, p: Params) -> np.ndarray:
    """Stripes bent by turbulence (fBm of |noise|): Perlin's marble."""
    turb = fbm(p, c.size, p.integer(2, 5), 5, 0.5, shape=np.abs)
    a, k = p.uniform(0.0, TAU), p.uniform(4.0, 16.0)
    stripes = 0.5 + 0.5 * np.sin(k * (c.x * np.cos(a) + c.y * np.sin(a)) + p.uniform(8.0, 25.0) * turb)
    return palette(p)(stripes * p.uniform(0.4, 1.0) + stretch(turb) * 0.4)


@family("contours")
def contours(c: Coords, p: Params) -> np.ndarray:
    """Topographic map of an fBm height field: palette bands with constant-width contour lines."""
    h = stretch(fbm(p, c.size, p.integer(2, 4), 4, 0.45))
    levels = p.integer(5, 14)
    band = h * levels
    gy, gx = np.gradient(band)
    frac = band - np.floor(band)
    dist_px = np.minimum(frac, 1.0 - frac) / (length(gx, gy) + 1e-4)
    line = coverage(dist_px, p.uniform(0.4, 1.2), 1.0)
    fill = palette(p)(np.floor(band) / levels * p.uniform(0.6, 1.2))
    return fill * (1.0 - p.uniform(0.5, 0.9) * line)[..., None]


@family("flow_streaks")
def flow_streaks(c: Coords, p: Params) -> np.ndarray:
    """Streamlines of a curl-noise flow are the contours of its stream function psi (a drift plus fBm). A noise
    texture read at (psi * many, distance along the drift) is fine across the flow and slow along it: fibres."""
    a = p.uniform(0.0, TAU)
    along = c.x * np.cos(a) + c.y * np.sin(a)
    across = c.y * np.cos(a) - c.x * np.sin(a)
    psi = stretch(across * p.uniform(0.6, 1.2) + fbm(p, c.size, p.integer(2, 4), 3, 0.45))
    fibres = stretch(sample(perlin(p, c.size, 64), psi * p.uniform(1.0, 2.5) * c.size, along * (0.05 * c.size)))
    shade = 0.1 + 0.9 * fibres ** p.uniform(1.5, 3.0)
    return palette(p)(psi * p.uniform(0.8, 2.5) + fibres * 0.2) * shade[..., None]


@family("turing")
def turing(c: Coords, p: Params) -> np.ndarray:
    """Reaction-diffusion look: band-limited noise (many waves of one wavelength) thresholded; a slowly
    varying threshold turns labyrinths into spots across the image."""
    waves, k = 24, p.uniform(30.0, 75.0)
    angle, phase = p.uniforms(0.0, np.pi, waves), p.uniforms(0.0, TAU, waves)
    field = wave_sum(c, k * np.cos(angle), k * np.sin(angle), phase) * np.float32(np.sqrt(2.0 / waves))
    drift = fbm(p, c.size, 2, 2) * p.uniform(0.0, 2.0)
    mask = np.clip((field - p.uniform(-0.5, 0.5) - drift) * p.uniform(3.0, 8.0) + 0.5, 0.0, 1.0)
    pal = palette(p)
    return mix(pal(0.3 * c.x + 0.2 * c.y), pal(0.5 + 0.3 * c.y - 0.2 * c.x), mask)


# ---------------------------------------------------------------- cellular and tiling families

@family("voronoi")
def voronoi(c: Coords, p: Params) -> np.ndarray:
    """Voronoi cells (F1): each cell a flat palette colour, shaded toward its edges."""
    cells = p.integer(4, 14)
    f1, f2, ids = worley(p, c.size, cells, p.uniform(0.6, 1.0))
    shade = 1.0 - p.uniform(0.3, 0.8) * np.clip(f1, 0.0, 1.0)
    edge = coverage(f2 - f1, 0.04, cells * c.px)
    return palette(p)(p.uniforms(0.0, 1.0, cells * cells)[ids]) * (shade * (1.0 - 0.8 * edge))[..., None]


@family("cell_edges")
def cell_edges(c: Coords, p: Params) -> np.ndarray:
    """F2 - F1 cellular noise: glowing crack lines between cells, distance bands inside."""
    f1, f2, _ = worley(p, c.size, p.integer(3, 10), p.uniform(0.7, 1.0))
    gap = f2 - f1
    glow = np.exp(-gap * p.uniform(8.0, 30.0))
    pal = palette(p)
    return mix(pal(f1 * p.uniform(0.5, 2.0)) * 0.7, pal(0.5 + gap), glow)


@family("hex_grid")
def hex_grid(c: Coords, p: Params) -> np.ndarray:
    """Hexagonal tiling: bevelled hexagons, one palette colour each, with optional rings inside."""
    k = p.uniform(3.0, 10.0)
    ratio = np.float32(np.sqrt(3.0))
    x, y = np.broadcast_arrays(c.x * k + p.uniform(0, 9), c.y * k + p.uniform(0, 9))
    ax, ay = wrap(x, 1.0) - 0.5, wrap(y, ratio) - ratio / 2
    bx, by = wrap(x - 0.5, 1.0) - 0.5, wrap(y - ratio / 2, ratio) - ratio / 2
    first = ax * ax + ay * ay < bx * bx + by * by
    gx, gy = np.where(first, ax, bx), np.where(first, ay, by)
    edge = 0.5 - np.maximum(np.abs(gx) * 0.5 + np.abs(gy) * (ratio / 2), np.abs(gx))  # 0 at the rim
    col, row = np.rint((x - gx) * 2).astype(np.intp) % 64, np.rint((y - gy) / (ratio / 2)).astype(np.intp) % 64
    tone = p.uniforms(0.0, 1.0, (64, 64))[row, col]
    rings = 0.5 + 0.5 * np.cos(edge * p.choice((0.0, 30.0, 60.0)))
    bevel = np.clip(edge * p.uniform(4.0, 12.0), 0.0, 1.0)
    return palette(p)(tone + 0.15 * rings) * (bevel * (0.75 + 0.25 * rings))[..., None]


@family("truchet")
def truchet(c: Coords, p: Params) -> np.ndarray:
    """Truchet tiles: quarter-circle arcs (or diagonals) per cell, flipped at random, joining into tubes."""
    cells = p.integer(4, 14)
    flips = p.uniforms(0.0, 1.0, (cells, cells)) < 0.5
    u, v = (c.x + 1.0) * (0.5 * cells), (c.y + 1.0) * (0.5 * cells)
    fu, fv = u - np.floor(u), v - np.floor(v)
    flip = flips[np.floor(v).astype(np.intp) % cells, np.floor(u).astype(np.intp) % cells]
    fu = np.where(flip, 1.0 - fu, fu)
    if p.integer(0, 3):
        d = np.minimum(np.abs(length(fu, fv) - 0.5), np.abs(length(1.0 - fu, 1.0 - fv) - 0.5))
    else:
        d = np.abs(fu - fv) * np.float32(np.sqrt(0.5))
    width = p.uniform(0.08, 0.22)
    tube = coverage(d, width, 1.5 * cells * c.px / 2) * np.sqrt(np.clip(1.0 - np.square(d / width), 0.0, 1.0))
    pal = palette(p)
    return mix(pal(0.2 * c.y + 0.5) * 0.35, pal(0.4 * c.x + 0.3 * c.y), tube)


@family("checker_warp")
def checker_warp(c: Coords, p: Params) -> np.ndarray:
    """A checkerboard seen through a sine, polar or noise warp of the plane."""
    u, v = p.choice(WARPS)(c, p)
    square = np.clip(np.sin(np.pi * u) * np.sin(np.pi * v) * p.uniform(3.0, 10.0) + 0.5, 0.0, 1.0)
    pal = palette(p)
    return mix(pal(0.05 * u), pal(0.05 * v + 0.5), square)


# Warps map the plane to checker-square units.
def _sine_warp(c: Coords, p: Params) -> tuple[np.ndarray, np.ndarray]:
    k, a, f = p.uniform(4.0, 16.0), p.uniform(0.05, 0.25), p.uniform(2.0, 8.0)
    return k * (c.x + a * np.sin(f * c.y + p.uniform(0, TAU))), k * (c.y + a * np.sin(f * c.x + p.uniform(0, TAU)))


def _polar_warp(c: Coords, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Log-polar: squares shrink toward the centre; integer counts around (and of twist) hide the seam."""
    r, th = polar(c.x - p.uniform(-0.3, 0.3), c.y - p.uniform(-0.3, 0.3))
    around = p.integer(4, 17)
    return np.log(r + 1e-3) * (around / np.pi) + th * (p.integer(-2, 3) / np.pi), th * (around / np.pi)


def _noise_warp(c: Coords, p: Params) -> tuple[np.ndarray, np.ndarray]:
    k, a = p.uniform(4.0, 12.0), p.uniform(0.2, 0.6)
    return k * (c.x + a * fbm(p, c.size, 2, 3)), k * (c.y + a * fbm(p, c.size, 2, 3))


WARPS = (_sine_warp, _polar_warp, _noise_warp)


@family("halftone")
def halftone(c: Coords, p: Params) -> np.ndarray:
    """CMY halftone print of a noise image: one rotated dot screen per ink."""
    image = palette(p)(stretch(fbm(p, c.size, p.integer(1, 4), 3)) * p.uniform(0.5, 1.5))
    freq, base = p.uniform(15.0, 45.0) / 2, p.uniform(0.0, np.pi)
    inks = []
    for ch, turn in enumerate((0.26, 1.31, 0.79)):
        a = base + turn
        u, v = (c.x * np.cos(a) + c.y * np.sin(a)) * freq, (c.y * np.cos(a) - c.x * np.sin(a)) * freq
        d = length(u - np.rint(u), v - np.rint(v))
        radius = np.sqrt(np.clip(1.0 - image[..., ch], 0.0, 1.0)) * 0.72
        inks.append(1.0 - coverage(d, radius, freq * c.px))
    return np.moveaxis(np.stack(inks), 0, -1)


# ---------------------------------------------------------------- wave families

@family("interference")
def interference(c: Coords, p: Params) -> np.ndarray:
    """Circular waves from a few point sources adding up: ripple-tank interference fringes."""
    sources = p.integer(2, 7)
    field = np.zeros((c.size, c.size), np.float32)
    for _ in range(sources):
        r = length(c.x - p.uniform(-1.3, 1.3), c.y - p.uniform(-1.3, 1.3))
        field += np.cos(r * p.uniform(12.0, 50.0) + p.uniform(0.0, TAU))
    return palette(p)(field * (p.uniform(0.15, 0.5) / np.sqrt(sources)))


@family("moire")
def moire(c: Coords, p: Params) -> np.ndarray:
    """Two nearly equal fine gratings (rings or lines) multiplied: large beat fringes appear."""
    k = p.uniform(60.0, 140.0)
    layers = [p.choice(GRATINGS)(c, p, k * p.uniform(0.93, 1.07)) for _ in range(2)]
    product = layers[0] * layers[1]
    beat = stretch(blur(product, 3.0 * c.size / 256))  # the low-pass keeps only the beat fringes
    return palette(p)(beat * p.uniform(0.8, 2.0)) * (0.45 + 0.55 * product)[..., None]


def _rings(c: Coords, p: Params, k: float) -> np.ndarray:
    return 0.5 + 0.5 * np.cos(k * length(c.x - p.uniform(-0.4, 0.4), c.y - p.uniform(-0.4, 0.4)))


def _lines(c: Coords, p: Params, k: float) -> np.ndarray:
    a = p.uniform(-0.15, 0.15) + p.choice((0.0, np.pi / 2))
    return 0.5 + 0.5 * np.cos(k * (c.x * np.cos(a) + c.y * np.sin(a)))


GRATINGS = (_rings, _lines)


@family("plasma")
def plasma(c: Coords, p: Params) -> np.ndarray:
    """Demo-scene plasma: a sum of horizontal, vertical, diagonal and circular sines."""
    f = [p.uniform(2.0, 9.0) for _ in range(4)]
    ph = [p.uniform(0.0, TAU) for _ in range(4)]
    a = p.uniform(0.0, TAU)
    t = (np.sin(c.x * f[0] + ph[0]) + np.sin(c.y * f[1] + ph[1])
         + np.sin((c.x * np.cos(a) + c.y * np.sin(a)) * f[2] + ph[2])
         + np.sin(length(c.x - p.uniform(-1, 1), c.y - p.uniform(-1, 1)) * f[3] + ph[3]))
    return palette(p)(t * p.uniform(0.15, 0.5))


@family("quasicrystal")
def quasicrystal(c: Coords, p: Params) -> np.ndarray:
    """Plane waves at n-fold symmetric angles: quasi-periodic Penrose-like interference."""
    n, k = p.choice((5, 7, 8, 9, 11)), p.uniform(20.0, 60.0)
    angle = np.arange(n, dtype=np.float32) * np.float32(np.pi / n) + p.uniform(0.0, np.pi)
    t = wave_sum(c, k * np.cos(angle), k * np.sin(angle), p.uniforms(0.0, 0.3, n)) / n
    return palette(p)(t * p.uniform(0.8, 2.0))


@family("cosine_gradient")
def cosine_gradient(c: Coords, p: Params) -> np.ndarray:
    """A blend of linear and elliptical radial gradients through a cosine palette, sometimes posterised."""
    a, squash = p.uniform(0.0, TAU), p.uniform(0.5, 2.0)
    radial = length((c.x - p.uniform(-1, 1)) * squash, (c.y - p.uniform(-1, 1)) / squash)
    w = p.uniform(0.0, 1.0)
    t = (w * (c.x * np.cos(a) + c.y * np.sin(a)) + (1.0 - w) * radial) * p.uniform(0.3, 1.2) + p.uniform(0, 1)
    levels = p.choice((0, 0, 4, 6, 8, 12))
    return palette(p)(np.floor(t * levels) / levels if levels else t)


# ---------------------------------------------------------------- polar families

@family("kaleidoscope")
def kaleidoscope(c: Coords, p: Params) -> np.ndarray:
    """n-fold mirror symmetry: the plane folded into one wedge, filled with warped noise."""
    sector = TAU / p.integer(3, 13)
    r, th = polar(c.x, c.y)
    th = np.abs(wrap(th + p.uniform(0, TAU), sector) - sector / 2)
    tex = fbm(p, c.size, p.integer(2, 5), 4)
    scale = p.uniform(0.3, 0.9)
    h = sample(tex, to_texels(c, r * np.cos(th) * scale + p.uniform(-1, 1)),
               to_texels(c, r * np.sin(th) * scale + p.uniform(-1, 1)))
    return palette(p)(stretch(h) * p.uniform(1.0, 3.0) + r * p.uniform(0.0, 1.0))


@family("spiral")
def spiral(c: Coords, p: Params) -> np.ndarray:
    """Logarithmic or Archimedean spiral arms around a random centre."""
    r, th = polar(c.x - p.uniform(-0.4, 0.4), c.y - p.uniform(-0.4, 0.4))
    radial = np.log(r + 1e-3) if p.integer(0, 2) else r * 3.0
    t = p.integer(1, 9) * th / TAU + radial * p.uniform(1.0, 5.0) * p.choice((-1.0, 1.0))
    arms = np.power(0.5 + 0.5 * np.cos(TAU * t), p.uniform(0.5, 3.0))
    return palette(p)(arms * 0.4 + r * p.uniform(0.3, 1.5)) * (0.3 + 0.7 * arms)[..., None]


@family("tunnel")
def tunnel(c: Coords, p: Params) -> np.ndarray:
    """Demo-scene tunnel: a checker texture mapped on (1/r, angle), fading into the vanishing point."""
    r, th = polar(c.x - p.uniform(-0.3, 0.3), c.y - p.uniform(-0.3, 0.3))
    depth = p.uniform(0.6, 1.6) / (r + 0.02) + p.uniform(0, 10)
    around = th * (p.integer(3, 13) / np.pi) + depth * p.uniform(-0.5, 0.5)
    square = np.clip(np.sin(np.pi * depth) * np.sin(np.pi * around) * 6.0 + 0.5, 0.0, 1.0)
    fog = np.clip(r * p.uniform(1.2, 3.0), 0.0, 1.0)
    return palette(p)(depth * 0.1 + square * 0.3) * (fog * (0.5 + 0.5 * square))[..., None]


@family("rose")
def rose(c: Coords, p: Params) -> np.ndarray:
    """Rose curve r = a + cos(n/d theta) drawn as a glowing line."""
    num, den = p.integer(2, 10), p.integer(1, 6)
    th = np.linspace(0.0, TAU * den, 12000, dtype=np.float32)
    r = (p.uniform(0.0, 0.6) + np.cos(th * (num / den))) * p.uniform(0.5, 0.85) / 1.6
    turn = p.uniform(0.0, TAU)
    return glow_curve(c, p, r * np.cos(th + turn), r * np.sin(th + turn))


@family("lissajous")
def lissajous(c: Coords, p: Params) -> np.ndarray:
    """Damped Lissajous figure (a harmonograph): two sines per axis drawn as a glowing line."""
    t = np.linspace(0.0, TAU * p.integer(1, 4), 12000, dtype=np.float32)
    decay = np.exp(-t * p.uniform(0.0, 0.15))
    xs = np.sin(t * p.integer(1, 8) + p.uniform(0, TAU)) + 0.3 * np.sin(t * p.integer(1, 8))
    ys = np.sin(t * p.integer(1, 8)) + 0.3 * np.sin(t * p.integer(1, 8) + p.uniform(0, TAU))
    return glow_curve(c, p, xs * decay * 0.68, ys * decay * 0.68)  # |xs| <= 1.3: keep inside the frame


# ---------------------------------------------------------------- shapes and fractals

@family("sdf_shapes")
def sdf_shapes(c: Coords, p: Params) -> np.ndarray:
    """Circles, boxes and rings melted together by smooth-min, coloured by signed distance with iso-bands."""
    d = p.choice(SHAPES)(c, p)
    for _ in range(p.integer(2, 8)):
        d = smooth_min(d, p.choice(SHAPES)(c, p), p.uniform(0.02, 0.25))
    pal = palette(p)
    col = pal(d * p.uniform(0.5, 2.0) + (d < 0).astype(np.float32) * 0.5)
    col = col * ((1.0 - np.exp(-6.0 * np.abs(d))) * (0.8 + 0.2 * np.cos(d * p.uniform(60.0, 160.0))))[..., None]
    return mix(col, pal(np.float32(0.25)), coverage(np.abs(d), 0.006, c.px))


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: a union of two distance fields with a fillet of radius ~k."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _circle(c: Coords, p: Params) -> np.ndarray:
    return length(c.x - p.uniform(-0.8, 0.8), c.y - p.uniform(-0.8, 0.8)) - p.uniform(0.05, 0.4)


def _ring(c: Coords, p: Params) -> np.ndarray:
    return np.abs(_circle(c, p)) - p.uniform(0.01, 0.06)


def _box(c: Coords, p: Params) -> np.ndarray:
    a = p.uniform(0.0, np.pi)
    x, y = c.x - p.uniform(-0.8, 0.8), c.y - p.uniform(-0.8, 0.8)
    qx = np.abs(x * np.cos(a) + y * np.sin(a)) - p.uniform(0.05, 0.35)
    qy = np.abs(y * np.cos(a) - x * np.sin(a)) - p.uniform(0.05, 0.35)
    return length(np.maximum(qx, 0.0), np.maximum(qy, 0.0)) + np.minimum(np.maximum(qx, qy), 0.0)


SHAPES = (_circle, _ring, _box)


def _escape_colour(c: Coords, p: Params, count: np.ndarray, final: np.ndarray) -> np.ndarray:
    """Smooth escape counts through one palette; bounded orbits darker, by their final |z| plus a gentle
    diagonal gradient (orbits that settle on a fixed point would otherwise give one flat colour)."""
    pal = palette(p)
    inside = np.isnan(count)
    outside = pal(np.sqrt(np.maximum(np.nan_to_num(count), 0.0)) * p.uniform(0.3, 0.8) + p.uniform(0, 1))
    return np.where(inside[..., None], pal(final * p.uniform(0.3, 1.5) + 0.2 * (c.x + c.y)) * 0.45, outside)


@family("julia")
def julia(c: Coords, p: Params) -> np.ndarray:
    """Julia set of z^2 + c with c on the circle |c| = 0.7885, where the sets are connected and intricate."""
    spin = np.complex64(np.exp(1j * p.uniform(0.0, TAU)) * 1.5 / p.uniform(0.8, 1.6))
    z = (c.x + 1j * c.y) * spin
    count, final = escape_time(z, 0.7885 * np.exp(1j * p.uniform(0.0, TAU)), 32)
    return _escape_colour(c, p, count, final)


MANDELBROT_VIEWS = ((-0.6, 0.0, 1.5), (-0.745, 0.113, 40.0), (-0.1, 0.651, 20.0), (0.2925, 0.015, 30.0),
                    (-1.25, 0.02, 15.0), (-0.16, 1.035, 25.0))  # centre re, im, deepest zoom


@family("mandelbrot")
def mandelbrot(c: Coords, p: Params) -> np.ndarray:
    """The Mandelbrot set around one of a few boundary regions, at a random zoom and rotation."""
    re, im, deepest = p.choice(MANDELBROT_VIEWS)
    zoom = np.exp(p.uniform(0.0, np.log(deepest)))
    spin = np.complex64(np.exp(1j * p.uniform(0.0, TAU)) * 1.4 / zoom)
    count, final = escape_time(np.zeros((c.size, c.size), np.complex64), (c.x + 1j * c.y) * spin + complex(re, im), 40)
    return _escape_colour(c, p, count, final)
