"""The request body of an ``http.server`` handler, plain or chunked: what Go's net/http hands the stand-ins'
upstream servers (oauth_proxy.py, kserve_agent.py) after it has taken Transfer-Encoding apart."""

from __future__ import annotations

import http.server


def read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    """The whole body: de-chunked (trailers skipped) or Content-Length bytes."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(chunks)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
