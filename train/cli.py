"""`train-vmae`: VideoMAE pre-training on pseudo-motion shards, and export of the encoder. The CLI only parses and
wires: config in train/config.py, the loop in train/loop.py, formats in train/export.py.

    train-vmae --shards DATA --out RUN --model small --epochs 100 [--resume]
    train-vmae --images SOURCE --out RUN --fresh-motion ...                    # no shards: rendered as it trains
    torchrun --nproc_per_node 8 -m train.cli --shards DATA --out RUN ...      # DDP, one process per GPU
    train-vmae export RUN --format pseudomotion|videomae|transformers --out PATH

Exit codes: 0 success, 1 the loss diverged (NaN/inf), 2 a usage or input error (one line on stderr).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from synth.cli import parse_transforms
from synth.errors import UserError
from train import checkpoint
from train.config import (CONFIG_FILE, PRECISIONS, LoopConfig, MaskConfig, ModelConfig, OptimConfig, TrainConfig,
                          differences, load_saved, resolve)
from train.data import RENDER_ON, DataConfig
from train.export import FORMATS, export
from train.loop import LossNotFinite, train
from train.masking import MASKS
from train.metrics import METRICS, TENSORBOARD
from train.model import MODEL_SIZES

PROG = "train-vmae"


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2) instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def train_parser() -> Parser:
    p = Parser(prog=PROG, description="VideoMAE pre-training on pseudo-motion shards "
                                      f"(`{PROG} export RUN ...` writes the encoder for fine-tuning)")
    p.add_argument("--shards", help="dataset directory from `synth render`, a glob or tar paths (required unless "
                                    "resuming)")
    p.add_argument("--images", help="train straight from an image source instead (a folder, tar files, fractal, "
                                    "procedural, a named source): clips drawn and rendered as it trains")
    p.add_argument("--out", required=True, help="run folder: config.yaml, metrics.jsonl, checkpoints")
    p.add_argument("--config", help="YAML config; flags override its fields")
    p.add_argument("--model", choices=list(MODEL_SIZES), help=f"model size (default {ModelConfig.size})")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="optimizer steps to train")
    length.add_argument("--epochs", type=int, help="passes over the dataset (its manifest's clip count)")
    p.add_argument("--batch-size", type=int, help=f"clips per batch on each process (default {DataConfig.batch_size})")
    p.add_argument("--accum", type=int, help=f"micro-batches per optimizer step (default {OptimConfig.accum})")
    p.add_argument("--lr", type=float, help=f"peak lr (default {OptimConfig.base_lr:g} x global batch / 256)")
    p.add_argument("--mask", choices=list(MASKS), help=f"encoder masking (default {MaskConfig.kind})")
    p.add_argument("--mask-ratio", type=float, help=f"fraction of tokens masked (default {MaskConfig.ratio})")
    p.add_argument("--decoder-mask-ratio", type=float,
                   help="VideoMAE V2 decoder masking: fraction of masked tokens not reconstructed (default 0, off)")
    p.add_argument("--frames", type=int, help="frames per clip (default: the manifest's)")
    p.add_argument("--size", type=int, help="frame side in pixels (default: the manifest's)")
    p.add_argument("--transforms", help="--images: PMG transforms with optional weights, e.g. zoom=2,affine "
                                        "(default zoom,affine)")
    p.add_argument("--mixup", action=argparse.BooleanOptionalAction, default=None,
                   help="--images: frame-wise Mixup of two clips (default on)")
    p.add_argument("--num-videos", type=int, help="--images: clips per epoch (default one per source image)")
    p.add_argument("--fresh-motion", action=argparse.BooleanOptionalAction, default=None,
                   help="recipe shards and --images: new motion for the same images every epoch (default off)")
    p.add_argument("--render-on", choices=list(RENDER_ON),
                   help="recipe shards and --images: render clips on the training device in batch (default) or on "
                        "the CPU in the loader workers")
    p.add_argument("--workers", type=int,
                   help=f"data loader processes per training process (default {DataConfig.num_workers})")
    p.add_argument("--device", help="auto (default: cuda when available), cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="auto (default): bf16 autocast on CUDA, fp32 on CPU")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the model")
    p.add_argument("--seed", type=int,
                   help=f"seed of the weights, masks, crops and data order (default {TrainConfig.seed})")
    p.add_argument("--save-every", type=int,
                   help=f"steps between checkpoints (default {LoopConfig.save_every}; always at the end)")
    p.add_argument("--keep", type=int,
                   help=f"numbered checkpoints to keep besides checkpoint-last.pt (default {LoopConfig.keep})")
    p.add_argument("--log-every", type=int, help=f"steps between metrics records (default {LoopConfig.log_every})")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    p.add_argument("--log-samples", action="store_true", default=None,
                   help="each process logs the sample keys it trained on to RUN/samples-rankR.jsonl")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue RUN from its last checkpoint and config")
    again.add_argument("--overwrite", action="store_true", help="delete the run in --out and start over")
    return p


def export_parser() -> Parser:
    p = Parser(prog=f"{PROG} export", description="write a run's pre-trained encoder for fine-tuning")
    p.add_argument("run", help="run folder (its checkpoint-last.pt) or a checkpoint file")
    p.add_argument("--format", required=True, choices=list(FORMATS),
                   help="pseudomotion: our encoder file; videomae: the official layout; transformers: a "
                        "VideoMAEModel folder")
    p.add_argument("--out", required=True, help="output file (a folder for transformers)")
    return p


def overrides(a: argparse.Namespace) -> dict[str, Any]:
    """The flags as a partial config (None = not given, so the saved run, the YAML file or the default stays)."""
    return {
        "shards": local_path(a.shards), "images": image_source(a.images), "seed": a.seed,
        "model": {"size": a.model},
        "mask": {"kind": a.mask, "ratio": a.mask_ratio, "decoder_ratio": a.decoder_mask_ratio},
        "data": {"batch_size": a.batch_size, "num_workers": a.workers, "frames": a.frames, "size": a.size,
                 "seed": a.seed, "epoch_samples": a.num_videos, "fresh_motion": a.fresh_motion,
                 "render_on": a.render_on},
        "motion": {"transforms": parse_transforms(a.transforms) if a.transforms else None, "mixup": a.mixup},
        "optim": {"lr": a.lr, "accum": a.accum},
        "loop": {"steps": a.steps, "epochs": a.epochs, "device": a.device, "precision": a.precision,
                 "compile": a.compile, "save_every": a.save_every, "keep": a.keep, "log_every": a.log_every,
                 "progress": a.progress, "log_samples": a.log_samples},
    }


def local_path(spec: str | None) -> str | None:
    """An absolute path for local shard specs, so that a run resumes from any working directory."""
    if spec is None or "://" in spec or spec.startswith("pipe:"):
        return spec
    return os.path.abspath(os.path.expanduser(spec))


def image_source(spec: str | None) -> str | None:
    """--images with local paths made absolute (resume from any working directory); built-in and named sources
    (fractal:..., procedural, pass) stay as they are."""
    if spec is None or "://" in spec or not ("/" in spec or os.path.exists(spec)):
        return spec
    return os.path.abspath(os.path.expanduser(spec))


def check_run(run: Path, cfg: TrainConfig, *, resume: bool) -> None:
    """Refuse to train over another run in RUN unless told to resume it (or --overwrite, handled before)."""
    saved = load_saved(run)
    changed = differences(saved, cfg.to_dict()) if saved is not None else []
    has_checkpoint = (run / checkpoint.LAST).is_file()
    if not resume and (has_checkpoint or changed):
        what = f"a different run (config differs in {', '.join(changed[:6])})" if changed else "a run"
        raise UserError(f"{run}: holds {what}; pass --resume to continue it, --overwrite to start over, "
                        f"or a new --out")


def clear_run(run: Path) -> None:
    """Delete what train-vmae wrote in RUN (and nothing else)."""
    for pattern in (CONFIG_FILE, METRICS, "checkpoint-*.pt", "checkpoint-*.partial", "samples-rank*.jsonl"):
        for path in run.glob(pattern):
            path.unlink()
    shutil.rmtree(run / TENSORBOARD, ignore_errors=True)


def cmd_train(a: argparse.Namespace) -> int:
    run = Path(a.out)
    if run.exists() and not run.is_dir():
        raise UserError(f"--out {run}: is a file; pass a folder for the run")
    main_rank = int(os.environ.get("RANK", "0")) == 0
    cfg = resolve(overrides(a), config_file=a.config, saved=load_saved(run) if a.resume else None)
    if a.overwrite and main_rank:
        clear_run(run)
    elif not a.overwrite:
        check_run(run, cfg, resume=a.resume)
    run.mkdir(parents=True, exist_ok=True)
    s = train(cfg, run, resume=a.resume)
    if main_rank:
        print(f"{PROG}: trained steps {s.start} -> {s.steps}, final loss {s.loss:.4f}, {s.clips_per_s:.1f} clips/s, "
              f"checkpoint {s.checkpoint}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    source = Path(a.run)
    state = checkpoint.load(source / checkpoint.LAST if source.is_dir() else source)
    out = export(state, a.format, Path(a.out))
    print(f"{PROG} export: wrote the {a.format} encoder of step {state['step']} to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    exporting = argv[:1] == ["export"]
    try:
        if exporting:
            return cmd_export(export_parser().parse_args(argv[1:]))
        return cmd_train(train_parser().parse_args(argv))
    except UserError as e:
        message = " ".join(str(e).splitlines())  # one line, whatever a lower layer wrote
        print(f"{PROG}{' export' if exporting else ''}: error: {message}", file=sys.stderr)
        return 1 if isinstance(e, LossNotFinite) else 2


if __name__ == "__main__":
    sys.exit(main())
