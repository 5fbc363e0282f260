"""WebDataset tar shards written deterministically and atomically, each with a checksum sidecar.

A shard is complete exactly when its sidecar exists and the tar's sha256 matches it: the tar is written under a
temporary name, fsynced and renamed; the sidecar (also written by rename) comes last. Anything else is partial.
Every write has its own temporary name, so two attempts at one shard (a Ray retry while the first attempt still
runs on a node declared dead) each rename a whole file of the same bytes and never write into one file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import UserError

PARTIAL = ".partial"


def shard_name(name: str, number: int) -> str:
    return f"{name}-{number:06d}.tar"


def sidecar_path(tar_path: Path) -> Path:
    return tar_path.with_name(tar_path.name + ".json")


@dataclass
class ShardInfo:
    """What the sidecar records: enough to verify the tar and to rebuild the dataset index without reading it."""

    path: str  # file name, relative to the dataset folder
    sha256: str
    bytes: int
    count: int
    config_hash: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # bad inputs met while rendering: source index -> reason

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes, "count": self.count}


def tar_member(name: str, data: bytes) -> tarfile.TarInfo:
    """Fixed metadata (no time, owner or mode from the machine) so equal content gives equal tar bytes."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o444, 0, 0, "", ""
    return info


def partial_path(path: Path) -> Path:
    """A temporary name beside `path` for one write, ending in PARTIAL so that a later run clears leftovers."""
    return path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}{PARTIAL}")


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to path via a fsynced temporary file and a rename: readers see all or nothing."""
    tmp = partial_path(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _HashingWriter(io.RawIOBase):
    """File wrapper that hashes and counts what tarfile writes, so the tar is never read back."""

    def __init__(self, f: Any):
        self.f, self.sha, self.n = f, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.n

    def write(self, b: Any) -> int:
        self.sha.update(b)
        self.n += len(b)
        return self.f.write(b)


def write_shard(path: Path, samples: Iterable[Any], config_hash: str, skipped: dict[str, str]) -> ShardInfo:
    """Stream samples (objects with .key, .members, .row) into `path` and return its ShardInfo, sidecar written.

    `skipped` is filled by the caller while samples are produced; it is read after the last sample. A write that
    fails on the file system removes its temporary file (a full disk gets its space back).
    """
    tmp = partial_path(path)
    rows: list[dict[str, Any]] = []
    try:
        with open(tmp, "wb") as f:
            out = _HashingWriter(f)
            with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for sample in samples:
                    for ext in sorted(sample.members):
                        data = sample.members[ext]
                        tar.addfile(tar_member(f"{sample.key}.{ext}", data), io.BytesIO(data))
                    rows.append(sample.row)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    info = ShardInfo(path.name, out.sha.hexdigest(), out.n, len(rows), config_hash, rows, dict(sorted(skipped.items())))
    write_atomic(sidecar_path(path), json.dumps(asdict(info), sort_keys=True).encode())
    return info


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_complete(path: Path, config_hash: str) -> ShardInfo | None:
    """The shard's ShardInfo if it is complete and was made by this config; None means render it (again)."""
    side = sidecar_path(path)
    try:
        info = ShardInfo(**json.loads(side.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if info.config_hash != config_hash or not path.is_file() or path.stat().st_size != info.bytes:
        return None
    return info if file_sha256(path) == info.sha256 else None


def iter_tar_samples(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) per sample, in tar order, the way WebDataset groups members."""
    key, members = None, {}
    try:
        with tarfile.open(path, "r:") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                k, _, ext = m.name.partition(".")
                if k != key and key is not None:
                    yield key, members
                    members = {}
                key = k
                members[ext] = tar.extractfile(m).read()
    except (tarfile.TarError, OSError) as e:
        raise UserError(f"{path}: unreadable or truncated tar ({e}); re-render it (re-run synth render)") from None
    if key is not None:
        yield key, members
