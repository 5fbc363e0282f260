"""`eval-vmae`: fine-tune or linear-probe a pre-trained VideoMAE on an action-recognition benchmark, and report
results in the paper's form. The CLI only parses and wires: config in eval/config.py, the runs in eval/finetune.py
and eval/linear.py, the table in eval/report.py.

    eval-vmae finetune --checkpoint RUN|FILE|HF_DIR|scratch --dataset ucf101 --root DIR [--split 1] --out OUT
    eval-vmae linear   --checkpoint ... (same data flags)
    eval-vmae report OUT... --out DIR
    torchrun --nproc_per_node 8 -m eval.cli finetune ...       # DDP, one process per GPU

--dataset synthmotion writes the built-in proxy benchmark's clips to --root on first use (at --frames x --size).
Exit codes: 0 success, 1 the loss diverged (NaN/inf), 2 a usage or input error (one line on stderr).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from eval.config import DATASET_DEFAULTS, EvalConfig, resolve
from eval.evaluate import RESULT, summary_line
from eval.finetune import finetune
from eval.linear import linear_probe
from eval.pretrained import SCRATCH
from eval.report import report
from eval.synthmotion import PROXY_NOTE
from synth.errors import UserError
from train import checkpoint
from train.cli import Parser
from train.config import CONFIG_FILE, load_saved, save_config
from train.loop import LossNotFinite
from train.metrics import METRICS, TENSORBOARD
from train.model import MODEL_SIZES

PROG = "eval-vmae"
COMMANDS = ("finetune", "linear", "report")


def views(text: str) -> tuple[int, int]:
    """'5,3' -> (5 clips, 3 crops)."""
    try:
        clips, crops = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--views {text!r}: expected CLIPS,CROPS such as 5,3") from None
    return clips, crops


def run_parser(protocol: str) -> Parser:
    what = {"finetune": "fine-tune a pre-trained VideoMAE (or scratch) and test it with multi-view averaging",
            "linear": "train a linear probe on frozen, cached encoder features and test it"}[protocol]
    p = Parser(prog=f"{PROG} {protocol}", description=what)
    p.add_argument("--checkpoint", required=True,
                   help="train-vmae run folder or checkpoint, exported encoder, official VideoMAE .pth, "
                        "transformers folder, or 'scratch'")
    p.add_argument("--dataset", required=True, choices=list(DATASET_DEFAULTS), help="benchmark")
    p.add_argument("--root", required=True, help="dataset folder (synthmotion: written there on first use)")
    p.add_argument("--split", type=int, help="official split (1..3 for UCF101 and HMDB51; default 1)")
    p.add_argument("--out", required=True, help="run folder: config.yaml, metrics.jsonl, checkpoint, result.json")
    p.add_argument("--config", help="YAML config; flags override its fields")
    p.add_argument("--model", choices=list(MODEL_SIZES), help="model size (default: the checkpoint's; base for "
                                                              "scratch)")
    p.add_argument("--epochs", type=int, help="training epochs (default 100 fine-tuning, 90 linear)")
    p.add_argument("--batch-size", type=int, help="clips per step on each process (default 16)")
    p.add_argument("--lr", type=float, help="peak lr (default: 1e-3 x global batch / 256)")
    p.add_argument("--frames", type=int, help="frames per clip (default 16)")
    p.add_argument("--size", type=int, help="frame side in pixels (default 224)")
    p.add_argument("--rate", type=int, help="frames between sampled frames (default: the dataset's)")
    p.add_argument("--views", type=views, help="test views CLIPS,CROPS (default: the dataset's, e.g. 5,3)")
    p.add_argument("--num-workers", type=int, help="decoding processes per process (default 8)")
    p.add_argument("--max-train", type=int, help="use at most N training videos, class-balanced (quick runs)")
    p.add_argument("--max-test", type=int, help="use at most N test videos, class-balanced (quick runs)")
    p.add_argument("--device", help="auto (default: cuda when available), cpu, cuda or cuda:N")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto (default): bf16 autocast on CUDA, fp32 on CPU")
    p.add_argument("--seed", type=int, help="seed of the head, data order, crops and Mixup (default 0)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    if protocol == "finetune":
        p.add_argument("--drop-path", type=float, help="stochastic depth rate (default 0.1)")
        p.add_argument("--layer-decay", type=float, help="layer-wise lr decay (default 0.75)")
        p.add_argument("--head-init-scale", type=float,
                       help="head weights scaled by this after init (default VideoMAE's 0.001, which stalls "
                            "learning for tens of epochs; 1 for short runs)")
        p.add_argument("--mixup", action=argparse.BooleanOptionalAction, default=None,
                       help="Mixup/CutMix (default on; --no-mixup for tiny or proxy runs)")
        p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                       help="mirror training clips (default: the dataset's; off for synthmotion)")
        p.add_argument("--save-every", type=int, help="epochs between checkpoints (default 1)")
        p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                       help="torch.compile the model")
    else:
        p.add_argument("--probe-batch", type=int, help="features per step of the linear layer (default 256)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue OUT from its checkpoint and config (linear: reuse its cached features)")
    again.add_argument("--overwrite", action="store_true", help="delete the run in --out and start over")
    return p


def report_parser() -> Parser:
    p = Parser(prog=f"{PROG} report", description="the results of eval-vmae runs as the paper's table, with the "
                                                  "published rows beside them")
    p.add_argument("runs", nargs="+", help="run folders (or their result.json)")
    p.add_argument("--out", required=True, help="folder for results.md, results.csv and results.png")
    return p


def absolute(path: str) -> str:
    """Paths are saved absolute, so that a run resumes from any working directory."""
    return os.path.abspath(os.path.expanduser(path))


def overrides(a: argparse.Namespace, protocol: str) -> dict[str, Any]:
    """The flags as a partial config (None = not given, so the saved run, the YAML file or the default stays)."""
    clips, crops = a.views or (None, None)
    out = {
        "seed": a.seed,
        "data": {"dataset": a.dataset, "root": absolute(a.root), "split": a.split, "frames": a.frames,
                 "size": a.size, "rate": a.rate, "clips": clips, "crops": crops, "max_train": a.max_train,
                 "max_test": a.max_test, "batch_size": a.batch_size, "num_workers": a.num_workers},
        "model": {"checkpoint": a.checkpoint if a.checkpoint == SCRATCH else absolute(a.checkpoint),
                  "size": a.model},
        "optim": {"lr": a.lr},
        "run": {"epochs": a.epochs, "device": a.device, "precision": a.precision, "progress": a.progress},
    }
    if protocol == "finetune":
        no_mix = 0.0 if a.mixup is False else None
        out["model"].update(drop_path=a.drop_path, layer_decay=a.layer_decay, head_init_scale=a.head_init_scale)
        out["augment"] = {"flip": a.flip, "mixup": no_mix, "cutmix": no_mix}
        out["run"].update(save_every=a.save_every, compile=a.compile)
    else:
        out["probe_batch"] = a.probe_batch
    return out


def clear_run(run: Path) -> None:
    """Delete what eval-vmae wrote in RUN (and nothing else)."""
    for pattern in (CONFIG_FILE, METRICS, RESULT, checkpoint.LAST, "*.partial", "features-*.pt"):
        for path in run.glob(pattern):
            path.unlink()
    shutil.rmtree(run / TENSORBOARD, ignore_errors=True)


def check_run(run: Path, *, resume: bool) -> None:
    if not resume and ((run / checkpoint.LAST).is_file() or (run / RESULT).is_file()):
        raise UserError(f"{run}: holds an eval-vmae run; pass --resume to continue it, --overwrite to start over, "
                        f"or a new --out")


def cmd_run(protocol: str, a: argparse.Namespace) -> int:
    run = Path(a.out)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    cfg: EvalConfig = resolve(protocol, overrides(a, protocol), config_file=a.config,
                              saved=load_saved(run) if a.resume else None)
    if a.overwrite and main_rank:
        clear_run(run)
    elif not a.overwrite:
        check_run(run, resume=a.resume)
    run.mkdir(parents=True, exist_ok=True)
    if main_rank:
        save_config(cfg, run / CONFIG_FILE)
    if protocol == "finetune":
        record = finetune(cfg, run, resume=a.resume)
    else:
        record = linear_probe(cfg, run)
    if main_rank:
        print(f"{PROG} {protocol}: {summary_line(record)} -> {run / RESULT}")
        if record["proxy"]:
            print(f"{PROG}: note: {PROXY_NOTE}")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    print(report([Path(run) for run in a.runs], Path(a.out)), end="")
    print(f"{PROG} report: wrote results.md, results.csv and results.png to {a.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv else ""
    if command not in COMMANDS:
        print(f"{PROG}: error: expected a command, one of {', '.join(COMMANDS)} (e.g. {PROG} finetune --help)",
              file=sys.stderr)
        return 2
    try:
        if command == "report":
            return cmd_report(report_parser().parse_args(argv[1:]))
        return cmd_run(command, run_parser(command).parse_args(argv[1:]))
    except UserError as e:
        print(f"{PROG} {command}: error: {e}", file=sys.stderr)
        return 1 if isinstance(e, LossNotFinite) else 2


if __name__ == "__main__":
    sys.exit(main())
