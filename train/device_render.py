"""Pseudo-motion clips rendered on the training device, a batch at a time, frame for frame as synth.render draws them.

pack() runs where synth.render would (a DataLoader worker): the PMG maths of synth.motion in float64, then every
layer's source, per-frame homographies, colour matrices, cutmix boxes and Mixup weight packed into tensors.
render() then samples every frame of every layer of every clip in one gather-based bilinear pass on the device and
applies colour, cutmix and Mixup to all of them at once.

Fidelity to the cv2 renderer. OpenCV's warps (5.0 here) interpolate bilinearly in float, treat borders per tap (each
of the four neighbours is reflected, clamped or zeroed on its own, which no padding of a shared tensor reproduces at
each image's own edge) and round to uint8; cv2.transform and cv2.addWeighted round and saturate again. render()
takes the same steps in float32 and rounds where OpenCV does, so frames differ only where another float32 order of
operations flips a rounding: by one level on well under 1% of values, grown by at most the colour gain of the
steps after it (tests/train/test_device_render.py states and checks the bound). OpenCV builds whose warps still use
fixed-point weights (1/32 px) differ from both by up to that 1/32 px.

All arithmetic is elementwise, never matmul or einsum, so a training process that allows TF32 matmuls cannot
coarsen the sampling coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import get_worker_info

from synth.motion import TRANSFORMS, Motion, color_matrices, cutmix_boxes, frame_homographies_many, is_affine

BORDERS = ("reflect", "replicate", "constant")  # synth.render's modes; RenderBatch.border indexes this

# render() works through the frames in chunks of at most this many output pixels (all clips and layers at once):
# its transients peak at about 100 bytes per pixel, so under 1 GiB per chunk, and a chunk still fills a GPU.
CHUNK_PIXELS = 1 << 23

# Sampling coordinates are clamped to this many pixels (float32 integers are exact to 2**24) before they become
# integer tap indices; every border mode maps them back into the image.
_COORD_LIMIT = float(1 << 24)


@dataclass(frozen=True)
class Layer:
    """One image under one motion. `image` is the source as synth.render warps it: prepare_source's output (already
    area-reduced) without its padding channel. `still` is the cutmix partner's still frame (the partner warped by
    the identity motion, synth.render.partner_still), required for cutmix and, as synth.render does, ignored for
    other motion."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    motion: Motion
    still: np.ndarray | None = None  # (size, size, 3 or 4) uint8; a 4th channel is dropped

    def __post_init__(self) -> None:
        if self.image.dtype != np.uint8 or self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"Layer.image must be (H, W, 3) uint8, got {self.image.shape} {self.image.dtype}")
        if self.cutmix and self.still is None:
            raise ValueError("a cutmix Layer needs the partner's still")

    @property
    def cutmix(self) -> bool:
        return TRANSFORMS[self.motion.transform].kind == "cutmix"


@dataclass(frozen=True)
class ClipSpec:
    """One clip: one layer, or two blended by frame-wise Mixup with weight lam on layers[0] and 1 - lam on layers[1]."""

    layers: tuple[Layer, ...]
    lam: float = 1.0

    def __post_init__(self) -> None:
        if len(self.layers) not in (1, 2):
            raise ValueError(f"a clip has 1 layer or 2 (Mixup), got {len(self.layers)}")
        if not 0.0 <= self.lam <= 1.0 or (len(self.layers) == 1 and self.lam != 1.0):
            raise ValueError(f"lam={self.lam}: need 0 <= lam <= 1, and lam == 1 for a single layer")


class RenderBatch(NamedTuple):
    """B clips with K >= B layers as tensors and ints, so it crosses DataLoader worker processes and pin_memory.

    Layers 0..B-1 are the clips' first layers in clip order; layers B..K-1 are the Mixup second layers of the clips
    listed in `mix_clip`. Pixel coordinates follow cv2: (x, y) = (column, row), pixel centres at integers.
    """

    pixels: torch.Tensor  # uint8 (P, 3): every layer's source image, row-major, one after another
    offsets: torch.Tensor  # int64 (K,): index in `pixels` of each layer's first pixel
    sizes: torch.Tensor  # int64 (K, 2): each layer's source height and width
    homographies: torch.Tensor  # float32 (K, T, 3, 3): output pixel -> source pixel (cv2 WARP_INVERSE_MAP)
    colors: torch.Tensor  # float32 (K, T, 3, 4): per-frame RGB affine colour, [linear | offset]; identity if none
    weights: torch.Tensor  # float32 (K,): Mixup weight of each layer (lam and 1 - lam; 1 without Mixup)
    mix_clip: torch.Tensor  # int64 (K - B,): the clip each second layer is mixed into
    cut_layer: torch.Tensor  # int64 (C,): the layers whose motion is cutmix
    cut_boxes: torch.Tensor  # int64 (C, T, 4): their boxes x0, y0, x1, y1 in output pixels (end exclusive)
    stills: torch.Tensor  # uint8 (C, size, size, 3): their partners' still frames
    border: int  # index into BORDERS
    size: int  # output side in pixels


def pack(specs: Sequence[ClipSpec], *, frames: int, size: int, border: str = "reflect",
         max_fit_zoom: float = 1.5) -> RenderBatch:
    """CPU side, run in a DataLoader worker: the numpy maths of synth.motion for every layer, and the packing."""
    if not specs:
        raise ValueError("pack needs at least one clip")
    if border not in BORDERS:
        raise ValueError(f"border={border!r}: choose one of {', '.join(BORDERS)}")
    mix_clip = [b for b, spec in enumerate(specs) if len(spec.layers) == 2]
    layers = [spec.layers[0] for spec in specs] + [specs[b].layers[1] for b in mix_clip]
    weights = [spec.lam for spec in specs] + [1.0 - specs[b].lam for b in mix_clip]  # in float64, as addWeighted
    cut = [k for k, layer in enumerate(layers) if layer.cutmix]
    stills = [layers[k].still[..., :3] for k in cut]
    for still in stills:
        if still.shape != (size, size, 3) or still.dtype != np.uint8:
            raise ValueError(f"a cutmix still must be ({size}, {size}, 3 or 4) uint8, got {still.shape} {still.dtype}")
    areas = [layer.image.shape[0] * layer.image.shape[1] for layer in layers]
    pixels = _host_tensor(sum(areas) * 3).view(-1, 3)
    np.concatenate([layer.image.reshape(-1, 3) for layer in layers], out=pixels.numpy())
    return RenderBatch(
        pixels=pixels,
        offsets=torch.tensor(np.cumsum([0] + areas[:-1]), dtype=torch.int64),
        sizes=torch.tensor([layer.image.shape[:2] for layer in layers], dtype=torch.int64),
        homographies=torch.from_numpy(_homographies(layers, size, frames, max_fit_zoom).astype(np.float32)),
        colors=torch.from_numpy(np.stack([_colors(layer.motion, frames) for layer in layers]).astype(np.float32)),
        weights=torch.tensor(weights, dtype=torch.float32),
        mix_clip=torch.tensor(mix_clip, dtype=torch.int64),
        cut_layer=torch.tensor(cut, dtype=torch.int64),
        cut_boxes=torch.tensor([cutmix_boxes(layers[k].motion, size, frames) for k in cut],
                               dtype=torch.int64).view(len(cut), frames, 4),
        stills=torch.from_numpy(np.stack(stills) if stills else np.zeros((0, size, size, 3), np.uint8)),
        border=BORDERS.index(border),
        size=size,
    )


def _host_tensor(numel: int) -> torch.Tensor:
    """uint8 (numel,) for the batch's pixels: in a DataLoader worker allocated in shared memory, as default_collate
    does, so that the batch crosses to the main process without another copy of its largest tensor."""
    if get_worker_info() is None:
        return torch.empty(numel, dtype=torch.uint8)
    return torch.empty(0, dtype=torch.uint8).new(torch.UntypedStorage._new_shared(numel))


def _homographies(layers: Sequence[Layer], size: int, frames: int, max_fit_zoom: float) -> np.ndarray:
    """(K, T, 3, 3) float64, all layers at once. Affine ones get an exact (0, 0, 1) last row: synth.render then
    uses warpAffine, which ignores that row, where the float64 products may leave a rounding residue."""
    homs = frame_homographies_many([layer.motion for layer in layers], [layer.image.shape[:2] for layer in layers],
                                   size, frames, max_fit_zoom)
    for layer_homs in homs:
        if is_affine(layer_homs):
            layer_homs[:, 2] = [0, 0, 1]
    return homs


def _colors(motion: Motion, frames: int) -> np.ndarray:
    """(T, 3, 4) float64 colour maps on RGB, the identity for motion without a photometric part."""
    mats = color_matrices(motion, frames)
    return (np.broadcast_to(np.eye(4), (frames, 4, 4)) if mats is None else mats)[:, :3]


def render(batch: RenderBatch, device: torch.device | str) -> torch.Tensor:
    """uint8 (B, T, size, size, 3) RGB clips on `device`.

    Each chunk of frames is one batched sampling over all clips and layers, then colour, cutmix and Mixup for all
    of them; no host syncs, so on CUDA the whole render queues asynchronously.
    """
    b = RenderBatch(*(x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x for x in batch))
    layers, frames = b.homographies.shape[:2]
    clips = layers - len(b.mix_clip)
    trail = _cutmix_trail(b.cut_boxes, b.size)  # (C, T, S, S)
    out = torch.empty((clips, frames, b.size, b.size, 3), dtype=torch.uint8, device=b.pixels.device)
    step = max(1, CHUNK_PIXELS // (layers * b.size * b.size))
    for t in range(0, frames, step):
        chunk = slice(t, t + step)
        video = _color(_warp(b, b.homographies[:, chunk]), b.colors[:, chunk])  # (K, t, S, S, 3) float
        video[b.cut_layer] = torch.where(trail[:, chunk, ..., None], b.stills[:, None].float(), video[b.cut_layer])
        out[:, chunk] = _mixup(video, b.weights, b.mix_clip)
    return out


def render_specs(specs: Sequence[ClipSpec], *, frames: int, size: int, border: str = "reflect",
                 max_fit_zoom: float = 1.5, device: torch.device | str = "cpu") -> torch.Tensor:
    """pack + render, for tests and simple callers."""
    return render(pack(specs, frames=frames, size=size, border=border, max_fit_zoom=max_fit_zoom), device)


def _warp(b: RenderBatch, homs: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of each layer's source at homs @ (x, y, 1), rounded as cv2's warps round.

    homs: (K, T, 3, 3) -> float (K, T, S, S, 3) holding integers in [0, 255].
    """
    sx, sy = _source_coords(homs, b.size)  # (K, T, S, S)
    x0, y0 = sx.floor(), sy.floor()
    fx, fy = sx.sub_(x0)[..., None], sy.sub_(y0)[..., None]  # (K, T, S, S, 1) in [0, 1)
    x0, y0 = x0.int(), y0.int()  # int32 taps: a batch holds far fewer than 2**31 source pixels
    height, width = (b.sizes[:, i].view(-1, 1, 1, 1).int() for i in range(2))
    base = b.offsets.view(-1, 1, 1, 1).int()
    tap = BORDER_TAPS[BORDERS[b.border]]
    cols = tap(x0, width), tap(x0 + 1, width)
    lines = []
    for y, y_inside in tap(y0, height), tap(y0 + 1, height):
        line = y.mul_(width).add_(base)  # index of each tap row's first pixel
        v0, v1 = (_fetch(b.pixels, line + x, _both(y_inside, x_inside)) for x, x_inside in cols)
        lines.append(v1.sub_(v0).mul_(fx).add_(v0))  # v0 + fx * (v1 - v0)
    return lines[1].sub_(lines[0]).mul_(fy).add_(lines[0]).round_()


def _source_coords(homs: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 source x and y of every output pixel: (K, T, 3, 3) -> two (K, T, S, S), clamped (_COORD_LIMIT)."""
    p = torch.arange(size, dtype=torch.float32, device=homs.device)
    h = homs[..., None, None]  # (K, T, 3, 3, 1, 1)
    row = lambda i: h[:, :, i, 0] * p + h[:, :, i, 1] * p[:, None] + h[:, :, i, 2]  # noqa: E731  (K, T, S, S)
    w = row(2)
    return (row(0).div_(w).clamp_(-_COORD_LIMIT, _COORD_LIMIT), row(1).div_(w).clamp_(-_COORD_LIMIT, _COORD_LIMIT))


def _fetch(pixels: torch.Tensor, index: torch.Tensor, inside: torch.Tensor | None) -> torch.Tensor:
    """pixels (P, 3) at index (K, T, S, S) -> float (K, T, S, S, 3); zero where `inside` is False."""
    v = pixels[index].float()
    return v if inside is None else v.mul_(inside[..., None])


def _both(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    return b if a is None else a if b is None else a & b


Tap = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


def _reflect_101(p: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, None]:
    """cv2.BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba) at any distance: the pattern repeats every 2n - 2."""
    period = (2 * n - 2).clamp(min=1)  # a one-pixel image repeats its pixel
    p = p.remainder(period)
    return torch.minimum(p, period - p), None


def _replicate(p: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, None]:
    """cv2.BORDER_REPLICATE (aaaaaa|abcdefgh|hhhhhhh)."""
    return torch.minimum(p.clamp(min=0), n - 1), None


def _constant(p: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cv2.BORDER_CONSTANT with value 0: taps outside read any pixel and are masked out."""
    return torch.minimum(p.clamp(min=0), n - 1), (p >= 0) & (p < n)


# Per-tap border rules: a tap index p on an axis of n pixels -> an index inside, and where the tap is real (None:
# everywhere).
BORDER_TAPS: dict[str, Tap] = {"reflect": _reflect_101, "replicate": _replicate, "constant": _constant}


def _color(video: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    """Per-frame affine colour, rounded and saturated as cv2.transform does; exact for the identity.

    video: float (K, T, S, S, 3), colors: (K, T, 3, 4) -> float (K, T, S, S, 3).
    """
    m = colors[:, :, None, None]  # (K, T, 1, 1, 3, 4)
    r, g, b = video.unbind(-1)
    out = torch.stack([m[..., c, 0] * r + m[..., c, 1] * g + m[..., c, 2] * b + m[..., c, 3] for c in range(3)], -1)
    return out.round_().clamp_(0, 255)


def _cutmix_trail(boxes: torch.Tensor, size: int) -> torch.Tensor:
    """(C, T, 4) boxes -> bool (C, T, S, S): frame t shows the partner inside boxes 0..t."""
    p = torch.arange(size, device=boxes.device)
    x0, y0, x1, y1 = boxes[..., None].unbind(-2)  # each (C, T, 1)
    inside = ((p >= y0) & (p < y1))[..., :, None] & ((p >= x0) & (p < x1))[..., None, :]  # (C, T, S, S)
    return inside.cummax(dim=1).values


def _mixup(video: torch.Tensor, weights: torch.Tensor, mix_clip: torch.Tensor) -> torch.Tensor:
    """lam * a + (1 - lam) * b per clip, rounded and saturated as cv2.addWeighted does; exact for one layer.

    video: float (K, T, S, S, 3) -> uint8 (B, T, S, S, 3).
    """
    clips = len(weights) - len(mix_clip)
    w = weights.view(-1, 1, 1, 1, 1)
    out = video[:clips] * w[:clips]
    out[mix_clip] += video[clips:] * w[clips:]
    return out.round_().clamp_(0, 255).to(torch.uint8)
