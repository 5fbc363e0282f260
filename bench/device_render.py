"""Device rendering throughput: train.device_render against synth.render's cv2 path, measured in the same run.

Batches of --batch clips of --frames x --size x --size, transforms drawn evenly from synth.motion.TRANSFORMS, every
other clip Mixed with a second layer; sources are photo-sized images already reduced as the loader supplies them
(shorter side 1.25 x size). Rows:
  cv2 baseline   synth.render.render_rgbx (+ mixup), clip by clip: what a loader worker does today
  pack           train.device_render.pack, the worker's share once rendering moves to the device
  render cpu     train.device_render.render on the CPU
  render cuda    the same on the GPU, from a pinned batch, synchronised (when a GPU is present)
cv2 and torch get the same --threads. The last column is the largest difference from the cv2 frames, in levels.

    python bench/device_render.py [--batch 16] [--frames 16] [--size 224] [--batches 2] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Callable

import cv2
import numpy as np
import torch

from synth.motion import TRANSFORMS, Motion, sample_motion
from synth.render import OVERSAMPLE, mixup, prepare_source, render_rgbx, warp_frames
from train.device_render import ClipSpec, Layer, pack, render

Draw = list[tuple[tuple[np.ndarray, Motion, np.ndarray | None], ...]]  # per clip: (rgb, motion, partner) layers


def header() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return [f"machine: {platform.node()} {platform.machine()}, {cpu}, {len(os.sched_getaffinity(0))} usable cores, "
            f"load {os.getloadavg()[0]:.1f}, GPU {gpu}",
            f"python {platform.python_version()}, torch {torch.__version__}, opencv {cv2.__version__}, "
            f"numpy {np.__version__}"]


def photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour fields with grain: (h, w, 3) uint8."""
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    smooth = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.add(smooth, rng.integers(0, 16, (h, w, 3), dtype=np.uint8))


def draw(rng: np.random.Generator, clips: int, size: int) -> Draw:
    side = round(OVERSAMPLE * size)
    names = sorted(TRANSFORMS)
    layer = lambda i: (photo(rng, side, side * 4 // 3), sample_motion(rng, {names[i % len(names)]: 1.0}),  # noqa: E731
                       photo(rng, side * 4 // 3, side))
    return [(layer(i),) if i % 2 else (layer(i), layer(i + 3)) for i in range(clips)]


def cv2_clips(clips: Draw, lams: list[float], frames: int, size: int) -> np.ndarray:
    out = []
    for layers, lam in zip(clips, lams):
        rgbx = [render_rgbx(rgb, m, frames=frames, size=size, partner=partner) for rgb, m, partner in layers]
        out.append((rgbx[0] if len(rgbx) == 1 else mixup(rgbx[0], rgbx[1], lam))[..., :3])
    return np.stack(out)


def specs(clips: Draw, lams: list[float], size: int) -> list[ClipSpec]:
    """As the loader will build them: the cutmix partner's still is rendered in the worker (untimed here)."""
    def layer(rgb: np.ndarray, m: Motion, partner: np.ndarray) -> Layer:
        still = None
        if TRANSFORMS[m.transform].kind == "cutmix":
            still = warp_frames(prepare_source(partner, size), Motion("identity", {}), frames=1, size=size,
                                border="reflect", max_fit_zoom=1.5)[0, ..., :3]
        return Layer(rgb, m, still)

    return [ClipSpec(tuple(layer(*x) for x in layers), lam if len(layers) == 2 else 1.0)
            for layers, lam in zip(clips, lams)]


def rate(fn: Callable[[], object], clips: int, repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    """clips/s of fn over `repeats` calls, after one untimed warm-up call."""
    fn()
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return clips * repeats / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batches", type=int, default=2, help="timed repeats per row")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    clips = draw(rng, a.batch, a.size)
    lams = [float(x) for x in rng.beta(0.8, 0.8, a.batch)]
    batch_specs = specs(clips, lams, a.size)
    want = cv2_clips(clips, lams, a.frames, a.size)
    batch = pack(batch_specs, frames=a.frames, size=a.size)
    diff = lambda got: int(np.abs(got.cpu().numpy().astype(np.int16) - want).max())  # noqa: E731

    rows = [("cv2 baseline", rate(lambda: cv2_clips(clips, lams, a.frames, a.size), a.batch, a.batches), "0"),
            ("pack", rate(lambda: pack(batch_specs, frames=a.frames, size=a.size), a.batch, a.batches), "-"),
            ("render cpu", rate(lambda: render(batch, "cpu"), a.batch, a.batches), str(diff(render(batch, "cpu"))))]
    if torch.cuda.is_available():
        pinned = type(batch)(*(x.pin_memory() if isinstance(x, torch.Tensor) else x for x in batch))
        rows.append(("render cuda", rate(lambda: render(pinned, "cuda"), a.batch, a.batches, torch.cuda.synchronize),
                     str(diff(render(pinned, "cuda")))))

    print("\n".join(header()))
    print(f"batch: {a.batch} clips x {a.frames}x{a.size}x{a.size}, half with Mixup, {a.threads} thread(s), "
          f"{a.batches} timed batch(es) per row\n")
    print(f"| {'run':<12} | clips/s | vs cv2 | max diff |")
    print(f"|{'-' * 14}|---------|--------|----------|")
    for name, r, d in rows:
        print(f"| {name:<12} | {r:>7.1f} | {r / rows[0][1]:>5.2f}x | {d:>8} |")


if __name__ == "__main__":
    main()
