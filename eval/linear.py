"""Linear probe (`eval-vmae linear`): how linearly separable the frozen encoder's features are.

Features are the pre-trained encoder's output tokens (its final norm included) mean-pooled, computed once per clip
and cached in RUN/features-{train,test}.pt: one centre view per training video, every test view (clips x crops) per
test video. A linear layer behind a BatchNorm without affine parameters (MAE's linear probe: it standardises each
feature, so one lr suits any encoder) is then trained on the cached training features with AdamW on train's
warmup + cosine schedule (optimiser choice: ours; MAE uses LARS for its batch of 16384, which a few thousand
cached features do not need), and the test views' softmax scores are averaged per video.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import Tensor, nn

from eval import data
from eval.classifier import build_encoder
from eval.config import LinearConfig
from eval.datasets import VideoList
from eval.evaluate import Scores, accuracy, result_record, whole_frames, write_result
from eval.pretrained import Pretrained, load_pretrained, size_name
from train import checkpoint
from train.augment import DeviceAugment
from train.loop import Runtime, all_ranks, setup
from train.metrics import METRICS, Meter, MetricsWriter
from train.model import VideoViTEncoder
from train.optim import build_optimizer, lr_at, peak_lr, set_lr

FORMAT = "pseudomotion-linear/1"
FEATURES = "features-{subset}.pt"
FEATURES_FORMAT = "pseudomotion-features/1"


class LinearProbe(nn.Module):
    """BatchNorm1d without affine, then a linear layer (trunc-normal std 0.01, as MAE's linear probe)."""

    def __init__(self, dim: int, classes: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, affine=False, eps=1e-6)
        self.head = nn.Linear(dim, classes)
        trunc_normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, features: Tensor) -> Tensor:
        return self.head(self.norm(features))


# ------------------------------------------------------------------------------------------------------- features

@torch.no_grad()
def extract(encoder: VideoViTEncoder, cfg: LinearConfig, videos: VideoList, rt: Runtime, *,
            views: bool) -> dict[str, Tensor | int]:
    """Mean-pooled features of every view (views=True: the test views; False: one centre view per video), this
    rank's share computed here and gathered from all ranks: features (V, D) float32, video (V,) and the
    number of views skipped as undecodable."""
    loader = data.view_loader(cfg.data, data.clip_dataset(cfg.data, videos, train=False, views=views), rt)
    augment = DeviceAugment(size=cfg.data.size)
    features, index, skipped = [], [], 0
    for batch in loader:
        skipped += batch.skipped
        if len(batch.index):
            clips = whole_frames(augment, batch.video.to(rt.device, non_blocking=True))
            with torch.autocast(rt.device.type, dtype=rt.dtype, enabled=rt.dtype is not None):
                tokens = encoder.forward_features(clips)  # (B, N, D)
            features.append(tokens.float().mean(dim=1).cpu())
            index.append(batch.index)
    mine = (torch.cat(features) if features else torch.empty(0, encoder.cfg.embed_dim),
            torch.cat(index) if index else torch.empty(0, dtype=torch.long), skipped)
    parts = all_ranks(mine, rt)
    return {"features": torch.cat([p[0] for p in parts]), "video": torch.cat([p[1] for p in parts]),
            "skipped": sum(p[2] for p in parts)}


def cached_features(run: Path, subset: str, key: dict[str, Any], compute: Callable[[], dict],
                    rt: Runtime) -> dict[str, Tensor | int]:
    """RUN/features-{subset}.pt when it was computed for the same key (checkpoint and clip settings), else
    compute() and cache it (rank 0 writes)."""
    path = run / FEATURES.format(subset=subset)
    if path.is_file():
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if cached.get("format") == FEATURES_FORMAT and cached.get("key") == key:
            return cached
    out = compute()
    if rt.main:
        checkpoint.save_atomic({"format": FEATURES_FORMAT, "key": key, **out}, path)
    return out


def feature_key(cfg: LinearConfig, pretrained: Pretrained, subset: str) -> dict[str, Any]:
    d = cfg.data
    return {"checkpoint": pretrained.path, "step": pretrained.pretraining.get("step"), "seed": cfg.seed,
            "subset": subset, "dataset": d.dataset, "root": d.root, "split": d.split, "frames": d.frames,
            "size": d.size, "rate": d.rate, "views": [d.clips, d.crops] if subset == "test" else [1, 1],
            "max": d.max_train if subset == "train" else d.max_test}


# ------------------------------------------------------------------------------------------------------- probing

class Schedule(NamedTuple):
    """batch: features per step; per_epoch: steps per pass (full batches only: BatchNorm needs more than one
    sample); total: steps in all; peak: the peak lr."""

    batch: int
    per_epoch: int
    total: int
    peak: float


def schedule(cfg: LinearConfig, samples: int) -> Schedule:
    batch = min(cfg.probe_batch, samples)
    per_epoch = max(1, samples // batch)
    return Schedule(batch, per_epoch, cfg.run.epochs * per_epoch, peak_lr(cfg.optim, batch))


def fit(cfg: LinearConfig, features: Tensor, labels: Tensor, classes: int, rt: Runtime,
        run: Path) -> LinearProbe:
    """The probe trained on (features, labels) for run.epochs shuffled passes, logged to RUN/metrics.jsonl (the
    probe is refitted from scratch on every call, so the file is rewritten)."""
    torch.manual_seed(cfg.seed)
    probe = LinearProbe(features.shape[1], classes).to(rt.device)
    optimizer = build_optimizer(probe, cfg.optim, rt.device)
    plan = schedule(cfg, len(features))
    order = torch.Generator().manual_seed(cfg.seed)
    features, labels = features.to(rt.device), labels.to(rt.device)
    if rt.main:
        (run / METRICS).unlink(missing_ok=True)
    writer = MetricsWriter(run, active=rt.main, start=0, total=plan.total, progress=cfg.run.progress,
                           tensorboard=cfg.run.tensorboard)
    meter, step = Meter(), 0
    try:
        for epoch in range(cfg.run.epochs):
            permutation = torch.randperm(len(features), generator=order).to(rt.device)
            for i in range(plan.per_epoch):
                lr = lr_at(step, plan.total, plan.peak, cfg.optim)
                set_lr(optimizer, lr)
                chosen = permutation[i * plan.batch:(i + 1) * plan.batch]
                loss = F.cross_entropy(probe(features[chosen]), labels[chosen])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                meter.losses.append(loss.item())
                meter.clips += len(chosen)
                writer.step(meter.losses[-1])
                if step % cfg.run.log_every == 0 or step == plan.total:
                    writer.record({"step": step, "epoch": epoch + 1, "loss": sum(meter.losses) / len(meter.losses),
                                   "lr": lr, "clips_per_s": meter.clips / meter.elapsed(), "data_wait": 0.0,
                                   "time": time.time()})
                    meter.reset()
    finally:
        writer.close()
    return probe.eval()


@torch.no_grad()
def test(probe: LinearProbe, test_features: dict[str, Tensor | int], videos: VideoList,
         rt: Runtime) -> dict[str, Any]:
    scores = Scores.empty(len(videos), len(videos.classes), rt.device)
    scores.add(probe(test_features["features"].to(rt.device)), test_features["video"])
    scores.views_skipped = test_features["skipped"]
    return accuracy(scores, videos)


def linear_probe(cfg: LinearConfig, run: Path) -> dict[str, Any]:
    """Extract (or reuse) features, fit the probe, test, write RUN/result.json and the probe (rank 0)."""
    began = time.perf_counter()
    rt = setup(cfg.run.loop())
    try:
        pretrained = load_pretrained(cfg.model.checkpoint)
        train, test_videos = data.video_lists(cfg.data, rt)
        torch.manual_seed(cfg.seed)  # scratch: the same random encoder for the same seed
        encoder = build_encoder(pretrained, size=cfg.model.size, frames=cfg.data.frames,
                                img_size=cfg.data.size).to(rt.device).eval()
        if rt.main:
            print(f"eval-vmae linear: VideoMAE-{size_name(encoder.cfg)} from {pretrained.pretraining['label']} on "
                  f"{cfg.data.dataset} split {cfg.data.split} ({len(train)} train / {len(test_videos)} test "
                  f"videos, {len(train.classes)} classes); features, then {cfg.run.epochs} epochs", flush=True)
        features = {}
        for subset, videos in (("train", train), ("test", test_videos)):
            features[subset] = cached_features(run, subset, feature_key(cfg, pretrained, subset),
                                               lambda: extract(encoder, cfg, videos, rt, views=subset == "test"), rt)
        labels = torch.tensor([item.label for item in train.items])[features["train"]["video"]]
        probe = fit(cfg, features["train"]["features"], labels, len(train.classes), rt, run)
        metrics = {**test(probe, features["test"], test_videos, rt),
                   "train_views_skipped": features["train"]["skipped"]}
        record = result_record("linear", cfg, pretrained, size_name(encoder.cfg), train, test_videos, metrics, rt,
                               began)
        if rt.main:
            checkpoint.save_atomic({"format": FORMAT, "probe": probe.state_dict(), "config": cfg.to_dict(),
                                    "classes": train.classes}, run / checkpoint.LAST)
            write_result(run, record)
        return record
    finally:
        if rt.world_size > 1:
            dist.destroy_process_group()
