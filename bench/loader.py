"""Loader throughput: MP4 shards -> device-ready batches, in clips/s per DataLoader worker.

    python bench/loader.py [--shards SPEC] [--clips 384] [--frames 16] [--size 224] [--workers 1 2]

Without --shards it renders synthetic clips first (moving textures, encoded the way `synth render` encodes), so the
H.264 decode cost is realistic. Rows:
- decode only, one process: the baseline (PyAV rgb24 with FFmpeg's default threads), rgb24 with the threading
  choices, and the loader's decode_mp4;
- the loader with 1..N workers, to batches, then with DeviceAugment on the device as well.
"CPU ms/clip" is CPU time (all threads) per clip, in the workers for loader rows and in this process for decode
rows: 1000 / it is the clips/s one core sustains, which other load on the machine distorts less than wall time.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import av
import cv2
import numpy as np
import torch
import webdataset as wds

from synth.codec import encode
from synth.config import CodecConfig
from train.augment import DeviceAugment
from train.data import DataConfig, decode_mp4
from train.shards import resolve_shards

from common import machine, time_loader  # bench/common.py

PER_SHARD = 64


def moving_clip(rng: np.random.Generator, frames: int, size: int) -> np.ndarray:
    """A smooth texture with grain, drifting, turning and zooming: about what pseudo-motion clips cost to code."""
    canvas = 2 * size
    texture = cv2.resize(rng.integers(0, 256, (canvas // 16, canvas // 16, 3), dtype=np.uint8), (canvas, canvas),
                         interpolation=cv2.INTER_CUBIC)
    texture = cv2.add(texture, rng.integers(0, 24, (canvas, canvas, 3), dtype=np.uint8))
    shift, turn, zoom = rng.uniform(-4, 4, 2), rng.uniform(-2, 2), rng.uniform(-0.01, 0.01)
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        m = cv2.getRotationMatrix2D((canvas / 2, canvas / 2), turn * t, 1 + zoom * t)
        m[:, 2] += shift * t - size / 2
        out[t] = cv2.warpAffine(texture, m, (size, size), borderMode=cv2.BORDER_REFLECT)
    return out


def render_shards(root: Path, clips: int, frames: int, size: int, fps: int = 8) -> str:
    """clips synthetic samples as NAME-NNNNNN.tar shards plus manifest.json; returns the dataset directory."""
    rng, entries = np.random.default_rng(0), []
    for s in range(0, clips, PER_SHARD):
        path = root / f"bench-{s // PER_SHARD:06d}.tar"
        keys = range(s, min(s + PER_SHARD, clips))
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for k in keys:
                members = encode(moving_clip(rng, frames, size), fps, CodecConfig())
                members.update(json=b"{}", cls=str(k % 10).encode())
                for ext in sorted(members):
                    info = tarfile.TarInfo(f"{k:09d}.{ext}")
                    info.size = len(members[ext])
                    tar.addfile(info, io.BytesIO(members[ext]))
        entries.append({"path": path.name, "sha256": "", "bytes": path.stat().st_size, "count": len(keys)})
    manifest = {"name": "bench", "version": "0", "config": {"frames": frames, "size": size, "fps": fps, "format": "mp4"},
                "shards": entries, "totals": {"samples": clips, "shards": len(entries)}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return str(root)


def mp4_members(spec: str) -> Iterator[bytes]:
    for shard in resolve_shards(spec)[0]:
        for sample in wds.tarfile_samples([dict(url=shard)]):
            yield sample["mp4"]


def pyav_rgb24(thread_type: str | None, thread_count: int | None) -> Callable[[bytes, int], np.ndarray]:
    def decode(data: bytes, frames: int) -> np.ndarray:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            if thread_type is not None:
                stream.thread_type = thread_type
            if thread_count is not None:
                stream.codec_context.thread_count = thread_count
            return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)][:frames])

    return decode


def time_decode(data: list[bytes], frames: int, fn: Callable[[bytes, int], np.ndarray]) -> tuple[float, float]:
    """(wall s, CPU s of this process, all threads) to decode every clip once."""
    wall, cpu = time.perf_counter(), time.process_time()
    for d in data:
        fn(d, frames)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_augmented(spec: str, cfg: DataConfig, augment: DeviceAugment | None,
                   device: torch.device) -> tuple[int, float, float]:
    """(clips, wall s, worker CPU s) for one epoch, batches made device-ready (and augmented if asked)."""
    generator = torch.Generator().manual_seed(0)
    run = time_loader(spec, cfg, device, None if augment is None else lambda video: augment(video, generator))
    return run.clips, run.wall, run.worker_cpu


def row(name: str, workers: int, clips: int, wall: float, cpu: float) -> str:
    """workers 0 means the main process: per worker is then the rate of that one process."""
    label = str(workers) if workers else "(main)"
    return (f"| {name:<47} | {label:>7} | {clips:>5} | {wall:6.2f} | {clips / wall:7.1f} | "
            f"{clips / wall / max(workers, 1):10.1f} | {1000 * cpu / clips:18.2f} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shards", help="dataset directory, glob or brace pattern of MP4 shards (default: render some)")
    p.add_argument("--clips", type=int, default=384, help="synthetic clips to render without --shards")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)  # the augment row on CPU: one core, like one worker

    print("\n".join(machine()))
    with tempfile.TemporaryDirectory() as tmp:
        spec = args.shards
        if spec is None:
            t = time.perf_counter()
            spec = render_shards(Path(tmp), args.clips, args.frames, args.size)
            print(f"rendered {args.clips} clips {args.frames}x{args.size}x{args.size} in {time.perf_counter() - t:.1f} s")
        data = list(mp4_members(spec))
        print(f"shards: {spec}, {len(data)} clips, {sum(map(len, data)) / len(data) / 1024:.1f} KiB per clip, "
              f"device {args.device}, batch {args.batch_size}\n")
        print(f"| {'stage':<47} | workers | clips | wall s | clips/s | per worker | CPU ms/clip        |")
        print(f"|{'-' * 49}|---------|-------|--------|---------|------------|--------------------|")
        decoders = [("decode, PyAV rgb24, FFmpeg threads (baseline)", pyav_rgb24(None, None)),
                    ("decode, PyAV rgb24, 1 thread", pyav_rgb24(None, 1)),
                    ("decode, PyAV rgb24, thread_type AUTO", pyav_rgb24("AUTO", 0)),
                    ("decode, decode_mp4 (1 thread, OpenCV yuv->rgb)", lambda d, f: decode_mp4(d, f, 1))]
        for name, fn in decoders:
            wall, cpu = time_decode(data, args.frames, fn)
            print(row(name, 0, len(data), wall, cpu), flush=True)
        cfg = DataConfig(frames=args.frames, size=args.size, batch_size=args.batch_size, shuffle_buffer=64,
                         persistent_workers=False)
        device = torch.device(args.device)
        augment = DeviceAugment(size=args.size)
        for name, aug in [("loader -> uint8 batches on device", None),
                          (f"loader -> batches + DeviceAugment ({device.type})", augment)]:
            for workers in args.workers:
                clips, wall, cpu = time_augmented(spec, replace(cfg, num_workers=workers), aug, device)
                print(row(name, workers, clips, wall, cpu), flush=True)
    video = torch.randint(0, 256, (args.batch_size, args.frames, args.size, args.size, 3), dtype=torch.uint8)
    video = video.to(device)
    augment(video)
    t = time.perf_counter()
    for _ in range(3):
        augment(video)
    if device.type == "cuda":
        torch.cuda.synchronize()
    print(f"\nDeviceAugment alone on {device.type}: {(time.perf_counter() - t) / 3 * 1000:.1f} ms per batch of "
          f"{args.batch_size} ({torch.get_num_threads()} torch threads)")


if __name__ == "__main__":
    sys.exit(main())
