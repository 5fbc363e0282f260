"""Procedural image programs ("shaders") in numpy, registered by name, in the spirit of Shaders1k.

A family is a pure function (Coords, Params) -> float32 RGB (H, W, 3) in [0, 1]. Coordinates span [-1, 1] on both
axes; `Params` draws every random number a family uses and remembers it, so the source can hash the exact
parameters of an image. Colour comes from Inigo Quilez's cosine palettes a + b*cos(2*pi*(c*t + d)). The shared
numeric building blocks (coordinates, parameters, palettes, noise, sampling, blur) live in shader_ops.py.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

import numpy as np

from .shader_ops import (TAU, Coords, Params, blur, coverage, escape_time, fbm, glow_curve, length, mix, palette,
                         perlin, polar, sample, stretch, to_texels, wave_sum, worley, wrap)

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
