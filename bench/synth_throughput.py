"""Rendering throughput of `synth render` against a naive baseline, measured in the same run.

Rows (16 x 224 x 224 H.264 MP4 clips, zoom + affine + Mixup, from a folder of JPEG images):
  in-process      --workers 0
  ray x1, ray x2  one local Ray instance, one or two shard tasks at a time (Ray start-up excluded)
  naive baseline  per-frame recursive PIL transforms (each frame resampled from the previous one) and one ffmpeg
                  subprocess per clip, written to a tar with the standard library
Prints clips/s, clips/s per core, the Ray 1 -> 2 speed-up and our speed per core over the baseline's.

    python bench/synth_throughput.py [--clips 192] [--shard-size 16]
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from synth.codec import ffmpeg_exe
from synth.config import RenderConfig
from synth.runner import render
from synth.sources.folder import FolderSource


def make_images(folder: Path, count: int) -> None:
    """Photo-like JPEGs (smooth colour fields with edges), 512x384."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        img = cv2.resize(small, (512, 384), interpolation=cv2.INTER_CUBIC)
        cv2.circle(img, tuple(int(v) for v in rng.integers(50, 330, 2)), int(rng.integers(20, 80)),
                   tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])


def timed_render(cfg: RenderConfig, source: FolderSource, out: Path, workers: int) -> float:
    start = time.perf_counter()
    render(cfg, source, out, workers=workers, progress=False)
    return time.perf_counter() - start


def naive_clip(path: Path, rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    """What a first attempt looks like: resample the previous frame with PIL, frame after frame."""
    img = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    angle, zoom = rng.uniform(-3, 3), rng.uniform(1.01, 1.04)
    out = [np.asarray(img)]
    for _ in range(frames - 1):
        img = img.rotate(angle, resample=Image.BILINEAR).resize(
            (round(size * zoom), round(size * zoom)), Image.BILINEAR)
        off = (img.width - size) // 2
        img = img.crop((off, off, off + size, off + size))
        out.append(np.asarray(img))
    return np.stack(out)


def naive_baseline(images: list[Path], clips: int, frames: int, size: int, out: Path) -> float:
    exe = ffmpeg_exe()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with tarfile.open(out, "w") as tar:
        for i in range(clips):
            a = naive_clip(images[i % len(images)], rng, frames, size)
            b = naive_clip(images[rng.integers(len(images))], rng, frames, size)
            lam = rng.beta(1, 1)
            clip = (lam * a + (1 - lam) * b).round().astype(np.uint8)
            with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
                subprocess.run([exe, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}",
                                "-r", "8", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20",
                                "-preset", "ultrafast", f.name], input=clip.tobytes(), check=True)
                data = Path(f.name).read_bytes()
            info = tarfile.TarInfo(f"{i:09d}.mp4")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=192)
    ap.add_argument("--shard-size", type=int, default=16)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--baseline-clips", type=int, default=48)
    a = ap.parse_args()
    import av
    import ray

    work = Path(tempfile.mkdtemp(prefix="synth-bench-"))
    make_images(work / "images", a.images)
    source = FolderSource(work / "images", min_side=a.size)
    cfg = RenderConfig(images=str(work / "images"), num_videos=a.clips, frames=a.frames, size=a.size,
                       shard_size=a.shard_size)
    rows = []
    rows.append(("in-process (--workers 0)", 1, timed_render(cfg, source, work / "inproc", 0)))
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    timed_render(RenderConfig(**{**cfg.__dict__, "num_videos": 4 * a.shard_size}), source, work / "warm", 2)
    rows.append(("ray, 1 worker", 1, timed_render(cfg, source, work / "ray1", 1)))
    rows.append(("ray, 2 workers", 2, timed_render(cfg, source, work / "ray2", 2)))
    ray.shutdown()
    baseline = naive_baseline(sorted((work / "images").glob("*.jpg")), a.baseline_clips, a.frames, a.size,
                              work / "naive.tar")

    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}, "
          f"PyAV {av.__version__}, ray {ray.__version__}")
    print(f"clips: {a.clips} x {a.frames}x{a.size}x{a.size} mp4 (zoom+affine, mixup), {a.shard_size} per shard\n")
    print(f"| {'run':<26} | cores | clips/s | clips/s per core |")
    print(f"|{'-' * 28}|-------|---------|------------------|")
    per_core = {}
    for name, cores, seconds in rows:
        rate = a.clips / seconds
        per_core[name] = rate / cores
        print(f"| {name:<26} | {cores:>5} | {rate:>7.1f} | {rate / cores:>16.1f} |")
    naive_rate = a.baseline_clips / baseline
    print(f"| {'naive baseline (PIL+ffmpeg)':<26} | {1:>5} | {naive_rate:>7.1f} | {naive_rate:>16.1f} |")
    ray1, ray2 = a.clips / rows[1][2], a.clips / rows[2][2]
    print(f"\nray 1 -> 2 workers: {ray2 / ray1:.2f}x (parallel efficiency {ray2 / ray1 / 2:.0%})")
    print(f"in-process vs naive baseline, per core: {per_core[rows[0][0]] / naive_rate:.1f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
