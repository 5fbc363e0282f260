"""Pseudo-Motion Generator (PMG): one transform f with intensity theta per clip, applied recursively.

I(t+1) = f(I(t)) is evaluated in closed form: each transform is a per-frame step that composes by powers.
- geometric (identity, slide, zoom, affine, perspective): a 3x3 homography A acting on canvas coordinates u in [-1, 1]^2;
  frame t shows the source through A^-t, so every frame is sampled once from the source image (no blur from
  resampling a resampled frame);
- photometric (fade, color_jitter): a 4x4 affine colour matrix M in RGB; frame t gets M^t;
- cutmix: a box of a partner image pasted at a moving position each step; frame t shows the union of boxes 0..t.

Framing and border policy: the canvas first shows the centred square crop of the source. Before rendering, the view
is re-centred on the bounding box of all frames' footprints and zoomed in (at most max_fit_zoom) until every footprint
lies inside the source image, so most clips never sample outside it. What still falls outside is filled by
`border` (default reflect). Photometric recursions are clipped to [0, 255] once, at the end.

Default per-frame intensity ranges are ours (the paper gives transform families, not numbers); they keep a 16-frame
clip's total motion within about a doubling of scale or a quarter turn, so patches stay traceable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

Params = dict[str, float]


@dataclass(frozen=True)
class Transform:
    """A registered PMG transform: its kind, default per-frame ranges and how to turn parameters into a step."""

    name: str
    kind: str  # geometric | photometric | cutmix
    ranges: dict[str, tuple[float, float]]
    step: Callable[[Params], np.ndarray] | None = None  # params -> 3x3 (geometric) or 4x4 (photometric)


TRANSFORMS: dict[str, Transform] = {}


def register(name: str, kind: str, **ranges: tuple[float, float]) -> Callable:
    def wrap(step: Callable[[Params], np.ndarray] | None) -> Callable:
        TRANSFORMS[name] = Transform(name, kind, dict(ranges), step)
        return step

    return wrap


def translate(tx: float, ty: float) -> np.ndarray:
    return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], dtype=np.float64)


def scale(sx: float, sy: float | None = None) -> np.ndarray:
    return np.diag([sx, sx if sy is None else sy, 1.0])


def rotate(radians: float) -> np.ndarray:
    c, s = np.cos(radians), np.sin(radians)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)


register("identity", "geometric")(lambda p: np.eye(3))


@register("slide", "geometric", speed=(0.03, 0.08), angle=(0.0, 360.0))
def _slide(p: Params) -> np.ndarray:
    """Content translates by `speed` (canvas half-widths) per frame; framing turns it into a moving window."""
    a = np.deg2rad(p["angle"])
    return translate(p["speed"] * np.cos(a), p["speed"] * np.sin(a))


@register("zoom", "geometric", rate=(1.015, 1.045), direction=(-1.0, 1.0), cx=(-0.3, 0.3), cy=(-0.3, 0.3))
def _zoom(p: Params) -> np.ndarray:
    """Scale by rate per frame about (cx, cy); direction < 0 zooms out."""
    s = p["rate"] if p["direction"] >= 0 else 1.0 / p["rate"]
    return translate(p["cx"], p["cy"]) @ scale(s) @ translate(-p["cx"], -p["cy"])


@register("affine", "geometric", rotate=(-3.0, 3.0), tx=(-0.03, 0.03), ty=(-0.03, 0.03), scale=(0.98, 1.02),
          shear=(-2.0, 2.0))
def _affine(p: Params) -> np.ndarray:
    """Rotation and shear in degrees per frame, translation in canvas half-widths, isotropic scale factor."""
    shear = np.array([[1, np.tan(np.deg2rad(p["shear"])), 0], [0, 1, 0], [0, 0, 1]])
    return translate(p["tx"], p["ty"]) @ rotate(np.deg2rad(p["rotate"])) @ shear @ scale(p["scale"])


@register("perspective", "geometric", px=(-0.03, 0.03), py=(-0.03, 0.03), skew=(-0.02, 0.02))
def _perspective(p: Params) -> np.ndarray:
    """A small projective tilt per frame (px, py: the bottom row of the homography)."""
    return np.array([[1, p["skew"], 0], [0, 1, 0], [p["px"], p["py"], 1]], dtype=np.float64)


@register("fade", "photometric", gain=(0.86, 0.95), direction=(-1.0, 1.0))
def _fade(p: Params) -> np.ndarray:
    """Brightness times gain per frame: a fade out; direction < 0 plays it backwards, a fade in ending at the source."""
    return np.diag([p["gain"], p["gain"], p["gain"], 1.0])


@register("color_jitter", "photometric", brightness=(0.96, 1.04), contrast=(0.95, 1.05), saturation=(0.92, 1.08),
          hue=(-0.02, 0.02))
def _color_jitter(p: Params) -> np.ndarray:
    """Brightness/contrast/saturation factors and a hue turn (fraction of a full turn) per frame, as one matrix."""
    luma = np.array([0.299, 0.587, 0.114])
    sat = p["saturation"] * np.eye(3) + (1 - p["saturation"]) * np.outer(np.ones(3), luma)
    hue = _hue_rotation(2 * np.pi * p["hue"])
    gray = 127.5 * (1 - p["contrast"])  # contrast pivots around mid-grey so the step stays affine
    m = np.eye(4)
    m[:3, :3] = p["brightness"] * p["contrast"] * (hue @ sat)
    m[:3, 3] = p["brightness"] * gray
    return m


def _hue_rotation(angle: float) -> np.ndarray:
    """Rotate RGB about the grey axis (keeps grey grey; a linear approximation of an HSV hue shift)."""
    k = np.ones(3) / np.sqrt(3)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.cos(angle) * np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * np.outer(k, k)


register("cutmix", "cutmix", box=(0.25, 0.45), speed=(0.04, 0.1), angle=(0.0, 360.0))(None)


@dataclass(frozen=True)
class Motion:
    """One drawn (f, theta)."""

    transform: str
    params: Params

    def to_json(self, digits: int | None = 6) -> dict[str, Any]:
        """digits=None keeps the exact draw (what a recipe needs to re-render the same pixels)."""
        return {"transform": self.transform,
                "params": {k: v if digits is None else round(v, digits) for k, v in self.params.items()}}


def transform_ranges(name: str, overrides: dict[str, dict[str, list[float]]]) -> dict[str, tuple[float, float]]:
    ranges = dict(TRANSFORMS[name].ranges)
    for key, (lo, hi) in overrides.get(name, {}).items():
        if key not in ranges:
            raise KeyError(f"{name} has no parameter {key!r}; it has {', '.join(ranges) or 'none'}")
        ranges[key] = (float(lo), float(hi))
    return ranges


def sample_motion(rng: np.random.Generator, weights: dict[str, float],
                  overrides: dict[str, dict[str, list[float]]] | None = None) -> Motion:
    """Draw one transform by weight, then each parameter uniformly from its range.

    Names are sorted so that the draw depends on the weights, not on the order they were written in.
    """
    names = sorted(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    name = names[rng.choice(len(names), p=p / p.sum())]
    ranges = transform_ranges(name, overrides or {})
    return Motion(name, {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()})


def canvas_to_pixels(size: int) -> np.ndarray:
    """Map canvas coordinates u in [-1, 1] to output pixel centres (0.5 .. size - 0.5 shifted to 0 .. size - 1)."""
    return translate((size - 1) / 2, (size - 1) / 2) @ scale(size / 2)


def step_homography(motion: Motion, size: int) -> np.ndarray:
    """Per-frame motion in output pixel coordinates: content at pixel q in frame t is at this @ q in frame t+1."""
    c = canvas_to_pixels(size)
    return c @ geometric_step(motion) @ np.linalg.inv(c)


def geometric_step(motion: Motion) -> np.ndarray:
    t = TRANSFORMS[motion.transform]
    return t.step(motion.params) if t.kind == "geometric" else np.eye(3)


def frame_homographies(motion: Motion, src_hw: tuple[int, int], size: int, frames: int,
                       max_fit_zoom: float) -> np.ndarray:
    """(T, 3, 3) maps from output pixels to source pixels for each frame (cv2's WARP_INVERSE_MAP convention)."""
    return frame_homographies_many([motion], [src_hw], size, frames, max_fit_zoom)[0]


def frame_homographies_many(motions: Sequence[Motion], src_hws: Sequence[tuple[int, int]], size: int, frames: int,
                            max_fit_zoom: float) -> np.ndarray:
    """(K, T, 3, 3): frame_homographies of K layers at once, for a loader worker packing a batch (one numpy call
    per step for all layers, where one layer at a time costs ~0.1 ms of Python). Every 3x3 product is the one
    the single-layer maths takes, in the same order, so the results are the same to the bit."""
    step_inv = np.linalg.inv(np.stack([geometric_step(m) for m in motions]))  # (K, 3, 3)
    powers = [np.broadcast_to(np.eye(3), step_inv.shape)]
    for _ in range(frames - 1):
        powers.append(step_inv @ powers[-1])  # A^-t: frame t looks at where its content was at frame 0
    stacked = np.stack(powers, axis=1)  # (K, T, 3, 3)
    view = _framing(stacked, np.array(src_hws, dtype=np.float64), max_fit_zoom)  # (K, 3, 3)
    h, w = np.array(src_hws, dtype=np.float64).T
    canvas_to_src = _translations((w - 1) / 2, (h - 1) / 2) @ _scales(np.minimum(h, w) / 2)
    framed = canvas_to_src @ view  # (K, 3, 3)
    return (framed[:, None] @ stacked) @ np.linalg.inv(canvas_to_pixels(size))


def _translations(tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    """(K, 3, 3) translate(tx[k], ty[k])."""
    m = np.zeros((len(tx), 3, 3))
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = 1.0
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scales(s: np.ndarray) -> np.ndarray:
    """(K, 3, 3) scale(s[k])."""
    m = np.zeros((len(s), 3, 3))
    m[:, 0, 0] = m[:, 1, 1] = s
    m[:, 2, 2] = 1.0
    return m


def _framing(powers: np.ndarray, src_hw: np.ndarray, max_fit_zoom: float) -> np.ndarray:
    """Per layer, re-centre on all footprints' bounding box, then zoom in until they fit inside the source
    (capped). powers (K, T, 3, 3), src_hw (K, 2) -> (K, 3, 3)."""
    corners = np.array([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=np.float64).T
    pts = powers @ corners  # (K, T, 3, 4)
    xy = (pts[:, :, :2] / pts[:, :, 2:3]).transpose(0, 2, 1, 3).reshape(len(powers), 2, -1)  # (K, 2, T * 4)
    top, bottom = xy.max(axis=2), xy.min(axis=2)
    centre = (top + bottom) / 2
    half_extent = np.maximum((top - bottom) / 2, 1e-9)
    room = src_hw[:, ::-1] / src_hw.min(axis=1, keepdims=True)  # the source's half-extent in canvas units
    fit = np.minimum(1.0, np.min(room / half_extent, axis=1))
    return _scales(np.maximum(fit, 1.0 / max_fit_zoom)) @ _translations(-centre[:, 0], -centre[:, 1])


_AFFINE_ROW = np.array([0.0, 0.0, 1.0])
_AFFINE_TOL = 1e-8 + 1e-5 * _AFFINE_ROW  # np.allclose's default atol + rtol * |row|


def is_affine(homs: np.ndarray) -> bool:
    """Every (..., 3, 3) homography has the last row (0, 0, 1), to np.allclose's default tolerance (the test
    written out: np.allclose costs ~40 us a call, and the loader makes one per layer)."""
    return bool((np.abs(homs[..., 2, :] - _AFFINE_ROW) <= _AFFINE_TOL).all())


def color_matrices(motion: Motion, frames: int) -> np.ndarray | None:
    """(T, 4, 4) colour matrices M^t, or None for non-photometric motion. A negative `direction` reverses time."""
    t = TRANSFORMS[motion.transform]
    if t.kind != "photometric":
        return None
    step = t.step(motion.params)
    mats = np.stack([np.linalg.matrix_power(step, k) for k in range(frames)])
    return mats[::-1] if motion.params.get("direction", 1.0) < 0 else mats


def cutmix_boxes(motion: Motion, size: int, frames: int) -> list[tuple[int, int, int, int]] | None:
    """Pixel boxes (x0, y0, x1, y1), one per frame, or None for other transforms.

    Frame t shows the partner inside boxes 0..t: the recursion pastes one box per step and keeps the trail.
    """
    if TRANSFORMS[motion.transform].kind != "cutmix":
        return None
    p = motion.params
    a = np.deg2rad(p["angle"])
    velocity = p["speed"] * np.array([np.cos(a), np.sin(a)])
    start = -velocity * (frames - 1) / 2  # the path is centred on the canvas
    to_px = lambda v: int(np.clip(round((v + 1) / 2 * size), 0, size))  # noqa: E731
    boxes = []
    for t in range(frames):
        cx, cy = start + t * velocity
        boxes.append((to_px(cx - p["box"]), to_px(cy - p["box"]), to_px(cx + p["box"]), to_px(cy + p["box"])))
    return boxes
