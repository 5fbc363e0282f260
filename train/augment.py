"""Clip augmentation on the training device, for a whole batch at once: VideoMAE's multi-scale crop, a horizontal
flip, and normalisation, turning the loader's uint8 (B, T, H, W, 3) into the model's float (B, 3, T, S, S).

Doing this after the host-to-device copy keeps the workers' CPU for decoding and moves uint8 (a quarter of the
bytes of float). Every frame of a clip shares one crop and flip (motion must stay coherent); clips differ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from synth.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# VideoMAE's GroupMultiScaleCrop fixed offsets, in quarters of the free space (x, y): corners and centre, then
# (more_fix_crop, VideoMAE's default) edge centres and quarter points.
_GRID = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2),
         (0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3))
OFFSETS = {"grid5": 5, "grid13": 13, "random": 0}


class CropParams(NamedTuple):
    """box: int64 (B, 4) x0, y0, width, height in input pixels; flip: bool (B,)."""

    box: torch.Tensor
    flip: torch.Tensor


@dataclass(frozen=True)
class DeviceAugment:
    """VideoMAE pre-training augmentation (GroupMultiScaleCrop, max_distort=1) plus an optional flip.

    size: output side in pixels. scales: crop sides as fractions of the input's short side; a crop within 2 px of
    `size` snaps to it, and width and height may differ by at most max_distort scale steps. offsets: 'grid13'
    (VideoMAE's default), 'grid5' (corners and centre) or 'random'. flip: mirror half the clips.
    Resizing is bilinear without antialiasing (crops are rarely much larger than `size`).
    """

    size: int = 224
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    max_distort: int = 1
    offsets: str = "grid13"
    flip: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self) -> None:
        if self.offsets not in OFFSETS:
            raise UserError(f"augment.offsets={self.offsets!r}: choose one of {', '.join(OFFSETS)}")
        if self.size < 1 or not self.scales or not all(0 < s <= 1 for s in self.scales):
            raise UserError(f"augment size={self.size}, scales={self.scales}: need size >= 1 and scales in (0, 1]")

    def crop_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """Candidate (width, height) crops for an input of this size."""
        base = min(height, width)
        sides = [min(self.size if abs(int(base * s) - self.size) < 3 else int(base * s), base) for s in self.scales]
        return [(w, h) for i, h in enumerate(sides) for j, w in enumerate(sides) if abs(i - j) <= self.max_distort]

    def sample(self, batch: int, height: int, width: int, generator: torch.Generator | None = None) -> CropParams:
        """One crop and flip per clip, drawn from a CPU generator so results match on every device."""
        pairs = torch.tensor(self.crop_sizes(height, width))
        wh = pairs[torch.randint(len(pairs), (batch,), generator=generator)]  # (B, 2)
        free = torch.tensor([width, height]) - wh
        if self.offsets == "random":
            xy = (torch.rand(batch, 2, generator=generator) * (free + 1)).long()
        else:
            grid = torch.tensor(_GRID[:OFFSETS[self.offsets]])
            xy = grid[torch.randint(len(grid), (batch,), generator=generator)] * (free // 4)
        flip = (torch.rand(batch, generator=generator) < 0.5) if self.flip else torch.zeros(batch, dtype=torch.bool)
        return CropParams(torch.cat([xy, wh], dim=1), flip)

    def apply(self, video: torch.Tensor, params: CropParams) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) -> normalised float (B, 3, T, size, size) with the given crops and flips."""
        b, t, h, w, c = video.shape
        x = video.permute(0, 1, 4, 2, 3).reshape(b, t * c, h, w).float()  # (B, T*3, H, W): one grid per clip
        x0, y0, cw, ch = params.box.to(torch.float32).unbind(dim=1)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = torch.where(params.flip, -cw / w, cw / w)  # a negative x scale mirrors the crop
        theta[:, 0, 2] = (2 * x0 + cw) / w - 1  # crop centre in [-1, 1] coordinates
        theta[:, 1, 1] = ch / h
        theta[:, 1, 2] = (2 * y0 + ch) / h - 1
        grid = F.affine_grid(theta.to(video.device), [b, t * c, self.size, self.size], align_corners=False)
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        out = out.view(b, t, c, self.size, self.size)
        std = torch.tensor(self.std, device=video.device).view(1, 1, c, 1, 1)
        mean = torch.tensor(self.mean, device=video.device).view(1, 1, c, 1, 1)
        out = out * (1 / (255 * std)) - mean / std
        return out.transpose(1, 2).contiguous()  # (B, 3, T, size, size)

    def __call__(self, video: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply(video, self.sample(video.shape[0], video.shape[2], video.shape[3], generator))
