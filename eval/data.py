"""Benchmark videos -> clip datasets -> loaders, for one process or for each rank under torchrun.

synthmotion is written once under --root (eval.synthmotion.write_synthmotion, by rank 0) and then read like any
folder dataset, through the same decoding and sampling as the real benchmarks. Training loaders shuffle with a
DistributedSampler seeded by (seed, epoch); view loaders give each rank every view of its share of the videos, so a
video's scores are summed on one rank.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, Subset

from eval.config import BenchmarkConfig
from eval.datasets import DATASETS, VideoList, load_split
from eval.sampling import ClipDataset
from eval.synthmotion import NAME as SYNTHMOTION
from eval.synthmotion import SynthMotionConfig, write_synthmotion
from train.loop import Runtime, derive_seed

SYNTHMOTION_READER = "folder"  # write_synthmotion lays clips out as ROOT/{train,test}/<class>/<index>.mp4


def reader(cfg: BenchmarkConfig) -> str:
    return SYNTHMOTION_READER if cfg.dataset == SYNTHMOTION else cfg.dataset


def synthmotion_config(cfg: BenchmarkConfig) -> SynthMotionConfig:
    """The default synthmotion benchmark at the clip length and (even) frame size being evaluated."""
    return SynthMotionConfig(frames=max(cfg.frames, 4), size=max(16, cfg.size + cfg.size % 2))


def prepare(cfg: BenchmarkConfig, rt: Runtime) -> Path:
    """The dataset root, with the synthmotion clips written there first when it is that benchmark and the root
    holds none yet (an existing synthmotion tree is used as it is, whatever its frames and size)."""
    root = Path(cfg.root).expanduser()
    if cfg.dataset == SYNTHMOTION and not (root / f"{SYNTHMOTION}.json").is_file():
        if rt.main:
            sm = synthmotion_config(cfg)
            print(f"eval-vmae: writing the synthmotion clips ({sm.count('train')} train, {sm.count('test')} test, "
                  f"{sm.frames} x {sm.size}px) to {root}", flush=True)
            write_synthmotion(root, sm)
        if rt.world_size > 1:
            dist.barrier()
    return root


def balanced(videos: VideoList, limit: int | None) -> VideoList:
    """At most `limit` videos taken round-robin over the classes (each class's in list order), so a quick run
    keeps the classes balanced; the list unchanged when limit is None or not below its length."""
    if limit is None or limit >= len(videos):
        return videos
    by_class: dict[int, list] = {}
    for item in videos.items:
        by_class.setdefault(item.label, []).append(item)
    queues = [by_class[label] for label in sorted(by_class)]
    picked = [queue[i] for i in range(max(map(len, queues))) for queue in queues if i < len(queue)][:limit]
    return replace(videos, items=picked)


def video_lists(cfg: BenchmarkConfig, rt: Runtime) -> tuple[VideoList, VideoList]:
    """(train, test) videos of the configured split, cut to max_train / max_test."""
    root = prepare(cfg, rt)
    train = load_split(reader(cfg), root, cfg.split, "train")
    test = load_split(reader(cfg), root, cfg.split, "test")
    return balanced(train, cfg.max_train), balanced(test, cfg.max_test)


def clip_dataset(cfg: BenchmarkConfig, videos: VideoList, *, train: bool, views: bool = True) -> ClipDataset:
    """Training clips (one random clip per video), or test views: clips x crops, or the single centre view when
    views is False (the linear probe's training features)."""
    clips, crops = (cfg.clips, cfg.crops) if views and not train else (1, 1)
    return ClipDataset(videos, frames=cfg.frames, rate=cfg.rate, mode=DATASETS[reader(cfg)].sampling,
                       size=cfg.size, num_clips=clips, num_crops=crops, train=train)


def loader_options(cfg: BenchmarkConfig, dataset: ClipDataset, rt: Runtime) -> dict:
    return {"batch_size": cfg.batch_size, "num_workers": cfg.num_workers, "collate_fn": dataset.collate,
            "pin_memory": rt.device.type == "cuda"}


def train_loader(cfg: BenchmarkConfig, dataset: ClipDataset, rt: Runtime, seed: int) -> DataLoader:
    """Shuffled full batches of this rank's share; call `set_epoch(loader, epoch)` before each pass."""
    sampler = DistributedSampler(dataset, num_replicas=rt.world_size, rank=rt.rank, shuffle=True, seed=seed)
    return DataLoader(dataset, sampler=sampler, drop_last=True, generator=torch.Generator(),
                      **loader_options(cfg, dataset, rt))


def set_epoch(loader: DataLoader, seed: int, rank: int, epoch: int) -> None:
    """Order (sampler) and per-worker randomness (random clips) of one epoch, both functions of (seed, epoch)."""
    loader.sampler.set_epoch(epoch)
    loader.generator.manual_seed(derive_seed(seed, rank, epoch))


def view_loader(cfg: BenchmarkConfig, dataset: ClipDataset, rt: Runtime) -> DataLoader:
    """Every view of the videos v with v % world_size == rank, in order (no padding, no shuffling)."""
    mine = [i for i in range(len(dataset)) if (i // dataset.views) % rt.world_size == rt.rank]
    return DataLoader(Subset(dataset, mine), shuffle=False, **loader_options(cfg, dataset, rt))
