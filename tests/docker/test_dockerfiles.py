"""Docker cannot run here: check that everything the Dockerfiles name exists in the project."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("*.Dockerfile"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copied_paths_extras_and_entrypoints_exist(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    for line in re.findall(r"^COPY (.+)$", text, flags=re.M):
        for src in line.split()[:-1]:
            assert (ROOT / src).exists(), f"{dockerfile.name} copies missing {src}"
    extras = re.findall(r"'\.\[([a-z0-9,]+)\]'", text)
    assert extras, "installs the project with an extra"
    for extra in ",".join(extras).split(","):
        assert extra in PYPROJECT["project"]["optional-dependencies"]
    assert "-c constraints.txt" in text  # the same pins as the README's commands
    for entry in re.findall(r'ENTRYPOINT \["([^"]+)"', text):
        assert entry in PYPROJECT["project"]["scripts"]


def test_there_is_a_cpu_synth_image_and_a_gpu_train_image() -> None:
    names = {p.name for p in DOCKERFILES}
    assert {"synth.Dockerfile", "train.Dockerfile"} <= names
    synth_extras = re.findall(r"'\.\[([a-z0-9,]+)\]'", (ROOT / "docker" / "synth.Dockerfile").read_text())
    assert synth_extras == ["synth,s3"]  # rendering workers write to object stores too, and get no torch
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert not any("torch" in dep or "pseudomotion[" in dep for name in ("synth", "s3") for dep in extras[name])
