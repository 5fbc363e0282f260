"""Shared fixtures for the training tests: one small rendered dataset per session and an in-process CLI runner."""
from __future__ import annotations

from pathlib import Path

import pytest
from clirun import cli_runner

from synth.cli import main as synth_main

CLIPS, FRAMES, SIZE, PER_SHARD = 32, 4, 32, 8


@pytest.fixture(scope="session")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """32 fractal pseudo-motion clips of 4 x 32 x 32 in 4 shards of 8, rendered once by `synth render`."""
    out = tmp_path_factory.mktemp("shards") / "data"
    code = synth_main(["render", "--images", "fractal:categories=4,instances=4", "--out", str(out),
                       "--num-videos", str(CLIPS), "--frames", str(FRAMES), "--size", str(SIZE),
                       "--shard-size", str(PER_SHARD), "--workers", "0", "--no-progress"])
    assert code == 0
    return out


@pytest.fixture
def train_cli(capsys: pytest.CaptureFixture):
    """Run `train-vmae ARGS` in-process; returns (exit code, stdout, stderr)."""
    from train.cli import main

    return cli_runner(main, capsys)
