"""Shared fixtures: small real images on disk and an in-process CLI runner."""
from __future__ import annotations

from pathlib import Path

import pytest
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

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse usage errors
            code = e.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
