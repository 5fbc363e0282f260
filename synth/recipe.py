"""Recipe samples: a clip stored as its source image(s) and PMG parameters, rendered wherever it is read.

Decoding H.264 is what a training loader pays for on every epoch; rendering from a recipe is cheap on a CPU
and nearly free on a GPU (train/device_render.py), and the shards are several times smaller.

Members of sample KEY (besides KEY.cls when labelled):
- KEY.json: the video sample's metadata with format "recipe" and the exact (unrounded) parameters and lambda,
  plus "layers" (per layer: its image member and its cutmix still member or null) and "motion" (the render's
  MotionConfig: what fresh motion draws from, border and max_fit_zoom);
- KEY.img0.jpg, KEY.img1.jpg: the main and the Mixup partner source, area-reduced to 1.25x the frame side
  (OVERSAMPLE) on the shorter side when larger, never upscaled;
- KEY.cut0.jpg, KEY.cut1.jpg: each layer's cutmix partner still (size x size, the pixels cutmix pastes), stored
  whenever cutmix is among the configured transforms, so fresh motion can draw cutmix as well.
An image equal to an earlier one (the same image drawn twice) is stored once; "layers" points at the first.
Each image is a JPEG at codec.jpeg_quality, or a PNG (.png instead of .jpg) where that is smaller, as for
fractals' flat drawings: then it is also lossless and the recipe re-renders the video frames exactly, for sources
up to 1.25x or over 2.5x the frame side. The video renderer warps sources between the two as they are (the area
reduction would cost it more than it saves), the recipe from their reduction: frames then differ by about a grey
level on photos (bilinear minification from the larger source aliases a little more), in exchange for half the
JPEG bytes and decoding per clip in the loader (bench/input_pipeline.py). From JPEG the re-rendered frames differ
from the video render's by less than H.264 at crf 20 changes them (tests/synth/test_recipe.py measures both).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, replace
from typing import Any, Mapping

import cv2
import numpy as np

from .config import MotionConfig, build_dataclass, plain_data
from .draw import redraw_motion
from .errors import UserError
from .motion import TRANSFORMS, Motion
from .render import render_layers

FLAT_FOR_PNG = 0.9  # flat_share from which a PNG may beat the JPEG
# Recipes store sources reduced to OVERSAMPLE * size whenever larger (synth.render.reduce_source with this
# max_minify), not only past MAX_MINIFY times that as the video renderer does: see the module docstring.
RECIPE_MINIFY = 1.0


@dataclass(frozen=True)
class RecipeLayer:
    """image: (H, W, 3) uint8 RGB reduced source; still: (size, size, 3) uint8 cutmix partner still, or None."""

    image: np.ndarray
    motion: Motion
    still: np.ndarray | None = None


@dataclass(frozen=True)
class RecipeClip:
    """Everything needed to render one sample: layers (1, or 2 for Mixup; lam weighs layers[0]), the rendered
    frames and size, and what fresh motion draws from (seed, index, motion config)."""

    layers: tuple[RecipeLayer, ...]
    lam: float
    frames: int
    size: int
    seed: int
    index: int
    motion: MotionConfig
    label: int | None = None


def is_recipe(members: Mapping[str, Any]) -> bool:
    """A sample's members (WebDataset extension -> bytes) hold a recipe rather than frames."""
    return any(name.startswith("img0.") for name in members)


# ---------------------------------------------------------------------------------------------------- writing

def encode_recipe(clip: RecipeClip, quality: int) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Image members {extension: JPEG bytes} and the json fields that describe them ("layers", "motion")."""
    members: dict[str, bytes] = {}
    by_bytes: dict[bytes, str] = {}

    def store(name: str, rgb: np.ndarray) -> str:
        ext, data = encode_image(rgb, quality)
        if data not in by_bytes:
            members[f"{name}.{ext}"], by_bytes[data] = data, f"{name}.{ext}"
        return by_bytes[data]

    layers = [{"image": store(f"img{i}", layer.image),
               "still": None if layer.still is None else store(f"cut{i}", layer.still)}
              for i, layer in enumerate(clip.layers)]
    return members, {"layers": layers, "motion": plain_data(dataclasses.asdict(clip.motion))}


def encode_image(rgb: np.ndarray, quality: int) -> tuple[str, bytes]:
    """(extension, bytes): JPEG at `quality`, or PNG where that is smaller, which is then also lossless.

    PNG is only tried for flat drawings (FLAT_FOR_PNG): a PNG costs 10-50x a JPEG to encode and loses to it on
    photos and shader images by 3-7x, while on FractalDB's drawings it is 2.4x smaller.
    """
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    if flat_share(rgb) >= FLAT_FOR_PNG:
        ok, png = cv2.imencode(".png", bgr)
        if ok and len(png) < len(jpg):
            return "png", png.tobytes()
    return "jpg", jpg.tobytes()


def flat_share(rgb: np.ndarray) -> float:
    """Share of values equal to their left neighbour, on every 4th row: about 0.95 for fractals on black, under
    0.85 for photos and shader images."""
    rows = rgb[::4]
    return np.count_nonzero(rows[:, 1:] == rows[:, :-1]) / max(rows[:, 1:].size, 1)


# ---------------------------------------------------------------------------------------------------- reading

def decode_recipe(members: Mapping[str, Any]) -> RecipeClip:
    """A recipe sample's members -> RecipeClip; ValueError for anything missing or undecodable (corrupt data)."""
    try:
        meta = json.loads(members["json"])
        mix = meta["mixup"]
        motions = [_motion(meta)] + ([_motion(mix)] if mix else [])
        entries = meta["layers"]
        if len(entries) != len(motions):
            raise ValueError(f"{len(entries)} layers for {len(motions)} motions")
        layers = tuple(RecipeLayer(decode_image(members, e["image"]), m,
                                   decode_image(members, e["still"]) if e["still"] else None)
                       for e, m in zip(entries, motions))
        return RecipeClip(layers, float(mix["lambda"]) if mix else 1.0, int(meta["frames"]), int(meta["size"]),
                          int(meta["seed"]), int(meta["index"]), build_dataclass(MotionConfig, meta["motion"], "motion"),
                          meta.get("label"))
    except (KeyError, TypeError, AttributeError, UserError) as e:
        raise ValueError(f"recipe json is incomplete or malformed ({type(e).__name__}: {e})") from None


def _motion(entry: Mapping[str, Any]) -> Motion:
    name, params = entry["transform"], entry["params"]
    if name not in TRANSFORMS or set(params) != set(TRANSFORMS[name].ranges):
        raise ValueError(f"recipe names transform {name!r} with parameters {sorted(params)}")
    return Motion(name, {k: float(v) for k, v in params.items()})


def decode_image(members: Mapping[str, Any], name: str) -> np.ndarray:
    """Member `name` (a JPEG or PNG) as (H, W, 3) uint8 RGB."""
    if name not in members:
        raise ValueError(f"recipe member {name} is missing")
    rgb = cv2.imdecode(np.frombuffer(members[name], np.uint8), cv2.IMREAD_COLOR_RGB)  # RGB straight from libjpeg
    if rgb is None:
        raise ValueError(f"{name}: not a decodable image")
    return rgb


# -------------------------------------------------------------------------------------------------- rendering

def fresh_motion(clip: RecipeClip, epoch: int) -> RecipeClip:
    """The same images with the motions and lambda drawn for `epoch` (synth.draw.redraw_motion)."""
    motions, lam = redraw_motion(clip.motion, clip.seed, clip.index, epoch)
    return replace(clip, layers=tuple(replace(layer, motion=m) for layer, m in zip(clip.layers, motions)), lam=lam)


def still_at(still: np.ndarray, size: int) -> np.ndarray:
    """A cutmix still at another frame size (rendering a recipe at a size other than the one it was made for)."""
    if still.shape[0] == size:
        return still
    interpolation = cv2.INTER_AREA if still.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(still, (size, size), interpolation=interpolation)


def render_recipe(clip: RecipeClip, frames: int | None = None, size: int | None = None) -> np.ndarray:
    """(T, S, S, 3) uint8 RGB on the CPU with synth's own renderer, at the recipe's frames and size by default.

    Other frame counts and sizes render directly (the motion is resolution-free); the framing fits the frames
    asked for, so a shorter clip is not exactly the first frames of the longer one.
    """
    frames, size = frames or clip.frames, size or clip.size
    cutmix = [TRANSFORMS[layer.motion.transform].kind == "cutmix" for layer in clip.layers]
    if any(c and layer.still is None for c, layer in zip(cutmix, clip.layers)):
        raise ValueError("recipe draws cutmix but stores no partner still")
    layers = [(layer.image, layer.motion, still_at(layer.still, size) if c else None)
              for c, layer in zip(cutmix, clip.layers)]
    rgbx = render_layers(layers, clip.lam, frames=frames, size=size, border=clip.motion.border,
                         max_fit_zoom=clip.motion.max_fit_zoom)
    return np.ascontiguousarray(rgbx[..., :3])
