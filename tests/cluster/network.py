"""The test cluster's network: a bridge for pod network namespaces, a Service range and a router address.

Each control plane takes one index k (0..63) for its lifetime (an flock on `/run/fraud-demo-cluster/net-k.lock`)
and gets the addresses of 100.(64+k).0.0/16 (shared address space, never routed on the internet):

| what | address |
|---|---|
| pods' gateway, cluster DNS, the ODF S3 server: a `local` route on the host (no interface holds it) | 100.(64+k).0.1 |
| pod IPs (one veth per pod network namespace on the bridge `fdbr<k>`, routed from the host with that source) | 100.(64+k).0.2 ... 100.(64+k).127.254 |
| Service ClusterIPs (the apiserver's `--service-cluster-ip-range`; a `local` route so the host answers them) | 100.(64+k).128.0/24 |
| the router (Routes' hosts resolve to it) | 100.(64+k).200.1 |

Everything is set up and removed with `ip` (iproute2) and needs root, as on the machines this project runs on;
`available()` says whether it can work here. A stale setup of a dead owner (its lock free) is removed before reuse.

No address of the host's network namespace changes while control planes and pods come and go: the gateway is a
route, not an address of the bridge, and neither the bridge nor the host's end of a veth gets an IPv6 link-local
address (`addrgenmode none`). Chromium fails every request in flight with net::ERR_NETWORK_CHANGED when an address
of the host changes, and the browser tests run beside the cluster tests (measured with Chromium 156 and 30 pending
requests: the bridge's address appearing failed 24 of them, a veth's link-local address 15, routes and links none).
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

LOCK_DIR = Path("/run/fraud-demo-cluster")
MAX_NETWORKS = 64


class NetworkError(RuntimeError):
    """The pod network cannot be set up here (the message says why)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)  # noqa: S603, S607 - iproute2


def available() -> str:
    """Empty when pods can get network namespaces here, else the reason they cannot."""
    if os.geteuid() != 0:
        return "the pod runner needs root (network and mount namespaces)"
    missing = [tool for tool in ("ip", "nsenter", "unshare") if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (Debian's iproute2 and util-linux)"
    return ""


@dataclass
class ClusterNetwork:
    """The addresses of network index `index`; `up()` creates the bridge and routes, `down()` removes them."""

    index: int
    _lock: int | None = field(default=None, repr=False)
    _next_pod: int = field(default=2, repr=False)
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def prefix(self) -> str:
        return f"100.{64 + self.index}"

    @property
    def bridge(self) -> str:
        return f"fdbr{self.index}"

    @property
    def gateway(self) -> str:
        """The host's address on the bridge: pods' default route, cluster DNS, S3."""
        return f"{self.prefix}.0.1"

    @property
    def pod_cidr(self) -> str:
        return f"{self.prefix}.0.0/17"

    @property
    def service_cidr(self) -> str:
        return f"{self.prefix}.128.0/24"

    @property
    def router(self) -> str:
        return f"{self.prefix}.200.1"

    @property
    def router_cidr(self) -> str:
        return f"{self.prefix}.200.0/24"

    @classmethod
    def allocate(cls, preferred: int | None = None) -> ClusterNetwork:
        """Take a free index (or `preferred`), clean what a dead owner left, and set the network up."""
        LOCK_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        candidates = [preferred] if preferred is not None else list(range(MAX_NETWORKS))
        for index in candidates:
            if not 0 <= index < MAX_NETWORKS:
                raise NetworkError(f"network index {index} is not in 0..{MAX_NETWORKS - 1}")
            descriptor = os.open(LOCK_DIR / f"net-{index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            network = cls(index, descriptor)
            try:
                network.down(release=False)
                network.up()
            except BaseException:
                network.down()
                raise
            return network
        raise NetworkError(f"no free pod network index among {candidates} (each running control plane holds one)")

    def up(self) -> None:
        """Create the bridge, the gateway's and the pods' routes and the local routes of the Service and router
        ranges; no address of the host changes."""
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "addrgenmode", "none")
        _ip("link", "set", self.bridge, "up")
        _ip("route", "add", "local", f"{self.gateway}/32", "dev", "lo")
        _ip("route", "add", self.pod_cidr, "dev", self.bridge, "src", self.gateway)
        _ip("route", "add", "local", self.service_cidr, "dev", "lo")
        _ip("route", "add", "local", self.router_cidr, "dev", "lo")

    def down(self, release: bool = True) -> None:
        """Remove the bridge (pods' veths and the pods' route go with it) and the routes; release the index."""
        _ip("route", "del", "local", f"{self.gateway}/32", "dev", "lo", check=False)
        _ip("route", "del", "local", self.service_cidr, "dev", "lo", check=False)
        _ip("route", "del", "local", self.router_cidr, "dev", "lo", check=False)
        _ip("link", "del", self.bridge, check=False)
        if release and self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def pod_address(self) -> str:
        """The next free pod IP (addresses are not reused while the network lives)."""
        with self._mutex:
            number = self._next_pod
            self._next_pod += 1
        address = ipaddress.ip_network(self.pod_cidr)[number]
        if number >= 2**15 - 2:
            raise NetworkError(f"pod addresses of {self.pod_cidr} exhausted")
        return str(address)

    def attach(self, pid: int, address: str, name: str) -> None:
        """Give the network namespace of process `pid` a veth on the bridge with `address` and a default route.

        `name` (at most 8 characters) names the host end `fdv<name>`; it goes away with the namespace."""
        host, peer = f"fdv{name}"[:15], f"fdp{name}"[:15]
        _ip("link", "add", host, "type", "veth", "peer", "name", peer)
        _ip("link", "set", host, "addrgenmode", "none")
        _ip("link", "set", host, "master", self.bridge, "up")
        _ip("link", "set", peer, "netns", str(pid))
        inside = ["nsenter", f"--net=/proc/{pid}/ns/net", "ip"]
        for args in (
            ["link", "set", "lo", "up"],
            ["link", "set", peer, "name", "eth0"],
            ["addr", "add", f"{address}/17", "dev", "eth0"],
            ["link", "set", "eth0", "up"],
            ["route", "add", "default", "via", self.gateway],
        ):
            subprocess.run([*inside, *args], capture_output=True, text=True, check=True)  # noqa: S603
