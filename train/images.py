"""`train-vmae --images`: clips drawn and rendered straight from an image source, no shards.

Sample i is `synth render`'s sample i of the same motion recipe (synth.draw.draw_sample), made into a recipe in
the DataLoader worker (synth.sample.recipe_sample, with synth's ImageCache) and from there handled as recipe
shards are (train/data.py): packed for the device, or rendered on the CPU with --render-on cpu.
"""
from __future__ import annotations

import math
import warnings
from typing import Iterator

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from synth.config import MotionConfig, RenderConfig
from synth.errors import UserError
from synth.sample import ImageCache, recipe_sample, sample_key
from synth.sources import ImageSource, open_source
from train.data import (Clip, ClipBatch, ClipLoader, DataConfig, _Counts, _distributed, batch_clips, build_loader,
                        one_thread_in_workers, recipe_item)
from train.shards import _mix


class ImageClipDataset(IterableDataset):
    """`--images`: clips drawn (synth.draw) and rendered straight from an image source, no shards.

    An epoch is `samples` sample indices (default one per image) in an order seeded by (data.seed, epoch), split
    between ranks and then DataLoader workers. Sample i is synth render's sample i of `render` (the same images
    and, without fresh_motion, the same motion). Bad images are replaced by the next usable one, as synth render
    does, and counted as skipped.
    """

    def __init__(self, source: ImageSource, render: RenderConfig, cfg: DataConfig, *, rank: int, world_size: int,
                 samples: int):
        super().__init__()
        self.source, self.render, self.cfg, self.rank, self.world_size = source, render, cfg, rank, world_size
        self.samples, self.epoch = samples, 0
        self._cache: ImageCache | None = None

    def _indices(self, epoch: int, worker: int, workers: int) -> list[int]:
        order = np.random.default_rng(_mix(self.cfg.seed, epoch)).permutation(self.samples)
        return order[self.rank::self.world_size][worker::workers].tolist()

    def _clips(self, indices: list[int], epoch: int, counts: _Counts) -> Iterator[Clip | None]:
        cfg = self.cfg
        if self._cache is None:  # one per process, kept across epochs: each bad image is counted once
            self._cache = ImageCache(self.source, on_bad_image="skip")
        cache = self._cache
        for index in indices:
            bad = dict(cache.bad)
            recipe, _ = recipe_sample(self.render, cache, index, epoch if cfg.fresh_motion else None)
            for i in cache.bad.keys() - bad.keys():
                counts.skipped += 1
                warnings.warn(f"skipping bad image {cache.bad[i]}", RuntimeWarning)
            counts.ok += 1
            yield sample_key(index), recipe_item(recipe, frames=cfg.frames, size=cfg.size,
                                                 render_on=cfg.render_on), -1 if recipe.label is None else recipe.label

    def __iter__(self) -> Iterator[ClipBatch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        one_thread_in_workers()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        counts = _Counts()
        return batch_clips(self._clips(self._indices(epoch, worker, workers), epoch, counts),
                           batch_size=self.cfg.batch_size, frames=self.cfg.frames, size=self.cfg.size, counts=counts)

    def epoch_size(self) -> int:
        return self.samples

    def batches_per_epoch(self, epoch: int) -> int:
        workers = max(self.cfg.num_workers, 1)
        return sum(math.ceil(len(self._indices(epoch, w, workers)) / self.cfg.batch_size) for w in range(workers))


def make_image_dataset(images: str, motion: MotionConfig, cfg: DataConfig, *, rank: int | None = None,
                       world_size: int | None = None) -> ImageClipDataset:
    """The --images dataset: synth's render recipe at data.frames x data.size, seeded by data.seed."""
    if rank is None or world_size is None:
        rank, world_size = _distributed()
    if cfg.resampled:
        raise UserError("--images reads exact epochs of sample indices; set data.resampled=false")
    render_cfg = RenderConfig(images=images, frames=cfg.frames, size=cfg.size, seed=cfg.seed, motion=motion).validate()
    source = open_source(images, min_side=cfg.size)
    samples = cfg.epoch_samples or len(source)
    if samples < world_size:
        raise UserError(f"--images {images}: {samples} clips per epoch cannot feed {world_size} ranks; "
                        f"pass --num-videos {world_size} or more")
    return ImageClipDataset(source, render_cfg, cfg, rank=rank, world_size=world_size, samples=samples)


def make_image_loader(images: str, motion: MotionConfig, cfg: DataConfig, *, rank: int | None = None,
                      world_size: int | None = None) -> ClipLoader:
    """A loader of ClipBatch rendered from an image source (make_image_dataset), in cfg.num_workers workers."""
    return build_loader(make_image_dataset(images, motion, cfg, rank=rank, world_size=world_size), images, cfg)
