"""Shared fixtures: small real images on disk, an in-process CLI runner, and a real S3-compatible store."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from clirun import cli_runner
from s3server import S3Server
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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS on 127.0.0.1 for the whole session, started by the first test that asks. A missing `weed` fails
    those tests (the dev extra installs it), it does not skip them."""
    try:
        server = S3Server.start(tmp_path_factory.mktemp("seaweedfs"))
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The store's credentials and endpoint in the environment, as a user sets them (subprocesses inherit them)."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server
