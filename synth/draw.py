"""Every random choice of a sample, in one place: a pure function of (dataset seed, sample index[, epoch]).

The video renderer, the recipe writer and training with fresh motion all call draw_sample, so a recipe shard
re-renders the very clip a video shard of the same config holds, and fresh motion changes only what it should.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import MotionConfig, RenderConfig
from .motion import Motion, sample_motion

# Fourth seed word of a fresh-motion draw: SeedSequence ignores trailing zeros, so (seed, index, 0) alone would
# replay the sample's own stream.
FRESH_MOTION = 1


@dataclass(frozen=True)
class LayerDraw:
    """One pseudo-motion clip of a sample: its motion, its image and its cutmix partner (source indices; a bad
    image is replaced by the next usable one when loading)."""

    motion: Motion
    image: int
    cut_partner: int


@dataclass(frozen=True)
class SampleDraw:
    """layers: the main clip, then the Mixup partner clip when Mixup is on; lam: the Mixup weight of layers[0]."""

    layers: tuple[LayerDraw, ...]
    lam: float = 1.0


def draw_sample(cfg: RenderConfig, num_images: int, index: int, epoch: int | None = None) -> SampleDraw:
    """The draw of sample `index` from a source of `num_images` images.

    epoch=None is the dataset's own draw (what `synth render` writes). With an epoch, the transforms, their
    parameters and lambda are redrawn from (seed, index, epoch) while the images stay the sample's own: new
    motion of the same pictures every epoch.
    """
    rng = np.random.default_rng([cfg.seed, index])
    m = cfg.motion
    motions = [sample_motion(rng, m.transforms, m.ranges)]
    images, cuts, lam = [index % num_images], [int(rng.integers(num_images))], 1.0
    if m.mixup:
        motions.append(sample_motion(rng, m.transforms, m.ranges))
        images.append(int(rng.integers(num_images)))
        cuts.append(int(rng.integers(num_images)))
        lam = float(rng.beta(m.mixup_alpha, m.mixup_alpha))
    if epoch is not None:
        motions, lam = redraw_motion(m, cfg.seed, index, epoch)
    return SampleDraw(tuple(LayerDraw(*layer) for layer in zip(motions, images, cuts)), lam)


def redraw_motion(m: MotionConfig, seed: int, index: int, epoch: int) -> tuple[list[Motion], float]:
    """Fresh motions (one per layer) and lambda of sample `index` for `epoch`."""
    rng = np.random.default_rng([seed, index, epoch, FRESH_MOTION])
    motions = [sample_motion(rng, m.transforms, m.ranges) for _ in range(2 if m.mixup else 1)]
    return motions, float(rng.beta(m.mixup_alpha, m.mixup_alpha)) if m.mixup else 1.0
