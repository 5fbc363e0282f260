"""Training-step throughput (forward, backward, AdamW step): our VideoMAE against transformers' VideoMAEForPreTraining.

Both models get the same config, the same weights and, at every step, the same videos and tube mask; steps of the
contenders are interleaved so that load from other processes hits them alike. A third row per size adds VideoMAE V2
running-cell decoder masking.

    python bench/train_step.py                                   # tiny and small, batch 2, CPU (about 1-2 minutes)
    python bench/train_step.py --device cuda --bf16 --compile --sizes base --batch 32
"""
from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import timm
import torch
import transformers
from torch import Tensor

from train.convert import to_transformers, transformers_config
from train.masking import make_decoder_mask, make_mask
from train.model import VideoMAEConfig, create_model

Step = Callable[[Tensor, Tensor], Tensor]  # (videos, mask) -> loss, after one optimiser step


@dataclass
class Row:
    """One line of the table; `times` are seconds per timed step."""

    size: str
    name: str
    decoder: str
    params: int
    flops: int  # per clip and training step
    times: list[float]
    first_loss: float = float("nan")


def block_flops(n: int, dim: int, hidden: int) -> int:
    """Forward matmul FLOPs of one transformer block on n tokens: qkv, scores and values, projection, MLP."""
    return 2 * n * dim * 3 * dim + 2 * 2 * n * n * dim + 2 * n * dim * dim + 2 * 2 * n * dim * hidden


def train_flops(cfg: VideoMAEConfig, n_visible: int, n_target: int) -> int:
    """Matmul FLOPs per clip of one training step, counted from the config.

    Forward: cube embedding and encoder on the visible tokens, encoder_to_decoder, decoder on visible + target
    tokens, head on the target tokens. Training = 3 x forward (backward costs about twice the forward). Norms,
    softmax, GELU and the optimiser are left out, as is usual for MFU. transformers embeds all N cubes before
    dropping the masked ones, so it does a little more work than counted here.
    """
    forward = 2 * n_visible * cfg.patch_dim * cfg.embed_dim
    forward += cfg.depth * block_flops(n_visible, cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio))
    forward += 2 * n_visible * cfg.embed_dim * cfg.decoder_dim
    forward += cfg.decoder_depth * block_flops(
        n_visible + n_target, cfg.decoder_dim, int(cfg.decoder_dim * cfg.mlp_ratio)
    )
    forward += 2 * n_target * cfg.decoder_dim * cfg.patch_dim
    return 3 * forward


def make_step(model: torch.nn.Module, loss_fn: Callable[..., Tensor], args: argparse.Namespace) -> Step:
    """One training step of `model`, compiled and under bf16 autocast when asked."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    forward = torch.compile(loss_fn) if args.compile else loss_fn
    autocast = torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16) if args.bf16 else nullcontext()

    def step(videos: Tensor, mask: Tensor) -> Tensor:
        with autocast:
            loss = forward(videos, mask)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    return step


def contenders(size: str, args: argparse.Namespace) -> tuple[VideoMAEConfig, list[tuple[Row, Step]]]:
    """Ours, transformers' (same weights) and ours with decoder masking, each with its own optimiser."""
    torch.manual_seed(0)
    ours = create_model(size, img_size=args.img_size, frames=args.frames).to(args.device)
    cfg = ours.cfg
    hf = transformers.VideoMAEForPreTraining(
        transformers.VideoMAEConfig(**transformers_config(cfg), attn_implementation="sdpa")
    )
    hf.decoder.norm.eps = 1e-6  # official (and our) eps; transformers hard-codes 1e-5 here
    hf.load_state_dict(to_transformers(ours.state_dict()))
    hf.to(args.device)
    v2 = copy.deepcopy(ours)

    def decoder_masked(videos: Tensor, mask: Tensor) -> Tensor:
        decoder_mask = make_decoder_mask("running_cell", mask, cfg.grid, args.decoder_ratio)
        return v2(videos, mask, decoder_mask)[0]

    n_masked = int(make_mask("tube", 1, cfg.grid, args.mask_ratio).sum())
    n_visible, n_decoded = cfg.num_patches - n_masked, n_masked - round(n_masked * args.decoder_ratio)
    n_params = sum(p.numel() for p in ours.parameters())
    rows = [
        ("ours", "all masked", lambda videos, mask: ours(videos, mask)[0], ours, n_masked),
        ("transformers", "all masked", lambda videos, mask: hf(videos.transpose(1, 2), mask).loss, hf, n_masked),
        ("ours", f"running_cell {args.decoder_ratio}", decoder_masked, v2, n_decoded),
    ]
    return cfg, [
        (Row(size, name, decoder, n_params, train_flops(cfg, n_visible, n_target), []), make_step(m, fn, args))
        for name, decoder, fn, m, n_target in rows
    ]


def run(entries: list[tuple[Row, Step]], cfg: VideoMAEConfig, args: argparse.Namespace) -> None:
    """Interleaved rounds: every contender takes one step on the same batch and mask per round."""
    generator = torch.Generator(args.device).manual_seed(0)
    videos = torch.randn(args.batch, 3, args.frames, args.img_size, args.img_size, device=args.device)
    for round_index in range(args.warmup + args.steps):
        mask = make_mask("tube", args.batch, cfg.grid, args.mask_ratio, args.device, generator)
        for row, step in entries:
            synchronize(args.device)
            start = time.perf_counter()
            loss = step(videos, mask)
            synchronize(args.device)
            seconds = time.perf_counter() - start
            if round_index == 0:
                row.first_loss = loss.item()
            if round_index >= args.warmup:
                row.times.append(seconds)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    """ms/step and clips/s from the median step; best ms is the fastest step (least disturbed on a shared machine)."""
    cuda = args.device.startswith("cuda")
    header = f"{'size':6} {'model':13} {'decoder':18} {'params':>8} {'GFLOP/clip':>10} {'ms/step':>9} {'best ms':>8}"
    header += f" {'clips/s':>8}"
    header += f" {'loss@0':>8}" + (f" {'MFU':>6}" if cuda else "")
    print(header)
    print("-" * len(header))
    for row in rows:
        seconds = statistics.median(row.times)
        clips = args.batch / seconds
        line = f"{row.size:6} {row.name:13} {row.decoder:18} {row.params / 1e6:7.1f}M {row.flops / 1e9:10.1f}"
        line += f" {seconds * 1e3:9.1f} {min(row.times) * 1e3:8.1f} {clips:8.2f} {row.first_loss:8.4f}"
        if cuda:
            line += f" {clips * row.flops / (args.peak_tflops * 1e12):6.1%}"
        print(line)


def print_machine(args: argparse.Namespace) -> None:
    cpu = platform.processor() or platform.machine()
    print(f"machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    if args.device.startswith("cuda"):
        print(f"gpu: {torch.cuda.get_device_name(args.device)}, peak {args.peak_tflops} TFLOP/s for MFU")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, timm {timm.__version__}")
    precision = "bf16 autocast" if args.bf16 else "fp32"
    print(
        f"batch {args.batch}, {args.frames} x {args.img_size}^2 clips, tube mask {args.mask_ratio}, {precision}, "
        f"compile {args.compile}, device {args.device}, {args.steps} timed steps after {args.warmup} warm-up"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--mask-ratio", type=float, default=0.75)
    parser.add_argument("--decoder-ratio", type=float, default=0.5)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense peak for MFU (H100 bf16: 989)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print_machine(args)
    rows: list[Row] = []
    for size in args.sizes:  # one size at a time, so that only its models are alive
        cfg, size_contenders = contenders(size, args)
        run(size_contenders, cfg, args)
        rows += [row for row, _ in size_contenders]
    print_table(rows, args)


if __name__ == "__main__":
    main()
