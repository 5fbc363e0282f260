"""What a run reports: a progress bar, RUN/metrics.jsonl and TensorBoard scalars, all written by rank 0 only.

`Meter` accumulates one logging window (clips, seconds blocked on the loader, losses) in every rank; the loop sums
the windows over ranks and hands one record per `log_every` steps to `MetricsWriter`.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

METRICS = "metrics.jsonl"
TENSORBOARD = "tensorboard"


@dataclass
class Meter:
    """One logging window: clips trained, seconds spent waiting for batches, per-step losses."""

    start: float = field(default_factory=time.perf_counter)
    clips: int = 0
    wait: float = 0.0
    losses: list[float] = field(default_factory=list)

    def elapsed(self) -> float:
        return max(time.perf_counter() - self.start, 1e-9)

    def reset(self) -> None:
        self.start, self.clips, self.wait, self.losses = time.perf_counter(), 0, 0.0, []


def truncate_after(path: Path, step: int) -> None:
    """Drop records past `step` (logged after the checkpoint a run resumes from) and any line cut short by a
    crash, so that the file reads as one run."""
    if path.is_file():
        kept = [line for line in path.read_text().splitlines(keepends=True) if 0 <= record_step(line) <= step]
        path.write_text("".join(kept))


def record_step(line: str) -> int:
    """The step of a metrics.jsonl line; -1 for a line that is not a whole record."""
    try:
        return int(json.loads(line)["step"]) if line.endswith("\n") else -1
    except (ValueError, KeyError, TypeError):
        return -1


class MetricsWriter:
    """JSONL records, TensorBoard scalars (when tensorboard is installed) and a tqdm bar; inert on ranks > 0.

    progress None shows the bar only on a terminal. The bar is updated every step (tqdm limits redraws).
    """

    def __init__(self, run: Path, *, active: bool, start: int, total: int, progress: bool | None,
                 tensorboard: bool) -> None:
        self.active = active
        self.jsonl = open(run / METRICS, "a") if active else None
        self.tb = open_tensorboard(run / TENSORBOARD, start) if active and tensorboard else None
        show = sys.stderr.isatty() if progress is None else progress
        self.bar = tqdm(total=total, initial=start, unit="step", desc="train", dynamic_ncols=True,
                        disable=not (active and show))

    def step(self, loss: float) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

    def record(self, values: dict[str, Any]) -> None:
        """values: step, loss, lr, clips_per_s, data_wait (share of wall time), skipped, ... (JSON numbers)."""
        if not self.active:
            return
        self.jsonl.write(json.dumps(values) + "\n")
        self.jsonl.flush()
        if self.tb is not None:
            for key, value in values.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tb.add_scalar(f"train/{key}", value, values["step"])
        self.bar.set_postfix_str(f"loss {values['loss']:.4f} lr {values['lr']:.2e} "
                                 f"{values['clips_per_s']:.1f} clips/s wait {values['data_wait']:.0%}")

    def close(self) -> None:
        self.bar.close()
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tb is not None:
            self.tb.close()


def open_tensorboard(folder: Path, start: int) -> Any:
    """A SummaryWriter that overwrites events past `start` (a resumed run), or None with one info line when
    tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("info: tensorboard is not installed, so no TensorBoard logs (metrics.jsonl has them all); "
              "pip install tensorboard to get them")
        return None
    return SummaryWriter(str(folder), purge_step=start or None)
