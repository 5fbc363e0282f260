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

from train.data import ClipBatch, DataConfig, batch_to_device, make_loader


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


def child_pids() -> list[int]:
    """This process's child processes (the DataLoader workers), from /proc."""
    me, out = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                out.append(int(entry))
    return out


def process_cpu(pids: Sequence[int]) -> float:
    """CPU seconds so far of live processes, all their threads (schedstat: nanoseconds on a CPU)."""
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                total += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except OSError:
            pass  # a worker that has just exited
    return total / 1e9


@dataclass(frozen=True)
class LoaderRun:
    """One epoch of the loader: clips delivered, wall seconds, and CPU seconds in the workers (all their threads)
    and in this process (all its threads: batch_to_device, rendering there, the `consume` callback).

    steady_*: the same from the moment every worker's first batch has arrived until the one that leaves as many
    batches prefetched as then, read from /proc (schedstat) while the workers run. That leaves out the workers'
    start-up and exit (forking, building the pipeline, tearing down), which persistent workers pay once per run
    and a short benchmark epoch pays again for every row."""

    clips: int
    wall: float
    worker_cpu: float
    main_cpu: float
    steady_clips: int
    steady_worker_cpu: float
    steady_main_cpu: float
    steady: bool = True  # False: the epoch was too short, the steady_* fields are the whole epoch's


def time_loader(spec: str | Sequence[str], cfg: DataConfig, device: torch.device,
                consume: Callable[[torch.Tensor], object] | None = None,
                to_device: Callable[[ClipBatch, torch.device], object] = batch_to_device) -> LoaderRun:
    """One epoch of train.data.make_loader, every batch made device-ready by batch_to_device (moved, or rendered
    there from recipes; `to_device` replaces it, e.g. to time the workers alone) and handed to `consume` if given.
    Workers must not be persistent: they exit and are reaped when the epoch ends, so that their CPU time lands in
    RUSAGE_CHILDREN."""
    if cfg.num_workers and cfg.persistent_workers:
        raise ValueError("time_loader needs persistent_workers=False to count the workers' CPU time")
    children, main = children_cpu(), time.process_time()
    wall = time.perf_counter()
    loader = make_loader(spec, cfg)
    clips = batches = 0
    warm = max(cfg.num_workers, 1)
    pids: list[int] = []
    marks = []  # (clips, worker CPU, main CPU) after each batch from the warm-th on
    for batch in loader:
        video = to_device(batch, device)
        if consume is not None:
            consume(video)
        synchronize(device)
        clips, batches = clips + len(batch.key), batches + 1
        if batches == warm:
            pids = child_pids()
        if batches >= warm:
            marks.append((clips, process_cpu(pids), time.process_time()))
    wall = time.perf_counter() - wall
    main = time.process_time() - main
    del loader
    workers = children_cpu() - children
    # The window ends where the queue still holds prefetched batches as it did at its start: past that the
    # workers stop and their queue drains, which would count their last batches' clips without their CPU.
    depth = cfg.num_workers * cfg.prefetch_factor
    if len(marks) - depth < 2:  # too short an epoch for a steady state: the whole epoch stands in for it
        return LoaderRun(clips, wall, workers, main, clips, workers, main, steady=False)
    (c0, w0, m0), (c1, w1, m1) = marks[0], marks[len(marks) - 1 - depth]
    return LoaderRun(clips, wall, workers, main, c1 - c0, w1 - w0, m1 - m0)
