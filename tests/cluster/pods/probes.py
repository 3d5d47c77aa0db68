"""Container probes as the kubelet runs them (httpGet, tcpSocket; exec inside the container's namespaces)."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..kube import JSON


def _port(container: JSON, port: int | str) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for item in container.get("ports") or []:
        if item.get("name") == port:
            return int(item["containerPort"])
    raise ValueError(f"port {port!r} is not a port of container {container['name']}")


def check(probe: JSON, container: JSON, pod_ip: str, exec_command: Callable[[list[str]], list[str] | None]) -> tuple[bool, str]:
    """Run one probe; (success, message of a failure). `exec_command` turns an exec probe's command into the argv
    that runs it inside the container (None while the container does not run)."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            port = _port(container, spec["port"])
            host = spec.get("host") or pod_ip
            if spec.get("scheme", "HTTP").upper() == "HTTPS":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # the kubelet does not verify probe certificates
                connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
            else:
                connection = http.client.HTTPConnection(host, port, timeout=timeout)
            headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
            connection.request("GET", spec.get("path", "/"), headers={"User-Agent": "kube-probe/1.36", **headers})
            status = connection.getresponse().status
            connection.close()
            if 200 <= status < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {status}"
        if "tcpSocket" in probe:
            port = _port(container, probe["tcpSocket"]["port"])
            with socket.create_connection((probe["tcpSocket"].get("host") or pod_ip, port), timeout=timeout):
                return True, ""
        if "exec" in probe:
            argv = exec_command(list(probe["exec"]["command"]))
            if argv is None:
                return False, "container is not running"
            done = subprocess.run(argv, capture_output=True, timeout=timeout + 1, check=False)  # noqa: S603
            return done.returncode == 0, done.stdout.decode(errors="replace")[-300:]
    except (OSError, http.client.HTTPException, subprocess.TimeoutExpired, ValueError) as error:
        return False, f"Get probe: {error}"
    return True, ""


@dataclass
class Prober:
    """One probe of one container: its schedule and consecutive results."""

    probe: JSON
    started: float = field(default_factory=time.monotonic)
    last: float = 0.0
    successes: int = 0
    failures: int = 0
    passed: bool = False

    def due(self, now: float) -> bool:
        if now - self.started < float(self.probe.get("initialDelaySeconds", 0)):
            return False
        return now - self.last >= float(self.probe.get("periodSeconds", 10))

    def record(self, ok: bool, now: float) -> None:
        self.last = now
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= int(self.probe.get("successThreshold", 1)):
                self.passed = True
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.failures >= int(self.probe.get("failureThreshold", 3)):
                self.passed = False

    @property
    def failed(self) -> bool:
        return self.failures >= int(self.probe.get("failureThreshold", 3))
