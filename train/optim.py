"""AdamW with VideoMAE's parameter groups, and its learning-rate schedule (linear warmup, then cosine).

The schedule is a pure function of the step, as in MAE's `lr_sched`: the optimizer's lr is set before every update,
so a resumed run follows the schedule of its current config with nothing but the step count to restore.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from train.config import OptimConfig

NO_DECAY_NAMES = ("pos_embed", "mask_token", "cls_token")


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weight matrices with decay; norms, biases (ndim <= 1), position embeddings and the mask token
    without (decaying them only pulls them towards zero, as in MAE/VideoMAE)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if no_weight_decay(name, param):
            no_decay.append(param)
        else:
            decay.append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Norms, biases (ndim <= 1), position embeddings and the mask token get no weight decay."""
    return param.ndim <= 1 or name.endswith(NO_DECAY_NAMES)


def build_optimizer(model: nn.Module, cfg: OptimConfig, device: torch.device,
                    groups: list[dict] | None = None) -> torch.optim.AdamW:
    """AdamW over `groups` (default: param_groups); the fused CUDA kernel on GPU. The lr is set per step by
    `set_lr`."""
    groups = param_groups(model, cfg.weight_decay) if groups is None else groups
    return torch.optim.AdamW(groups, lr=0.0, betas=cfg.betas, eps=cfg.eps, fused=device.type == "cuda" or None)


def peak_lr(cfg: OptimConfig, global_batch: int) -> float:
    """cfg.lr, or VideoMAE's linear scaling rule: base_lr * global_batch / 256 (global_batch in clips per step)."""
    return cfg.lr if cfg.lr is not None else cfg.base_lr * global_batch / 256


def lr_at(step: int, total: int, peak: float, cfg: OptimConfig) -> float:
    """The lr of update number `step` (0-based) out of `total`: linear from peak/warmup_steps up to peak over the
    first warmup * total steps, then half a cosine down to min_lr at the end (never above peak)."""
    warmup = int(cfg.warmup * total)
    floor = min(cfg.min_lr, peak)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """lr on every group, times the group's 'lr_scale' where it has one (layer-wise lr decay in fine-tuning)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
