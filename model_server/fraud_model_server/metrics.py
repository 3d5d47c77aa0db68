"""Prometheus metrics of the model server: ``GET /metrics`` on the REST port (text exposition format 0.0.4).

Every server process counts in a shared-memory file of its own (``<workdir>/metrics/<pid>.bin``, float64 slots,
one writer each: no lock), and the process a scrape reaches adds them all up, so the figures are the server's
whichever process answers. A restarted server starts from zero (the main process removes the files of the one
before), as Prometheus expects of a restarted target. What counting costs per request is measured in
bench/serving_benchmark.py (docs/benchmarks.md, "Metrics").

| metric | type | what |
|---|---|---|
| `fraud_model_requests_total{code}` | counter | inference requests (POST .../infer) answered, by HTTP status (`other` for a status not listed in `CODES`) |
| `fraud_model_request_duration_seconds` | histogram | from the request's arrival to its answer handed to the HTTP server |
| `fraud_model_rows_scored_total` | counter | rows the model scored |
| `fraud_model_score` | histogram | the model's score (its first output) per row |
| `fraud_model_flagged_rows_total` | counter | rows scored at or above the served version's threshold (its `threshold` tag) |
| `fraud_model_threshold` | gauge | that threshold (the highest of the processes while a rollout is under way; absent when unknown) |
| `fraud_model_payload_rows_total{outcome}` | counter | payload log rows `written` to the bucket or `dropped` (payload.py) |
| `fraud_model_serving_processes{version}` | gauge | server processes serving each registered version |
"""

from __future__ import annotations

import bisect
import math
import mmap
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .spec import METRICS_DIR

CODES = (200, 400, 403, 404, 405, 408, 413, 415, 422, 429, 500, 503)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

# The slots of a process's file.
_CODE = {code: index for index, code in enumerate(CODES)}
_OTHER_CODE = len(CODES)
_LATENCY = _OTHER_CODE + 1
_LATENCY_SUM = _LATENCY + len(LATENCY_BUCKETS) + 1
_ROWS = _LATENCY_SUM + 1
_SCORE = _ROWS + 1
_SCORE_SUM = _SCORE + len(SCORE_BUCKETS) + 1
_FLAGGED = _SCORE_SUM + 1
_THRESHOLD = _FLAGGED + 1
_PAYLOAD_LOGGED = _THRESHOLD + 1
_PAYLOAD_DROPPED = _PAYLOAD_LOGGED + 1
SLOTS = _PAYLOAD_DROPPED + 1
_SCORE_EDGES = np.array(SCORE_BUCKETS)


class ServingMetrics:
    """This process's counts (``request``, ``scores``), and the server's (``render``)."""

    def __init__(self, workdir: Path, threshold: float | None) -> None:
        self._folder = workdir / METRICS_DIR
        self._folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._folder / f"{os.getpid()}.bin"
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(descriptor, SLOTS * 8)
            self._map = mmap.mmap(descriptor, SLOTS * 8)
        finally:
            os.close(descriptor)
        self._slots = np.frombuffer(self._map, dtype=np.float64)
        self.threshold = threshold

    @property
    def threshold(self) -> float | None:
        """The served version's threshold (None: unknown, nothing is counted as flagged)."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float | None) -> None:
        self._threshold = value
        self._slots[_THRESHOLD] = math.nan if value is None else value

    def request(self, code: int, seconds: float) -> None:
        """One inference request answered with ``code`` after ``seconds``."""
        slots = self._slots
        slots[_CODE.get(code, _OTHER_CODE)] += 1
        slots[_LATENCY + bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        slots[_LATENCY_SUM] += seconds

    def scores(self, values: np.ndarray) -> None:
        """The scores of the rows a request had scored (one per row)."""
        slots, threshold = self._slots, self._threshold
        if values.size == 1:  # the common single-row request, without numpy's per-call overhead
            score = float(values.flat[0])
            slots[_SCORE + bisect.bisect_left(SCORE_BUCKETS, score)] += 1
            slots[_SCORE_SUM] += score
            slots[_ROWS] += 1
            if threshold is not None and score >= threshold:
                slots[_FLAGGED] += 1
            return
        flat = values.reshape(-1).astype(np.float64, copy=False)
        counts = np.bincount(np.searchsorted(_SCORE_EDGES, flat, side="left"), minlength=len(SCORE_BUCKETS) + 1)
        slots[_SCORE:_SCORE_SUM] += counts
        slots[_SCORE_SUM] += float(flat.sum())
        slots[_ROWS] += flat.size
        if threshold is not None:
            slots[_FLAGGED] += int(np.count_nonzero(flat >= threshold))

    def payload(self, logged: int, dropped: int) -> None:
        """Rows the payload log wrote to the bucket, and rows it dropped (payload.py; from its writer thread)."""
        self._slots[_PAYLOAD_LOGGED] += logged
        self._slots[_PAYLOAD_DROPPED] += dropped

    def totals(self) -> tuple[np.ndarray, list[float]]:
        """Every process's counts added up, and the thresholds they hold."""
        total = np.zeros(SLOTS)
        thresholds = []
        for path in self._folder.glob("*.bin"):
            try:
                slots = np.fromfile(path, dtype=np.float64, count=SLOTS)
            except OSError:
                continue
            if slots.size != SLOTS:
                continue
            if not math.isnan(slots[_THRESHOLD]):
                thresholds.append(float(slots[_THRESHOLD]))
            slots[_THRESHOLD] = 0.0
            total += slots
        return total, thresholds

    def render(self, serving: dict[str, int]) -> bytes:
        """The exposition text; ``serving``: processes by the version they serve."""
        total, thresholds = self.totals()
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])

        def histogram(name: str, bounds: Iterable[float], start: int, sum_slot: int) -> None:
            cumulative = 0.0
            for bound, count in zip([*bounds, math.inf], total[start:sum_slot], strict=True):
                cumulative += count
                lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {_number(cumulative)}')
            lines.extend([f"{name}_sum {_number(total[sum_slot])}", f"{name}_count {_number(cumulative)}"])

        family("fraud_model_requests_total", "counter", "Inference requests answered, by HTTP status.")
        for code, index in [*_CODE.items(), ("other", _OTHER_CODE)]:
            if total[index] or code == 200:
                lines.append(f'fraud_model_requests_total{{code="{code}"}} {_number(total[index])}')
        family("fraud_model_request_duration_seconds", "histogram", "Time from an inference request's arrival to "
               "its answer.")
        histogram("fraud_model_request_duration_seconds", LATENCY_BUCKETS, _LATENCY, _LATENCY_SUM)
        family("fraud_model_rows_scored_total", "counter", "Rows the model scored.")
        lines.append(f"fraud_model_rows_scored_total {_number(total[_ROWS])}")
        family("fraud_model_score", "histogram", "The model's score per row.")
        histogram("fraud_model_score", SCORE_BUCKETS, _SCORE, _SCORE_SUM)
        family("fraud_model_flagged_rows_total", "counter", "Rows scored at or above the served version's threshold.")
        lines.append(f"fraud_model_flagged_rows_total {_number(total[_FLAGGED])}")
        if thresholds:
            family("fraud_model_threshold", "gauge", "The served version's threshold.")
            lines.append(f"fraud_model_threshold {_number(max(thresholds))}")
        family("fraud_model_payload_rows_total", "counter", "Rows of the payload log written to the bucket, or "
               "dropped (the writes fell behind or failed).")
        lines.append(f'fraud_model_payload_rows_total{{outcome="written"}} {_number(total[_PAYLOAD_LOGGED])}')
        lines.append(f'fraud_model_payload_rows_total{{outcome="dropped"}} {_number(total[_PAYLOAD_DROPPED])}')
        family("fraud_model_serving_processes", "gauge", "Server processes serving each registered version.")
        for version, processes in sorted(serving.items()):
            lines.append(f'fraud_model_serving_processes{{version="{_label(version)}"}} {processes}')
        return ("\n".join(lines) + "\n").encode()


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class MetricsApp:
    """ASGI layer: times and counts the inference requests ``app`` answers, and answers ``GET /metrics``."""

    def __init__(self, app: Callable[..., Any], metrics: ServingMetrics, serving: Callable[[], dict[str, int]]) -> None:
        self._app = app
        self._metrics = metrics
        self._serving = serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count POSTs to an infer path, answer /metrics, pass everything on."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope["path"]
        if scope["method"] == "POST" and path.endswith("/infer"):
            started = time.perf_counter()
            answered = 500  # what the client sees when the app raises before answering

            async def counted(message: dict[str, Any]) -> None:
                nonlocal answered
                if message["type"] == "http.response.start":
                    answered = message["status"]
                await send(message)

            try:
                await self._app(scope, receive, counted)
            finally:
                self._metrics.request(answered, time.perf_counter() - started)
            return
        if path == "/metrics" and scope["method"] in ("GET", "HEAD"):
            body = self._metrics.render(self._serving())
            headers = [(b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
            return
        await self._app(scope, receive, send)
