"""The pre-training loop: one update (`forward_backward` + `optimizer_step`) and one run (`train`).

Data order, masks and crops are functions of (seed, rank, step), so a resumed run repeats an uninterrupted one
exactly (same losses, same weights on the same machine):
- data: each rank reads an endless stream of exact epochs, a disjoint share of the shards per epoch in an order
  seeded by (data.seed, epoch) (train.data's exact mode). A checkpoint records each rank's (epoch, batches read);
  resuming re-opens that epoch and reads and drops the batches already used (at most one epoch of decoding, none
  when the checkpoint falls on an epoch boundary).
- masks and crops: drawn from generators seeded by (seed, rank, step, micro-batch), so they need no saved state.
- everything else random (stochastic depth) uses the global RNGs, saved per rank in every checkpoint.
DDP comes from `torchrun` (WORLD_SIZE > 1): NCCL on GPU, gloo on CPU; ranks never wait on each other for data
because every rank takes the same number of steps from its own stream.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from synth.errors import UserError
from train import checkpoint
from train.augment import DeviceAugment
from train.config import CONFIG_FILE, LoopConfig, TrainConfig, model_config, save_config
from train.data import ClipBatch, ClipLoader, batch_to_device, make_loader
from train.images import make_image_loader
from train.masking import make_decoder_mask, make_mask
from train.metrics import METRICS, Meter, MetricsWriter, truncate_after
from train.model import VideoMAE
from train.optim import build_optimizer, lr_at, peak_lr, set_lr

AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
SAMPLES_LOG = "samples-rank{rank}.jsonl"


class LossNotFinite(UserError):
    """The loss became NaN or inf; the run stops before that update, and the last checkpoint stays as it was."""


@dataclass(frozen=True)
class Runtime:
    """This process's place in the run: rank of world_size, its device, the autocast dtype (None = fp32)."""

    rank: int
    world_size: int
    device: torch.device
    dtype: torch.dtype | None

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class Summary:
    """What the CLI prints at the end. clips_per_s: over all ranks, for this process's share of the run."""

    start: int
    steps: int
    loss: float
    clips_per_s: float
    checkpoint: Path


# ------------------------------------------------------------------------------------------------------- runtime

def setup(loop: LoopConfig) -> Runtime:
    """Device, precision and (under torchrun) the process group; seeds nothing."""
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    device = pick_device(loop.device, int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    precision = loop.precision if loop.precision != "auto" else "bf16" if device.type == "cuda" else "fp32"
    return Runtime(rank, world, device, AUTOCAST[precision])


def pick_device(choice: str, local_rank: int) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"--device {choice}: no CUDA device is visible here; use --device cpu")
    device = torch.device(choice if ":" in choice else f"cuda:{local_rank}")
    torch.cuda.set_device(device)
    return device


def derive_seed(*parts: int) -> int:
    """One well-mixed 32-bit seed from several integers (seed, rank, step, ...)."""
    return int(np.random.SeedSequence([p & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def seed_rank(seed: int, rank: int) -> None:
    """Per-rank global RNGs (stochastic depth differs between ranks), after the model is built from `seed`."""
    random.seed(derive_seed(seed, rank))
    np.random.seed(derive_seed(seed, rank))
    torch.manual_seed(derive_seed(seed, rank))


def all_ranks(obj: Any, rt: Runtime) -> list[Any]:
    """obj from every rank, in rank order."""
    if rt.world_size == 1:
        return [obj]
    out: list[Any] = [None] * rt.world_size
    dist.all_gather_object(out, obj)
    return out


def sum_over_ranks(values: list[float], rt: Runtime) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64, device=rt.device)
    if rt.world_size > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


# ----------------------------------------------------------------------------------------------------------- data

class BatchStream:
    """This rank's batches as one endless run of exact epochs; (epoch, batches taken in it) is its whole state."""

    def __init__(self, loader: ClipLoader):
        self.loader, self.epoch, self.taken = loader, 0, 0
        self._batches = None

    def position(self) -> dict[str, int]:
        return {"epoch": self.epoch, "taken": self.taken}

    def seek(self, epoch: int, taken: int) -> None:
        """Continue where a checkpoint stopped: re-open `epoch` and drop its first `taken` batches."""
        self.epoch, self._batches = epoch, None
        for _ in range(taken):
            next(self)

    def __next__(self) -> ClipBatch:
        while True:
            if self._batches is None:
                self.loader.set_epoch(self.epoch)
                self._batches, self.taken = iter(self.loader), 0
            batch = next(self._batches, None)
            if batch is not None:
                self.taken += 1
                return batch
            if self.taken == 0:
                raise UserError(f"{self.loader.health.spec}: epoch {self.epoch} gave no batch at all; "
                                f"{self.loader.health.check} or render more clips")
            self._batches, self.epoch = None, self.epoch + 1


# -------------------------------------------------------------------------------------------------------- trainer

@dataclass
class Trainer:
    """Everything one update touches. `model` is what runs forward (DDP and/or compiled); `raw` owns the weights."""

    cfg: TrainConfig
    rt: Runtime
    raw: VideoMAE
    model: nn.Module
    ddp: DistributedDataParallel | None
    optimizer: torch.optim.AdamW
    scaler: torch.amp.GradScaler
    augment: DeviceAugment
    stream: BatchStream
    total: int
    peak_lr: float
    samples_log: IO[str] | None = None


def global_batch(cfg: TrainConfig, world_size: int) -> int:
    """Clips per optimizer update over all ranks and micro-batches (what the lr scaling rule counts)."""
    return cfg.data.batch_size * cfg.optim.accum * world_size


def build_trainer(cfg: TrainConfig, rt: Runtime, run: Path) -> Trainer:
    loader = (make_image_loader(cfg.images, cfg.motion, cfg.data, rank=rt.rank, world_size=rt.world_size)
              if cfg.images else make_loader(cfg.shards, cfg.data, rank=rt.rank, world_size=rt.world_size))
    torch.manual_seed(cfg.seed)  # the same initial weights on every rank and for every world size
    raw = VideoMAE(model_config(cfg)).to(rt.device)
    seed_rank(cfg.seed, rt.rank)
    # The buffers are fixed tables (position embeddings, pixel statistics), the same on every rank: never synced.
    ddp = (DistributedDataParallel(raw, device_ids=[rt.device] if rt.device.type == "cuda" else None,
                                   forward_sync_buffers=False) if rt.world_size > 1 else None)
    model = ddp or raw
    if cfg.loop.compile:
        model = torch.compile(model)
    batch = global_batch(cfg, rt.world_size)
    samples_log = (open(run / SAMPLES_LOG.format(rank=rt.rank), "a") if cfg.loop.log_samples else None)
    return Trainer(cfg, rt, raw, model, ddp, build_optimizer(raw, cfg.optim, rt.device),
                   torch.amp.GradScaler(rt.device.type, enabled=rt.dtype == torch.float16),
                   DeviceAugment(size=cfg.data.size), BatchStream(loader), total_steps(cfg, loader, batch),
                   peak_lr(cfg.optim, batch), samples_log)


def total_steps(cfg: TrainConfig, loader: ClipLoader, batch: int) -> int:
    """--steps, or --epochs x the clips per epoch (the manifest's count, or --images') / global batch (rounded up)."""
    if cfg.loop.steps is not None:
        return cfg.loop.steps
    clips = loader.dataset.epoch_size()
    if clips is None:
        raise UserError(f"{cfg.shards}: --epochs needs the dataset's manifest for its size; pass the dataset "
                        f"directory or use --steps")
    return max(1, math.ceil(cfg.loop.epochs * clips / batch))


def next_batch(t: Trainer, step: int, meter: Meter) -> Tensor:
    """The next uint8 clips (B, T, H, W, 3) on the device (recipe batches are rendered there); time blocked on the
    loader goes to meter.wait."""
    start = time.perf_counter()
    batch = next(t.stream)
    meter.wait += time.perf_counter() - start
    meter.clips += len(batch.key)
    if t.samples_log is not None:
        t.samples_log.write(json.dumps({"step": step + 1, "epoch": t.stream.epoch, "keys": batch.key}) + "\n")
    return batch_to_device(batch, t.rt.device)


def model_inputs(t: Trainer, clips: Tensor, step: int, micro: int) -> tuple[Tensor, Tensor, Tensor | None]:
    """Augmented videos (B, 3, T, S, S), encoder mask and decoder mask (B, N), drawn from (seed, rank, step, micro)."""
    seed = derive_seed(t.cfg.seed, t.rt.rank, step, micro)
    videos = t.augment(clips, torch.Generator().manual_seed(seed))
    masks = torch.Generator(t.rt.device).manual_seed(seed)
    m, grid = t.cfg.mask, t.raw.cfg.grid
    mask = make_mask(m.kind, videos.shape[0], grid, m.ratio, device=t.rt.device, generator=masks)
    decoder_mask = (make_decoder_mask(m.decoder, mask, grid, m.decoder_ratio, generator=masks)
                    if m.decoder_ratio > 0 else None)
    return videos, mask, decoder_mask


def forward_backward(t: Trainer, step: int, meter: Meter) -> float:
    """Gradients of update `step` (0-based) over accum micro-batches; returns the loss averaged over the
    micro-batches and ranks (one host sync per step, as MAE, so a NaN is caught before it reaches the weights)."""
    accum = t.cfg.optim.accum
    total = torch.zeros((), device=t.rt.device)
    for micro in range(accum):
        videos, mask, decoder_mask = model_inputs(t, next_batch(t, step, meter), step, micro)
        skip_sync = t.ddp is not None and micro < accum - 1  # all-reduce gradients once, on the last micro-batch
        with t.ddp.no_sync() if skip_sync else nullcontext():
            with torch.autocast(t.rt.device.type, dtype=t.rt.dtype, enabled=t.rt.dtype is not None):
                loss = t.model(videos, mask, decoder_mask)[0]
            t.scaler.scale(loss / accum).backward()
        total += loss.detach()
    total /= accum
    if t.rt.world_size > 1:
        dist.all_reduce(total, op=dist.ReduceOp.AVG)
    return total.item()


def optimizer_step(t: Trainer) -> None:
    if t.cfg.optim.clip_grad is not None:
        t.scaler.unscale_(t.optimizer)
        nn.utils.clip_grad_norm_(t.raw.parameters(), t.cfg.optim.clip_grad)
    t.scaler.step(t.optimizer)
    t.scaler.update()
    t.optimizer.zero_grad(set_to_none=True)


# ---------------------------------------------------------------------------------------------------- checkpoints

def training_state(t: Trainer, step: int, loss: float) -> dict[str, Any]:
    """What a checkpoint holds; every rank must call this (the per-rank parts are gathered)."""
    health = t.stream.loader.health
    mine = {"rng": checkpoint.rng_state(t.rt.device), "data": t.stream.position(),
            "health": {"ok": health.ok, "skipped": health.skipped, "shards_failed": health.shards_failed}}
    return {"step": step, "loss": loss, "model": t.raw.state_dict(), "model_config": asdict(t.raw.cfg),
            "optimizer": t.optimizer.state_dict(), "scaler": t.scaler.state_dict(), "config": t.cfg.to_dict(),
            "ranks": all_ranks(mine, t.rt)}


def restore(t: Trainer, state: dict[str, Any], path: Path) -> None:
    """Load a checkpoint into the trainer: weights, optimizer, scaler, and this rank's data position and RNGs."""
    checkpoint.check_model(state, asdict(t.raw.cfg), path)
    if len(state["ranks"]) != t.rt.world_size:
        raise UserError(f"{path}: written by {len(state['ranks'])} ranks, resumed with {t.rt.world_size}; an exact "
                        f"resume needs the same number (torchrun --nproc_per_node {len(state['ranks'])})")
    t.raw.load_state_dict(state["model"])
    t.optimizer.load_state_dict(state["optimizer"])
    t.scaler.load_state_dict(state["scaler"])
    mine = state["ranks"][t.rt.rank]
    t.stream.seek(mine["data"]["epoch"], mine["data"]["taken"])
    health = t.stream.loader.health
    health.ok, health.skipped, health.shards_failed = (mine["health"][k] for k in ("ok", "skipped", "shards_failed"))
    checkpoint.set_rng_state(mine["rng"], t.rt.device)


def save(t: Trainer, run: Path, step: int, loss: float) -> None:
    state = training_state(t, step, loss)
    if t.rt.main:
        checkpoint.save(run, state, t.cfg.loop.keep)


# ------------------------------------------------------------------------------------------------------------ run

def train(cfg: TrainConfig, run: Path, *, resume: bool) -> Summary:
    """Train from scratch, or from RUN/checkpoint-last.pt when resume (and there is one), to the configured step."""
    rt = setup(cfg.loop)
    try:
        return run_loop(build_trainer(cfg, rt, run), run, resume)
    finally:
        if rt.world_size > 1:
            dist.destroy_process_group()


def run_loop(t: Trainer, run: Path, resume: bool) -> Summary:
    last = run / checkpoint.LAST
    start, loss = 0, math.nan
    if resume and last.is_file():
        state = checkpoint.load(last)
        restore(t, state, last)
        start, loss = state["step"], state["loss"]
    if t.rt.main:  # the config is saved once a checkpoint (if any) accepted it
        save_config(t.cfg, run / CONFIG_FILE)
        truncate_after(run / METRICS, start)
        announce(t, start)
    writer = MetricsWriter(run, active=t.rt.main, start=start, total=t.total, progress=t.cfg.loop.progress,
                           tensorboard=t.cfg.loop.tensorboard)
    meter, began, clips = Meter(), time.perf_counter(), 0
    try:
        for step in range(start, t.total):
            lr = lr_at(step, t.total, t.peak_lr, t.cfg.optim)
            set_lr(t.optimizer, lr)
            loss = forward_backward(t, step, meter)
            if not math.isfinite(loss):
                raise LossNotFinite(diverged_message(loss, step, last))
            optimizer_step(t)
            meter.losses.append(loss)
            writer.step(loss)
            done = step + 1
            if done % t.cfg.loop.log_every == 0 or done == t.total:
                clips += log(t, writer, meter, done, lr)
            if done % t.cfg.loop.save_every == 0 or done == t.total:
                save(t, run, done, loss)
    finally:
        writer.close()
        if t.samples_log is not None:
            t.samples_log.close()
    return Summary(start, t.total, loss, clips / max(time.perf_counter() - began, 1e-9), last)


def log(t: Trainer, writer: MetricsWriter, meter: Meter, step: int, lr: float) -> int:
    """Write one metrics record for the window in meter (summed over ranks) and start a new window; returns the
    clips trained in it by all ranks."""
    health = t.stream.loader.health
    clips, wait, skipped, failed = sum_over_ranks(
        [meter.clips, meter.wait, health.skipped, health.shards_failed], t.rt)
    elapsed = meter.elapsed()
    writer.record({"step": step, "epoch": t.stream.epoch, "loss": sum(meter.losses) / len(meter.losses), "lr": lr,
                   "clips_per_s": clips / elapsed, "data_wait": wait / t.rt.world_size / elapsed,
                   "skipped": int(skipped), "shards_failed": int(failed), "time": time.time()})
    meter.reset()
    return int(clips)


def announce(t: Trainer, start: int) -> None:
    cfg = t.cfg
    params = sum(p.numel() for p in t.raw.parameters()) / 1e6
    precision = {v: k for k, v in AUTOCAST.items()}[t.rt.dtype]
    print(f"train-vmae: VideoMAE-{cfg.model.size} ({params:.1f}M params) on {cfg.data.frames} x "
          f"{cfg.data.size}px clips; steps {start} -> {t.total}, global batch {global_batch(cfg, t.rt.world_size)} "
          f"({cfg.data.batch_size} x {cfg.optim.accum} accum x {t.rt.world_size} ranks), peak lr {t.peak_lr:.3g}, "
          f"{t.rt.device} {precision}{' compiled' if cfg.loop.compile else ''}", flush=True)


def diverged_message(loss: float, step: int, last: Path) -> str:
    if last.is_file():
        kept, again = f"{last} is the last good checkpoint", "--resume"
    else:
        kept, again = "no checkpoint was written yet", "--overwrite"
    return (f"loss is {loss} at step {step + 1}; stopped before that update and {kept}; lower --lr or set "
            f"optim.clip_grad in --config, then run again with {again}")
