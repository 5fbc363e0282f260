"""Shard specs -> shard URLs: resolve_shards expands paths, globs, brace ranges, dataset directories, manifests,
URLs and pipe: commands into a list of shards (with the dataset's manifest when there is one), shard_sizes reads
per-shard sample counts from that manifest, and rank_shards splits the shards between ranks for one epoch of the
exact mode. Importing this module also lets webdataset open every fsspec URL scheme (s3:, az:, hdfs: ...).
"""
from __future__ import annotations

import glob
import os
import re
from typing import Any, Sequence

import fsspec
import numpy as np
import webdataset as wds
from braceexpand import braceexpand

from synth.errors import UserError
from synth.manifest import MANIFEST, open_dataset
from synth.store import storage_errors

_GLOB_CHARS = re.compile(r"[*?\[]")


# ---------------------------------------------------------------------------------------------------- shard specs

def _fsspec_gopen(url: str, mode: str = "rb", bufsize: int = 8192, **kw: Any) -> Any:
    return fsspec.open(url, mode).open()


# webdataset 1.0 opens plain paths, file:, pipe:, http(s): (curl), gs: (gsutil) and hf: itself and refuses every
# other scheme; hand those (s3:, az:, hdfs: ...) to fsspec, and gs: too, so that it is read with gcsfs and the
# credentials synth wrote it with rather than the gsutil CLI. Done at import so spawned workers have it too.
for _scheme in fsspec.available_protocols():
    wds.gopen_schemes.setdefault(_scheme, _fsspec_gopen)
wds.gopen_schemes["gs"] = _fsspec_gopen


def resolve_shards(spec: str | Sequence[str]) -> tuple[list[str], dict | None]:
    """Shard paths/URLs named by spec, and the dataset's manifest when spec names exactly one dataset.

    spec: a tar path; a glob ('dir/*.tar'); a brace range ('shards-{000000..000099}.tar'); a dataset directory or
    its manifest.json (shards listed there, relative to it); a URL ('file://', 's3://', ...: a tar, a glob, a
    directory with manifest.json, read with fsspec); 'pipe:CMD'; or a list of any of these.
    """
    if not isinstance(spec, str):
        if not spec:
            raise UserError("empty shard list; pass a dataset directory, a glob such as 'dir/*.tar', or shard paths")
        resolved = [resolve_shards(s) for s in spec]
        return [u for urls, _ in resolved for u in urls], resolved[0][1] if len(resolved) == 1 else None
    parts = [_resolve_one(p) for p in braceexpand(spec)]
    shards = [u for urls, _ in parts for u in urls]
    if not shards:
        raise UserError(f"{spec}: names no shards; check the path or run `synth render` first")
    return shards, parts[0][1] if len(parts) == 1 else None


def _resolve_one(spec: str) -> tuple[list[str], dict | None]:
    if spec.startswith("pipe:"):
        return [spec], None
    if "://" in spec:
        return _resolve_url(spec)
    if _GLOB_CHARS.search(spec):
        hits = sorted(p for p in glob.glob(spec) if p.endswith(".tar"))
        if not hits:
            raise UserError(f"{spec}: the glob matches no .tar files; check the path or run `synth render` first")
        return hits, None
    if os.path.isdir(spec):
        if not os.path.isfile(os.path.join(spec, MANIFEST)):
            raise UserError(f"{spec}: no {MANIFEST} in this directory; pass '{os.path.join(spec, '*.tar')}' "
                            f"or a directory written by `synth render`")
        return _from_manifest(os.path.join(spec, MANIFEST))
    if not os.path.exists(spec):
        raise UserError(f"{spec}: no such file or directory; check the path (and any brace range)")
    return _from_manifest(spec) if spec.endswith(".json") else ([spec], None)


def _resolve_url(url: str) -> tuple[list[str], dict | None]:
    if _GLOB_CHARS.search(url):
        with storage_errors(url):
            fs, path = fsspec.core.url_to_fs(url)
            hits = [fs.unstrip_protocol(p) for p in sorted(fs.glob(path)) if p.endswith(".tar")]
        if not hits:
            raise UserError(f"{url}: the glob matches no .tar files; check the URL")
        return hits, None
    if url.endswith(".tar"):
        return [url], None
    return _from_manifest(url if url.endswith(".json") else url.rstrip("/") + "/" + MANIFEST)


def _from_manifest(where: str) -> tuple[list[str], dict]:
    """Shards listed by the manifest at `where` (a path or URL), every one of them present."""
    store, manifest = open_dataset(where, require_version=False)
    base = where.rsplit("/", 1)[0] if "://" in where else os.path.dirname(where)
    names = [s["path"] for s in manifest.get("shards", [])]
    if not names:
        raise UserError(f"{where}: lists no shards; re-run `synth render`")
    present = set(store.list())  # one listing; a nested shard path is asked for on its own
    missing = [n for n in names if n not in present and not store.exists(n)]
    if missing:
        raise UserError(f"{where}: {len(missing)} listed shards are missing, e.g. {_join(base, missing[0])}; "
                        f"copy them or run `synth verify {base or '.'}`")
    return [_join(base, n) for n in names], manifest


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path if "://" in base else os.path.join(base, path)


def shard_sizes(shards: Sequence[str], manifest: dict | None) -> dict[str, int]:
    """Samples per shard from the manifest (empty without one), keyed like resolve_shards' list."""
    return {url: int(entry["count"]) for url, entry in zip(shards, manifest["shards"])} if manifest else {}


# --------------------------------------------------------------------------------------------------------- splits

def _mix(*parts: int) -> int:
    """One well-mixed 32-bit seed from several integers (Python's hash() of strings changes per process)."""
    return int(np.random.SeedSequence([p & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def rank_shards(shards: Sequence[str], rank: int, world_size: int, *, seed: int, epoch: int) -> list[str]:
    """This rank's shards for one epoch of the exact mode: one seeded shuffle shared by all ranks, then every
    world_size-th shard, so ranks are disjoint and together cover every shard. (wds.split_by_node's slice, with
    the rank passed in instead of read from the environment.)"""
    order = list(shards)
    np.random.default_rng(_mix(seed, epoch)).shuffle(order)
    return order[rank::world_size]
