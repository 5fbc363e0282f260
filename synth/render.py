"""Pixels: render a pseudo-motion clip from a source image and a drawn Motion (cv2, uint8, no torch)."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .motion import Motion, color_matrices, cutmix_boxes, frame_homographies, is_affine

BORDERS = {"reflect": cv2.BORDER_REFLECT_101, "replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}

# Sources whose shorter side exceeds MAX_MINIFY * OVERSAMPLE * size are first area-reduced to OVERSAMPLE * size:
# bilinear warps alias when they shrink by much more than 2x, and smaller sources warp faster. Sources below that
# are warped as they are (an area resize costs more than the warps it would save).
OVERSAMPLE = 1.25
MAX_MINIFY = 2.0


def reduce_source(rgb: np.ndarray, size: int, *, max_minify: float = MAX_MINIFY) -> np.ndarray:
    """The RGB source as the renderer samples it: area-reduced to OVERSAMPLE * size on the shorter side when it
    is over max_minify times that, else unchanged (never upscaled). Idempotent for any max_minify >= 1, and the
    renderer's own reduction leaves a source reduced with max_minify=1 (what recipe shards store) as it is."""
    h, w = rgb.shape[:2]
    limit = round(OVERSAMPLE * size)
    if min(h, w) > max_minify * limit:
        f = limit / min(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return rgb


def prepare_source(rgb: np.ndarray, size: int) -> np.ndarray:
    """reduce_source plus a padding channel.

    OpenCV's warps have a vectorised path for 4-channel uint8 that is over twice as fast as 3-channel.
    """
    return cv2.cvtColor(reduce_source(rgb, size), cv2.COLOR_RGB2RGBA)


def partner_still(partner: np.ndarray, size: int, *, border: str = "reflect",
                  max_fit_zoom: float = 1.5) -> np.ndarray:
    """(size, size, 4) RGBX: the cutmix partner's still frame, the pixels cutmix pastes into the clip."""
    return warp_frames(prepare_source(partner, size), Motion("identity", {}), frames=1, size=size, border=border,
                       max_fit_zoom=max_fit_zoom)[0]


def render_clip(rgb: np.ndarray, motion: Motion, *, frames: int, size: int, border: str = "reflect",
                max_fit_zoom: float = 1.5, partner: np.ndarray | None = None,
                still: np.ndarray | None = None) -> np.ndarray:
    """(T, size, size, 3) uint8 clip of `motion` applied recursively to `rgb`.

    cutmix needs the second image: `partner` (any size), or `still`, its (size, size, 3 or 4) partner_still.
    Both are ignored for other transforms.
    """
    clip = render_rgbx(rgb, motion, frames=frames, size=size, border=border, max_fit_zoom=max_fit_zoom,
                       partner=partner, still=still)
    return np.ascontiguousarray(clip[..., :3])


def render_rgbx(rgb: np.ndarray, motion: Motion, *, frames: int, size: int, border: str = "reflect",
                max_fit_zoom: float = 1.5, partner: np.ndarray | None = None,
                still: np.ndarray | None = None) -> np.ndarray:
    """As render_clip, but (T, size, size, 4) with a padding 4th channel: the layout OpenCV's fast paths want.

    The sample pipeline stays in this layout through Mixup and converts once, when encoding.
    """
    src = prepare_source(rgb, size)
    clip = warp_frames(src, motion, frames=frames, size=size, border=border, max_fit_zoom=max_fit_zoom)
    colors = color_matrices(motion, frames)
    if colors is not None:
        for t in range(frames):
            cv2.transform(clip[t], _rgbx_matrix(colors[t]), dst=clip[t])  # affine per pixel, saturating
    boxes = cutmix_boxes(motion, size, frames)
    if boxes is not None:
        if still is None:
            if partner is None:
                raise ValueError("cutmix needs a partner image")
            still = partner_still(partner, size, border=border, max_fit_zoom=max_fit_zoom)
        if still.shape[2] == 3:
            still = cv2.cvtColor(still, cv2.COLOR_RGB2RGBA)
        for t in range(frames):
            for x0, y0, x1, y1 in boxes[: t + 1]:
                clip[t, y0:y1, x0:x1] = still[y0:y1, x0:x1]
    return clip


def _rgbx_matrix(color: np.ndarray) -> np.ndarray:
    """A 4x4 RGB affine colour matrix as the 4x5 matrix cv2.transform applies to RGBX pixels (X passes through)."""
    m = np.zeros((4, 5))
    m[:3, :3], m[:3, 4], m[3, 3] = color[:3, :3], color[:3, 3], 1.0
    return m


def warp_frames(src: np.ndarray, motion: Motion, *, frames: int, size: int, border: str,
                max_fit_zoom: float) -> np.ndarray:
    """Sample every frame once from the RGBX source through its homography -> (T, size, size, 4) uint8."""
    homs = frame_homographies(motion, src.shape[:2], size, frames, max_fit_zoom)
    affine = is_affine(homs)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = np.empty((frames, size, size, 4), dtype=np.uint8)
    for t in range(frames):
        if affine:
            cv2.warpAffine(src, homs[t][:2], (size, size), dst=out[t], flags=flags, borderMode=BORDERS[border])
        else:
            cv2.warpPerspective(src, homs[t], (size, size), dst=out[t], flags=flags, borderMode=BORDERS[border])
    return out


def render_layers(layers: Sequence[tuple[np.ndarray, Motion, np.ndarray | None]], lam: float, *, frames: int,
                  size: int, border: str = "reflect", max_fit_zoom: float = 1.5) -> np.ndarray:
    """(T, size, size, 4) RGBX clip of one or two (source rgb, motion, cutmix still) layers, Mixup-ed with weight
    lam on the first: what a sample shows, for the video and the recipe path alike."""
    clips = [render_rgbx(rgb, motion, frames=frames, size=size, border=border, max_fit_zoom=max_fit_zoom,
                         still=still) for rgb, motion, still in layers]
    return clips[0] if len(clips) == 1 else mixup(clips[0], clips[1], lam)


def mixup(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    """Frame-wise Mixup: lam * a + (1 - lam) * b with one lambda for every frame, rounded to uint8."""
    out = np.empty_like(a)
    flat = (a.shape[0] * a.shape[1], -1)  # one call over all frames: rows = frames x height
    cv2.addWeighted(a.reshape(flat), lam, b.reshape(flat), 1.0 - lam, 0.0, dst=out.reshape(flat))
    return out
