"""The runner's handling of Ray tasks that never come back."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from synth.config import from_dict
from synth.errors import UserError
from synth.runner import render


class KillsItsWorker:
    """An image source whose every load ends the worker process, as an OOM killer or a preempted node would."""

    name = "killer"

    def __len__(self) -> int:
        return 2

    def load(self, index: int) -> None:
        os._exit(1)

    def fingerprint(self) -> str:
        return "0" * 64

    def describe(self) -> dict:
        return {"kind": "killer", "images": 2}


@pytest.mark.slow
def test_a_shard_whose_worker_dies_on_every_attempt_ends_the_run_with_one_line(tmp_path: Path) -> None:
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the tests folder
    cfg = from_dict({"images": "killer", "frames": 2, "size": 16, "shard_size": 2, "num_videos": 2}).validate()
    with pytest.raises(UserError, match="lost its worker on every attempt .*WorkerCrashedError.*re-run the same"):
        render(cfg, KillsItsWorker(), tmp_path / "out", workers=1, progress=False)
    assert not list((tmp_path / "out").glob("*.tar"))
