"""Free loopback TCP ports for servers started by tests and benchmarks."""

import socket

LOOPBACK = "127.0.0.1"


def _port_is_free(port: int) -> bool:
    """Tell whether ``port`` can be bound on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a TCP port that the kernel reports free on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def free_port_pair(offset: int) -> int:
    """Return a free port ``p`` such that ``p + offset`` is free as well (servers that derive a second port)."""
    for _ in range(200):
        port = free_port()
        if port + offset <= 65535 and _port_is_free(port + offset):
            return port
    raise RuntimeError(f"no free 127.0.0.1 port pair with offset {offset} found")
