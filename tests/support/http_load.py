"""A bounded HTTP/1.1 load generator for 127.0.0.1: N keep-alive clients POST one body until a request count or a
time limit is reached, and the latencies come back as JSON. Standard library only (uvloop when importable), so it
runs as its own process under any of the project's environments:

    python tests/support/http_load.py --url http://127.0.0.1:8008/v2/models/m/infer --body-file req.json \\
        --clients 4 --requests 4000 --seconds 20

``--tally-field model_version`` counts the good answers by that field of their JSON (which model version answered,
through a rollout); ``--stop-file PATH`` ends the run early once PATH exists (another process's signal)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
MAX_HEAD_BYTES = 64 * 1024


@dataclass
class Tally:
    """What all clients saw; ``latencies_s`` only for answers with the expected status."""

    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    issued: int = 0
    tally_field: str | None = None
    by_field: dict[str, int] = field(default_factory=dict)
    stop: bool = False

    def count(self, body: bytes) -> None:
        """Count a good answer by its tally field (an answer without it counts as 'missing')."""
        if self.tally_field is None:
            return
        try:
            value = str(json.loads(body).get(self.tally_field, "missing"))
        except (ValueError, AttributeError):
            value = "not JSON"
        self.by_field[value] = self.by_field.get(value, 0) + 1

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def request_bytes(host: str, port: int, path: str, body: bytes, content_type: str,
                  headers: tuple[str, ...] = ()) -> bytes:
    """One complete keep-alive POST request; ``headers`` are extra ``Name: value`` lines."""
    extra = "".join(f"{header}\r\n" for header in headers)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response with a Content-Length body; return (status, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        raise ValueError("response head too large")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = next((int(line.split(b":", 1)[1]) for line in lines[1:] if line.lower().startswith(b"content-length:")),
                  None)
    if length is None:
        raise ValueError("response without Content-Length")
    return status, await reader.readexactly(length)


async def client(address: tuple[str, int], request: bytes, tally: Tally, budget: int, deadline: float,
                 expect_status: int, expect_fragment: bytes) -> None:
    """Send ``request`` over one connection (reopened after a failure) until the budget or the deadline runs out."""
    writer = None
    while tally.issued < budget and time.perf_counter() < deadline and not tally.stop:
        tally.issued += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(*address)
            started = time.perf_counter()
            writer.write(request)
            status, body = await asyncio.wait_for(read_response(reader), timeout=max(deadline - started, 0.1) + 5)
            elapsed = time.perf_counter() - started
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
            tally.error(type(error).__name__)
            if writer is not None:
                writer.close()
            writer = None
            continue
        if status != expect_status:
            tally.error(f"HTTP {status}")
        elif expect_fragment not in body:
            tally.error("unexpected body")
        else:
            tally.latencies_s.append(elapsed)
            tally.count(body)
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))]


async def run(url: str, body: bytes, *, clients: int, requests: int, seconds: float, warmup: int = 0,
              content_type: str = "application/json", expect_status: int = 200,
              expect_fragment: bytes = b"", headers: tuple[str, ...] = (), tally_field: str | None = None,
              stop_file: Path | None = None) -> dict[str, object]:
    """Warm up (``warmup`` requests on one connection, not counted), then load; return the summary."""
    parts = urlsplit(url)
    if parts.hostname != LOOPBACK or parts.scheme != "http":
        raise ValueError(f"this load generator only targets http://{LOOPBACK}, not {url!r}")
    address = (LOOPBACK, parts.port or 80)
    request = request_bytes(LOOPBACK, address[1], parts.path or "/", body, content_type, headers)
    if warmup:
        await client(address, request, Tally(), warmup, time.perf_counter() + seconds, expect_status, expect_fragment)
    tally = Tally(tally_field=tally_field)
    started = time.perf_counter()
    deadline = started + seconds

    async def watch_stop_file() -> None:
        while stop_file is not None and not tally.stop:
            if stop_file.exists():
                tally.stop = True
            await asyncio.sleep(0.05)

    watcher = asyncio.ensure_future(watch_stop_file())
    await asyncio.gather(*(client(address, request, tally, requests, deadline, expect_status, expect_fragment)
                           for _ in range(clients)))
    tally.stop = True
    await watcher
    elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies_s)
    return {
        "clients": clients,
        "ok": len(latencies),
        "errors": tally.errors,
        "elapsed_s": elapsed,
        "requests_per_s": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "max_ms": (latencies[-1] if latencies else 0.0) * 1e3,
        **({"by_field": tally.by_field} if tally_field else {}),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: print the summary as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help=f"http://{LOOPBACK}:<port>/<path>")
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000, help="most requests in all clients together")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of the measured part")
    parser.add_argument("--warmup", type=int, default=0, help="requests sent first, not measured")
    parser.add_argument("--header", action="append", default=[], help="extra 'Name: value' header (repeatable)")
    parser.add_argument("--expect-status", type=int, default=200)
    parser.add_argument("--expect-fragment", default="", help="text every good answer contains")
    parser.add_argument("--tally-field", help="count the good answers by this top-level field of their JSON")
    parser.add_argument("--stop-file", type=Path, help="end the run once this path exists")
    args = parser.parse_args(argv)
    try:
        import uvloop  # noqa: PLC0415  (optional: a faster event loop leaves more CPU to the server)

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    summary = runner(run(args.url, args.body_file.read_bytes(), clients=args.clients, requests=args.requests,
                         seconds=args.seconds, warmup=args.warmup, content_type=args.content_type,
                         expect_status=args.expect_status, expect_fragment=args.expect_fragment.encode(),
                         headers=tuple(args.header), tally_field=args.tally_field, stop_file=args.stop_file))
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
