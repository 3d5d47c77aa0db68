"""The node's log endpoint: the API server proxies `pods/log` (kubectl logs, kubernetes.core.k8s_log) to
`https://<node InternalIP>:<kubeletEndpoint port>/containerLogs/<namespace>/<pod>/<container>`, as to a kubelet.

It answers `tailLines`, `limitBytes` and `previous` (not `follow`: the log so far is returned), on 127.0.0.1 with a
certificate of the test CA (the API server runs without --kubelet-certificate-authority, so it does not verify it).
"""

from __future__ import annotations

import http.server
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

LogFinder = Callable[[str, str, str, bool], "Path | None"]


def serve(finder: LogFinder, cert: Path, key: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    """Start the endpoint on a free port of 127.0.0.1 in a thread; returns the server and its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            query = urllib.parse.parse_qs(url.query)
            if len(parts) != 4 or parts[0] != "containerLogs":
                self._answer(404, b"not found\n")
                return
            _, namespace, pod, container = parts
            previous = query.get("previous", ["false"])[0] == "true"
            path = finder(namespace, pod, container, previous)
            if path is None or not path.exists():
                what = "previous terminated container" if previous else "container"
                self._answer(400, f'{what} "{container}" in pod "{pod}" not found\n'.encode())
                return
            data = path.read_bytes()
            if "tailLines" in query:
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-int(query["tailLines"][0]) :]) if int(query["tailLines"][0]) else b""
            if "limitBytes" in query:
                data = data[: int(query["limitBytes"][0])]
            self._answer(200, data)

        def _answer(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="kubelet-logs").start()
    return server, int(server.server_address[1])
