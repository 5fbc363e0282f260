"""The dataset's contract for other teams: manifest.json (what, how, which shards) and index.parquet (per sample).

Both are written last, each atomically, so a folder with a manifest is a finished dataset.
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .errors import UserError
from .shards import PARTIAL, ShardInfo, file_sha256, iter_tar_samples, write_atomic

MANIFEST = "manifest.json"
INDEX = "index.parquet"
FORMAT_VERSION = 1


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


def write_index(path: Path, shards: list[ShardInfo]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{**row, "shard": s.path} for s in shards for row in s.rows]
    table = pa.Table.from_pylist(rows, schema=_index_schema(pa))
    tmp = path.with_name(path.name + PARTIAL)
    pq.write_table(table, tmp)
    tmp.replace(path)


def _index_schema(pa: Any) -> Any:
    text, num = pa.string(), pa.float64()
    return pa.schema([("key", text), ("shard", text), ("source_id", text), ("content_hash", text),
                      ("transform", text), ("params", text), ("label", pa.int64()), ("mixup_source_id", text),
                      ("mixup_transform", text), ("mixup_lambda", num)])


def write_dataset_metadata(out: Path, manifest: dict[str, Any], shards: list[ShardInfo]) -> None:
    write_index(out / INDEX, shards)
    write_atomic(out / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


def load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST if folder.is_dir() else folder
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no manifest; is this a finished `synth render` output? Re-run the render to finish it") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable manifest ({e}); re-render or restore it") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path}: manifest format_version {manifest.get('format_version')!r} is not {FORMAT_VERSION}; "
                        f"use a pseudomotion version that wrote it")
    for shard in manifest.get("shards", []):
        shard_path(path.parent, shard["path"])
    return manifest


def shard_path(folder: Path, relative: str) -> Path:
    """A manifest's shard path, refused if it would leave the dataset folder (hand-edited manifests)."""
    p = PurePosixPath(relative)
    if p.is_absolute() or ".." in p.parts or not relative:
        raise UserError(f"{folder / MANIFEST}: shard path {relative!r} leaves the dataset folder; fix the manifest")
    return folder / p


def verify(folder: Path, *, deep: bool = True) -> list[str]:
    """Every problem found, one line each (empty = the dataset matches its manifest)."""
    manifest = load_manifest(folder)
    problems = []
    for shard in manifest["shards"]:
        problems += _check_shard(shard_path(folder, shard["path"]), shard, deep)
    total = sum(s["count"] for s in manifest["shards"])
    if total != manifest["totals"]["samples"]:
        problems.append(f"{MANIFEST}: totals.samples {manifest['totals']['samples']} != sum of shard counts {total}")
    problems += _check_index(folder / manifest.get("index", INDEX), total)
    return problems


def _check_shard(path: Path, shard: dict[str, Any], deep: bool) -> list[str]:
    if not path.is_file():
        return [f"{path}: missing"]
    if path.stat().st_size != shard["bytes"]:
        return [f"{path}: {path.stat().st_size} bytes, manifest says {shard['bytes']}"]
    if file_sha256(path) != shard["sha256"]:
        return [f"{path}: sha256 differs from the manifest (corrupt or replaced)"]
    if deep:
        try:
            count = sum(1 for _ in iter_tar_samples(path))
        except UserError as e:
            return [str(e)]
        if count != shard["count"]:
            return [f"{path}: {count} samples, manifest says {shard['count']}"]
    return []


def _check_index(path: Path, total: int) -> list[str]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_metadata(path).num_rows
    except (OSError, ValueError) as e:
        return [f"{path}: unreadable ({e})"]
    return [] if rows == total else [f"{path}: {rows} rows, manifest says {total} samples"]
