"""Shared fixtures for the evaluation tests: a tiny UCF101 tree, a tiny pre-training run, an in-process CLI."""
from __future__ import annotations

from pathlib import Path

import pytest
from clirun import cli_runner
from fixtures import make_ucf101

from synth.cli import main as synth_main
from train.cli import main as train_main

FRAMES, SIZE = 4, 32
TINY = ("--frames", FRAMES, "--size", SIZE, "--num-workers", 0, "--device", "cpu", "--no-progress")


@pytest.fixture(scope="session")
def ucf101(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 3 groups x 2 clips; split 1 trains on 12 videos and tests on 6."""
    return make_ucf101(tmp_path_factory.mktemp("ucf101"))


@pytest.fixture(scope="session")
def pretrained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A train-vmae run folder: VideoMAE-tiny pre-trained for 2 steps on 8 fractal clips of 4 x 32 px."""
    base = tmp_path_factory.mktemp("pretrain")
    assert synth_main(["render", "--images", "fractal:categories=2,instances=4", "--out", str(base / "shards"),
                       "--num-videos", "8", "--frames", str(FRAMES), "--size", str(SIZE), "--shard-size", "4",
                       "--workers", "0", "--no-progress"]) == 0
    assert train_main(["--shards", str(base / "shards"), "--out", str(base / "run"), "--model", "tiny",
                       "--steps", "2", "--batch-size", "4", "--workers", "0", "--device", "cpu", "--no-progress",
                       "--log-every", "1"]) == 0
    return base / "run"


@pytest.fixture
def tiny() -> tuple:
    """eval-vmae flags for a small, fast, deterministic CPU run: 4 x 32 px clips, no worker processes."""
    return TINY


@pytest.fixture
def eval_cli(capsys: pytest.CaptureFixture):
    """Run `eval-vmae ARGS` in-process; returns (exit code, stdout, stderr)."""
    from eval.cli import main

    return cli_runner(main, capsys)
