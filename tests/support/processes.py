"""Start a server process with its output in a log file, wait for it to be ready, stop its whole tree."""

import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil


class ServerStartError(RuntimeError):
    """A server exited or did not become ready in time; the message carries the end of its log."""


def log_tail(log_file: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of ``log_file`` (empty when it does not exist yet)."""
    if not log_file.exists():
        return ""
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def start_logged(
    command: Sequence[str], log_file: Path, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session with stdout and stderr appended to ``log_file``.

    ``env`` is the complete environment of the child (secrets travel here, never in ``command``).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )


def wait_until_ready(
    process: subprocess.Popen[bytes],
    is_ready: Callable[[], bool],
    what: str,
    log_file: Path,
    timeout_s: float = 60.0,
) -> None:
    """Poll ``is_ready`` until it returns True; raise with the log tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"{what} exited with status {process.returncode} before it was ready; "
                f"end of {log_file}:\n{log_tail(log_file)}"
            )
        if is_ready():
            return
        time.sleep(0.1)
    stop_process_tree(process)
    raise ServerStartError(f"{what} was not ready within {timeout_s:.0f} s; end of {log_file}:\n{log_tail(log_file)}")


def stop_process_tree(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Send SIGTERM to ``process`` and all its descendants, SIGKILL whatever is left after ``grace_s``."""
    if process.poll() is not None:
        return
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for member in tree:
        try:
            member.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace_s)
    process.wait(timeout=grace_s)


def _plain_address(address: str) -> str:
    """Write an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, as gRPC binds) in its IPv4 form."""
    parsed = ipaddress.ip_address(address)
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """Return the (address, port) pairs that ``pid`` and its descendants listen on (TCP, IPv4-mapped as IPv4)."""
    root = psutil.Process(pid)
    addresses: set[tuple[str, int]] = set()
    for member in [root, *root.children(recursive=True)]:
        try:
            connections = member.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        addresses.update(
            (_plain_address(conn.laddr.ip), conn.laddr.port)
            for conn in connections
            if conn.status == psutil.CONN_LISTEN
        )
    return addresses


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Return a minimal environment for a server child: PATH, HOME, locale, TMPDIR, plus ``extra``.

    Nothing else from the test process leaks in (in particular no AWS_* or MLFLOW_* variables).
    """
    inherited = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if key in os.environ}
    return {**inherited, **extra}
