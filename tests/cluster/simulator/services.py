"""kube-proxy and cluster DNS for the pods that run (pods/kubelet.py), on the cluster network (network.py).

- Service ClusterIPs: one listener per Service port at `<clusterIP>:<port>` on the host (the Service range is a
  local route), forwarding each connection to a ready endpoint of the Service's EndpointSlices (written by the
  real endpointslice controller from the pods' readiness), round robin; no ready endpoint closes the connection.
  The `kubernetes` Service leads to the API server. An endpoint at the gateway address stands for the host: its
  servers listen on 127.0.0.1 (the ODF S3 server of control_plane.py).
- DNS on `<gateway>:53` (UDP): `<svc>.<ns>.svc.cluster.local` -> the ClusterIP, or a headless Service's ready
  endpoint addresses; every name under the apps domain -> the router (wildcard, as OpenShift's ingress DNS). Pods
  (sources in the pod range) get both; anyone else (the controller) only the apps domain, so a role that calls
  an in-cluster URL from the controller fails here as it would outside a cluster.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import select
import socket
import struct
import threading
import urllib.parse
from collections.abc import Callable

from ..kube import JSON
from ..network import ClusterNetwork
from .engine import Kind, Simulator

log = logging.getLogger("proxy")

SERVICES = Kind("v1", "services", "Service")
SLICES = Kind("discovery.k8s.io/v1", "endpointslices", "EndpointSlice")
CLUSTER_DOMAIN = "svc.cluster.local"
APPS_DOMAIN = "apps.fraud-demo.test"


def splice(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 300)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)
    except OSError:
        return
    finally:
        for item in sockets:
            with contextlib.suppress(OSError):
                item.close()


class ServiceTable:
    """The Services and EndpointSlices as last seen, and the listeners of the ClusterIPs."""

    def __init__(self, network: ClusterNetwork, apiserver: tuple[str, int], on_services: Callable[[str, list[JSON], JSON | None], None]) -> None:
        self.network = network
        self.apiserver = apiserver
        self.on_services = on_services
        self.services: dict[tuple[str, str], JSON] = {}
        self.slices: dict[tuple[str, str], JSON] = {}
        self.listeners: dict[tuple[str, int], socket.socket] = {}
        self.counter = itertools.count()
        self.lock = threading.Lock()

    # --- what the watches feed ----------------------------------------------------------------------------------

    def service(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        key = (namespace, name)
        with self.lock:
            old = self.services.pop(key, None)
            if obj is not None:
                self.services[key] = obj
            wanted = self._ports(obj)
            for address in self._ports(old) - wanted:
                listener = self.listeners.pop(address, None)
                if listener is not None:
                    with contextlib.suppress(OSError):
                        listener.close()
            for address in wanted - set(self.listeners):
                self._listen(address, key)
            namespace_services = [s for (ns, _), s in self.services.items() if ns == namespace]
            master = self.services.get(("default", "kubernetes"))
        self.on_services(namespace, namespace_services, master)
        return None

    def endpoint_slice(self, sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
        with self.lock:
            if obj is None:
                self.slices.pop((namespace, name), None)
            else:
                self.slices[(namespace, name)] = obj
        return None

    @staticmethod
    def _ports(service: JSON | None) -> set[tuple[str, int]]:
        if not service:
            return set()
        ip = (service.get("spec") or {}).get("clusterIP")
        if not ip or ip == "None":
            return set()
        return {(ip, int(p["port"])) for p in service["spec"].get("ports") or [] if p.get("protocol", "TCP") == "TCP"}

    # --- the proxy ------------------------------------------------------------------------------------------------

    def _listen(self, address: tuple[str, int], key: tuple[str, str]) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(address)
        except OSError as error:
            log.error("service %s/%s: cannot listen on %s:%d: %s", *key, *address, error)
            listener.close()
            return
        listener.listen(64)
        self.listeners[address] = listener
        threading.Thread(target=self._accept, args=(listener, key, address[1]), daemon=True, name=f"svc-{key[1]}-{address[1]}").start()

    def _accept(self, listener: socket.socket, key: tuple[str, str], port: int) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            target = self.backend(key, port)
            if target is None:
                client.close()  # no ready endpoint: kube-proxy rejects
                continue
            threading.Thread(target=self._forward, args=(client, target), daemon=True).start()

    @staticmethod
    def _forward(client: socket.socket, target: tuple[str, int]) -> None:
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        splice(client, upstream)

    def backend(self, key: tuple[str, str], port: int) -> tuple[str, int] | None:
        """A ready endpoint (address, port) for a connection to the Service's `port`."""
        if key == ("default", "kubernetes"):
            return self.apiserver
        with self.lock:
            service = self.services.get(key)
            if service is None:
                return None
            port_spec = next((p for p in service["spec"].get("ports") or [] if int(p["port"]) == port), None)
            if port_spec is None:
                return None
            candidates = []
            for slice_obj in self.slices.values():
                if slice_obj["metadata"].get("namespace") != key[0]:
                    continue
                if (slice_obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != key[1]:
                    continue
                slice_port = next(
                    (p for p in slice_obj.get("ports") or [] if (p.get("name") or "") == (port_spec.get("name") or "")), None
                )
                if slice_port is None or slice_port.get("port") is None:
                    continue
                for endpoint in slice_obj.get("endpoints") or []:
                    if (endpoint.get("conditions") or {}).get("ready", True) is False:
                        continue
                    candidates += [(a, int(slice_port["port"])) for a in endpoint.get("addresses") or []]
        if not candidates:
            return None
        address, target_port = sorted(candidates)[next(self.counter) % len(candidates)]
        return ("127.0.0.1" if address == self.network.gateway else address), target_port

    # --- DNS ------------------------------------------------------------------------------------------------------

    def resolve(self, name: str, from_pod: bool) -> list[str] | None:
        """A records of `name`; None when the name does not exist (NXDOMAIN)."""
        name = name.rstrip(".").lower()
        if name == APPS_DOMAIN or name.endswith("." + APPS_DOMAIN):
            return [self.network.router]
        if not from_pod or not name.endswith("." + CLUSTER_DOMAIN):
            return None
        parts = name[: -len(CLUSTER_DOMAIN) - 1].split(".")
        if len(parts) != 2:
            return None
        service_name, namespace = parts
        with self.lock:
            service = self.services.get((namespace, service_name))
            if service is None:
                return None
            ip = (service.get("spec") or {}).get("clusterIP")
            if ip and ip != "None":
                return [ip]
            return sorted(
                {
                    address
                    for s in self.slices.values()
                    if s["metadata"].get("namespace") == namespace
                    and (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == service_name
                    for e in s.get("endpoints") or []
                    if (e.get("conditions") or {}).get("ready", True) is not False
                    for address in e.get("addresses") or []
                }
            )

    def serve_dns(self) -> socket.socket:
        """Answer DNS queries on the gateway's port 53 in a thread."""
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind((self.network.gateway, 53))
        pods = ipaddress.ip_network(self.network.pod_cidr)

        def loop() -> None:
            while True:
                try:
                    query, client = server.recvfrom(512)
                except OSError:
                    return
                source = ipaddress.ip_address(client[0])
                answer = dns_answer(query, lambda n: self.resolve(n, source in pods and str(source) != self.network.gateway))
                if answer:
                    with contextlib.suppress(OSError):
                        server.sendto(answer, client)

        threading.Thread(target=loop, daemon=True, name="dns").start()
        return server


def dns_answer(query: bytes, resolve: Callable[[str], list[str] | None]) -> bytes | None:
    """The answer to one DNS query (A records; AAAA and other types get an empty answer for known names)."""
    if len(query) < 12:
        return None
    ident, flags, questions = struct.unpack("!HHH", query[:6])
    if questions != 1 or flags & 0x8000:
        return None
    offset, labels = 12, []
    while offset < len(query) and query[offset]:
        length = query[offset]
        labels.append(query[offset + 1 : offset + 1 + length].decode(errors="replace"))
        offset += 1 + length
    question_end = offset + 5
    if question_end > len(query):
        return None
    qtype, _qclass = struct.unpack("!HH", query[offset + 1 : question_end])
    question = query[12:question_end]
    addresses = resolve(".".join(labels))
    rcode = 3 if addresses is None else 0
    records = b""
    count = 0
    if addresses and qtype == 1:
        for address in addresses:
            records += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(address)
            count += 1
    header = struct.pack("!HHHHHH", ident, 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 1, count, 0, 0)
    return header + question + records


def apiserver_address(url: str) -> tuple[str, int]:
    """(host, port) of the API server's URL."""
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 443
