"""Pixels: render a pseudo-motion clip from a source image and a drawn Motion (cv2, uint8, no torch)."""
from __future__ import annotations

import cv2
import numpy as np

from .motion import Motion, color_matrices, cutmix_boxes, frame_homographies

BORDERS = {"reflect": cv2.BORDER_REFLECT_101, "replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}

# Sources whose shorter side exceeds MAX_MINIFY * OVERSAMPLE * size are first area-reduced to OVERSAMPLE * size:
# bilinear warps alias when they shrink by much more than 2x, and smaller sources warp faster. Sources below that
# are warped as they are (an area resize costs more than the warps it would save).
OVERSAMPLE = 1.25
MAX_MINIFY = 2.0


def prepare_source(rgb: np.ndarray, size: int) -> np.ndarray:
    """Area-downscale large sources (see OVERSAMPLE; never upscale) and add a padding channel.

    OpenCV's warps have a vectorised path for 4-channel uint8 that is over twice as fast as 3-channel.
    """
    h, w = rgb.shape[:2]
    limit = round(OVERSAMPLE * size)
    if min(h, w) > MAX_MINIFY * limit:
        f = limit / min(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)


def render_clip(rgb: np.ndarray, motion: Motion, *, frames: int, size: int, border: str = "reflect",
                max_fit_zoom: float = 1.5, partner: np.ndarray | None = None) -> np.ndarray:
    """(T, size, size, 3) uint8 clip of `motion` applied recursively to `rgb`.

    `partner` is the second image for cutmix (required for it, ignored otherwise).
    """
    src = prepare_source(rgb, size)
    clip = warp_frames(src, motion, frames=frames, size=size, border=border, max_fit_zoom=max_fit_zoom)
    colors = color_matrices(motion, frames)
    if colors is not None:
        for t in range(frames):
            clip[t] = cv2.transform(clip[t], colors[t][:3])  # 3x4 affine per pixel, saturating to uint8
    boxes = cutmix_boxes(motion, size, frames)
    if boxes is not None:
        if partner is None:
            raise ValueError("cutmix needs a partner image")
        still = warp_frames(prepare_source(partner, size), Motion("identity", {}), frames=1, size=size,
                            border=border, max_fit_zoom=max_fit_zoom)[0]
        for t in range(frames):
            for x0, y0, x1, y1 in boxes[: t + 1]:
                clip[t, y0:y1, x0:x1] = still[y0:y1, x0:x1]
    return clip


def warp_frames(src: np.ndarray, motion: Motion, *, frames: int, size: int, border: str,
                max_fit_zoom: float) -> np.ndarray:
    """Sample every frame once from the (RGBA) source through its homography -> (T, size, size, 3) uint8."""
    homs = frame_homographies(motion, src.shape[:2], size, frames, max_fit_zoom)
    affine = np.allclose(homs[:, 2], [0, 0, 1])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    scratch = np.empty((size, size, 4), dtype=np.uint8)
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        if affine:
            cv2.warpAffine(src, homs[t][:2], (size, size), dst=scratch, flags=flags, borderMode=BORDERS[border])
        else:
            cv2.warpPerspective(src, homs[t], (size, size), dst=scratch, flags=flags, borderMode=BORDERS[border])
        cv2.cvtColor(scratch, cv2.COLOR_RGBA2RGB, dst=out[t])
    return out


def mixup(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    """Frame-wise Mixup: lam * a + (1 - lam) * b with one lambda for every frame, rounded to uint8."""
    out = np.empty_like(a)
    for t in range(a.shape[0]):
        cv2.addWeighted(a[t], lam, b[t], 1.0 - lam, 0.0, dst=out[t])
    return out
