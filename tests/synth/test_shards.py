"""Shards are plain deterministic tars that the webdataset library reads; sidecars decide completeness."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import webdataset as wds

from synth.shards import read_complete, sidecar_path, write_shard
from synth.store import PARTIAL, LocalStore


@dataclass
class FakeSample:
    key: str
    members: dict[str, bytes]
    row: dict


def samples(n: int) -> list[FakeSample]:
    return [FakeSample(f"{i:09d}", {"mp4": bytes([i]) * 100, "json": b'{"i": %d}' % i, "cls": b"3"}, {"key": f"{i:09d}"})
            for i in range(n)]


def test_same_samples_give_identical_bytes(tmp_path: Path) -> None:
    a = write_shard(tmp_path / "a.tar", samples(5), "h", {})
    b = write_shard(tmp_path / "b.tar", samples(5), "h", {})
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    assert a.sha256 == b.sha256 and a.count == 5 and a.bytes == (tmp_path / "a.tar").stat().st_size


def test_webdataset_reads_samples_back(tmp_path: Path) -> None:
    write_shard(tmp_path / "s.tar", samples(3), "h", {})
    got = list(wds.WebDataset(str(tmp_path / "s.tar"), shardshuffle=False))
    assert [s["__key__"] for s in got] == ["000000000", "000000001", "000000002"]
    assert got[1]["mp4"] == bytes([1]) * 100 and got[1]["cls"] == b"3"


def test_completeness_needs_matching_sidecar_checksum_and_config(tmp_path: Path) -> None:
    path = tmp_path / "s.tar"
    write_shard(path, samples(2), "cfg1", {"4": "bad.jpg: corrupt"})
    info = read_complete(LocalStore(path.parent), path.name, "cfg1")
    assert info is not None and info.skipped == {"4": "bad.jpg: corrupt"}
    assert read_complete(LocalStore(path.parent), path.name, "cfg2") is None  # made by another config
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF
    path.write_bytes(bytes(data))
    assert read_complete(LocalStore(path.parent), path.name, "cfg1") is None  # corrupted after writing
    assert json.loads(sidecar_path(path).read_text())["count"] == 2


def test_a_failed_write_leaves_no_complete_shard(tmp_path: Path) -> None:
    def broken():
        yield from samples(2)
        raise RuntimeError("worker died")

    path = tmp_path / "s.tar"
    try:
        write_shard(path, broken(), "h", {})
    except RuntimeError:
        pass
    assert not path.exists() and not sidecar_path(path).exists()
    assert len(list(tmp_path.glob("s.tar.*" + PARTIAL))) == 1  # left for the next run to clean up


def test_an_attempt_and_its_retry_never_share_a_temporary_file(tmp_path: Path) -> None:
    """Ray retries a shard whose node it declared dead while the first attempt may still be writing (a node that
    only missed heartbeats): the retry finishing in the middle of the first attempt must leave both fine."""
    path = tmp_path / "s.tar"
    retried = []

    def first_attempt():
        yield from samples(2)
        retried.append(write_shard(path, samples(4), "h", {}))  # the retry runs to the end meanwhile
        yield from samples(4)[2:]

    first = write_shard(path, first_attempt(), "h", {})
    assert first == retried[0] and read_complete(LocalStore(path.parent), path.name, "h") == first
    assert not list(tmp_path.glob("*" + PARTIAL))
