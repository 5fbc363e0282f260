"""Remote datasets on a real S3-compatible store (SeaweedFS on 127.0.0.1, see tests/s3server.py): render, resume,
verify, info, --overwrite, hand-edited manifests and one-line storage errors, as a user meets them."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import webdataset as wds
from s3server import BUCKET, S3Server, free_ports
from sample_images import SMALL

from synth.store import open_store

RENDER = ("--num-videos", 7, "--shard-size", 3, *SMALL)
SHARDS = [f"pseudomotion-{i:06d}.tar" for i in range(3)]
FILES = sorted(["config.json", "manifest.json", "index.parquet", *SHARDS, *(s + ".json" for s in SHARDS)])


@pytest.fixture
def s3_url(s3_env: S3Server, request: pytest.FixtureRequest) -> str:
    """A prefix of its own for each test, in the test bucket."""
    return f"s3://{BUCKET}/{re.sub(r'[^A-Za-z0-9_-]+', '-', request.node.name)}/"


@pytest.fixture
def remote_dataset(synth_cli, image_folder: Path, s3_url: str) -> str:
    code, out, err = synth_cli("render", "--images", image_folder, "--out", s3_url, *RENDER)
    assert code == 0 and "wrote 7 clips in 3 shards" in out, err
    return s3_url


def objects(server: S3Server, url: str) -> dict[str, bytes]:
    """Every object under the prefix (nested ones too), by name relative to it."""
    fs, prefix = server.filesystem(), url.removeprefix("s3://").rstrip("/")
    return {p.removeprefix(prefix + "/"): fs.cat_file(p) for p in fs.find(prefix)}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


def test_render_to_s3_holds_only_whole_files_and_streams_back_with_webdataset(remote_dataset: str,
                                                                              s3_env: S3Server) -> None:
    import train.shards  # noqa: F401  (routes webdataset's s3:// opens through fsspec)

    assert sorted(objects(s3_env, remote_dataset)) == FILES  # no partial or temporary objects
    samples = list(wds.WebDataset(remote_dataset + "pseudomotion-{000000..000002}.tar", shardshuffle=False))
    assert [s["__key__"] for s in samples] == [f"{i:09d}" for i in range(7)]
    assert all({"mp4", "json"} <= set(s) for s in samples)
    assert json.loads(samples[0]["json"])["transform"] in ("zoom", "affine")


def test_verify_and_info_read_a_remote_dataset(synth_cli, remote_dataset: str) -> None:
    assert synth_cli("verify", remote_dataset)[:2] == (0, f"{remote_dataset}: OK\n")
    assert synth_cli("verify", remote_dataset + "manifest.json", "--quick")[0] == 0
    code, out, _ = synth_cli("info", remote_dataset)
    assert code == 0 and "7 in 3 shards" in out and "4 x 32x32" in out


def test_a_tampered_remote_shard_fails_verify_and_a_truncated_one_is_rerendered(synth_cli, image_folder: Path,
                                                                                 remote_dataset: str,
                                                                                 s3_env: S3Server) -> None:
    fs, key = s3_env.filesystem(), remote_dataset.removeprefix("s3://") + SHARDS[1]
    good = fs.cat_file(key)
    fs.pipe_file(key, good[:700] + bytes([good[700] ^ 1]) + good[701:])
    code, out, _ = synth_cli("verify", remote_dataset)
    assert code == 1 and f"{remote_dataset}{SHARDS[1]}: sha256 differs from the manifest" in out
    fs.pipe_file(key, good[:1024])
    code, out, _ = synth_cli("render", "--images", image_folder, "--out", remote_dataset, *RENDER)
    assert code == 0 and "1 rendered, 2 already complete" in out  # resume compares the size
    assert fs.cat_file(key) == good and synth_cli("verify", remote_dataset)[0] == 0


@pytest.mark.parametrize("where", ["local", "s3"])
def test_hand_edited_manifests_are_caught(synth_cli, image_folder: Path, tmp_path: Path, where: str,
                                          request: pytest.FixtureRequest) -> None:
    location = request.getfixturevalue("s3_url") if where == "s3" else str(tmp_path / "ds")
    assert synth_cli("render", "--images", image_folder, "--out", location, *RENDER)[0] == 0
    store = open_store(location)
    original = json.loads(store.read_bytes("manifest.json"))

    def edited(change) -> None:
        manifest = json.loads(json.dumps(original))
        change(manifest)
        store.write_atomic("manifest.json", json.dumps(manifest).encode())

    edited(lambda m: m["shards"][0].update(sha256="0" * 64))
    code, out, _ = synth_cli("verify", location)
    assert code == 1 and "pseudomotion-000000.tar: sha256 differs from the manifest" in out
    assert "pseudomotion-000000.tar.json: sidecar and manifest disagree on sha256" in out
    for path in ("../elsewhere.tar", "/etc/passwd", "s3://other-bucket/x.tar"):
        edited(lambda m: m["shards"][0].update(path=path))
        code, _, err = synth_cli("verify", location)
        assert code == 2 and "leaves the dataset folder" in err and one_line(err)
    edited(lambda m: m.update(format_version=99))
    for command in ("verify", "info"):
        code, _, err = synth_cli(command, location)
        assert code == 2 and "format_version 99 is not 1" in err and one_line(err)


def test_overwrite_deletes_only_our_files(synth_cli, image_folder: Path, remote_dataset: str,
                                          s3_env: S3Server) -> None:
    fs, prefix = s3_env.filesystem(), remote_dataset.removeprefix("s3://")
    fs.pipe_file(prefix + "notes.txt", b"mine")
    fs.pipe_file(prefix + "keep/other.tar", b"mine too")
    args = ("render", "--images", image_folder, "--out", remote_dataset, "--num-videos", 5, "--shard-size", 3, *SMALL)
    code, _, err = synth_cli(*args)
    assert code == 2 and "config differs in num_videos" in err and one_line(err)
    assert synth_cli(*args, "--overwrite")[0] == 0
    left = objects(s3_env, remote_dataset)
    assert sorted(left) == sorted([n for n in FILES if "000002" not in n] + ["notes.txt", "keep/other.tar"])
    assert json.loads(left["manifest.json"])["totals"]["samples"] == 5 and left["notes.txt"] == b"mine"


@pytest.mark.slow
def test_resume_on_s3_after_sigkill_finishes_each_shard_once_identical_to_a_local_render(
        synth_cli, image_folder: Path, tmp_path: Path, s3_url: str, s3_env: S3Server) -> None:
    render = ("render", "--images", str(image_folder), "--num-videos", "80", "--shard-size", "2", *SMALL)
    cmd = [sys.executable, "-m", "synth.cli", *render, "--out", s3_url]
    first = s3_url.removeprefix("s3://") + "pseudomotion-000000.tar.json"
    fs = s3_env.filesystem()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not fs.exists(first) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = objects(s3_env, s3_url)
    finished = [n for n in before if n.endswith(".tar.json")]
    assert 1 <= len(finished) < 40 and "manifest.json" not in before
    for side in finished:  # a sidecar only ever follows its whole tar
        assert len(before[side.removesuffix(".json")]) == json.loads(before[side])["bytes"]
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{40 - len(finished)} rendered, {len(finished)} already complete" in again.stdout
    assert synth_cli(*render, "--out", tmp_path / "local")[0] == 0
    local = {p.name: p.read_bytes() for p in (tmp_path / "local").iterdir()}
    remote = objects(s3_env, s3_url)
    assert sorted(remote) == sorted(local)  # each shard once, nothing partial or stray
    assert {n: sha(b) for n, b in remote.items() if n.endswith(".tar")} == \
           {n: sha(b) for n, b in local.items() if n.endswith(".tar")}


@pytest.mark.slow
def test_ray_workers_render_locally_and_upload_with_the_credentials(synth_cli, image_folder: Path,
                                                                    s3_url: str) -> None:
    code, out, err = synth_cli("render", "--images", image_folder, "--out", s3_url, "--num-videos", 4,
                               "--shard-size", 2, "--frames", 4, "--size", 32, "--workers", 1)
    assert code == 0 and "2 rendered" in out, err
    assert synth_cli("verify", s3_url)[0] == 0


FAILURES = {
    "no credentials": ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
                       "no credentials found", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    "wrong secret": ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "access denied", "AWS_SECRET_ACCESS_KEY"),
    "unknown key": ({"AWS_ACCESS_KEY_ID": "nobody"}, "access denied", "~/.aws/credentials"),
    "unknown bucket": ({}, "bucket 'no-such-bucket' does not exist", "create it or fix the URL"),
    "endpoint down": ({"AWS_ENDPOINT_URL": "http://127.0.0.1:{port}", "AWS_MAX_ATTEMPTS": "1"},  # no retries
                      "does not answer", "AWS_ENDPOINT_URL"),
}


@pytest.mark.parametrize("command", ["render", "verify"])
@pytest.mark.parametrize("failure", FAILURES)
def test_storage_failures_are_one_line_naming_the_url_and_the_fix(synth_cli, image_folder: Path, s3_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch, failure: str,
                                                                 command: str) -> None:
    env, problem, fix = FAILURES[failure]
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key)
        else:
            monkeypatch.setenv(key, value.format(port=free_ports(1)[0]))
    url = s3_url.replace(BUCKET, "no-such-bucket") if failure == "unknown bucket" else s3_url
    args = ("--images", image_folder, "--out", url, *SMALL) if command == "render" else (url,)
    code, out, err = synth_cli(command, *args)
    assert code == 2 and out == "" and one_line(err), err
    assert err.startswith(f"synth {command}: error: {url.rstrip('/')}") and problem in err and fix in err


def test_a_missing_s3_backend_is_one_line_saying_what_to_install(s3_url: str) -> None:
    code = ("import sys; sys.modules['s3fs'] = None; from synth.cli import main; "
            f"sys.exit(main(['verify', {s3_url!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2 and one_line(done.stderr), done.stderr
    assert "pip install 'pseudomotion[s3]'" in done.stderr


def test_any_fsspec_scheme_works_the_same_way(synth_cli, image_folder: Path, tmp_path: Path) -> None:
    """memory:// (fsspec's in-process store) stands for gs://, az:// ... whose backends are not installed here."""
    url = f"memory://{tmp_path.name}/ds"
    assert synth_cli("render", "--images", image_folder, "--out", url, *RENDER)[0] == 0
    assert "0 rendered, 3 already complete" in synth_cli("render", "--images", image_folder, "--out", url, *RENDER)[1]
    assert sorted(open_store(url).list()) == FILES
    assert synth_cli("verify", url)[:2] == (0, f"{url}: OK\n")
    code, _, err = synth_cli("verify", "nosuchscheme://b/p")
    assert code == 2 and "fsspec knows no nosuchscheme:// storage" in err and one_line(err)
