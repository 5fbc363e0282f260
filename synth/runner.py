"""Run a render: plan shards, skip the complete ones, render the rest in-process or as Ray tasks, then the manifest.

Ray runs one task per shard; a task streams its shard to disk and returns only the small ShardInfo, so the object
store never holds clips. Output goes to a Store (synth/store.py): a local folder, written in place, or an fsspec URL,
where a task renders into a local temporary folder on its own node and uploads the finished tar, then its sidecar
(so a cluster needs no shared filesystem). Re-running the same command resumes; a different config is refused.
"""
from __future__ import annotations

import fnmatch
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import RenderConfig
from .errors import UserError
from .manifest import INDEX, MANIFEST, build_manifest, write_dataset_metadata
from .sample import ImageCache, Sample, make_sample
from .shards import ShardInfo, read_complete, shard_name, sidecar_name, sidecar_path, write_shard
from .sources import ImageSource
from .sources.base import sha256_hex
from .store import PARTIAL, Store, credential_env, open_store

RUN_FILE = "config.json"  # written when a render starts: what this folder is being filled with


@dataclass(frozen=True)
class ShardTask:
    number: int
    start: int  # first sample index
    stop: int  # one past the last


def plan(num_videos: int, shard_size: int) -> list[ShardTask]:
    return [ShardTask(n, s, min(s + shard_size, num_videos)) for n, s in enumerate(range(0, num_videos, shard_size))]


def run_identity(cfg: RenderConfig, fingerprint: str) -> str:
    """Config and source images together: what decides every byte of the output."""
    return sha256_hex(cfg.config_hash(), fingerprint)


def render_shard(cfg: RenderConfig, source: ImageSource, out: str, task: ShardTask, run_hash: str) -> ShardInfo:
    """Render samples [start, stop) into one shard of the store `out` (a Store.spec). Pure apart from the files it
    writes."""
    import cv2

    cv2.setNumThreads(1)  # parallelism is across shards; threads inside a worker would oversubscribe
    cache = ImageCache(source, on_bad_image=cfg.on_bad_image)
    skipped: dict[str, str] = {}

    def samples() -> Iterator[Sample]:
        for index in range(task.start, task.stop):
            yield make_sample(cfg, cache, index)
        skipped.update({str(k): v for k, v in cache.bad.items()})

    store = open_store(out)
    with store.staging() as folder:
        path = folder / shard_name(cfg.name, task.number)
        try:
            info = write_shard(path, samples(), run_hash, skipped)
        except OSError as e:
            if e.errno is None:
                raise
            raise UserError(f"{path}: cannot write ({os.strerror(e.errno)}); "
                            f"free space or fix permissions, then re-run the same command to resume") from None
        for done in (path, sidecar_path(path)):  # the tar first: a sidecar in the store vouches for a whole tar
            store.upload(done, done.name)
    return info


def prepare_output(out: Store, cfg: RenderConfig, run_hash: str, overwrite: bool) -> None:
    """Create out/, or check that it holds this same render (resume), or clear our files with --overwrite."""
    try:
        out.makedirs()
        if overwrite:
            clear_output(out, cfg.name)
        previous = _read_run_file(out)
        if previous is None and not overwrite and out.list():
            raise UserError(f"{out}: not empty and not a pseudomotion render; choose an empty --out "
                            f"(or pass --overwrite to write beside what is there)")
        if previous is not None and previous.get("run_hash") != run_hash:
            changed = _changed_fields(previous.get("config", {}), cfg.to_dict())
            what = f"config differs in {', '.join(changed)}" if changed else "the source images differ"
            raise UserError(f"{out}: holds a render with another setup ({what}); re-run with the same options to "
                            f"resume, pass --overwrite to start over, or choose another --out")
        remove_partials(out)
        out.write_atomic(RUN_FILE, json.dumps({"run_hash": run_hash, "config": cfg.to_dict()}, indent=2,
                                                sort_keys=True).encode())
    except OSError as e:
        if e.errno is None:
            raise
        raise UserError(f"{out}: cannot write ({e.strerror}); choose a writable --out") from None


def remove_partials(out: Store) -> None:
    """Temporary files of writes that never finished: a killed run's, or a lost Ray task attempt's."""
    out.remove([name for name in out.list() if name.endswith(PARTIAL)])


def clear_output(out: Store, name: str) -> None:
    """Delete our files only: shards and sidecars of this name, leftovers, the run file, manifest and index."""
    out.remove([f for f in out.list() if fnmatch.fnmatchcase(f, f"{name}-*.tar*") or f.endswith(PARTIAL)
                or f in (RUN_FILE, MANIFEST, INDEX)])


def _read_run_file(out: Store) -> dict[str, Any] | None:
    try:
        return json.loads(out.read_bytes(RUN_FILE))
    except (OSError, ValueError):
        return None


def _changed_fields(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and k not in ("transforms", "ranges"):
            out += _changed_fields(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(prefix + k)
    return out


def render(cfg: RenderConfig, source: ImageSource, location: str | Path, *, workers: int | None = None,
           ray_address: str | None = None, overwrite: bool = False, progress: bool | None = None) -> dict[str, Any]:
    """Render the whole dataset into `location` (a folder or an fsspec URL) and return its manifest. Resumes
    complete shards."""
    num_videos = cfg.num_videos or len(source)
    fingerprint = source.fingerprint()
    run_hash = run_identity(cfg, fingerprint)
    out = open_store(location)
    prepare_output(out, cfg, run_hash, overwrite)
    tasks = plan(num_videos, cfg.shard_size)
    present = set(out.list())  # one listing, rather than a sidecar request per shard of a fresh remote render
    done = {t.number: info for t in tasks if sidecar_name(name := shard_name(cfg.name, t.number)) in present
            and (info := read_complete(out, name, run_hash)) is not None}
    pending = [t for t in tasks if t.number not in done]
    bar = _progress(num_videos, sum(i.count for i in done.values()), progress)
    started = time.perf_counter()
    try:
        execute = _run_inprocess if workers == 0 else _run_ray
        for info in execute(cfg, source, out, pending, run_hash, workers, ray_address):
            done[int(info.path.rsplit("-", 1)[1].split(".")[0])] = info
            bar(info.count)
    except KeyboardInterrupt:
        raise UserError(f"interrupted with {len(done)} of {len(tasks)} shards complete in {out}; "
                        f"re-run the same command to resume") from None
    finally:
        bar(None)
    shards = [done[t.number] for t in tasks]
    remove_partials(out)
    manifest = build_manifest(cfg.to_dict(), cfg.config_hash(), source.describe(), fingerprint, shards)
    manifest["render"] = {"rendered_shards": len(pending), "resumed_shards": len(tasks) - len(pending),
                          "seconds": round(time.perf_counter() - started, 3)}
    try:
        write_dataset_metadata(out, manifest, shards)
    except OSError as e:
        raise UserError(f"{out}: cannot write the manifest ({e.strerror}); free space and re-run to finish") from None
    return manifest


def _run_inprocess(cfg: RenderConfig, source: ImageSource, out: Store, tasks: list[ShardTask], run_hash: str,
                   workers: int | None, ray_address: str | None) -> Iterator[ShardInfo]:
    for task in tasks:
        yield render_shard(cfg, source, out.spec, task, run_hash)


def _run_ray(cfg: RenderConfig, source: ImageSource, out: Store, tasks: list[ShardTask], run_hash: str,
             workers: int | None, ray_address: str | None) -> Iterator[ShardInfo]:
    """One Ray task per shard, at most `workers` at a time (default: every CPU of the local instance)."""
    if not tasks:
        return
    import ray

    started_here = _start_ray(workers, ray_address)
    try:
        remote = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=[ConnectionError])(render_shard)
        source_ref, cfg_ref = ray.put(source), ray.put(cfg)
        queue = list(tasks)
        limit = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        running = []
        while queue or running:
            while queue and len(running) < limit:
                running.append(remote.remote(cfg_ref, source_ref, out.spec, queue.pop(0), run_hash))
            ready, running = ray.wait(running, num_returns=1)
            yield _ray_result(ready[0])
    finally:
        if started_here:
            ray.shutdown()


def _ray_result(ref: Any) -> ShardInfo:
    """The task's ShardInfo. A user error inside the task, or a task whose every attempt lost its worker or node
    (preemption, OOM kills), ends the run with one line; any other exception is a bug and keeps its traceback."""
    import ray

    lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError)
    try:
        return ray.get(ref)
    except lost as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"a shard task lost its worker on every attempt ({type(e).__name__}: {reason}); check the "
                        f"cluster's nodes and memory, then re-run the same command to resume") from None
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, UserError):
            raise UserError(str(e.cause)) from None
        raise


def _start_ray(workers: int | None, address: str | None) -> bool:
    """Connect to `address`, or start a local instance with `workers` CPUs. True if we started it.

    Workers of the local instance get this process's storage credentials (AWS_*, GOOGLE_*, ...); a cluster's
    workers read their own environment or config files (~/.aws), so no secret travels through Ray.
    """
    import ray

    if ray.is_initialized():
        return False
    one_thread = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {"env_vars": {**one_thread, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))}}
    try:
        if address:
            ray.init(address=address, runtime_env=env, logging_level="ERROR", log_to_driver=False)
        else:
            env["env_vars"].update(credential_env())
            ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, runtime_env=env,
                     logging_level="ERROR", log_to_driver=False)
    except ConnectionError as e:
        raise UserError(f"--ray-address {address}: cannot connect ({e}); start the cluster with `ray start --head`, "
                        f"give a cluster with token authentication its token here (RAY_AUTH_MODE=token and "
                        f"RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH), or drop --ray-address to use a local "
                        f"instance") from None
    return True


def _progress(total: int, initial: int, enabled: bool | None) -> Callable[[int | None], None]:
    """A clips/s + ETA bar on a terminal (tqdm); silent in logs unless asked for. Call with None to close."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="clip", desc="render", disable=None if enabled is None else not enabled,
               dynamic_ncols=True, smoothing=0.1)

    def update(n: int | None) -> None:
        if n is None:
            bar.close()
        else:
            bar.update(n)

    return update

