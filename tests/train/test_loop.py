"""The training loop on CPU with a tiny model: it learns, resumes exactly, survives corrupt shards, stops on NaN."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from preempt import preempted

import train.loop
from train.checkpoint import LAST
from train.model import VideoMAE

TINY = ("--model", "tiny", "--batch-size", 4, "--workers", 0, "--device", "cpu", "--no-progress", "--log-every", 1)


def losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / LAST, weights_only=True)["model"]


def test_thirty_steps_lower_the_loss(shards: Path, tmp_path: Path, train_cli) -> None:
    code, out, _ = train_cli("--shards", shards, "--out", tmp_path / "run", "--steps", 30, "--lr", 1e-3, *TINY)
    assert code == 0, out
    curve = losses(tmp_path / "run")
    assert len(curve) == 30
    assert sum(curve[-5:]) / 5 < 0.95 * sum(curve[:5]) / 5


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_repeats_an_uninterrupted_run(shards: Path, tmp_path: Path, train_cli, monkeypatch,
                                             workers: int) -> None:
    # Two micro-batches of 4 per step: 6 steps read 48 clips, so the run crosses into the second epoch, and the
    # interrupted run stops in the middle of the first. Decoder masking, stochastic depth (global RNG) and the
    # whole lr schedule are on.
    config = tmp_path / "config.yaml"
    config.write_text("model:\n  drop_path: 0.2\n")
    args = ("--shards", shards, "--config", config, "--steps", 6, "--accum", 2, "--save-every", 3,
            "--decoder-mask-ratio", 0.5, "--lr", 1e-3, *TINY, "--workers", workers)
    assert train_cli(*args, "--out", tmp_path / "straight")[0] == 0

    with preempted(monkeypatch, train.loop, "forward_backward", at=3):
        train_cli(*args, "--out", tmp_path / "resumed")
    assert len(losses(tmp_path / "resumed")) == 3
    assert train_cli(*args, "--out", tmp_path / "resumed", "--resume")[0] == 0

    assert losses(tmp_path / "resumed") == losses(tmp_path / "straight")
    straight, resumed = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_truncated_shard_is_skipped_counted_and_the_run_completes(shards: Path, tmp_path: Path, train_cli) -> None:
    data = tmp_path / "data"
    shutil.copytree(shards, data)
    tar = data / "pseudomotion-000001.tar"
    tar.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    config = tmp_path / "config.yaml"
    config.write_text("data:\n  max_skip_fraction: 0.5\n")
    with pytest.warns(RuntimeWarning, match="pseudomotion-000001.tar"):
        code, out, _ = train_cli("--shards", data, "--out", tmp_path / "run", "--config", config, "--steps", 10,
                                 *TINY)
    assert code == 0
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 10 and last["skipped"] > 0 and last["shards_failed"] > 0
    assert "trained steps 0 -> 10" in out


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(shards: Path, tmp_path: Path, train_cli,
                                                           monkeypatch) -> None:
    loss = VideoMAE.loss
    calls = []

    def nan_from_step_5(self, *args):
        calls.append(1)
        value = loss(self, *args)
        return value * float("nan") if len(calls) >= 5 else value

    monkeypatch.setattr(VideoMAE, "loss", nan_from_step_5)
    run = tmp_path / "run"
    code, _, err = train_cli("--shards", shards, "--out", run, "--steps", 8, "--save-every", 2, *TINY)
    assert code == 1
    assert err.count("\n") == 1 and "loss is nan at step 5" in err and f"{run / LAST} is the last good" in err
    state = torch.load(run / LAST, weights_only=True)
    assert state["step"] == 4 and all(torch.isfinite(v).all() for v in state["model"].values())
    assert len(losses(run)) == 4


@pytest.mark.parametrize("installed", [True, False])
def test_tensorboard_logs_when_installed_and_is_skipped_with_one_line_when_not(
        shards: Path, tmp_path: Path, train_cli, monkeypatch, installed: bool) -> None:
    if not installed:
        monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    elif importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed")
    code, out, _ = train_cli("--shards", shards, "--out", tmp_path / "run", "--steps", 2, *TINY)
    assert code == 0
    assert any((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*")) == installed
    assert out.count("tensorboard is not installed") == (0 if installed else 1)
