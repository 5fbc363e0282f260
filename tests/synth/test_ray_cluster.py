"""`synth render --ray-address` on a real two-node Ray cluster that loses its worker node in the middle of the run.

Both nodes are `ray start --block` processes on this machine, each in its own session with its own --temp-dir, and
every port Ray would otherwise take by a fixed default (6379, 10001, 8265, 52365) is a free one, so nothing is
shared with another Ray instance here. The nodes live at 127.0.0.2 (head) and 127.0.0.3 (worker): Ray replaces
127.0.0.1 itself by the machine's network address, other loopback addresses it keeps, so all traffic stays on lo.

Token authentication: Ray 2.60's `ray start --head` turns it on by itself when it finds a token (~/.ray/auth_token,
which any local `ray.init()` writes), while a joining `ray start --address` or a driver given an address only sends
one with RAY_AUTH_MODE=token; that mismatch is the InvalidAuthToken a worker node gets. We do what a real cluster
does: RAY_AUTH_MODE=token and one RAY_AUTH_TOKEN (which takes precedence over any token file) on every node and on
the driver.

Linux only: the node's processes are found, frozen and killed through /proc.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from ports import free_ports

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"  # loopback addresses Ray does not rewrite (see above)

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))
# 12 shards of 8 tiny clips: 3 run at a time (head 1 CPU, worker 2), each long enough to be caught in flight.
RENDER = ("--images", "fractal:categories=4,instances=2", "--num-videos", "96", "--shard-size", "8",
          "--frames", "8", "--size", "64")
SHARDS = [f"pseudomotion-{i:06d}.tar" for i in range(12)]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")]



def children() -> dict[int, list[int]]:
    """ppid -> pids of every process on the machine."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants: a node's raylet, agents and workers all descend from its `ray start`."""
    tree, found, todo = children(), [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += tree.get(p, [])
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def signal_all(pids: list[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


@dataclass
class Node:
    """One `ray start --block` process; killing its process tree kills the whole node."""

    proc: subprocess.Popen

    def freeze(self) -> list[int]:
        """SIGSTOP the node's whole tree (again until no new process appeared) and return its pids."""
        frozen: list[int] = []
        while new := [p for p in process_tree(self.proc.pid) if p not in frozen]:
            signal_all(new, signal.SIGSTOP)
            frozen += new
        return frozen

    def kill(self) -> None:
        if self.proc.poll() is None:
            signal_all(self.freeze(), signal.SIGKILL)
        self.proc.wait(timeout=30)


@dataclass
class Cluster:
    address: str
    env: dict[str, str]  # what every node and driver of this cluster runs with
    head: Node
    worker: Node


def start_node(args: list[str], env: dict[str, str], log: Path, timeout: float = 60) -> Node:
    """`ray start --block ARGS` in its own session; returns once the node has registered with the cluster."""
    with open(log, "wb") as f:
        proc = subprocess.Popen([RAY, "start", "--block", "--disable-usage-stats", *args], env=env, stdout=f,
                                stderr=subprocess.STDOUT, cwd=log.parent, start_new_session=True)
    node = Node(proc)
    deadline = time.time() + timeout
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.time() > deadline:
            node.kill()
            pytest.fail(f"ray start {' '.join(args)} did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return node


def sweep(temp_root: Path) -> None:
    """Kill anything still naming our --temp-dir (a worker orphaned by its raylet's death, say)."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    signal_all([p for p in pids if str(temp_root) in cmdline(p)], signal.SIGKILL)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A head node with 1 CPU and a worker node with 2, on this machine; both stopped however the tests end."""
    logs = tmp_path_factory.mktemp("ray-nodes")
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_") and k != "PYTHONPATH"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, RAY_USAGE_STATS_ENABLED="0",
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="1")  # tests/conftest.py sets 0 (local instances), a cluster needs 1
    # Short: Ray's unix socket paths live below it and must stay under 108 bytes.
    temp_root = Path(tempfile.mkdtemp(prefix="pm-ray-", dir="/tmp"))
    gcs, client, dashboard, head_agent, worker_agent = free_ports(5)
    nodes: list[Node] = []
    try:
        nodes.append(start_node(["--head", "--node-ip-address", HEAD_IP, "--port", str(gcs), "--num-cpus", "1",
                                 "--include-dashboard", "false", "--dashboard-port", str(dashboard),
                                 "--ray-client-server-port", str(client), "--dashboard-agent-listen-port",
                                 str(head_agent), "--object-store-memory", str(100 << 20),
                                 "--temp-dir", str(temp_root / "head")], env, logs / "head.log"))
        nodes.append(start_node(["--address", f"{HEAD_IP}:{gcs}", "--node-ip-address", WORKER_IP, "--num-cpus", "2",
                                 "--dashboard-agent-listen-port",
                                 str(worker_agent), "--object-store-memory", str(100 << 20),
                                 "--temp-dir", str(temp_root / "worker")], env, logs / "worker.log"))
        yield Cluster(f"{HEAD_IP}:{gcs}", env, *nodes)
    finally:
        for node in reversed(nodes):
            node.kill()
        sweep(temp_root)
        shutil.rmtree(temp_root, ignore_errors=True)


def shard_hashes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.tar"))}


def writing_into(pid: int, folder: Path) -> bool:
    """Whether the process holds a temporary file of `folder` open: a shard task in the middle of its shard."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(f"{folder}/") and target.endswith(".partial"):
            return True
    return False


def kill_while_writing(node: Node, out: Path, driver: subprocess.Popen, timeout: float = 120) -> list[Path]:
    """Once two shards are complete, SIGKILL the whole node at a moment one of its tasks is writing a shard.

    The node is frozen first, so the write seen going on cannot finish between the look and the kill. Returns the
    temporary files there are right after the kill: the killed tasks' half-written shards among them.
    """
    deadline = time.time() + timeout
    while time.time() < deadline and driver.poll() is None:
        if len(list(out.glob("*.tar.json"))) >= 2 and any(writing_into(p, out) for p in process_tree(node.proc.pid)):
            frozen = node.freeze()
            if any(writing_into(p, out) for p in frozen):
                signal_all(frozen, signal.SIGKILL)
                node.proc.wait(timeout=30)
                return list(out.glob("*.partial"))
            signal_all(frozen, signal.SIGCONT)
        time.sleep(0.02)
    pytest.fail("the worker node never wrote a shard while the render was going")


def synth_render(cluster: Cluster, env: dict[str, str], out: Path, cwd: Path) -> subprocess.Popen:
    """`synth render RENDER --out OUT --ray-address` as a driver process of its own; output in cwd/driver.*."""
    with open(cwd / "driver.out", "w") as stdout, open(cwd / "driver.err", "w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "synth.cli", "render", *RENDER, "--out", str(out),
                                 "--ray-address", cluster.address], env={**env, "PYTHONPATH": str(ROOT)},
                                cwd=cwd, stdout=stdout, stderr=stderr)


def test_a_driver_without_the_clusters_token_gets_one_line(ray_cluster: Cluster, tmp_path: Path) -> None:
    env = {k: v for k, v in ray_cluster.env.items() if not k.startswith("RAY_AUTH_")}
    env["RAY_NUM_REDIS_GET_RETRIES"] = "2"  # Ray gives up connecting after 2 tries of a second, not 20
    driver = synth_render(ray_cluster, env, tmp_path / "out", tmp_path)
    assert driver.wait(timeout=120) == 2
    last = (tmp_path / "driver.err").read_text().strip().splitlines()[-1]  # above it: Ray's own log lines
    assert last.startswith("synth render: error: --ray-address") and "RAY_AUTH_TOKEN" in last


def test_render_survives_losing_a_worker_node(ray_cluster: Cluster, synth_cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The driver runs away from the worktree, so only the runtime_env's PYTHONPATH lets the nodes' workers import synth.
    driver = synth_render(ray_cluster, ray_cluster.env, out, tmp_path)
    try:
        half_written = kill_while_writing(ray_cluster.worker, out, driver)
        driver.wait(timeout=180)
    finally:
        driver.kill()
        driver.wait()
    assert driver.returncode == 0, (tmp_path / "driver.err").read_text()[-3000:]
    stdout = (tmp_path / "driver.out").read_text()
    assert "wrote 96 clips in 12 shards" in stdout and "12 rendered" in stdout
    assert sorted(p.name for p in out.glob("*.tar")) == SHARDS
    assert sorted(p.name for p in out.glob("*.tar.json")) == [s + ".json" for s in SHARDS]
    assert not [p.name for p in out.iterdir() if ".partial" in p.name], half_written
    assert synth_cli("verify", out)[0] == 0
    assert synth_cli("render", *RENDER, "--out", tmp_path / "local", "--workers", 0)[0] == 0
    assert shard_hashes(out) == shard_hashes(tmp_path / "local")
