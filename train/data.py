"""Shards -> batches of uint8 clips: a webdataset pipeline per DataLoader worker, with corrupt data counted.

Each worker runs `shard urls -> read_shards -> shuffle -> decode_clips -> batch_clips`, small generator stages in
the webdataset style. Batches leave the worker as uint8 (B, T, H, W, 3) tensors (a quarter of the bytes of float);
crop, flip and normalisation happen on the device (train/augment.py).

Recipe samples (`synth render --format recipe`: source images + PMG parameters, told apart by their members, not
the manifest) are not decoded but rendered, at data.frames x data.size (the motion is resolution-free; the framing
fits the frames asked for). With data.render_on="device" (default) the decode stage turns each into a ClipSpec
and the batch stage packs them (train/device_render.py) in the worker; the batch then carries that RenderBatch and
batch_to_device renders it on the training device. With "cpu" the worker renders with synth's cv2 renderer and
the batch is ordinary video. data.fresh_motion redraws every sample's motion each epoch from (its seed, its index,
the epoch): new motion of the same images, still exactly resumable. `--images` (train/images.py) skips shards:
it draws clips straight from an image source into the same batch stage.

Two modes:
- exact (`resampled=False`): every epoch each rank reads a disjoint share of the shards once (`rank_shards`), in a
  seeded order that changes with the epoch; `ClipLoader.set_epoch` replays any epoch (resume). Ranks can get
  different numbers of batches per epoch, so a DDP loop counts steps rather than epochs (train/loop.py reads
  epochs back to back) or uses the resampled mode.
- resampled (`resampled=True`): each rank and worker draws shards with replacement from its own seeded stream
  (`wds.ResampledShards`), forever; an "epoch" is a fixed number of steps, the manifest's sample count divided
  by world_size * batch_size, so every rank takes the same number of steps.

Corrupt data never crashes a worker: a sample that fails to decode, or a shard that cannot be read to the end, is
counted and skipped with a warning. Counts ride along with the batches (`ClipBatch.tally`) because the workers are
other processes; a skip also sends an empty batch at once, so a stream of nothing but corrupt data still reports
instead of hanging. `ClipLoader` sums the counts (`DataHealth`) and raises UserError past a threshold.
"""
from __future__ import annotations

import io
import math
import os
import re
import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import av
import cv2
import numpy as np
import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, default_collate, get_worker_info

from synth.errors import UserError
from synth.motion import TRANSFORMS
from synth.recipe import RecipeClip, decode_recipe, fresh_motion, is_recipe, render_recipe, still_at
from train.device_render import ClipSpec, Layer, RenderBatch, pack, render
from train.shards import MANIFEST, _mix, rank_shards, resolve_shards, shard_sizes

_JPEG_FRAME = re.compile(r"^f(\d+)\.jpg$")
# FFmpeg colorspace / range codes for which OpenCV's BT.601 limited-range YUV->RGB is the right inverse:
# unspecified, BT470BG, SMPTE170M; unspecified or MPEG (limited) range. synth's encoder writes exactly this.
_BT601_SPACES = (2, 5, 6)
_LIMITED_RANGES = (0, 1)
RENDER_ON = ("device", "cpu")


@dataclass(frozen=True)
class DataConfig:
    """How clips are read, decoded and batched; saved with every run so a run can be reproduced.

    frames, size: clip length and square frame side (pixels) handed to the model; clips with more frames keep the
        first `frames` (the same frame rate as rendered, so motion speed is unchanged); other sizes are resized.
    batch_size: clips per batch on each rank.
    shuffle_buffer: samples each worker mixes before decoding; they are held compressed, so it costs
        shuffle_buffer x the clip size (~50-200 KiB at 16x224x224) of RAM per worker.
    resampled: draw shards with replacement forever instead of exact passes; every rank's epoch is then the same
        number of steps.
    epoch_samples: samples per nominal epoch in resampled mode; None takes the manifest's total.
    decode_threads: FFmpeg threads per clip; 1 costs the least CPU since workers already run in parallel
        (bench/loader.py measures it).
    max_skip_fraction, min_seen: raise UserError once more than this fraction of samples was corrupt, judged after
        at least min_seen samples.
    pin_memory: None pins when CUDA is available.
    render_on: where recipe and --images clips are rendered: "device" (batched, train/device_render.py) or "cpu"
        (synth's cv2 renderer in the workers, like decoding).
    fresh_motion: recipe shards and --images only: new motion parameters every epoch for the same images.
    With --images, epoch_samples is the clips per epoch (default: one per source image).
    """

    frames: int = 16
    size: int = 224
    batch_size: int = 32
    shuffle_buffer: int = 1000
    seed: int = 0
    resampled: bool = False
    epoch_samples: int | None = None
    decode_threads: int = 1
    num_workers: int = 8
    prefetch_factor: int = 2
    persistent_workers: bool = True
    pin_memory: bool | None = None
    max_skip_fraction: float = 0.1
    min_seen: int = 50
    render_on: str = "device"
    fresh_motion: bool = False

    def __post_init__(self) -> None:
        for name in ("frames", "size", "batch_size", "shuffle_buffer", "decode_threads", "prefetch_factor"):
            if getattr(self, name) < 1:
                raise UserError(f"data.{name}={getattr(self, name)}: must be at least 1")
        if self.num_workers < 0:
            raise UserError(f"data.num_workers={self.num_workers}: must be 0 (main process) or more")
        if not 0.0 <= self.max_skip_fraction <= 1.0:
            raise UserError(f"data.max_skip_fraction={self.max_skip_fraction}: must be between 0 and 1")
        if self.render_on not in RENDER_ON:
            raise UserError(f"data.render_on={self.render_on!r} (--render-on): choose {' or '.join(RENDER_ON)}")
        if self.fresh_motion and self.resampled:
            raise UserError("data.fresh_motion (--fresh-motion) draws motion per epoch and needs exact epochs; "
                            "set data.resampled=false")


class Tally(NamedTuple):
    """Samples decoded, samples skipped (corrupt or missing from a short shard) and shards failed, in one worker
    since its previous batch."""

    ok: int
    skipped: int
    shards_failed: int


class DeviceClip(NamedTuple):
    """A recipe clip on its way to pack(): the spec and the border policy it renders with."""

    spec: ClipSpec
    border: str
    max_fit_zoom: float


Clip = tuple[str, "np.ndarray | DeviceClip", int]  # (key, uint8 (T, H, W, 3) or a clip to render, label or -1)


class ClipBatch(NamedTuple):
    """video: uint8 (B, T, H, W, 3) RGB, or the RenderBatch of recipe clips that batch_to_device renders; label:
    int64 (B,), -1 where the source has no labels; key: the samples' 9-digit global indices; tally: what the
    worker met since its previous batch."""

    video: torch.Tensor | RenderBatch
    label: torch.Tensor
    key: list[str]
    tally: Tally


# -------------------------------------------------------------------------------------------------------- workers

def _worker_id() -> int:
    info = get_worker_info()
    return info.id if info is not None else 0


def one_thread_in_workers() -> None:
    """OpenCV on one thread inside a DataLoader worker (torch already is): the workers are the parallelism, and
    OpenCV's thread pool on top of them costs CPU time in contention (and forks badly)."""
    if get_worker_info() is not None:
        cv2.setNumThreads(1)


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


# --------------------------------------------------------------------------------------------------------- stages

@dataclass
class _Counts:
    """One worker's running counts, shared by its stages; take() hands over what accumulated since last time."""

    ok: int = 0
    skipped: int = 0
    shards_failed: int = 0

    def take(self) -> Tally:
        tally = Tally(self.ok, self.skipped, self.shards_failed)
        self.ok = self.skipped = self.shards_failed = 0
        return tally


def read_shards(shards: Iterable[dict], *, expected: Mapping[str, int], counts: _Counts) -> Iterator[dict | None]:
    """Tar members grouped into samples, shard by shard, so that a broken shard counts once however many errors
    it raises. A shard that fails, or ends with fewer samples than the manifest lists (a tar cut at a member
    boundary reads as a clean end), counts as failed and its missing samples as skipped; None follows it down the
    pipeline so that batch_clips reports the counts even when no sample ever arrives."""
    for shard in shards:
        url = shard["url"]
        errors: list[Exception] = []

        def keep_going(exn: Exception) -> bool:
            errors.append(exn)
            return True

        n = 0
        for sample in wds.tarfile_samples([dict(url=url)], handler=keep_going):
            n += 1
            yield sample
        missing = max(expected.get(url, n) - n, 0)
        if errors or missing:
            counts.shards_failed += 1
            counts.skipped += missing
            reason = f"{errors[0]!r}"[:200] if errors else "ends early"
            warnings.warn(f"shard {url}: {reason}; read {n} samples, {missing} missing", RuntimeWarning)
            yield None


def decode_mp4(data: bytes, frames: int, threads: int = 1) -> np.ndarray:
    """The first `frames` frames of an MP4 as uint8 (frames, H, W, 3) RGB; ValueError when it has fewer."""
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise ValueError("mp4 has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = threads
        if threads > 1:
            stream.thread_type = "AUTO"
        out = None
        t = 0
        for frame in container.decode(stream):
            if out is None:
                out = np.empty((frames, frame.height, frame.width, 3), np.uint8)
            if (frame.height, frame.width) != out.shape[1:3]:
                raise ValueError(f"frame {t} is {frame.width}x{frame.height}, frame 0 was {out.shape[2]}x{out.shape[1]}")
            _rgb_into(frame, out[t])
            t += 1
            if t == frames:
                return out
    raise ValueError(f"mp4 has {t} frames, {frames} needed")


def _rgb_into(frame: av.VideoFrame, out: np.ndarray) -> None:
    """YUV->RGB into out. For BT.601 limited-range yuv420p (what synth writes, via OpenCV) OpenCV's conversion is
    the matching inverse and takes ~0.07 ms a 224x224 frame against ~0.3 ms for PyAV's swscale rgb24, a third of
    the decode cost (bench/loader.py); anything else goes through swscale."""
    if (frame.format.name == "yuv420p" and frame.colorspace in _BT601_SPACES
            and frame.color_range in _LIMITED_RANGES):
        cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420, dst=out)
    else:
        out[...] = frame.to_ndarray(format="rgb24")


def decode_jpgs(sample: Mapping[str, Any], frames: int) -> np.ndarray:
    """The first `frames` of a sample's fNN.jpg members (numeric order) as uint8 (frames, H, W, 3) RGB."""
    names = sorted((int(m.group(1)), k) for k in sample if (m := _JPEG_FRAME.match(k)))
    if len(names) < frames:
        raise ValueError(f"sample has {len(names)} jpg frames, {frames} needed" if names
                         else "sample has neither .mp4 nor .fNN.jpg members")
    out = None
    for t, (_, name) in enumerate(names[:frames]):
        bgr = cv2.imdecode(np.frombuffer(sample[name], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{name}: not a decodable JPEG")
        if out is None:
            out = np.empty((frames, *bgr.shape), np.uint8)
        if bgr.shape != out.shape[1:]:
            raise ValueError(f"{name} is {bgr.shape[1]}x{bgr.shape[0]}, the first frame {out.shape[2]}x{out.shape[1]}")
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=out[t])
    return out


def _resize(video: np.ndarray, size: int) -> np.ndarray:
    """Square frames of side `size`; the renderer writes square frames, so this only rescales."""
    if video.shape[1:3] == (size, size):
        return video
    interpolation = cv2.INTER_AREA if min(video.shape[1:3]) > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (size, size), interpolation=interpolation) for f in video])


def recipe_item(recipe: RecipeClip, *, frames: int, size: int, render_on: str) -> np.ndarray | DeviceClip:
    """What the batch stage gets for a recipe: rendered frames (render_on="cpu") or a clip for pack()."""
    if render_on == "cpu":
        return render_recipe(recipe, frames, size)
    layers = tuple(Layer(layer.image, layer.motion, still_at(layer.still, size)
                         if TRANSFORMS[layer.motion.transform].kind == "cutmix" and layer.still is not None else None)
                   for layer in recipe.layers)
    return DeviceClip(ClipSpec(layers, recipe.lam), recipe.motion.border, recipe.motion.max_fit_zoom)


def decode_clips(samples: Iterable[dict | None], *, frames: int, size: int, threads: int, counts: _Counts,
                 epoch: int = 0, fresh: bool = False, render_on: str = "device") -> Iterator[Clip | None]:
    """Raw samples -> (key, uint8 (frames, size, size, 3) or a DeviceClip, label or -1). A sample that does not
    decode is counted and skipped with a warning instead of stopping the worker, and becomes None (see
    read_shards). `fresh` redraws a recipe's motion for `epoch`."""
    for sample in samples:
        if sample is None:
            yield None
            continue
        try:
            if is_recipe(sample):
                recipe = decode_recipe(sample)
                item = recipe_item(fresh_motion(recipe, epoch) if fresh else recipe, frames=frames, size=size,
                                   render_on=render_on)
            else:
                item = _resize(decode_mp4(sample["mp4"], frames, threads) if "mp4" in sample
                               else decode_jpgs(sample, frames), size)
            label = int(sample["cls"]) if "cls" in sample else -1
        except (ValueError, av.error.FFmpegError, cv2.error) as e:
            counts.skipped += 1
            warnings.warn(f"skipping sample {sample.get('__key__')} in {sample.get('__url__')}: {e}", RuntimeWarning)
            yield None
            continue
        counts.ok += 1
        yield sample["__key__"], item, label


def collate(clips: Sequence[Clip], tally: Tally, frames: int, size: int) -> ClipBatch:
    # default_collate stacks straight into shared memory inside a worker: the batch then crosses to the main
    # process without another copy. Recipe clips are packed instead (one border policy per batch: a dataset has one).
    if clips and isinstance(clips[0][1], DeviceClip):
        first = clips[0][1]
        video = pack([c[1].spec for c in clips], frames=frames, size=size, border=first.border,
                     max_fit_zoom=first.max_fit_zoom)
    else:
        video = (default_collate([torch.from_numpy(c[1]) for c in clips]) if clips
                 else torch.empty((0, frames, size, size, 3), dtype=torch.uint8))
    return ClipBatch(video, torch.tensor([c[2] for c in clips], dtype=torch.long), [c[0] for c in clips], tally)


def batch_to_device(batch: ClipBatch, device: torch.device | str) -> torch.Tensor:
    """The batch's uint8 clips (B, T, H, W, 3) on `device`: moved, or rendered there from a RenderBatch."""
    if isinstance(batch.video, RenderBatch):
        return render(batch.video, device)
    return batch.video.to(device, non_blocking=True)


def batch_clips(clips: Iterable[Clip | None], *, batch_size: int, frames: int, size: int,
                counts: _Counts) -> Iterator[ClipBatch]:
    """Batches of batch_size (the last one may be short). Counts not yet sent leave in an empty batch (which
    ClipLoader absorbs) after a skip and at the end, so the main process sees every skip, and soon."""
    buf: list[Clip] = []
    for clip in clips:
        if clip is None:
            tally = counts.take()
            if any(tally):
                yield collate([], tally, frames, size)
            continue
        buf.append(clip)
        if len(buf) == batch_size:
            yield collate(buf, counts.take(), frames, size)
            buf = []
    if buf:
        yield collate(buf, counts.take(), frames, size)
    rest = counts.take()
    if any(rest):
        yield collate([], rest, frames, size)


# ---------------------------------------------------------------------------------------------------- the dataset

class ClipDataset(IterableDataset):
    """One rank's stream of ClipBatch, built per worker and epoch from the stages above.

    epoch advances by one on every pass in each process (persistent workers stay in step with the main process);
    ClipLoader sets it before each epoch so fresh workers and resumed runs agree.
    """

    def __init__(self, shards: Sequence[str], cfg: DataConfig, *, rank: int, world_size: int,
                 expected: Mapping[str, int]):
        super().__init__()
        self.shards, self.cfg, self.rank, self.world_size = list(shards), cfg, rank, world_size
        self.expected = dict(expected)
        self.epoch = 0

    def _shard_source(self, epoch: int, worker: int) -> Any:
        if self.cfg.resampled:
            # A fresh ResampledShards per pass starts its own epoch at 0, so ours goes into the seed.
            return wds.ResampledShards(self.shards, seed=_mix(self.cfg.seed, epoch), deterministic=True,
                                       worker_seed=lambda: _mix(self.rank, worker))
        urls = rank_shards(self.shards, self.rank, self.world_size, seed=self.cfg.seed, epoch=epoch)
        return wds.DataPipeline(wds.SimpleShardList(urls), wds.split_by_worker)

    def __iter__(self) -> Iterator[ClipBatch]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        one_thread_in_workers()
        worker = _worker_id()
        cfg, counts = self.cfg, _Counts()
        return iter(wds.DataPipeline(
            self._shard_source(epoch, worker),
            partial(read_shards, expected=self.expected, counts=counts),
            wds.shuffle(cfg.shuffle_buffer, initial=max(1, cfg.shuffle_buffer // 10),
                        seed=_mix(cfg.seed, epoch, self.rank, worker)),
            partial(decode_clips, frames=cfg.frames, size=cfg.size, threads=cfg.decode_threads, counts=counts,
                    epoch=epoch, fresh=cfg.fresh_motion, render_on=cfg.render_on),
            partial(batch_clips, batch_size=cfg.batch_size, frames=cfg.frames, size=cfg.size, counts=counts),
        ))

    def epoch_size(self) -> int | None:
        """Samples in one exact epoch over all ranks, when the manifest gives every shard's count."""
        return sum(self.expected.values()) if all(s in self.expected for s in self.shards) else None

    def batches_per_epoch(self, epoch: int) -> int | None:
        """Exact mode: batches this rank yields in `epoch` when the manifest gives every shard's count."""
        if any(s not in self.expected for s in self.shards):
            return None
        mine = rank_shards(self.shards, self.rank, self.world_size, seed=self.cfg.seed, epoch=epoch)
        workers = max(self.cfg.num_workers, 1)
        return sum(math.ceil(sum(self.expected[s] for s in mine[w::workers]) / self.cfg.batch_size)
                   for w in range(workers))


def make_dataset(spec: str | Sequence[str], cfg: DataConfig, *, rank: int | None = None,
                 world_size: int | None = None) -> ClipDataset:
    """The per-worker pipeline for spec (see resolve_shards); rank and world_size default to torch.distributed's."""
    if rank is None or world_size is None:
        rank, world_size = _distributed()
    shards, manifest = resolve_shards(spec)
    kind = dataset_format(shards, manifest)
    if cfg.fresh_motion and kind != "recipe":
        raise UserError(f"{spec}: --fresh-motion needs recipe shards (synth render --format recipe) or --images, "
                        f"these hold {kind or 'unreadable'} video; drop --fresh-motion or re-render as recipes")
    rendered = (manifest or {}).get("config", {}).get("frames")
    if kind != "recipe" and rendered is not None and rendered < cfg.frames:
        raise UserError(f"{spec}: clips have {rendered} frames but data.frames={cfg.frames}; "
                        f"render with --frames {cfg.frames} or train with data.frames <= {rendered}")
    if not cfg.resampled and len(shards) < world_size:
        raise UserError(f"{spec}: {len(shards)} shards cannot feed {world_size} ranks in exact mode; "
                        f"render more, smaller shards or set data.resampled=true")
    return ClipDataset(shards, cfg, rank=rank, world_size=world_size, expected=shard_sizes(shards, manifest))


def dataset_format(shards: Sequence[str], manifest: dict | None) -> str | None:
    """"recipe", "mp4" or "jpg": the manifest's codec.format, else the members of the first shard's first sample
    (None if it cannot be read). Reading itself goes by each sample's members."""
    known = ((manifest or {}).get("config") or {}).get("codec", {}).get("format")
    if known:
        return known
    try:
        first = next(iter(wds.tarfile_samples([dict(url=shards[0])])), None)
    except Exception:  # a broken first shard is counted when it is read; here it only leaves the kind unknown
        return None
    if first is None:
        return None
    return "recipe" if is_recipe(first) else "mp4" if "mp4" in first else "jpg"


# ----------------------------------------------------------------------------------------------------- the loader

@dataclass
class DataHealth:
    """Totals over every batch the main process received, for logging; add() enforces the limits: the corrupt
    fraction of samples, and a first `shard_patience` shards that all failed without a single good sample.
    check: what to tell the person, e.g. "run `synth verify DIR`"."""

    spec: str
    check: str
    max_skip_fraction: float
    min_seen: int
    shard_patience: int
    ok: int = 0
    skipped: int = 0
    shards_failed: int = 0

    def add(self, tally: Tally) -> None:
        self.ok += tally.ok
        self.skipped += tally.skipped
        self.shards_failed += tally.shards_failed
        seen = self.ok + self.skipped
        if seen >= self.min_seen and self.skipped > self.max_skip_fraction * seen:
            raise UserError(f"too many corrupt samples in {self.spec}: {self.skipped} of {seen} skipped, "
                            f"{self.shards_failed} shards failed (limit {self.max_skip_fraction:.0%}); {self.check}")
        if self.ok == 0 and self.shards_failed >= self.shard_patience:
            raise UserError(f"no sample could be read from {self.spec}: {self.shards_failed} shards failed; "
                            f"{self.check}")


class ClipLoader:
    """Iterates ClipBatch for one epoch per `for` loop, pinned when CUDA is available; `health` holds the counts.

    Exact mode: one pass over this rank's shards of epoch `epoch`, which then advances (set_epoch to resume).
    Resampled mode: steps_per_epoch batches from one endless stream that lives across epochs, where webdataset's
    with_epoch would restart the DataLoader each epoch (dropping prefetched batches and, with fresh workers,
    replaying the same shard draws).
    """

    def __init__(self, dataset: IterableDataset, new_dataloader: Callable[[], DataLoader], health: DataHealth,
                 steps_per_epoch: int | None):
        self.dataset, self.health, self.steps_per_epoch = dataset, health, steps_per_epoch
        self._new_dataloader = new_dataloader
        self.dataloader = new_dataloader()
        self.epoch = 0
        self._persistent = dataset.cfg.persistent_workers and dataset.cfg.num_workers > 0
        self._workers_next: int | None = None  # the epoch persistent workers will read next; None: not started
        self._stream: Iterator[ClipBatch] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Read epoch `epoch` next (exact mode's shard order and seeds), e.g. to resume."""
        self.epoch = epoch

    def __len__(self) -> int:
        n = self.steps_per_epoch if self.dataset.cfg.resampled else self.dataset.batches_per_epoch(self.epoch)
        if n is None:
            raise TypeError("the number of batches is unknown without a manifest")
        return n

    def _exact_epoch(self) -> Iterator[ClipBatch]:
        # Workers read dataset.epoch when they start; persistent ones then count epochs themselves, so a
        # set_epoch that breaks their count needs new workers.
        self.dataset.epoch = self.epoch
        if self._persistent and self._workers_next not in (None, self.epoch):
            self.dataloader = self._new_dataloader()
        self._workers_next = self.epoch + 1
        return iter(self.dataloader)

    def __iter__(self) -> Iterator[ClipBatch]:
        if self.dataset.cfg.resampled:
            if self._stream is None:
                self._stream = iter(self.dataloader)
            batches, limit = self._stream, self.steps_per_epoch
        else:
            batches, limit = self._exact_epoch(), None
        self.epoch += 1
        n = 0
        for batch in _worker_errors(batches):
            self.health.add(batch.tally)
            if len(batch.key):
                yield batch
                n += 1
                if n == limit:
                    return


def _worker_errors(batches: Iterator[ClipBatch]) -> Iterator[ClipBatch]:
    """batches, with a user error raised in a DataLoader worker brought back to its own one line: the DataLoader
    re-raises it with the worker's traceback pasted into the message."""
    try:
        yield from batches
    except UserError as e:
        text, marker = str(e), f"{UserError.__name__}: "
        if "Original Traceback" not in text or marker not in text:
            raise
        raise UserError(text.rsplit(marker, 1)[1].strip()) from None


def make_loader(spec: str | Sequence[str], cfg: DataConfig, *, rank: int | None = None,
                world_size: int | None = None) -> ClipLoader:
    """A loader of ClipBatch for spec; decoding runs in cfg.num_workers DataLoader workers (0: in this process)."""
    return build_loader(make_dataset(spec, cfg, rank=rank, world_size=world_size), spec, cfg)


def build_loader(dataset: IterableDataset, spec: str | Sequence[str], cfg: DataConfig) -> ClipLoader:
    """A ClipLoader over `dataset` (ClipDataset, or train.images.ImageClipDataset: anything with cfg, epoch,
    world_size, epoch_size() and batches_per_epoch())."""
    steps = None
    if cfg.resampled:
        samples = cfg.epoch_samples or sum(dataset.expected.values())
        if not samples:
            raise UserError(f"{spec}: resampled mode needs an epoch size; pass a dataset directory with "
                            f"{MANIFEST} or set data.epoch_samples")
        steps = max(1, math.ceil(samples / (dataset.world_size * cfg.batch_size)))
    workers = cfg.num_workers > 0
    new_dataloader = partial(
        DataLoader, dataset, batch_size=None, num_workers=cfg.num_workers,
        pin_memory=torch.cuda.is_available() if cfg.pin_memory is None else cfg.pin_memory,
        persistent_workers=cfg.persistent_workers and workers, prefetch_factor=cfg.prefetch_factor if workers else None)
    name = spec if isinstance(spec, str) else f"{spec[0]} and {len(spec) - 1} more"
    if not isinstance(dataset, ClipDataset):  # clips rendered from images: skips are bad images, no shards to fail
        check, patience = f"fix or remove the bad images of {name} (named in the warnings)", 1
    else:
        directory = (spec if isinstance(spec, str) and os.path.isdir(spec)
                     else os.path.dirname(dataset.shards[0]) or ".")
        check = f"run `synth verify {directory}`"
        patience = len(dataset.shards) if cfg.resampled else len(dataset.shards) // dataset.world_size
    health = DataHealth(name, check, cfg.max_skip_fraction, cfg.min_seen, patience)
    return ClipLoader(dataset, new_dataloader, health, steps)
