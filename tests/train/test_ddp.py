"""Two-process DDP on CPU (gloo) through torchrun: the ranks read disjoint shards and finish together."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import torch

from train.checkpoint import LAST


def shards_read(run: Path, rank: int, shard_of: dict[str, str]) -> set[str]:
    lines = (run / f"samples-rank{rank}.jsonl").read_text().splitlines()
    return {shard_of[key] for line in lines for key in json.loads(line)["keys"]}


def test_two_ranks_read_disjoint_shards_and_finish(shards: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    # 3 steps of 4 clips per rank stay inside the first epoch (each rank owns 2 shards of 8 clips in it).
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
               "-m", "train.cli", "--shards", str(shards), "--out", str(run), "--model", "tiny", "--steps", "3",
               "--batch-size", "4", "--workers", "0", "--device", "cpu", "--log-samples", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("train-vmae: trained steps 0 -> 3") == 1  # rank 0 alone reports
    assert "global batch 8 (4 x 1 accum x 2 ranks)" in result.stdout

    index = pq.read_table(shards / "index.parquet", columns=["key", "shard"]).to_pylist()
    shard_of = {row["key"]: row["shard"] for row in index}
    rank0, rank1 = shards_read(run, 0, shard_of), shards_read(run, 1, shard_of)
    assert rank0 and rank1 and not rank0 & rank1

    state = torch.load(run / LAST, weights_only=True)
    assert state["step"] == 3 and [r["data"] for r in state["ranks"]] == [{"epoch": 0, "taken": 3}] * 2
