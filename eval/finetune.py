"""Fine-tuning (`eval-vmae finetune`): VideoMAE's recipe, put together from train's parts.

One step: uint8 clips -> DeviceAugment (multi-scale crop, flip, normalise; on the device, for the whole batch) ->
Mixup/CutMix (timm) -> classifier under autocast -> soft-target or label-smoothed cross-entropy -> AdamW with
layer-wise lr decay on train's warmup + cosine schedule. DDP under torchrun, device and precision, seeding,
checkpoint files and metrics come from train/ (loop, checkpoint, optim, metrics).

Differences from VideoMAE's run_class_finetuning.py, by design: no RandAugment, random erasing or repeated
augmentation (the crop is train's multi-scale crop); the lr schedule is per step from train/optim.

Resume: a checkpoint is written every `run.save_every` epochs (and at the end); resuming continues at the next
epoch with the same weights, optimiser, RNG states and data order, as an uninterrupted run would.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from eval import data
from eval.classifier import VideoClassifier, build_classifier
from eval.config import FinetuneConfig
from eval.datasets import VideoList
from eval.evaluate import accuracy, result_record, score_views, whole_frames, write_result
from eval.pretrained import Pretrained, load_pretrained, size_name
from synth.errors import UserError
from train import checkpoint
from train.augment import DeviceAugment
from train.config import differences
from train.loop import (AUTOCAST, LossNotFinite, Runtime, all_ranks, derive_seed, optimizer_step, seed_rank, setup,
                        sum_over_ranks)
from train.metrics import METRICS, Meter, MetricsWriter, truncate_after
from train.optim import build_optimizer, lr_at, no_weight_decay, peak_lr, set_lr

FORMAT = "pseudomotion-finetune/1"
RESUMABLE_CHANGES = ("run.", "data.num_workers")  # config fields a resumed run may change


@dataclass
class FineTuner:
    """Everything one step touches. `model` runs forward (DDP and/or compiled); `raw` owns the weights.
    (cfg.optim, raw, scaler, optimizer are what train.loop.optimizer_step reads.)"""

    cfg: FinetuneConfig
    rt: Runtime
    raw: VideoClassifier
    model: nn.Module
    optimizer: torch.optim.AdamW
    scaler: torch.amp.GradScaler
    augment: DeviceAugment
    mixup: Mixup | None
    loader: DataLoader
    steps_per_epoch: int
    peak_lr: float

    @property
    def total(self) -> int:
        return self.cfg.run.epochs * self.steps_per_epoch


# ------------------------------------------------------------------------------------------------- optimiser

def layer_id(name: str, depth: int) -> int:
    """VideoMAE's layer of a parameter: 0 the cube embedding, i + 1 block i, depth + 1 fc_norm and the head."""
    if name.startswith("encoder.patch_embed."):
        return 0
    if name.startswith("encoder.blocks."):
        return int(name.split(".")[2]) + 1
    return depth + 1


def layer_decay_groups(model: VideoClassifier, weight_decay: float, layer_decay: float) -> list[dict]:
    """One group per (layer, decayed or not), with lr_scale = layer_decay ** (depth + 1 - layer): the head learns
    at the full rate, the cube embedding at layer_decay ** (depth + 1) of it (BEiT/VideoMAE)."""
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        layer, decay = layer_id(name, model.depth), not no_weight_decay(name, param)
        group = groups.setdefault((layer, decay), {"params": [], "weight_decay": weight_decay if decay else 0.0,
                                                   "lr_scale": layer_decay ** (model.depth + 1 - layer)})
        group["params"].append(param)
    return list(groups.values())


def make_mixup(cfg: FinetuneConfig, classes: int) -> Mixup | None:
    a = cfg.augment
    if not a.mixing:
        return None
    return Mixup(mixup_alpha=a.mixup, cutmix_alpha=a.cutmix, prob=a.mix_prob, switch_prob=a.switch_prob,
                 mode="batch", label_smoothing=a.label_smoothing, num_classes=classes)


def mix(mixup: Mixup, videos: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """timm's Mixup/CutMix on (B, 3, T, H, W): frames folded into channels, so CutMix pastes the same box in every
    frame (timm's image code would cut along time). Returns the videos and soft targets (B, classes)."""
    b, c, t, h, w = videos.shape
    flat, targets = mixup(videos.reshape(b, c * t, h, w), labels)
    return flat.view(b, c, t, h, w), targets


def loss_fn(ft: FineTuner, logits: Tensor, targets: Tensor) -> Tensor:
    if ft.mixup is not None:
        return SoftTargetCrossEntropy()(logits.float(), targets)  # smoothing is inside the mixed targets
    return F.cross_entropy(logits.float(), targets, label_smoothing=ft.cfg.augment.label_smoothing)


# ------------------------------------------------------------------------------------------------------ build

def build(cfg: FinetuneConfig, rt: Runtime, pretrained: Pretrained, train: VideoList) -> FineTuner:
    m, d = cfg.model, cfg.data
    raw = build_classifier(pretrained, len(train.classes), size=m.size, frames=d.frames, img_size=d.size,
                           drop_path=m.drop_path, fc_drop=m.fc_drop, head_init_scale=m.head_init_scale,
                           seed=cfg.seed).to(rt.device)
    seed_rank(cfg.seed, rt.rank)
    model: nn.Module = raw
    if rt.world_size > 1:
        model = DistributedDataParallel(raw, device_ids=[rt.device] if rt.device.type == "cuda" else None)
    if cfg.run.compile:
        model = torch.compile(model)
    loader = data.train_loader(d, data.clip_dataset(d, train, train=True), rt, cfg.seed)
    if len(loader) == 0:
        raise UserError(f"{len(train)} training videos make no full batch of --batch-size {d.batch_size} on "
                        f"{rt.world_size} process(es); lower --batch-size")
    global_batch = d.batch_size * rt.world_size
    groups = layer_decay_groups(raw, cfg.optim.weight_decay, m.layer_decay)
    return FineTuner(cfg, rt, raw, model, build_optimizer(raw, cfg.optim, rt.device, groups),
                     torch.amp.GradScaler(rt.device.type, enabled=rt.dtype == torch.float16),
                     DeviceAugment(size=d.size, flip=cfg.augment.flip), make_mixup(cfg, len(train.classes)),
                     loader, len(loader), peak_lr(cfg.optim, global_batch))


# ---------------------------------------------------------------------------------------------------- training

def train_step(ft: FineTuner, clips: Tensor, labels: Tensor, step: int) -> float:
    """One update on a batch of uint8 clips; returns its loss averaged over ranks (NaN/inf raise before the
    update)."""
    videos = ft.augment(clips, torch.Generator().manual_seed(derive_seed(ft.cfg.seed, ft.rt.rank, step)))
    targets = labels
    if ft.mixup is not None:
        videos, targets = mix(ft.mixup, videos, labels)
    with torch.autocast(ft.rt.device.type, dtype=ft.rt.dtype, enabled=ft.rt.dtype is not None):
        logits = ft.model(videos)
    loss = loss_fn(ft, logits, targets)
    ft.scaler.scale(loss).backward()
    value = loss.detach()
    if ft.rt.world_size > 1:
        dist.all_reduce(value, op=dist.ReduceOp.AVG)
    if not math.isfinite(value.item()):
        raise LossNotFinite(f"loss is {value.item()} at step {step + 1}; stopped before that update; lower --lr "
                            f"or set optim.clip_grad in --config, then --resume from the last checkpoint")
    optimizer_step(ft)
    return value.item()


def train_epoch(ft: FineTuner, epoch: int, writer: MetricsWriter) -> int:
    """One pass over the training videos; returns the views skipped as undecodable (all ranks)."""
    ft.raw.train()
    data.set_epoch(ft.loader, ft.cfg.seed, ft.rt.rank, epoch)
    meter, skipped, step = Meter(), 0, epoch * ft.steps_per_epoch
    waited = time.perf_counter()
    for batch in ft.loader:
        meter.wait += time.perf_counter() - waited
        skipped += batch.skipped
        lr = lr_at(step, ft.total, ft.peak_lr, ft.cfg.optim)
        set_lr(ft.optimizer, lr)
        usable = len(batch.video) - (len(batch.video) % 2 if ft.mixup is not None else 0)  # Mixup pairs clips
        if usable:
            meter.losses.append(train_step(ft, batch.video[:usable].to(ft.rt.device, non_blocking=True),
                                           batch.label[:usable].to(ft.rt.device), step))
            writer.step(meter.losses[-1])
        meter.clips += usable
        step += 1
        if meter.losses and (step % ft.cfg.run.log_every == 0 or step % ft.steps_per_epoch == 0):
            log(ft, writer, meter, step, epoch, lr)
        waited = time.perf_counter()
    return int(sum_over_ranks([skipped], ft.rt)[0])


def log(ft: FineTuner, writer: MetricsWriter, meter: Meter, step: int, epoch: int, lr: float) -> None:
    clips, wait = sum_over_ranks([meter.clips, meter.wait], ft.rt)
    elapsed = meter.elapsed()
    writer.record({"step": step, "epoch": epoch + 1, "loss": sum(meter.losses) / len(meter.losses), "lr": lr,
                   "clips_per_s": clips / elapsed, "data_wait": wait / ft.rt.world_size / elapsed,
                   "time": time.time()})
    meter.reset()


# ------------------------------------------------------------------------------------------------- checkpoints

def save(ft: FineTuner, run: Path, epoch: int, pretrained: Pretrained, skipped: int) -> None:
    """RUN/checkpoint-last.pt after `epoch` epochs; every rank must call this (RNG states are gathered)."""
    ranks = all_ranks(checkpoint.rng_state(ft.rt.device), ft.rt)
    if ft.rt.main:
        checkpoint.save_atomic({"format": FORMAT, "epoch": epoch, "step": epoch * ft.steps_per_epoch,
                                "model": ft.raw.state_dict(), "optimizer": ft.optimizer.state_dict(),
                                "scaler": ft.scaler.state_dict(), "config": ft.cfg.to_dict(),
                                "pretraining": pretrained.pretraining, "skipped": skipped, "rng": ranks},
                               run / checkpoint.LAST)


def restore(ft: FineTuner, path: Path) -> tuple[int, int]:
    """Load RUN's checkpoint into ft; returns (epochs done, training views skipped so far)."""
    state = checkpoint.read(path, FORMAT)
    changed = [k for k in differences(state["config"], ft.cfg.to_dict()) if not k.startswith(RESUMABLE_CHANGES)]
    if changed:
        raise UserError(f"{path}: was trained with another config ({', '.join(changed[:6])} differ); resume with "
                        f"the same flags, or fine-tune into a new --out")
    if len(state["rng"]) != ft.rt.world_size:
        raise UserError(f"{path}: written by {len(state['rng'])} processes, resumed with {ft.rt.world_size}; "
                        f"resume with the same number (torchrun --nproc_per_node {len(state['rng'])})")
    ft.raw.load_state_dict(state["model"])
    ft.optimizer.load_state_dict(state["optimizer"])
    ft.scaler.load_state_dict(state["scaler"])
    checkpoint.set_rng_state(state["rng"][ft.rt.rank], ft.rt.device)
    return state["epoch"], state["skipped"]


# --------------------------------------------------------------------------------------------------------- run

def test(ft: FineTuner, cfg: FinetuneConfig, videos: VideoList) -> dict[str, Any]:
    """The multi-view test of the fine-tuned model on `videos`."""
    ft.raw.eval()
    loader = data.view_loader(cfg.data, data.clip_dataset(cfg.data, videos, train=False), ft.rt)
    augment = DeviceAugment(size=cfg.data.size)

    def scorer(clips: Tensor) -> Tensor:
        with torch.autocast(ft.rt.device.type, dtype=ft.rt.dtype, enabled=ft.rt.dtype is not None):
            return ft.raw(whole_frames(augment, clips))

    return accuracy(score_views(scorer, loader, len(videos), len(videos.classes), ft.rt), videos)


def finetune(cfg: FinetuneConfig, run: Path, *, resume: bool) -> dict[str, Any]:
    """Fine-tune, test, and write RUN/result.json (rank 0); returns the result record."""
    began = time.perf_counter()
    rt = setup(cfg.run.loop())
    try:
        pretrained = load_pretrained(cfg.model.checkpoint)
        train, test_videos = data.video_lists(cfg.data, rt)
        ft = build(cfg, rt, pretrained, train)
        start, skipped = 0, 0
        if resume and (run / checkpoint.LAST).is_file():
            start, skipped = restore(ft, run / checkpoint.LAST)
        if rt.main:
            truncate_after(run / METRICS, start * ft.steps_per_epoch)
            announce(ft, pretrained, train, test_videos, start)
        writer = MetricsWriter(run, active=rt.main, start=start * ft.steps_per_epoch, total=ft.total,
                               progress=cfg.run.progress, tensorboard=cfg.run.tensorboard)
        try:
            for epoch in range(start, cfg.run.epochs):
                skipped += train_epoch(ft, epoch, writer)
                if (epoch + 1) % cfg.run.save_every == 0 or epoch + 1 == cfg.run.epochs:
                    save(ft, run, epoch + 1, pretrained, skipped)
        finally:
            writer.close()
        metrics = {**test(ft, cfg, test_videos), "train_views_skipped": skipped}
        record = result_record("finetune", cfg, pretrained, size_name(ft.raw.encoder.cfg), train, test_videos,
                               metrics, rt, began)
        if rt.main:
            write_result(run, record)
        return record
    finally:
        if rt.world_size > 1:
            dist.destroy_process_group()


def announce(ft: FineTuner, pretrained: Pretrained, train: VideoList, test_videos: VideoList, start: int) -> None:
    cfg, d = ft.cfg, ft.cfg.data
    precision = {v: k for k, v in AUTOCAST.items()}[ft.rt.dtype]
    mixing = "Mixup/CutMix" if ft.mixup is not None else "no Mixup"
    print(f"eval-vmae finetune: VideoMAE-{size_name(ft.raw.encoder.cfg)} from {pretrained.pretraining['label']} "
          f"on {d.dataset} split {d.split} ({len(train)} train / {len(test_videos)} test videos, "
          f"{len(train.classes)} classes, {d.frames} x {d.size}px); epochs {start} -> {cfg.run.epochs} x "
          f"{ft.steps_per_epoch} steps, batch {d.batch_size} x {ft.rt.world_size}, peak lr {ft.peak_lr:.3g}, "
          f"layer decay {cfg.model.layer_decay}, {mixing}, {ft.rt.device} {precision}", flush=True)
