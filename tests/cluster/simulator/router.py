"""The default router: admitted Routes answer at `<router address>` (their hosts resolve there, services.py).

- :443 terminates TLS with the route's own certificate (`spec.tls.certificate`/`key`) or the default
  `*.apps.fraud-demo.test` certificate signed by the ingress CA (control plane's `ingress-ca.crt`, published in
  ConfigMap `openshift-config-managed/default-ingress-cert`, key `ca-bundle.crt`, as OpenShift does), chosen by
  SNI; `edge` forwards plain HTTP to the Service, `reencrypt` opens TLS to it and verifies it against
  `spec.tls.destinationCACertificate`, else the service CA (as OpenShift does). `passthrough` is not supported.
- :80 forwards routes without TLS, redirects `insecureEdgeTerminationPolicy: Redirect` (302 to https) and answers
  503 otherwise, as HAProxy does for a host it does not serve.
The backend is the Service's ClusterIP at the Service port whose name or targetPort matches `spec.port.targetPort`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import tempfile
import threading
from pathlib import Path

from ..kube import JSON
from .services import ServiceTable, splice

log = logging.getLogger("router")
NOT_SERVED = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    b"<html><body><h1>Application is not available</h1></body></html>\n"
)


class Router:
    """Serves the admitted Routes of `routes()` (host -> Route)."""

    def __init__(self, table: ServiceTable, default_cert: tuple[bytes, bytes], service_ca: Path, workdir: Path) -> None:
        self.table = table
        self.service_ca = service_ca
        self.workdir = workdir
        self.routes: dict[str, JSON] = {}
        self.lock = threading.Lock()
        self.default = self._context(*default_cert)
        self.contexts: dict[str, ssl.SSLContext] = {}

    def _context(self, cert: bytes, key: bytes) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.NamedTemporaryFile(dir=self.workdir, suffix=".pem") as pem:
            Path(pem.name).write_bytes(cert + b"\n" + key)
            context.load_cert_chain(pem.name)
        context.sni_callback = self._sni
        return context

    def _sni(self, sock: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        with self.lock:
            chosen = self.contexts.get((server_name or "").lower())
        if chosen is not None:
            sock.context = chosen

    def admit(self, route: JSON) -> None:
        """Serve `route` at its host from now on."""
        host = route["spec"]["host"].lower()
        tls = route["spec"].get("tls") or {}
        with self.lock:
            self.routes[host] = route
            self.contexts.pop(host, None)
        if tls.get("certificate") and tls.get("key"):
            context = self._context(tls["certificate"].encode(), tls["key"].encode())
            with self.lock:
                self.contexts[host] = context

    def forget(self, namespace: str, name: str) -> None:
        with self.lock:
            for host, route in list(self.routes.items()):
                if route["metadata"]["namespace"] == namespace and route["metadata"]["name"] == name:
                    del self.routes[host]
                    self.contexts.pop(host, None)

    def serve(self) -> None:
        """Listen on :443 and :80 of the router address in threads."""
        for port in (443, 80):
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.table.network.router, port))
            listener.listen(64)
            threading.Thread(target=self._accept, args=(listener, port == 443), daemon=True, name=f"router-{port}").start()

    def _accept(self, listener: socket.socket, secure: bool) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client, secure), daemon=True).start()

    def _backend(self, route: JSON) -> tuple[str, int] | None:
        spec = route["spec"]
        key = (route["metadata"]["namespace"], spec["to"]["name"])
        with self.table.lock:
            service = self.table.services.get(key)
        if service is None or not service["spec"].get("clusterIP") or service["spec"]["clusterIP"] == "None":
            return None
        wanted = (spec.get("port") or {}).get("targetPort")
        ports = service["spec"].get("ports") or []
        port = next((p for p in ports if wanted is None or wanted in (p.get("name"), p.get("targetPort"), p.get("port"))), None)
        return (service["spec"]["clusterIP"], int(port["port"])) if port else None

    def _handle(self, client: socket.socket, secure: bool) -> None:
        client.settimeout(30)
        try:
            if secure:
                client = self.default.wrap_socket(client, server_side=True)
            host = self._peek_host(client)
        except (OSError, ssl.SSLError):
            with contextlib.suppress(OSError):
                client.close()
            return
        with self.lock:
            route = self.routes.get(host)
        tls = (route or {}).get("spec", {}).get("tls") or {}
        if route is None or (secure and not tls) or (not secure and tls and tls.get("insecureEdgeTerminationPolicy") != "Allow"):
            redirect = route is not None and not secure and tls.get("insecureEdgeTerminationPolicy") == "Redirect"
            answer = f"HTTP/1.1 302 Found\r\nLocation: https://{host}/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode() if redirect else NOT_SERVED
            with contextlib.suppress(OSError):
                client.sendall(answer)
                client.close()
            return
        backend = self._backend(route)
        if backend is None:
            with contextlib.suppress(OSError):
                client.sendall(NOT_SERVED)
                client.close()
            return
        try:
            upstream = socket.create_connection(backend, timeout=10)
            if tls.get("termination") == "reencrypt":
                context = ssl.create_default_context(cadata=tls.get("destinationCACertificate") or None, cafile=None if tls.get("destinationCACertificate") else str(self.service_ca))
                service = route["spec"]["to"]["name"]
                upstream = context.wrap_socket(upstream, server_hostname=f"{service}.{route['metadata']['namespace']}.svc")
            upstream.settimeout(None)
        except (OSError, ssl.SSLError) as error:
            log.info("route %s: backend %s: %s", host, backend, error)
            with contextlib.suppress(OSError):
                client.sendall(b"HTTP/1.0 502 Bad Gateway\r\nConnection: close\r\n\r\n")
                client.close()
            return
        client.settimeout(None)
        pending = getattr(client, "_fraud_demo_peeked", b"")
        if pending:
            upstream.sendall(pending)
        splice(client, upstream)

    @staticmethod
    def _peek_host(client: socket.socket) -> str:
        """The Host header of the first request (kept to be forwarded)."""
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                break
            data += chunk
        client._fraud_demo_peeked = data  # type: ignore[attr-defined]
        for line in data.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"host":
                return value.strip().decode(errors="replace").split(":")[0].lower()
        return ""
