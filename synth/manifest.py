"""The dataset's contract for other teams: manifest.json (what, how, which shards) and index.parquet (per sample).

Both are written last, each atomically, so a folder (or remote prefix) with a manifest is a finished dataset.
A manifest is checked when read (open_dataset): its format version, and shard paths that would leave the dataset.
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .errors import UserError
from .shards import ShardInfo, scan_shard, sidecar_name
from .store import PARTIAL, Store, is_url, open_store

MANIFEST = "manifest.json"
INDEX = "index.parquet"
FORMAT_VERSION = 1
SHARD_FIELDS = ("path", "sha256", "bytes", "count")  # ShardInfo.summary()


def build_manifest(config: dict[str, Any], config_hash: str, source: dict[str, Any], fingerprint: str,
                   shards: list[ShardInfo]) -> dict[str, Any]:
    skipped = {k: v for s in shards for k, v in s.skipped.items()}
    return {
        "format_version": FORMAT_VERSION,
        "name": config["name"],
        "version": __version__,
        "generator": f"pseudomotion {__version__}",
        "config": config,
        "config_hash": config_hash,
        "seed": config["seed"],
        "source": {**source, "fingerprint": fingerprint},
        "index": INDEX,
        "shards": [s.summary() for s in shards],
        "totals": {"samples": sum(s.count for s in shards), "shards": len(shards),
                   "bytes": sum(s.bytes for s in shards)},
        "skipped_inputs": [{"source_index": int(k), "reason": v} for k, v in sorted(skipped.items(), key=lambda kv: int(kv[0]))],
    }


def write_index(store: Store, shards: list[ShardInfo]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{**row, "shard": s.path} for s in shards for row in s.rows]
    table = pa.Table.from_pylist(rows, schema=_index_schema(pa))
    with store.staging() as folder:
        tmp = folder / (INDEX + PARTIAL)
        pq.write_table(table, tmp)
        store.upload(tmp, INDEX)


def _index_schema(pa: Any) -> Any:
    text, num = pa.string(), pa.float64()
    return pa.schema([("key", text), ("shard", text), ("source_id", text), ("content_hash", text),
                      ("transform", text), ("params", text), ("label", pa.int64()), ("mixup_source_id", text),
                      ("mixup_transform", text), ("mixup_lambda", num)])


def write_dataset_metadata(store: Store, manifest: dict[str, Any], shards: list[ShardInfo]) -> None:
    write_index(store, shards)
    store.write_atomic(MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def open_dataset(location: str | Path, *, require_version: bool = True) -> tuple[Store, dict[str, Any]]:
    """The store and checked manifest of a finished dataset: a folder, a URL of a prefix, or either's manifest.json.
    require_version=False also takes manifests without a format_version (written by hand or by other tools)."""
    text = str(location)
    if text.endswith(".json"):
        folder, _, name = text.rstrip("/").rpartition("/")
        store = open_store(folder or ".")
    else:
        store, name = open_store(text), MANIFEST
    label = store.display(name)
    try:
        manifest = json.loads(store.read_bytes(name))
    except FileNotFoundError:
        raise UserError(f"{label}: no manifest; is this a finished `synth render` output? Re-run the render to finish it") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{label}: unreadable manifest ({e}); re-render or restore it") from None
    check_manifest(manifest, label, require_version=require_version)
    return store, manifest


def check_manifest(manifest: Any, label: str, *, require_version: bool = True) -> None:
    """Refuse what a hand edit or another tool can break: the format version (when required or given) and shard
    or index paths leaving the dataset. label names the manifest in messages."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards", []), list):
        raise UserError(f"{label}: not a pseudomotion manifest (no list of shards); re-render or restore it")
    version = manifest.get("format_version")
    if (require_version or version is not None) and version != FORMAT_VERSION:
        raise UserError(f"{label}: manifest format_version {version!r} is not {FORMAT_VERSION}; "
                        f"use a pseudomotion version that wrote it")
    for i, shard in enumerate(manifest.get("shards", [])):
        if not isinstance(shard, dict) or (require_version and not all(k in shard for k in SHARD_FIELDS)):
            raise UserError(f"{label}: shard entry {i} lacks {', '.join(SHARD_FIELDS)}; re-render or restore it")
        dataset_path(label, shard.get("path"))
    if "index" in manifest:
        dataset_path(label, manifest["index"])


def dataset_path(label: str, relative: Any) -> str:
    """A path from the manifest, refused unless it stays inside the dataset folder or prefix (hand edits)."""
    p = PurePosixPath(relative) if isinstance(relative, str) else None
    if p is None or not relative or p.is_absolute() or ".." in p.parts or is_url(relative) or "\\" in relative:
        raise UserError(f"{label}: path {relative!r} leaves the dataset folder; fix the manifest")
    return relative


def verify(location: str | Path, *, deep: bool = True) -> list[str]:
    """Every problem found, one line each (empty = the dataset matches its manifest). Each shard is read once."""
    store, manifest = open_dataset(location)
    problems = []
    for shard in manifest["shards"]:
        problems += _check_shard(store, shard, deep)
    total = sum(s["count"] for s in manifest["shards"])
    if total != manifest["totals"]["samples"]:
        problems.append(f"{MANIFEST}: totals.samples {manifest['totals']['samples']} != sum of shard counts {total}")
    problems += _check_index(store, manifest.get("index", INDEX), total)
    return problems


def _check_shard(store: Store, shard: dict[str, Any], deep: bool) -> list[str]:
    name, label = shard["path"], store.display(shard["path"])
    size = store.size(name)
    if size is None:
        return [f"{label}: missing"]
    if size != shard["bytes"]:
        return [f"{label}: {size} bytes, manifest says {shard['bytes']}"]
    with store.open(name) as f:
        scan = scan_shard(f, label, count=deep)
    if scan.sha256 != shard["sha256"]:
        problems = [f"{label}: sha256 differs from the manifest (corrupt or replaced)"]
    elif scan.problem:
        problems = [scan.problem]
    elif deep and scan.count != shard["count"]:
        problems = [f"{label}: {scan.count} samples, manifest says {shard['count']}"]
    else:
        problems = []
    return problems + _check_sidecar(store, shard)


def _check_sidecar(store: Store, shard: dict[str, Any]) -> list[str]:
    """The sidecar, where there is one, must tell the same as the manifest: else one of them was edited."""
    name = sidecar_name(shard["path"])
    try:
        side = json.loads(store.read_bytes(name))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        return [f"{store.display(name)}: unreadable sidecar ({e})"]
    differ = [k for k in ("sha256", "bytes", "count") if side.get(k) != shard.get(k)]
    return [f"{store.display(name)}: sidecar and manifest disagree on {', '.join(differ)}; one of them was edited, "
            f"re-render the shard (or restore the manifest)"] if differ else []


def _check_index(store: Store, name: str, total: int) -> list[str]:
    import pyarrow.parquet as pq

    try:
        with store.open(name) as f:
            rows = pq.read_metadata(f).num_rows
    except (OSError, ValueError) as e:
        return [f"{store.display(name)}: unreadable ({e})"]
    return [] if rows == total else [f"{store.display(name)}: {rows} rows, manifest says {total} samples"]
