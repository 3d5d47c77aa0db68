"""HTTP guards around MLServer's REST app: a request size limit and V2-style ``{"error": ...}`` bodies."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_MAX_REPORTED_PROBLEMS = 5
_DRAIN_BYTES = 64 * 1024 * 1024  # how much of an oversized body is read before answering 413


def error_response(status: int, message: str) -> Response:
    """A KServe V2 error response: ``{"error": message}``."""
    return Response(orjson.dumps({"error": message}), status_code=status, media_type="application/json")


def _describe_problem(problem: dict[str, Any]) -> str:
    """One line for one pydantic/FastAPI validation problem, e.g. ``inputs.0.shape: Field required``."""
    location = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
    if problem.get("type") == "json_invalid":
        return f"request body is not valid JSON ({problem.get('ctx', {}).get('error', 'parse error')})"
    if problem.get("type") == "missing" and not location:
        return "request body is empty; expected a JSON inference request"
    return f"{location or 'body'}: {problem.get('msg', 'invalid')}"


async def validation_error(_: Request, error: Exception) -> Response:
    """Turn FastAPI's request validation errors into a 400 with a readable V2 error message."""
    problems = error.errors() if isinstance(error, RequestValidationError) else []
    described = [_describe_problem(problem) for problem in problems[:_MAX_REPORTED_PROBLEMS]]
    if len(problems) > _MAX_REPORTED_PROBLEMS:
        described.append(f"... and {len(problems) - _MAX_REPORTED_PROBLEMS} more")
    return error_response(400, "invalid inference request: " + "; ".join(described or ["unreadable body"]))


def install_error_handlers(app: FastAPI) -> None:
    """Make request validation failures answer like the rest of the V2 API."""
    app.add_exception_handler(RequestValidationError, validation_error)


class RequestLimits:
    """ASGI middleware: refuse bodies over ``max_body_bytes`` (413) and compressed bodies (415).

    The body is read up front (a chunked one too), so an oversized request never reaches the model and the
    limit cannot be sidestepped by a small compressed body that inflates.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes

    async def _refuse(self, send: Send, status: int, message: str) -> None:
        """Send a complete V2 error response."""
        response = error_response(status, message)
        await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check headers and size, then hand the buffered body to the app."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            await self._refuse(
                send, 415, f"Content-Encoding {encoding.decode(errors='replace')!r} is not accepted; send plain JSON"
            )
            return
        limit = self._max_body_bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif size > limit + _DRAIN_BYTES:
                break  # stop reading a huge upload; the connection closes after the answer
            more = message.get("more_body", False)
        if size > limit:
            # The body was read (up to a bound) first, so that the client, which sends before it reads, sees the 413.
            await self._refuse(send, 413, f"request body exceeds the limit of {limit} bytes (--max-request-bytes)")
            return
        await self._app(scope, replay_body(b"".join(chunks), receive), send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive callable that yields the already read ``body`` once, then defers to ``receive``."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
