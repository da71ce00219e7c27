"""Free ports on 127.0.0.1, for servers the tests start and for refused connections."""

from __future__ import annotations

import socket


def free_ports(count: int = 1) -> list[int]:
    """``count`` distinct ports where nothing listens now (all probed at once)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def free_port() -> int:
    """One port where nothing listens: a server may take it, a connection is refused."""
    return free_ports(1)[0]
