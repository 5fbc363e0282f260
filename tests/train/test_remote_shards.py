"""`train-vmae --shards s3://bucket/prefix/` on a real S3-compatible store (tests/s3server.py): the manifest's shards
stream from the store, missing ones are named, and storage errors are one line.

(Not test_shards.py: tests/synth has one, and pytest's default import mode needs unique test file names.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from s3server import BUCKET, S3Server

from synth.errors import UserError
from train.shards import resolve_shards

TINY = ("--model", "tiny", "--batch-size", 4, "--workers", 0, "--device", "cpu", "--no-progress")


@pytest.fixture
def s3_shards(shards: Path, s3_env: S3Server, request: pytest.FixtureRequest) -> str:
    """The session's rendered dataset, copied to a prefix of this test's own."""
    prefix = f"{BUCKET}/{request.node.name}"
    fs = s3_env.filesystem()
    for path in shards.iterdir():
        fs.put_file(str(path), f"{prefix}/{path.name}")
    return f"s3://{prefix}/"


def test_train_vmae_streams_shards_from_s3(s3_shards: str, tmp_path: Path, train_cli,
                                           recwarn: pytest.WarningsRecorder) -> None:
    run = tmp_path / "run"
    code, out, err = train_cli("--shards", s3_shards, "--out", run, "--steps", 2, "--log-every", 1, *TINY)
    assert code == 0, err
    assert "trained steps 0 -> 2" in out
    assert not [w for w in recwarn if "shard" in str(w.message)]  # read_shards warns when a shard fails to stream
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


def test_missing_listed_shards_are_named_for_urls(s3_shards: str, s3_env: S3Server) -> None:
    urls, manifest = resolve_shards(s3_shards)
    assert urls == [s3_shards + s["path"] for s in manifest["shards"]] and len(urls) == 4
    s3_env.filesystem().rm_file(urls[1].removeprefix("s3://"))
    with pytest.raises(UserError, match=rf"1 listed shards are missing, e\.g\. {urls[1]}; .*synth verify s3://"):
        resolve_shards(s3_shards)


def test_wrong_credentials_are_one_line(s3_shards: str, tmp_path: Path, train_cli,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    code, out, err = train_cli("--shards", s3_shards, "--out", tmp_path / "run", "--steps", 2, *TINY)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "access denied" in err and "AWS_SECRET_ACCESS_KEY" in err
