"""Shared fixtures: small real images on disk and an in-process CLI runner."""
from __future__ import annotations

from pathlib import Path

import pytest
from clirun import cli_runner
from sample_images import write_images


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    write_images(folder, 6)
    return folder


@pytest.fixture
def synth_cli(capsys: pytest.CaptureFixture):
    """Run `synth ARGS` in-process; returns (exit code, stdout, stderr)."""
    from synth.cli import main

    return cli_runner(main, capsys)
