"""Several server processes on one REST port, each with its own listening socket (SO_REUSEPORT).

One Python process answers on one core; a batch-heavy load can use more. The parent binds every worker's socket
before forking (so a taken port fails once, with exit status 3); the kernel spreads new connections across them
(a single shared socket measured worse: the worker that accepted last keeps winning). The parent never imports the
serving stack itself, and supervises: SIGTERM or SIGINT stops every worker, SIGHUP (a rollout) is passed to each; a
worker that exits on its own stops the others too, so the whole server exits non-zero and its supervisor
(supervisord, a kubelet) restarts it as one unit.
"""

import logging
import os
import signal
import socket
from collections.abc import Callable

logger = logging.getLogger("fraud_model_server")

BIND_FAILURE = 3  # the exit status uvicorn uses when it cannot bind


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` with SO_REUSEPORT.

    A plain bind first proves the port free: a SO_REUSEPORT socket alone would silently share the port with another
    server that set it too.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT do not count
        probe.bind((host, port))
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(2048)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def run_workers(sockets: list[socket.socket], serve: Callable[[socket.socket], int]) -> int:
    """Fork one process per socket running ``serve(its socket)``; return the exit status for the whole server."""
    children: set[int] = set()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for index, sock in enumerate(sockets):
        pid = os.fork()
        if pid == 0:  # worker: serve its socket, then leave without running the parent's cleanup
            status = 1
            try:
                for other in sockets[:index] + sockets[index + 1 :]:
                    other.close()
                status = serve(sock)
            except BaseException:  # noqa: BLE001 - whatever ends a worker ends it with a logged status
                logger.exception("worker %d failed", os.getpid())
            finally:
                os._exit(status)
        children.add(pid)
    for sock in sockets:
        sock.close()

    def forward(received: int, _frame: object) -> None:  # a rollout (SIGHUP): every worker takes it
        for pid in children:
            try:
                os.kill(pid, received)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, forward)
    logger.info("%d workers serve the REST port: %s", len(sockets), ", ".join(str(pid) for pid in sorted(children)))
    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if not stopping:
            logger.error("worker %d exited with status %d: stopping the others", pid, code)
            status = code if code > 0 else 1
            stop()
        elif code not in (0, -signal.SIGTERM) and status == 0:
            status = code if code > 0 else 1
    return status
