"""Which tokens the encoder never sees, and (VideoMAE V2 dual masking) which masked tokens the decoder rebuilds.

Masks are boolean (B, N) with True = masked, N = T' * H' * W' tokens of a `grid` (T', H', W') in (t, h, w) order.
They are drawn for the whole batch at once on the target device (argsort of uniform noise), from `generator`
when given, so a seeded generator gives the same masks on every run.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

Grid = tuple[int, int, int]
Device = torch.device | str | None
Generator = torch.Generator | None


def lowest(scores: Tensor, k: int) -> Tensor:
    """Boolean (B, N): True at the k lowest scores of each row."""
    index = scores.argsort(dim=1)[:, :k]
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, index, True)


def random_mask(batch: int, grid: Grid, ratio: float, device: Device = None, generator: Generator = None) -> Tensor:
    """Masks round(N * ratio) tokens per sample anywhere in space-time."""
    n = math.prod(grid)
    noise = torch.rand(batch, n, device=device, generator=generator)
    return lowest(noise, round(n * ratio))


def tube_mask(batch: int, grid: Grid, ratio: float, device: Device = None, generator: Generator = None) -> Tensor:
    """VideoMAE tube masking: one spatial mask of round(H' * W' * ratio) tokens, repeated over every time step.

    The masked count is T' * round(H' * W' * ratio), which equals round(N * ratio) whenever H' * W' * ratio is
    whole (e.g. 14 x 14 at 0.75); official VideoMAE floors instead of rounding.
    """
    t, h, w = grid
    noise = torch.rand(batch, h * w, device=device, generator=generator)
    spatial = lowest(noise, round(h * w * ratio))  # (B, H' * W')
    return spatial.unsqueeze(1).expand(batch, t, h * w).reshape(batch, t * h * w)


MASKS: dict[str, Callable[..., Tensor]] = {"tube": tube_mask, "random": random_mask}


def make_mask(
    kind: str, batch: int, grid: Grid, ratio: float, device: Device = None, generator: Generator = None
) -> Tensor:
    """Encoder mask (B, N) of a registered kind ('tube', 'random'); ratio in (0, 1) is the masked fraction."""
    if kind not in MASKS:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of {', '.join(MASKS)}")
    if not 0 < ratio < 1:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    return MASKS[kind](batch, grid, ratio, device=device, generator=generator)


def keep_masked(mask: Tensor, scores: Tensor, ratio: float) -> Tensor:
    """The masked tokens with the lowest scores, all but round(n_masked * ratio) of them per sample."""
    counts = mask.sum(dim=1)
    n_masked = int(counts[0])
    if not bool((counts == n_masked).all()):
        raise ValueError(f"every sample must mask the same number of tokens, got {counts.tolist()}")
    scores = scores.masked_fill(~mask, float("inf"))
    return lowest(scores, n_masked - round(n_masked * ratio))


def random_decoder_mask(mask: Tensor, grid: Grid, ratio: float, generator: Generator = None) -> Tensor:
    """Drops a uniformly random fraction `ratio` of the masked tokens from the decoder (grid unused)."""
    scores = torch.rand(mask.shape, device=mask.device, generator=generator)
    return keep_masked(mask, scores, ratio)


def running_cell_decoder_mask(mask: Tensor, grid: Grid, ratio: float, generator: Generator = None) -> Tensor:
    """VideoMAE V2 running-cell decoder masking, made exact in count.

    In every 2 x 2 spatial cell round(4 * ratio) positions are dropped from the decoder, and the dropped positions
    move on by one each time step from a random start per sample. The masked tokens the cell keeps are chosen first;
    ties and shortfalls (the cell pattern and the encoder mask overlap unevenly) are settled at random so that each
    sample reconstructs exactly n_masked - round(n_masked * ratio) tokens.
    """
    t, h, w = grid
    B = mask.shape[0]
    device = mask.device
    cell = (torch.arange(h, device=device)[:, None] % 2) * 2 + torch.arange(w, device=device) % 2  # (H', W')
    start = torch.randint(4, (B, 1, 1, 1), device=device, generator=generator)
    phase = (cell + torch.arange(t, device=device)[:, None, None] + start) % 4  # (B, T', H', W')
    dropped = (phase < round(4 * ratio)).flatten(1)  # (B, N)
    scores = dropped + torch.rand(mask.shape, device=device, generator=generator)
    return keep_masked(mask, scores, ratio)


DECODER_MASKS: dict[str, Callable[..., Tensor]] = {
    "running_cell": running_cell_decoder_mask,
    "random": random_decoder_mask,
}


def make_decoder_mask(kind: str, mask: Tensor, grid: Grid, ratio: float, generator: Generator = None) -> Tensor:
    """Decoder mask (B, N): the masked tokens the decoder reconstructs (a subset of `mask`).

    ratio in [0, 1) is the fraction of masked tokens dropped from the decoder (VideoMAE V2 uses 0.5). Unlike the
    official V2 code, which drops a fraction of all tokens and so also rebuilds some visible ones, the loss here
    covers masked tokens only.
    """
    if kind not in DECODER_MASKS:
        raise ValueError(f"unknown decoder mask kind {kind!r}; choose one of {', '.join(DECODER_MASKS)}")
    if not 0 <= ratio < 1:
        raise ValueError(f"decoder mask ratio must be in [0, 1), got {ratio}")
    return DECODER_MASKS[kind](mask, grid, ratio, generator=generator)
