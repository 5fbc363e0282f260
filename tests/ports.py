"""Free loopback ports for the servers the tests start (SeaweedFS, Ray nodes)."""
from __future__ import annotations

import socket


def free_ports(n: int) -> list[int]:
    """n distinct ports nobody listens on right now (held open together so they differ)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
