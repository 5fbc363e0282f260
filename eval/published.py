"""Published results shown beside ours in reports, always marked as published.

Only figures copied from the paper, each with its source. They are VideoMAE ViT-B fine-tuned at 224 px on 16-frame
clips: not comparable with small or proxy runs, and shown for orientation only.
"""
from __future__ import annotations

from dataclasses import dataclass

PMG_PAPER = ("Data Collection-Free Masked Video Modeling (PMG), ECCV 2024: VideoMAE ViT-B, fine-tuning top-1 (%) "
             "on UCF101 / HMDB51 / Diving48")


@dataclass(frozen=True)
class PublishedRow:
    """One published row: pre-training label, model size, protocol, top-1 per dataset name, and its source."""

    label: str
    model: str
    protocol: str
    top1: dict[str, float]
    source: str


PUBLISHED: list[PublishedRow] = [
    PublishedRow("scratch", "base", "finetune", {"ucf101": 51.4, "hmdb51": 18.0, "diving48": 17.9}, PMG_PAPER),
    PublishedRow("Shaders1k PMG", "base", "finetune", {"ucf101": 89.4, "hmdb51": 59.7, "diving48": 72.3},
                 PMG_PAPER),
]
