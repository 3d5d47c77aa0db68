"""Bounded connections for the REST server: idle and slow clients cannot take every file descriptor.

uvicorn arms its keep-alive timeout only after a response, so a connection that never completes a request (opened
and left idle, or fed a byte at a time) is kept forever; 20,000 of them exhausted the process's descriptors and no
request was served while they were held. :class:`GuardedHttpToolsProtocol` adds two bounds:

- a request-header deadline: a connection must complete its request headers within ``header_timeout_s`` of being
  opened, or of its previous response (keep-alive), else it is closed;
- a connection cap: at ``max_connections`` open connections a new one closes the connection that has been waiting
  longest for a request (never one whose request is being answered), so a flood of idle connections cannot keep
  real clients out. With no waiting one left the new connection is closed at once.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Descriptors kept for everything but client connections (model, logs, gRPC, the event loop).
RESERVED_FDS = 64


def connection_cap(requested: int) -> int:
    """``requested``, lowered to what the process's descriptor limit leaves for client connections."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return requested
    return max(1, min(requested, soft - RESERVED_FDS))


def guarded_protocol(max_connections: int, header_timeout_s: float) -> type[HttpToolsProtocol]:
    """An HttpToolsProtocol class bounded by ``max_connections`` and ``header_timeout_s`` (one per server)."""
    waiting: dict[GuardedHttpToolsProtocol, float] = {}  # connections without a request in progress, by since

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > max_connections and not _evict_oldest(exclude=self):
                self.transport.close()
                return
            self._wait_for_request()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._stop_waiting()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:  # a pipelined request has its headers
                self._wait_for_request()

        def _wait_for_request(self) -> None:
            self._stop_waiting()
            waiting[self] = time.monotonic()
            self._deadline = self.loop.call_later(header_timeout_s, self._header_timeout)

        def _stop_waiting(self) -> None:
            waiting.pop(self, None)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _header_timeout(self) -> None:
            self._deadline = None
            waiting.pop(self, None)
            if not self.transport.is_closing():
                self.transport.close()

    def _evict_oldest(exclude: Any) -> bool:
        candidates = [(since, protocol) for protocol, since in waiting.items() if protocol is not exclude]
        if not candidates:
            return False
        _, oldest = min(candidates, key=lambda item: item[0])
        oldest._stop_waiting()
        oldest.transport.close()
        return True

    return GuardedHttpToolsProtocol
