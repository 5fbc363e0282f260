"""The test protocol and the record a run leaves behind.

Every view (clips x crops) of every test video is scored; the softmax scores of a video's views are averaged and
the video counts as right when the average ranks its class first (top-1) or among the first five (top-5), as in
VideoMAE's multi-view test. A view whose video cannot be decoded is skipped and counted; a video with no view left
is left out of the accuracy and counted in `videos_skipped`.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from eval.config import EvalConfig
from eval.datasets import VideoList
from eval.pretrained import Pretrained
from eval.synthmotion import NAME as SYNTHMOTION
from eval.synthmotion import PROXY_NOTE
from synth.shards import write_atomic
from train.augment import CropParams, DeviceAugment
from train.loop import Runtime, sum_over_ranks

RESULT = "result.json"
RESULT_FORMAT = "pseudomotion-eval-result/1"
TOP_K = 5

Scorer = Callable[[Tensor], Tensor]  # uint8 clips (B, T, H, W, 3) on the device -> logits (B, classes)


@dataclass
class Scores:
    """Per test video: the sum of its views' softmax scores (N, classes) and how many views were scored (N,)."""

    sums: Tensor
    views: Tensor
    views_skipped: int = 0

    @classmethod
    def empty(cls, videos: int, classes: int, device: torch.device) -> "Scores":
        return cls(torch.zeros(videos, classes, dtype=torch.float64, device=device),
                   torch.zeros(videos, dtype=torch.long, device=device))

    def add(self, logits: Tensor, video: Tensor) -> None:
        """Views' logits (B, classes) of the videos numbered `video` (B,)."""
        video = video.to(self.sums.device)
        self.sums.index_add_(0, video, logits.float().softmax(dim=-1).to(self.sums.dtype))
        self.views.index_add_(0, video, torch.ones_like(video))

    def all_reduce(self, rt: Runtime) -> None:
        """Sum over ranks (each scored its own share of the videos)."""
        if rt.world_size > 1:
            torch.distributed.all_reduce(self.sums)
            torch.distributed.all_reduce(self.views)
        self.views_skipped = int(sum_over_ranks([self.views_skipped], rt)[0])


def whole_frames(augment: DeviceAugment, clips: Tensor) -> Tensor:
    """uint8 (B, T, S, S, 3) test views -> the model's normalised float (B, 3, T, S, S): the whole frame, unflipped
    (train's augmentation with a full-frame box, so test and training inputs are normalised by the same code)."""
    b, _, h, w, _ = clips.shape
    box = torch.tensor([[0, 0, w, h]]).expand(b, 4)
    return augment.apply(clips, CropParams(box, torch.zeros(b, dtype=torch.bool)))


@torch.no_grad()
def score_views(scorer: Scorer, loader: DataLoader, videos: int, classes: int, rt: Runtime) -> Scores:
    """Scores of this rank's views, summed over all ranks."""
    scores = Scores.empty(videos, classes, rt.device)
    for batch in loader:
        scores.views_skipped += batch.skipped
        if len(batch.index):
            scores.add(scorer(batch.video.to(rt.device, non_blocking=True)), batch.index)
    scores.all_reduce(rt)
    return scores


def accuracy(scores: Scores, videos: VideoList) -> dict[str, Any]:
    """top1 and top5 in percent over the videos with at least one scored view, and top-1 per class."""
    scored = (scores.views > 0).cpu()
    mean = (scores.sums.cpu()[scored] / scores.views.cpu()[scored, None])  # (N_scored, classes)
    labels = torch.tensor([item.label for item in videos.items])[scored]
    ranked = mean.topk(min(TOP_K, mean.shape[1]), dim=1).indices
    top1 = ranked[:, 0] == labels
    top5 = (ranked == labels[:, None]).any(dim=1)
    per_class = {name: round(100 * top1[labels == c].float().mean().item(), 2)
                 for c, name in enumerate(videos.classes) if (labels == c).any()}
    return {"top1": round(100 * top1.float().mean().item(), 2) if len(labels) else float("nan"),
            "top5": round(100 * top5.float().mean().item(), 2) if len(labels) else float("nan"),
            "videos": int(scored.sum()), "videos_skipped": int((~scored).sum()),
            "views_skipped": scores.views_skipped, "per_class": per_class}


def device_name(rt: Runtime) -> str:
    if rt.device.type == "cuda":
        return f"{torch.cuda.get_device_name(rt.device)} x {rt.world_size}"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads) x {rt.world_size}"


def result_record(protocol: str, cfg: EvalConfig, pretrained: Pretrained, model_size: str, train: VideoList,
                  test: VideoList, metrics: dict[str, Any], rt: Runtime, began: float) -> dict[str, Any]:
    """RUN/result.json: what was evaluated, how, on what, and what came out."""
    proxy = cfg.data.dataset == SYNTHMOTION
    return {
        "format": RESULT_FORMAT,
        "protocol": {"name": protocol, "epochs": cfg.run.epochs, "views": [cfg.data.clips, cfg.data.crops],
                     "frames": cfg.data.frames, "size": cfg.data.size, "rate": cfg.data.rate},
        "checkpoint": {"path": pretrained.path, "kind": pretrained.kind},
        "pretraining": pretrained.pretraining,
        "model": model_size,
        "dataset": {"name": cfg.data.dataset, "root": cfg.data.root, "split": cfg.data.split,
                    "classes": len(train.classes), "train_videos": len(train), "test_videos": len(test),
                    "missing_videos": train.missing + test.missing},
        "metrics": metrics,
        "proxy": proxy,
        "note": PROXY_NOTE if proxy else None,
        "config": cfg.to_dict(),
        "wall_s": round(time.perf_counter() - began, 1),
        "device": device_name(rt),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_result(run: Path, record: dict[str, Any]) -> Path:
    path = run / RESULT
    write_atomic(path, (json.dumps(record, indent=2) + "\n").encode())
    return path


def summary_line(record: dict[str, Any]) -> str:
    """One line for the CLI, e.g. 'synthmotion split 1: top-1 41.7, top-5 88.1 (360 videos x 1x1 views)'."""
    d, m = record["dataset"], record["metrics"]
    clips, crops = record["protocol"]["views"]
    skipped = f", {m['videos_skipped']} undecodable" if m["videos_skipped"] else ""
    return (f"{d['name']} split {d['split']}: top-1 {m['top1']:.1f}, top-5 {m['top5']:.1f} ({m['videos']} videos x "
            f"{clips}x{crops} views{skipped})")
