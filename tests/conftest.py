"""Shared fixtures: small real images on disk and an in-process CLI runner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from clirun import cli_runner
from sample_images import write_images

# Ray replaces 127.0.0.1 by the machine's network address unless told it runs a single-machine (laptop) cluster;
# read when ray is first imported, so set here, before any test imports it: every Ray test stays on loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


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
