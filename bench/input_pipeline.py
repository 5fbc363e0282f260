"""The input-pipeline ladder: clips/s per CPU core from shards to device-ready batches, MP4 against JPEG frames and
recipes, next to what the model consumes.

    python bench/input_pipeline.py [--clips 192] [--frames 16] [--size 224] [--workers 1 2] [--batch-size 16]
                                   [--device cuda] [--images FOLDER]

One run renders the same clips three times with synth's own render path (synth.runner.render, in-process; the
config differs only in codec.format): MP4 (H.264), JPEG frames and recipes (source images + PMG parameters), from
a folder of generated photo-like JPEGs (mostly 512x384, some 2048x1536; seeded) or --images FOLDER. Then it reads
each through the real loader (train.data.make_loader with 1 and 2 workers, then batch_to_device) for one epoch:
  a) MP4 shards, decoded in the workers (the baseline)
  b) JPEG-frame shards, decoded in the workers
  c) recipe shards rendered in the workers with synth's cv2 renderer (render_on="cpu")
  d) recipe shards packed in the workers and rendered by train/device_render.py on the CPU (render_on="device",
     device cpu): the main process's render CPU counts too; "workers only" is what such a clip costs the CPU
     when the render runs on a GPU
  e) the same rendered on the GPU, when there is one
  f) what the model consumes: VideoMAE tiny on the CPU (fp32), and ViT-B on the GPU (bf16), tube mask 0.75
CPU time is measured, not only wall time, since other jobs share the machine: the workers' from getrusage
(RUSAGE_CHILDREN, all threads, once they have exited) and this process's from process_time. clips/s per core =
1000 / (CPU ms per clip, workers + main): the rate one fully busy core sustains.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from synth.config import CodecConfig, RenderConfig
from synth.runner import render
from synth.sources import open_source
from train.data import DataConfig, batch_to_device
from train.masking import make_mask
from train.model import create_model

from common import LoaderRun, machine, synchronize, time_loader  # bench/common.py

FORMATS = ("mp4", "jpg", "recipe")
MASK_RATIO = 0.75
BUSY_TARGET = 0.95  # ViT-B on the GPU fed by GPU_BOX_WORKERS workers
GPU_BOX_WORKERS = 8
TARGET_RATIO = 5.0
SHARD_SIZE = 32  # recipe shards per core over MP4 shards per core


# -------------------------------------------------------------------------------------------------- the sources

def photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A photo-like (h, w, 3) uint8 BGR image: smooth colour fields over four octaves, a few hard-edged shapes
    (edges are what make photos cost bytes) and sensor grain. Compresses like a photo, unlike noise or flat
    colour."""
    img = np.zeros((h, w, 3), np.float32)
    for octave, weight in ((4, 1.0), (16, 0.5), (64, 0.25), (256, 0.12)):
        cells = rng.uniform(0, 255, (max(2, h * octave // 1024), max(2, w * octave // 1024), 3)).astype(np.float32)
        img += weight * cv2.resize(cells, (w, h), interpolation=cv2.INTER_CUBIC)
    img /= 1.87
    for _ in range(int(rng.integers(4, 12))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        if rng.random() < 0.5:
            cv2.circle(img, centre, int(rng.integers(h // 20, h // 4)), colour, -1, cv2.LINE_AA)
        else:
            size = (int(rng.integers(w // 20, w // 4)), int(rng.integers(h // 20, h // 4)))
            box = cv2.boxPoints((centre, size, float(rng.uniform(0, 180))))
            cv2.fillConvexPoly(img, box.astype(np.int32), colour, cv2.LINE_AA)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_photos(folder: Path, count: int, seed: int = 0) -> str:
    """count JPEGs (quality 92) in folder: every 8th 2048x1536, the rest 512x384."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = (1536, 2048) if i % 8 == 7 else (384, 512)
        cv2.imwrite(str(folder / f"photo{i:03d}.jpg"), photo(rng, h, w), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return str(folder)


def render_datasets(images: str, root: Path, args: argparse.Namespace) -> dict[str, tuple[str, float, float]]:
    """format -> (dataset directory, bytes per clip, render seconds): the same clips, zoom + affine + Mixup."""
    source = open_source(images, min_side=args.size)
    out = {}
    for fmt in FORMATS:
        cfg = RenderConfig(images=images, num_videos=args.clips, frames=args.frames, size=args.size,
                           shard_size=SHARD_SIZE, codec=CodecConfig(format=fmt)).validate()
        start = time.perf_counter()
        render(cfg, source, root / fmt, workers=0, progress=False)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (root / fmt).glob("*.tar"))
        out[fmt] = (str(root / fmt), size / args.clips, seconds)
    return out


# ------------------------------------------------------------------------------------------------------- ladder

@dataclass(frozen=True)
class Row:
    fmt: str
    mode: str
    workers: int
    run: LoaderRun
    bytes_per_clip: float

    @property
    def worker_ms(self) -> float:
        """Steady state (common.LoaderRun): what a long epoch with persistent workers costs per clip."""
        return 1000 * self.run.steady_worker_cpu / self.run.steady_clips

    @property
    def main_ms(self) -> float:
        return 1000 * self.run.steady_main_cpu / self.run.steady_clips

    @property
    def per_core(self) -> float:
        return 1000 / (self.worker_ms + self.main_ms)

    @property
    def workers_per_core(self) -> float:
        """clips/s per core counting the workers alone: the CPU cost where the main process's part is a GPU's."""
        return 1000 / self.worker_ms


LADDER = [  # (format, mode label, render_on, device: None = --device, "cuda" = only with a GPU, "none" = not rendered)
    ("mp4", "decode", "device", None),
    ("jpg", "decode", "device", None),
    ("recipe", "cv2 render in workers", "cpu", None),
    ("recipe", "pack; render on cpu", "device", "cpu"),
    ("recipe", "pack; not rendered", "device", "none"),
    ("recipe", "pack; render on cuda", "device", "cuda"),
]


def _no_render(batch: object, device: torch.device) -> object:
    return batch


def ladder(datasets: dict[str, tuple[str, float, float]], args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    rows, notes = [], []
    for fmt, mode, render_on, where in LADDER:
        device = torch.device("cpu" if where == "none" else where or args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            notes.append(f"{fmt}, {mode}: skipped, no GPU here (torch.cuda.is_available() is False)")
            continue
        spec, bytes_per_clip, _ = datasets[fmt]
        shards = sorted(str(p) for p in Path(spec).glob("*.tar"))
        for workers in args.workers:
            # device_render on a CPU takes ~0.3 s a clip: a shard per worker of the same dataset is enough
            subset = shards[:max(workers, -(-args.cpu_render_clips // SHARD_SIZE))] if where == "cpu" else spec
            cfg = DataConfig(frames=args.frames, size=args.size, batch_size=args.batch_size, shuffle_buffer=64,
                             num_workers=workers, persistent_workers=False, render_on=render_on)
            if device.type == "cuda":  # warm up the kernels and the allocator outside the timed epoch
                time_loader(spec, replace(cfg, num_workers=0), device)
            run = time_loader(subset, cfg, device, to_device=_no_render if where == "none" else batch_to_device)
            rows.append(Row(fmt, mode, workers, run, bytes_per_clip))
            print(f"  {fmt:6} {mode:24} {workers} worker(s): {rows[-1].run.clips / rows[-1].run.wall:6.1f} clips/s",
                  file=sys.stderr, flush=True)
    return rows, notes


def print_ladder(rows: list[Row], notes: list[str]) -> None:
    mp4 = {r.workers: r for r in rows if r.fmt == "mp4"}
    print(f"| {'format':6} | {'render':24} | workers | clips  | wall s | clips/s | CPU ms/clip workers | "
          f"CPU ms/clip main | clips/s per core | vs MP4 per core | per core, workers only | epoch ms/clip workers | "
          f"KiB/clip |")
    print(f"|{'-' * 8}|{'-' * 26}|---------|--------|--------|---------|---------------------|------------------|"
          f"------------------|-----------------|------------------------|-----------------------|----------|")
    for r in rows:
        base, base_workers = mp4[r.workers].per_core, mp4[r.workers].workers_per_core
        epoch = f"{1000 * r.run.worker_cpu / r.run.clips:21.2f}"
        print(f"| {r.fmt:6} | {r.mode:24} | {r.workers:7} | {r.run.clips:5}{' ' if r.run.steady else '*'} | "
              f"{r.run.wall:6.2f} | "
              f"{r.run.clips / r.run.wall:7.1f} | {r.worker_ms:19.2f} | {r.main_ms:16.2f} | {r.per_core:16.1f} | "
              f"{r.per_core / base:14.2f}x | {r.workers_per_core:13.1f} ({r.workers_per_core / base_workers:4.1f}x) | "
              f"{epoch} | {r.bytes_per_clip / 1024:8.1f} |")
    for note in notes:
        print(f"| {note} |")
    print("CPU ms/clip and the rates from them: steady state, from every worker's first batch until the queue "
          "drains (bench/common.py); epoch ms/clip: the whole\nepoch, with the workers' start-up and exit (fork, "
          "pipeline), which persistent workers pay once per run. *: epoch too short for a steady state: whole "
          "epoch.\n"
          "vs MP4: against MP4's per core with the same workers; workers only: against MP4's workers only.")


# -------------------------------------------------------------------------------------------------------- model

@dataclass(frozen=True)
class ModelRate:
    name: str
    batch: int
    clips_per_s: float  # from the median step
    best: float  # from the fastest step: the least disturbed by other load on a shared machine
    cpu_ms: float  # this process's CPU per clip (all threads)


def model_rate(size: str, device: torch.device, bf16: bool, args: argparse.Namespace) -> ModelRate:
    """Pre-training steps (forward, backward, AdamW) of VideoMAE `size` on random clips with a fresh tube mask
    each step, as bench/train_step.py times them; one untimed warm-up step."""
    torch.manual_seed(0)
    model = create_model(size, img_size=args.size, frames=args.frames).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    batch = args.model_batch or (32 if device.type == "cuda" else 2)
    videos = torch.randn(batch, 3, args.frames, args.size, args.size, device=device)
    generator = torch.Generator(device).manual_seed(0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    times, cpu = [], 0.0
    for step in range(1 + args.model_steps):
        mask = make_mask("tube", batch, model.cfg.grid, MASK_RATIO, device, generator)
        synchronize(device)
        wall, start = time.perf_counter(), time.process_time()
        with autocast:
            loss = model(videos, mask)[0]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        if step:
            times.append(time.perf_counter() - wall)
            cpu += time.process_time() - start
    precision = "bf16" if bf16 else "fp32"
    name = f"VideoMAE {size} ({'ViT-B' if size == 'base' else 'ViT-Ti' if size == 'tiny' else size}), {device.type}, " \
           f"{precision}, mask {MASK_RATIO}"
    return ModelRate(name, batch, batch / statistics.median(times), batch / min(times),
                     1000 * cpu / (batch * args.model_steps))


# ------------------------------------------------------------------------------------------------------ summary

def summary(rows: list[Row], models: list[ModelRate]) -> list[str]:
    lines = []
    mp4 = {r.workers: r.per_core for r in rows if r.fmt == "mp4"}
    mp4_workers = {r.workers: r.workers_per_core for r in rows if r.fmt == "mp4"}
    device_rows = [r for r in rows if r.fmt == "recipe" and "render on cpu" in r.mode]
    cuda_rows = [r for r in rows if r.fmt == "recipe" and "cuda" in r.mode]
    # Where the render runs on a GPU only the workers' part costs CPU: the cuda rows measure it; without a GPU the
    # rows that pack and do not render (the whole dataset, where the render-on-cpu rows read a shard per worker)
    # stand in for it.
    gpu_box = cuda_rows or [r for r in rows if r.fmt == "recipe" and "not rendered" in r.mode]
    if gpu_box:
        ratios = [r.workers_per_core / mp4_workers[r.workers] for r in gpu_box]  # workers against workers
        figure = ", ".join(f"{x:.1f}x ({r.workers} worker{'s' * (r.workers > 1)})" for x, r in zip(ratios, gpu_box))
        how = ("rendered on cuda, workers' CPU alone" if cuda_rows
               else "packed in the workers for a GPU to render (workers' CPU alone, as on a GPU box)")
        lines.append(f"target recipe shards >= {TARGET_RATIO:g}x MP4 shards per core, {how}: "
                     f"{'met' if min(ratios) >= TARGET_RATIO else 'MISSED'}: {figure}")
        cpu = [r for r in rows if r.fmt == "recipe" and r.mode.startswith("cv2")]
        for label, group in (("rendered on this CPU by device_render, main process included", device_rows),
                             ("rendered by cv2 in the workers", cpu)):
            if group:
                lines.append(f"  recipe shards {label}: "
                             + ", ".join(f"{r.per_core / mp4[r.workers]:.2f}x ({r.workers}w)" for r in group)
                             + " MP4 per core")
    for m in models:
        if m.name.startswith("VideoMAE tiny"):
            need = {f"{r.fmt} {r.mode}": m.clips_per_s / r.per_core
                    for r in rows if r.workers == max(x.workers for x in rows) and "cuda" not in r.mode
                    and "not rendered" not in r.mode}
            lines.append(f"{m.name} consumes {m.clips_per_s:.1f} clips/s; input-pipeline cores that keep up with it: "
                         + ", ".join(f"{k} {v:.2f}" for k, v in need.items()))
    base = next((m for m in models if "base" in m.name), None)
    if base is None or not cuda_rows:
        lines.append(f"target {GPU_BOX_WORKERS} workers keep ViT-B (mask {MASK_RATIO}, bf16) above "
                     f"{BUSY_TARGET:.0%} busy: not measured, this row needs a GPU")
    else:
        supply = GPU_BOX_WORKERS * max(r.workers_per_core for r in cuda_rows)
        busy = min(1.0, supply / base.clips_per_s)
        lines.append(f"target {GPU_BOX_WORKERS} workers keep ViT-B above {BUSY_TARGET:.0%} busy (estimate: "
                     f"{GPU_BOX_WORKERS} x per-core workers-only rate = {supply:.0f} clips/s vs the model's "
                     f"{base.clips_per_s:.0f} clips/s -> {busy:.0%} busy): {'met' if busy >= BUSY_TARGET else 'MISSED'}"
                     "; the render's own GPU time is not subtracted")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=384, help="clips per dataset (each format holds the same clips)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="where batches go (MP4, JPEG and cv2-rendered rows)")
    p.add_argument("--images", help="a folder of images to render from instead of the generated photos")
    p.add_argument("--photos", type=int, default=48, help="generated photos without --images")
    p.add_argument("--cpu-render-clips", type=int, default=32,
                   help="clips (whole shards, at least one per worker) read for device_render on the CPU")
    p.add_argument("--model-steps", type=int, default=3)
    p.add_argument("--model-batch", type=int, help="default: 2 on the CPU, 32 on a GPU")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)  # the device render on the CPU: one core, like one worker

    print("\n".join(machine()))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = args.images or write_photos(root / "photos", args.photos)
        datasets = render_datasets(images, root, args)
        what = args.images or f"{args.photos} generated photo-like JPEGs ({args.photos - args.photos // 8} of " \
                              f"512x384, {args.photos // 8} of 2048x1536)"
        print(f"clips: {args.clips} x {args.frames}x{args.size}x{args.size}, zoom+affine, Mixup, from {what}; "
              f"rendered in-process: " + ", ".join(f"{f} {s:.1f} s" for f, (_, _, s) in datasets.items()))
        print(f"loader: batch {args.batch_size}, device {args.device}, one epoch per row, cv2 and torch 1 thread "
              f"in this process\n")
        rows, notes = ladder(datasets, args)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    models = [model_rate("tiny", torch.device("cpu"), False, args)]
    if torch.cuda.is_available():
        models.append(model_rate("base", torch.device("cuda"), True, args))
    print_ladder(rows, notes)
    print(f"\n| {'model (pre-training step, {0} torch threads on cpu)'.format(torch.get_num_threads()):58} | batch | "
          f"clips/s (median step) | clips/s (best step) | CPU ms/clip |")
    print(f"|{'-' * 60}|-------|-----------------------|---------------------|-------------|")
    for m in models:
        print(f"| {m.name:58} | {m.batch:5} | {m.clips_per_s:21.1f} | {m.best:19.1f} | {m.cpu_ms:11.1f} |")
    if not torch.cuda.is_available():
        print(f"| {'VideoMAE base (ViT-B), cuda, bf16: skipped, no GPU here':58} |     - |                     - |"
              f"                   - |           - |")
    print()
    print("\n".join(summary(rows, models)))


if __name__ == "__main__":
    sys.exit(main())
