"""Shared numeric building blocks for the procedural image programs in shader_families.py.

Provides the pixel coordinate grid (`Coords`, `square_coords`), the parameter recorder (`Params`, which draws every
random number a family uses and remembers it so the source can hash the exact parameters of an image), Inigo
Quilez's cosine palettes a + b*cos(2*pi*(c*t + d)), colour and distance helpers (stretch, mix, coverage, length,
wrap, polar), tileable gradient noise and fBm, bilinear texture sampling, plane-wave sums, cellular (Worley) noise,
escape-time iteration, a separable Gaussian blur and a glowing-curve renderer. Coordinates span [-1, 1] on both axes.

Speed is the design constraint (images feed a video renderer): everything is vectorised float32, noise and plane
waves are computed as separable matrix products on the regular pixel grid, and other coordinates read those
textures back with a bilinear lookup instead of re-evaluating noise per pixel.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
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
