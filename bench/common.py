"""What the benchmarks share: the machine header and timing the real loader to device-ready batches.

Imported by the scripts beside it (`python bench/X.py` puts bench/ on sys.path).
"""
from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import av
import cv2
import numpy as np
import torch
import webdataset as wds

from train.data import DataConfig, batch_to_device, make_loader


def machine() -> list[str]:
    """Two header lines: the machine (CPU, usable cores, 1-minute load average, GPU) and the library versions."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    libs = av.library_versions
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"machine: {platform.node()} {platform.machine()}, {cpu}, {len(os.sched_getaffinity(0))} usable cores, "
            f"load average {load} (1/5/15 min), GPU {gpu}",
            f"python {platform.python_version()}, torch {torch.__version__}, av {av.__version__} (libavcodec "
            f"{'.'.join(map(str, libs['libavcodec']))}), webdataset {wds.__version__}, numpy {np.__version__}, "
            f"opencv {cv2.__version__}"]


def children_cpu() -> float:
    """CPU seconds (user + system, all threads) of this process's reaped child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class LoaderRun:
    """One epoch of the loader: clips delivered, wall seconds, and CPU seconds in the workers (all their threads)
    and in this process (all its threads: batch_to_device, rendering there, the `consume` callback)."""

    clips: int
    wall: float
    worker_cpu: float
    main_cpu: float


def time_loader(spec: str | Sequence[str], cfg: DataConfig, device: torch.device,
                consume: Callable[[torch.Tensor], object] | None = None) -> LoaderRun:
    """One epoch of train.data.make_loader, every batch made device-ready by batch_to_device (moved, or rendered
    there from recipes) and handed to `consume` if given. Workers must not be persistent: they exit and are reaped
    when the loader goes, so that their CPU time lands in RUSAGE_CHILDREN."""
    if cfg.num_workers and cfg.persistent_workers:
        raise ValueError("time_loader needs persistent_workers=False to count the workers' CPU time")
    children, main = children_cpu(), time.process_time()
    wall = time.perf_counter()
    loader = make_loader(spec, cfg)
    clips = 0
    for batch in loader:
        video = batch_to_device(batch, device)
        if consume is not None:
            consume(video)
        clips += len(batch.key)
    synchronize(device)
    wall = time.perf_counter() - wall
    main = time.process_time() - main
    del loader
    return LoaderRun(clips, wall, children_cpu() - children, main)
