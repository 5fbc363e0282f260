"""synthmotion: a built-in, offline action-recognition PROXY benchmark (not a real one; reports must say so).

Why it exists: the fine-tuning loop has to run anywhere, a 2-core CI runner included, with no download. A clip
shows one object, cut from a photo, moving over a static background photo; the class is the motion, not the object.
The photos are the ones bundled inside the scikit-image wheel, which no pre-training source here uses.

Order-only classes. Each class is a base path (a sequence of object states) shown in a frame order:
`move_left` is `move_right` played backwards, `right_then_left` is `left_then_right` rolled by half a clip, and
so on (`CLASS_MOTIONS`). A class and its partner therefore show the same multiset of frames for the same draw: no
single frame, and no bag of frames, tells them apart; only the order does. Translating objects wrap around the
frame edges (a torus), and the rotation angle starts anywhere on the circle, so even the object's position or angle
at a known frame index is uniform and uninformative. Scale cannot wrap: for approach/recede the size at a known
frame index is partly informative (an image model shown one frame is not told its index). A single frame can at best
tell which pair a clip belongs to (6 of the 12 classes, so 50% accuracy, against 8.3% chance).

Splits: every photo belongs to exactly one split (`PHOTO_SPLITS`); a split's clips take objects and backgrounds
from its own photos only, so test clips show objects and backgrounds never seen in train. A clip is a pure function
of (config, split, index); its class is index % len(CLASSES), so splits are exactly class-balanced.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from synth.codec import encode
from synth.config import CodecConfig
from synth.errors import UserError

NAME = "synthmotion"
PROXY_NOTE = ("synthmotion is a synthetic proxy benchmark (cut-out photo objects moving over photo backgrounds); "
              "its accuracies are not comparable with real action-recognition benchmarks")
SPLITS = ("train", "test")
CODEC = CodecConfig()  # H.264 yuv420p, the project's default crf and preset


@dataclass(frozen=True)
class SynthMotionConfig:
    """frames per clip, size (square side, pixels), clips per class in each split, seed of every draw, fps of MP4s.

    The defaults give 1200 train and 360 test clips: small enough to fine-tune on a CPU in minutes, and a test set
    whose accuracy has a standard error of about 2.5 points.
    """

    frames: int = 16
    size: int = 64
    train_per_class: int = 100
    test_per_class: int = 30
    seed: int = 0
    fps: int = 8

    def validate(self) -> "SynthMotionConfig":
        checks = [
            (self.frames >= 4, "synthmotion frames must be at least 4 (a motion needs a few frames to show)"),
            (self.size >= 16 and self.size % 2 == 0, "synthmotion size must be an even number of pixels >= 16"),
            (self.train_per_class >= 1 and self.test_per_class >= 1, "synthmotion clips per class must be >= 1"),
            (self.fps >= 1, "synthmotion fps must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        return self

    def count(self, split: str) -> int:
        """Clips in a split: clips per class times the number of classes."""
        per_class = {"train": self.train_per_class, "test": self.test_per_class}
        if split not in per_class:
            raise UserError(f"synthmotion split {split!r}: unknown; choose one of {', '.join(SPLITS)}")
        return per_class[split] * len(CLASSES)


# ---------------------------------------------------------------------------------------------- photos and cut-outs

@dataclass(frozen=True)
class Cut:
    """An object cut from a bundled photo: box = (top, left, bottom, right) as fractions of the photo.

    mask: a MASKS name. fill: paint the object one colour (for silhouettes, whose photo has no texture).
    """

    photo: str
    box: tuple[float, float, float, float]
    mask: str = "ellipse"
    fill: tuple[int, int, int] | None = None


# Photo name -> split. Train and test share no photo, neither as object nor as background.
PHOTO_SPLITS = {
    "astronaut": "train", "chelsea": "train", "coffee": "train", "coins": "train", "horse": "train",
    "rocket": "train", "brick": "train", "grass": "train", "moon": "train", "page": "train", "camera": "train",
    "logo": "test", "colorwheel": "test", "stereo_motorcycle": "test", "cell": "test", "clock": "test",
    "immunohistochemistry": "test", "gravel": "test", "text": "test", "retina": "test",
    "hubble_deep_field": "test", "microaneurysms": "test",
}
CUTS = {
    "astronaut_head": Cut("astronaut", (0.0, 0.28, 0.45, 0.68)),
    "cat_face": Cut("chelsea", (0.0, 0.18, 1.0, 0.82)),
    "coffee_cup": Cut("coffee", (0.02, 0.02, 0.98, 0.78)),
    "coin_figure": Cut("coins", (0.053, 0.794, 0.237, 0.946)),
    "coin_medusa": Cut("coins", (0.561, 0.49, 0.715, 0.616)),
    "coin_profile": Cut("coins", (0.578, 0.208, 0.715, 0.326)),
    "horse": Cut("horse", (0.0, 0.0, 1.0, 1.0), mask="dark", fill=(150, 82, 40)),
    "rocket": Cut("rocket", (0.25, 0.36, 0.97, 0.58)),
    "logo": Cut("logo", (0.0, 0.0, 1.0, 1.0)),
    "colorwheel": Cut("colorwheel", (0.0, 0.0, 1.0, 1.0)),
    "motorcycle": Cut("stereo_motorcycle", (0.28, 0.03, 0.99, 0.99)),
    "cell": Cut("cell", (0.42, 0.58, 0.72, 0.92)),
    "clock": Cut("clock", (0.22, 0.33, 0.74, 0.75)),
    "gland": Cut("immunohistochemistry", (0.5, 0.5, 0.95, 0.95)),
}
BACKGROUNDS = ("brick", "grass", "moon", "page", "camera", "gravel", "text", "retina", "hubble_deep_field",
               "microaneurysms")


def split_cuts(split: str) -> list[str]:
    return sorted(name for name, cut in CUTS.items() if PHOTO_SPLITS[cut.photo] == split)


def split_backgrounds(split: str) -> list[str]:
    return sorted(name for name in BACKGROUNDS if PHOTO_SPLITS[name] == split)


def split_photos(split: str) -> set[str]:
    """Every photo a split's clips may show (objects and backgrounds)."""
    return {CUTS[c].photo for c in split_cuts(split)} | set(split_backgrounds(split))


def _skimage() -> Any:
    """scikit-image, whose wheel ships the photos (only bundled ones are used: nothing is downloaded)."""
    try:
        import skimage.data
    except ImportError:
        raise UserError("synthmotion needs scikit-image for its photos: pip install 'pseudomotion[eval]'") from None
    return skimage


@lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photo as (H, W, 3) uint8 RGB (grey and binary images repeated over channels)."""
    image = getattr(_skimage().data, name)()
    image = np.asarray(image[0] if isinstance(image, tuple) else image)  # stereo pairs: the left view
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def _ellipse(rgb: np.ndarray) -> np.ndarray:
    """Soft ellipse inscribed in the crop; the edge fades over the outer 8% of the radius."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    r = np.hypot((xx + 0.5) / (w / 2) - 1, (yy + 0.5) / (h / 2) - 1)
    return np.clip((1 - r) / 0.08, 0, 1)


def _dark(rgb: np.ndarray) -> np.ndarray:
    """Silhouette: the dark pixels of a black-on-white drawing."""
    return (rgb.mean(axis=2) < 128).astype(np.float32)


MASKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"ellipse": _ellipse, "dark": _dark}


@lru_cache(maxsize=None)
def cut_patch(name: str, side: int) -> np.ndarray:
    """(side, side, 4) float32 object patch: premultiplied RGB in 0..255 and alpha in 0..1, box centred.

    Premultiplied so that warping does not bleed the photo around the object into its soft edge.
    """
    cut = CUTS[name]
    photo = load_photo(cut.photo)
    h, w = photo.shape[:2]
    top, left, bottom, right = (round(f * n) for f, n in zip(cut.box, (h, w, h, w)))
    rgb = photo[top:bottom, left:right].astype(np.float32)
    alpha = MASKS[cut.mask](rgb)
    if cut.fill is not None:
        shade = np.linspace(1.15, 0.8, rgb.shape[0], dtype=np.float32)[:, None, None]  # lit from above
        rgb = np.clip(np.float32(cut.fill) * shade, 0, 255) * np.ones_like(rgb)
    rgba = np.dstack([rgb * alpha[..., None], alpha])
    ph, pw = rgba.shape[:2]
    pad = max(ph, pw)
    square = np.zeros((pad, pad, 4), np.float32)
    square[(pad - ph) // 2:(pad - ph) // 2 + ph, (pad - pw) // 2:(pad - pw) // 2 + pw] = rgba
    return cv2.resize(square, (side, side), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=None)
def background_photo(name: str, size: int) -> np.ndarray:
    """The photo area-reduced so its shorter side is 2 * size: clip backgrounds are crops of 1x to 2x zoom."""
    photo = load_photo(name)
    h, w = photo.shape[:2]
    f = 2 * size / min(h, w)
    return cv2.resize(photo, (max(2 * size, round(w * f)), max(2 * size, round(h * f))),
                      interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


# ------------------------------------------------------------------------------------------------------ motions
# A path draws the object's state per frame, (T, 4): centre x, centre y (fractions of the frame, +y down),
# diameter (the cut's longer side, as a fraction of the frame side) and angle (degrees, counter-clockwise on screen).
X, Y, DIAMETER, ANGLE = range(4)
PathFn = Callable[[np.random.Generator, int], np.ndarray]


@dataclass(frozen=True)
class MotionPath:
    """A registered base path: how to draw its states, and whether the object wraps around the frame edges."""

    draw: PathFn
    wrap: bool  # positions are taken modulo the frame: the object leaves one edge and enters the opposite one


PATHS: dict[str, MotionPath] = {}


def path(name: str, wrap: bool) -> Callable[[PathFn], PathFn]:
    def register(draw: PathFn) -> PathFn:
        PATHS[name] = MotionPath(draw, wrap)
        return draw

    return register


def _still(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A resting object, fully inside the frame: centre in the middle half, a random size and a slight tilt."""
    x, y = rng.uniform(0.25, 0.75, size=2)
    state = np.array([x, y, rng.uniform(0.3, 0.45), rng.uniform(-15, 15)])
    return np.tile(state, (frames, 1))


def _time(frames: int) -> np.ndarray:
    """Clip time per frame: 0 at the first frame, 1 at the last, so path speeds do not depend on frame count."""
    return np.linspace(0.0, 1.0, frames)


@path("slide", wrap=True)
def slide(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Constant velocity to the right, 0.3 to 0.6 of the frame over the clip, from anywhere on the (wrapped) axis."""
    states = _still(rng, frames)
    states[:, X] = rng.uniform() + rng.uniform(0.3, 0.6) * _time(frames)
    return states


@path("fall", wrap=True)
def fall(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Downwards from rest, constant acceleration (free fall), 0.4 to 0.7 of the frame over the clip."""
    states = _still(rng, frames)
    states[:, Y] = rng.uniform() + rng.uniform(0.4, 0.7) * _time(frames) ** 2
    return states


@path("accelerate", wrap=True)
def accelerate(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Horizontal, from rest, constant acceleration; left or right at random so only the speed profile is the class."""
    states = _still(rng, frames)
    states[:, X] = rng.uniform() + rng.choice([-1, 1]) * rng.uniform(0.4, 0.7) * _time(frames) ** 2
    return states


@path("swing", wrap=True)
def swing(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Right-most at the start, left-most mid-clip, nearly back at the end: a period of a cosine (amplitude 0.12-0.22).

    Periodic over the clip, so rolling the frames by half a clip (even frame counts) gives the mirror motion exactly.
    """
    states = _still(rng, frames)
    states[:, X] = rng.uniform() + rng.uniform(0.12, 0.22) * np.cos(2 * np.pi * np.arange(frames) / frames)
    return states


@path("zoom", wrap=False)
def zoom(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Growing at a constant rate (a 1.8x to 2.4x size change), within diameters 0.1 to 1.2 of the frame."""
    states = _still(rng, frames)
    growth = rng.uniform(1.8, 2.4)
    start = np.exp(rng.uniform(np.log(0.1), np.log(1.2 / growth)))
    states[:, DIAMETER] = start * growth ** _time(frames)
    return states


@path("spin", wrap=False)
def spin(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Clockwise on screen, 120 to 200 degrees over the clip, from an angle anywhere on the circle."""
    states = _still(rng, frames)
    states[:, ANGLE] = rng.uniform(0, 360) - rng.uniform(120, 200) * _time(frames)
    return states


ORDERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "forward": lambda states: states,
    "reverse": lambda states: states[::-1].copy(),
    "half_roll": lambda states: np.roll(states, -(len(states) // 2), axis=0),
}
# Class -> (base path, frame order). Partners share a path, so they differ only in the order of their frames.
CLASS_MOTIONS = {
    "move_left": ("slide", "reverse"),
    "move_right": ("slide", "forward"),
    "move_up": ("fall", "reverse"),  # rising and slowing down, as a thrown object
    "move_down": ("fall", "forward"),  # falling and speeding up
    "approach": ("zoom", "forward"),
    "recede": ("zoom", "reverse"),
    "rotate_cw": ("spin", "forward"),
    "rotate_ccw": ("spin", "reverse"),
    "left_then_right": ("swing", "forward"),
    "right_then_left": ("swing", "half_roll"),
    "speed_up": ("accelerate", "forward"),
    "slow_down": ("accelerate", "reverse"),
}
# Sorted, so label ids agree with folder readers, which number class folders in sorted order.
CLASSES: list[str] = sorted(CLASS_MOTIONS)
ORDER_PAIRS: list[tuple[str, str]] = [(a, b) for i, a in enumerate(CLASSES) for b in CLASSES[i + 1:]
                                      if CLASS_MOTIONS[a][0] == CLASS_MOTIONS[b][0]]


def trajectory(cls: str, rng: np.random.Generator, frames: int) -> np.ndarray:
    """(frames, 4) object states of one clip of class `cls` (columns X, Y, DIAMETER, ANGLE)."""
    base, order = CLASS_MOTIONS[cls]
    return ORDERS[order](PATHS[base].draw(rng, frames))


# ------------------------------------------------------------------------------------------------------- clips

@dataclass(frozen=True, eq=False)  # holds an array: compare fields, not specs
class ClipSpec:
    """Everything drawn for one clip; rendering it involves no randomness."""

    label: int
    cut: str
    background: str
    states: np.ndarray  # (T, 4), see trajectory()
    wrap: bool
    window: tuple[float, float, float]  # background crop: left, top (fractions of the slack), side (of shorter side)
    tint: tuple[float, float, float]  # per-channel gain on the background, so grey photos get a colour cast
    flip_object: bool
    flip_background: bool

    @property
    def photos(self) -> set[str]:
        return {CUTS[self.cut].photo, self.background}


def clip_spec(cfg: SynthMotionConfig, split: str, index: int) -> ClipSpec:
    """The draws of clip `index` of `split`, a pure function of (cfg, split, index)."""
    if not 0 <= index < cfg.validate().count(split):
        raise IndexError(f"synthmotion {split} has {cfg.count(split)} clips; index {index} is out of range")
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), index])
    label = index % len(CLASSES)
    cuts, backgrounds = split_cuts(split), split_backgrounds(split)
    return ClipSpec(
        label=label,
        cut=cuts[rng.integers(len(cuts))],
        background=backgrounds[rng.integers(len(backgrounds))],
        states=trajectory(CLASSES[label], rng, cfg.frames),
        wrap=PATHS[CLASS_MOTIONS[CLASSES[label]][0]].wrap,
        window=(rng.uniform(), rng.uniform(), rng.uniform(0.5, 1.0)),
        tint=tuple(rng.uniform(0.75, 1.0, size=3)),
        flip_object=bool(rng.integers(2)),
        flip_background=bool(rng.integers(2)),
    )


def background_frame(spec: ClipSpec, size: int) -> np.ndarray:
    """(size, size, 3) float32 crop of the background photo, flipped and tinted as drawn."""
    photo = background_photo(spec.background, size)
    h, w = photo.shape[:2]
    left, top, fraction = spec.window
    side = max(size, round(fraction * min(h, w)))
    x0, y0 = round(left * (w - side)), round(top * (h - side))
    crop = cv2.resize(photo[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA)
    if spec.flip_background:
        crop = crop[:, ::-1]
    return crop.astype(np.float32) * np.float32(spec.tint)


def _offsets(centre: float, radius: float, wrap: bool) -> list[int]:
    """Whole-frame shifts at which a wrapped object must also be drawn to show the part past an edge."""
    if not wrap:
        return [0]
    return [shift for shift, needed in ((0, True), (-1, centre + radius > 1), (1, centre - radius < 0)) if needed]


def render(spec: ClipSpec, size: int) -> np.ndarray:
    """(T, size, size, 3) uint8: the cut-out alpha-blended over the background at each frame's state."""
    patch = cut_patch(spec.cut, size)
    if spec.flip_object:
        patch = np.ascontiguousarray(patch[:, ::-1])
    middle = (size - 1) / 2
    background = background_frame(spec, size)
    out = np.empty((len(spec.states), size, size, 3), np.uint8)
    for t, (x, y, diameter, angle) in enumerate(spec.states):
        if spec.wrap:
            x, y = x % 1.0, y % 1.0
        frame = background
        radius = diameter / np.sqrt(2)  # half the diagonal of the rotated square patch
        for dx in _offsets(x, radius, spec.wrap):
            for dy in _offsets(y, radius, spec.wrap):
                m = cv2.getRotationMatrix2D((middle, middle), float(angle), float(diameter))
                m[:, 2] += ((x + dx) * size - 0.5 - middle, (y + dy) * size - 0.5 - middle)
                fg = cv2.warpAffine(patch, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                frame = frame * (1 - fg[..., 3:]) + fg[..., :3]
        out[t] = np.clip(frame + 0.5, 0, 255)
    return out


def make_clip(cfg: SynthMotionConfig, split: str, index: int) -> tuple[np.ndarray, int]:
    """Clip `index` of `split`: ((T, H, W, 3) uint8 RGB, class label), the same bytes on every call."""
    spec = clip_spec(cfg, split, index)
    return render(spec, cfg.size), spec.label


class SynthMotion(Dataset):
    """A split as a map-style Dataset of (uint8 (T, H, W, 3) tensor, label, index), rendered on access."""

    def __init__(self, cfg: SynthMotionConfig, split: str):
        self.cfg = cfg.validate()
        self.split = split
        self.length = cfg.count(split)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        clip, label = make_clip(self.cfg, self.split, index)
        return torch.from_numpy(clip), label, index


# ------------------------------------------------------------------------------------------------- on disk

def describe(cfg: SynthMotionConfig) -> dict[str, Any]:
    """What synthmotion.json records: config, classes, the split rule and the photos each split uses."""
    return {
        "name": NAME,
        "note": PROXY_NOTE,
        "config": dataclasses.asdict(cfg),
        "classes": CLASSES,
        "order_pairs": ORDER_PAIRS,
        "class_motions": {cls: {"path": base, "frame_order": order} for cls, (base, order) in CLASS_MOTIONS.items()},
        "layout": "{split}/{class}/{index:05d}.mp4; label = index % len(classes)",
        "codec": dataclasses.asdict(CODEC),
        "photo_source": f"scikit-image {_skimage().__version__} bundled data (skimage.data)",
        "split_rule": "each photo belongs to one split; a split's objects and backgrounds come only from its photos",
        "splits": {split: {"clips": cfg.count(split),
                           "objects": {name: CUTS[name].photo for name in split_cuts(split)},
                           "backgrounds": split_backgrounds(split),
                           "photos": sorted(split_photos(split))} for split in SPLITS},
    }


def write_synthmotion(root: str | Path, cfg: SynthMotionConfig) -> Path:
    """Write every clip as H.264 MP4 under root/{train,test}/<class>/, then root/synthmotion.json; returns root.

    The tree is built in root.partial and renamed into place, so root never holds half a dataset. Writing the same
    tree again is a no-op; any other non-empty root is refused rather than mixed with stale files.
    """
    root, meta = Path(root), json.loads(json.dumps(describe(cfg.validate())))
    if (root / f"{NAME}.json").exists() and json.loads((root / f"{NAME}.json").read_text()) == meta:
        return root
    if root.exists() and any(root.iterdir()):
        raise UserError(f"{root}: folder is not empty and holds no synthmotion tree of this config; "
                        "choose an empty or new folder")
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted run of this function
    for split in SPLITS:
        for index in range(cfg.count(split)):
            clip, label = make_clip(cfg, split, index)
            target = partial / split / CLASSES[label] / f"{index:05d}.mp4"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(encode(clip, cfg.fps, CODEC)["mp4"])
    (partial / f"{NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    if root.exists():
        root.rmdir()  # empty, checked above
    partial.rename(root)
    return root
