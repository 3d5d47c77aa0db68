"""The test cluster's pod network leaves the host's addresses alone: a control plane's bridge and a pod's veth come
and go without an address of the host appearing or going (Chromium, in the browser tests that run beside these,
fails every request in flight when one does), and the pod still reaches the host at the gateway and back."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from . import network

pytestmark = [pytest.mark.cluster, pytest.mark.skipif(bool(network.available()), reason=network.available() or "pods run")]


def _host_addresses() -> set[tuple[str, str]]:
    """(interface, address) of every address of the host's network namespace."""
    links = json.loads(subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True, check=True).stdout)
    return {(link["ifname"], info["local"]) for link in links for info in link.get("addr_info", [])}


@pytest.fixture
def pod_namespace() -> Iterator[subprocess.Popen[bytes]]:
    """A process in a network namespace of its own, as the kubelet's pod sandboxes are."""
    holder = subprocess.Popen(["unshare", "--net", "--", "sleep", "infinity"])
    yield holder
    holder.kill()
    holder.wait()


def test_a_pod_comes_and_goes_without_an_address_of_the_host_changing(pod_namespace: subprocess.Popen[bytes]) -> None:
    before = _host_addresses()
    net = network.ClusterNetwork.allocate()
    try:
        net.attach(pod_namespace.pid, address := net.pod_address(), "netchk")
        with socket.create_server((net.gateway, 0)) as server:
            port = server.getsockname()[1]
            accepted: list[str] = []
            thread = threading.Thread(target=lambda: accepted.append(server.accept()[1][0]))
            thread.start()
            reach = f"import socket; socket.create_connection(('{net.gateway}', {port}), timeout=5).close()"
            inside = ["nsenter", f"--net=/proc/{pod_namespace.pid}/ns/net", "python3", "-c", reach]
            subprocess.run(inside, check=True, capture_output=True, timeout=30)
            thread.join(timeout=10)
        assert accepted == [address], "the pod reaches the host at the gateway from its own address"
        during = _host_addresses()
    finally:
        net.down()
    after = _host_addresses()
    ours = {(name, addr) for name, addr in during if name.startswith(("fdbr", "fdv"))}
    assert ours == set(), f"addresses on the cluster network's interfaces of the host: {sorted(ours)}"
    assert net.gateway not in {addr for _, addr in during}, "the gateway is a local route, no interface's address"
    assert before == after
