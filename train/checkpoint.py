"""Training checkpoints: written atomically, loadable with `torch.load(weights_only=True)`, checked before use.

A checkpoint is one dict (see `train.loop.training_state` for what it holds): model, optimizer and grad-scaler
state, the step, the resolved config, and per rank the RNG states and the data position. Every value is a tensor
or plain Python data, so loading never runs pickled code. RUN/checkpoint-last.pt is replaced by rename, so a crash
while saving leaves the previous one whole; `keep` > 0 also keeps that many numbered checkpoints (hard links).
"""
from __future__ import annotations

import os
import pickle
import random
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synth.errors import UserError

LAST = "checkpoint-last.pt"
NUMBERED = "checkpoint-{step:08d}.pt"
FORMAT = "pseudomotion-train/1"


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save to a temporary file beside path, fsync, rename over path, fsync the folder: readers and crashes
    see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(run: Path, state: dict[str, Any], keep: int) -> Path:
    """Write state as RUN/checkpoint-last.pt (plus a numbered link when keep > 0, pruned to the newest `keep`)."""
    last = run / LAST
    save_atomic({"format": FORMAT, **state}, last)
    if keep > 0:
        numbered = run / NUMBERED.format(step=state["step"])
        numbered.unlink(missing_ok=True)
        try:
            os.link(last, numbered)
        except OSError:  # a filesystem without hard links
            shutil.copyfile(last, numbered)
        for old in sorted(run.glob("checkpoint-[0-9]*.pt"))[:-keep]:
            old.unlink()
    return last


def read(path: Path, fmt: str) -> dict[str, Any]:
    """A file saved by `save_atomic` whose 'format' is fmt, tensors on the CPU, loaded without running pickled
    code; UserError naming the file when it is missing, unreadable or something else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: not found; check the path (a run folder holds {LAST})") from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        reason = str(e).split(". ")[0][:160] or type(e).__name__
        raise UserError(f"{path}: corrupt or truncated ({reason}); restore it (runs with loop.keep > 0 keep "
                        f"numbered checkpoints) or write it again") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise UserError(f"{path}: not a {fmt} file; pass what train-vmae wrote")
    return state


def load(path: Path) -> dict[str, Any]:
    """A training checkpoint written by `save`."""
    return read(path, FORMAT)


def check_model(state: dict[str, Any], model_config: dict[str, Any], path: Path) -> None:
    """UserError unless the checkpoint's model has the shape the config asks for (size, frames, image size)."""
    saved = state["model_config"]
    if saved == model_config:
        return
    diff = ", ".join(f"{k}={saved.get(k)} (config: {model_config.get(k)})"
                     for k in sorted(set(saved) | set(model_config)) if saved.get(k) != model_config.get(k))
    size = state["config"]["model"]["size"]
    raise UserError(f"{path}: holds a different model, VideoMAE-{size} with {diff}; resume with the config it "
                    f"was trained with (--model {size}) or train into a new --out")


def rng_state(device: torch.device) -> dict[str, Any]:
    """This process's global RNG states (Python, NumPy, torch CPU and the device's CUDA generator) as plain data
    and tensors. Masks and crops do not need them (they are drawn from per-step seeds); stochastic depth does."""
    np_state = np.random.get_state(legacy=False)
    np_state["state"]["key"] = torch.from_numpy(np_state["state"]["key"].astype(np.int64))
    return {
        "python": random.getstate(),
        "numpy": np_state,
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np_state = dict(state["numpy"])
    np_state["state"] = {**np_state["state"], "key": np_state["state"]["key"].numpy().astype(np.uint32)}
    np.random.set_state(np_state)
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"], device)
