"""WebDataset tar shards written deterministically and atomically, each with a checksum sidecar.

A shard is complete exactly when its sidecar exists and the tar matches it: the tar is written under a temporary
name, fsynced and renamed; the sidecar (also written by rename) comes last, and is uploaded last to a remote store.
Anything else is partial. Every write has its own temporary name, so two attempts at one shard (a Ray retry while the
first attempt still runs on a node declared dead) each rename a whole file of the same bytes and never write into
one file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, NamedTuple

from .errors import UserError
from .store import Store, partial_path, write_atomic


def shard_name(name: str, number: int) -> str:
    return f"{name}-{number:06d}.tar"


def sidecar_name(tar_name: str) -> str:
    return tar_name + ".json"


def sidecar_path(tar_path: Path) -> Path:
    return tar_path.with_name(sidecar_name(tar_path.name))


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


class _Hashing(io.RawIOBase):
    """File wrapper that hashes and counts what passes through it: tarfile writes a shard, or reads one in verify,
    and the bytes are hashed on the way, so a shard is never read twice."""

    def __init__(self, f: Any):
        self.f, self.sha, self.n = f, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.n

    def write(self, b: Any) -> int:
        self._count(b)
        return self.f.write(b)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._count(self.f.read(size))

    def _count(self, b: Any) -> Any:
        self.sha.update(b)
        self.n += len(b)
        return b


def write_shard(path: Path, samples: Iterable[Any], config_hash: str, skipped: dict[str, str]) -> ShardInfo:
    """Stream samples (objects with .key, .members, .row) into `path` and return its ShardInfo, sidecar written.

    `skipped` is filled by the caller while samples are produced; it is read after the last sample. A write that
    fails on the file system removes its temporary file (a full disk gets its space back).
    """
    tmp = partial_path(path)
    rows: list[dict[str, Any]] = []
    try:
        with open(tmp, "wb") as f:
            out = _Hashing(f)
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


def read_complete(store: Store, name: str, config_hash: str) -> ShardInfo | None:
    """The ShardInfo of shard `name` in `store` if it is complete and made by this config; None: render it again.

    Complete: its sidecar is there, made by this config, and the tar has the sidecar's size; in a local folder its
    sha256 must match too. A remote shard's sha256 is not checked here, as that means downloading every shard on
    each resume: uploads are whole-or-nothing and the sidecar goes up after its tar, so a present sidecar vouches
    for a whole tar, and the size catches one replaced since. `synth verify` checks every sha256.
    """
    try:
        info = ShardInfo(**json.loads(store.read_bytes(sidecar_name(name))))
    except (OSError, ValueError, TypeError):
        return None
    if info.config_hash != config_hash or store.size(name) != info.bytes:
        return None
    return info if not store.local or store.sha256(name) == info.sha256 else None


class Scan(NamedTuple):
    """What one pass over a shard's bytes found: its sha256 and sample count (None if not counted or unreadable,
    then problem says why)."""

    sha256: str
    count: int | None
    problem: str | None


def scan_shard(f: BinaryIO, label: str, *, count: bool = True) -> Scan:
    """Hash a shard and (with count) count its samples, reading it once."""
    reader = _Hashing(f)
    samples, problem = None, None
    if count:
        try:
            samples = sum(1 for _ in iter_tar_samples(reader, label))
        except UserError as e:
            problem = str(e)
    for _ in iter(lambda: reader.read(1 << 20), b""):  # the rest: the tar's end padding, or what did not parse
        pass
    return Scan(reader.sha.hexdigest(), samples, problem)


def iter_tar_samples(f: BinaryIO, label: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) per sample of the tar streamed from f, in tar order, the way WebDataset groups
    members. label names the shard in errors."""
    key, members = None, {}
    try:
        with tarfile.open(fileobj=f, mode="r|") as tar:
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
        raise UserError(f"{label}: unreadable or truncated tar ({e}); re-render it (re-run synth render)") from None
    if key is not None:
        yield key, members
