"""Free local ports for the servers tests and benchmarks start.

A port is picked below the kernel's ephemeral range, where it hands out the source ports of
outgoing connections. A port from inside that range (what binding to port 0 gives) may be
taken by a client's connection between the moment it is picked and the moment the server
binds it; Dapr's scheduler, for one, opens many connections to its embedded etcd.
"""

import random
import socket
from collections.abc import Iterator
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000
# Ports handed out already: a caller often picks several before it starts anything, so
# each is still free when the next is picked, and a repeat would clash later.
_given: set[int] = set()


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _candidates() -> Iterator[int]:
    top = _ephemeral_start() - 1
    if top > _LOWEST:
        for _ in range(100):
            yield random.randint(_LOWEST, top)
    while True:  # what the kernel gives for port 0, once its socket is closed
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        yield port


def free_port() -> int:
    """A port nothing listens on, never one this process was given before."""
    port = next(p for p in _candidates() if p not in _given and _bindable(p))
    _given.add(port)
    return port
