"""The payload log on OpenShift: a receiver of KServe's inference-logger CloudEvents that writes them to the bucket
in the local model server's format, so the drift report reads the same objects on both targets.

    python -m train_job.payload_receiver --prefix payloads --model-name credit-card-fraud \\
        [--host 0.0.0.0] [--port 8080] [--sample 1] [--batch-rows 1000] [--keep 100] [--flush-seconds 30] \\
        [--version-annotation fraud-demo.io/model-version] [--report-port 8081]

An InferenceService with ``spec.predictor.logger {mode: all, url: http://<this Service>,
metadataAnnotations: [<version annotation>]}`` gets KServe's ``agent`` sidecar, which POSTs two binary-mode
CloudEvents per answered request (kserve pkg/logger/worker.go): ``ce-type`` ``org.kubeflow.serving.inference.request``
with the V2 request body and ``...inference.response`` with the answer, under the same ``ce-id``, and the pod's
value of each listed annotation in ``ce-annotations`` (a JSON object). The receiver pairs the two by id (pending
requests are bounded: the oldest go first), keeps ``--sample`` of the rows and writes batches of ``--batch-rows``
rows (or what it holds every ``--flush-seconds``, and at SIGTERM) as one JSON-lines object
``s3://$AWS_S3_BUCKET/<prefix>/<model>/<UTC time>-<pid>-<sequence>.jsonl``, one line per request
``{"time", "version", "features", "scores"}`` (fraud_model_server/payload.py's format; ``version`` is the
registered version from the annotation, which the drift report matches with the served one). Every ``keep // 10``-th
write it removes this model's oldest objects beyond ``--keep``; it touches no other key. Writes happen in a thread
of their own; when they fall behind, whole batches are dropped and counted, the events still answered 202.
``GET /healthz`` answers the counters as JSON. On a port of its own (``--report-port``, so that a NetworkPolicy can
let the app read it without letting it write payloads), ``GET /drift-report`` answers the last report that
``train_job.monitor --publish`` put in the folder (404 before the first; read from the bucket at most every
``REPORT_CACHE_S`` seconds). The bucket's keys come from the data connection's variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT, AWS_DEFAULT_REGION, AWS_S3_BUCKET), its CA from
TRAIN_CA_BUNDLE. No secret is in a record or in the log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from .monitor import payload_folder, report_key
from .schema import FEATURE_COLUMNS
from .sources import SourceError, s3_client, with_system_cas

LOG = logging.getLogger("train_job.payload_receiver")
REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"
PENDING_REQUESTS = 10_000
PENDING_BATCHES = 4
REPORT_CACHE_S = 10.0
KEY = re.compile(r"\d{8}T\d{6}\.\d{6}Z-\d+-\d+\.jsonl")
Line = dict[str, Any]


class EventError(ValueError):
    """An event that cannot be logged; the message says why (answered 400)."""


def request_rows(body: bytes) -> np.ndarray:
    """The V2 request's rows (rows x 7) from its first input."""
    try:
        first = json.loads(body)["inputs"][0]
        rows = np.asarray(first["data"], dtype=np.float64).reshape(-1, len(FEATURE_COLUMNS))
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise EventError(f"not a V2 request with {len(FEATURE_COLUMNS)} features per row: {error}") from None
    return rows


def response_scores(body: bytes) -> np.ndarray:
    """The V2 answer's scores (one per row) from its first output."""
    try:
        return np.asarray(json.loads(body)["outputs"][0]["data"], dtype=np.float64).reshape(-1)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise EventError(f"not a V2 answer: {error}") from None


class Receiver:
    """Pairs request and response events and hands sampled, batched lines to the writer thread."""

    def __init__(self, bucket: str, folder: str, client: Any, version_annotation: str, sample: float = 1.0,
                 batch_rows: int = 1000, keep: int = 100, flush_s: float = 30.0, seed: int | None = None) -> None:
        self.bucket, self.folder, self.version_annotation = bucket, folder, version_annotation
        self.sample, self.batch_rows, self.keep, self.flush_s = sample, batch_rows, keep, flush_s
        self._client = client
        self._rng = np.random.default_rng(seed)
        self._requests: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lines: list[Line] = []
        self._rows = 0
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self._batches: queue.Queue[list[Line] | None] = queue.Queue(PENDING_BATCHES)
        self.counts = {"events": 0, "logged_rows": 0, "dropped_rows": 0, "unpaired": 0, "written_objects": 0}
        self._sequence = 0
        self._writer = threading.Thread(target=self._write_batches, name="payload-writer", daemon=True)
        self._writer.start()

    def event(self, headers: Mapping[str, str], body: bytes) -> None:
        """One CloudEvent (binary mode: ``ce-*`` headers, the data as the body)."""
        kind, event_id = headers.get("ce-type", ""), headers.get("ce-id", "")
        if kind not in (REQUEST, RESPONSE) or not event_id:
            raise EventError(f"not an inference-logger event (ce-type {kind!r}, ce-id {event_id!r})")
        self._count("events", 1)
        if kind == REQUEST:
            rows = request_rows(body)
            with self._lock:
                self._requests[event_id] = rows
                while len(self._requests) > PENDING_REQUESTS:
                    self._requests.popitem(last=False)
                    self.counts["unpaired"] += 1  # under the lock already
            return
        scores = response_scores(body)
        with self._lock:
            rows = self._requests.pop(event_id, None)
        if rows is None:
            self._count("unpaired", 1)
            return
        if rows.shape[0] != scores.size:
            raise EventError(f"event {event_id}: {rows.shape[0]} rows asked, {scores.size} scores answered")
        self._keep(rows, scores, headers.get("ce-time", ""), self._version(headers))

    def _count(self, name: str, amount: int) -> None:
        with self._lock:  # the handler threads and the writer count into the same dict
            self.counts[name] += amount

    def _version(self, headers: Mapping[str, str]) -> str | None:
        try:
            value = json.loads(headers.get("ce-annotations") or "{}").get(self.version_annotation)
        except (ValueError, AttributeError):
            return None
        return str(value) if value is not None else None

    def _keep(self, rows: np.ndarray, scores: np.ndarray, when: str, version: str | None) -> None:
        if self.sample < 1.0:
            chosen = np.flatnonzero(self._rng.random(scores.size) < self.sample)
            rows, scores = rows[chosen], scores[chosen]
        if scores.size == 0:
            return
        line = {"time": when or datetime.now(UTC).isoformat(timespec="milliseconds"), "version": version,
                "features": rows.tolist(), "scores": scores.tolist()}
        with self._lock:
            self._lines.append(line)
            self._rows += scores.size
            due = self._rows >= self.batch_rows or time.monotonic() - self._last_flush >= self.flush_s
            batch = self._take() if due else None
        if batch:
            self._hand_over(batch)

    def _take(self) -> list[Line]:
        batch, self._lines, self._rows = self._lines, [], 0
        self._last_flush = time.monotonic()
        return batch

    def _hand_over(self, batch: list[Line]) -> None:
        try:
            self._batches.put_nowait(batch)
        except queue.Full:
            self._dropped(batch, "the bucket writes fall behind")

    def _dropped(self, batch: list[Line], why: str) -> None:
        rows = sum(len(line["scores"]) for line in batch)
        self._count("dropped_rows", rows)
        LOG.warning("%d rows dropped: %s", rows, why)

    def flush(self) -> None:
        with self._lock:
            batch = self._take() if self._lines else None
        if batch:
            self._hand_over(batch)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is held, stop the writer."""
        self.flush()
        try:
            self._batches.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._writer.join(timeout_s)

    def _write_batches(self) -> None:
        while True:
            try:
                batch = self._batches.get(timeout=self.flush_s)
            except queue.Empty:
                self.flush()
                continue
            if batch is None:
                return
            try:
                self._write(batch)
            except Exception as error:  # noqa: BLE001 - botocore's and the network's errors: count, go on
                self._dropped(batch, f"cannot write to s3://{self.bucket}/{self.folder}: {error}")

    def _write(self, batch: list[Line]) -> None:
        self._sequence += 1
        key = f"{self.folder}{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{os.getpid()}-{self._sequence}.jsonl"
        body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in batch).encode()
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        self._count("logged_rows", sum(len(line["scores"]) for line in batch))
        self._count("written_objects", 1)
        if self.counts["written_objects"] % max(1, self.keep // 10) == 0:
            self._prune()

    def _prune(self) -> None:
        keys = [item["Key"] for page in self._client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=self.folder)
                for item in page.get("Contents", []) if KEY.fullmatch(item["Key"].removeprefix(self.folder))]
        for key in sorted(keys)[:max(0, len(keys) - self.keep)]:
            self._client.delete_object(Bucket=self.bucket, Key=key)


class ReportReader:
    """The published drift report, read from the bucket at most every `cache_s` seconds."""

    def __init__(self, client: Any, bucket: str, folder: str, cache_s: float = REPORT_CACHE_S) -> None:
        self._client, self.bucket, self.key, self._cache_s = client, bucket, report_key(folder), cache_s
        self._lock = threading.Lock()
        self._read_at = -cache_s
        self._answer: tuple[HTTPStatus, bytes] = (HTTPStatus.NOT_FOUND, b"")

    def answer(self) -> tuple[HTTPStatus, bytes]:
        """(status, JSON body): the report (200), none yet (404), or why the bucket did not give it (502)."""
        with self._lock:
            if time.monotonic() - self._read_at >= self._cache_s:
                self._answer = self._read()
                self._read_at = time.monotonic()
            return self._answer

    def _read(self) -> tuple[HTTPStatus, bytes]:
        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except Exception as error:  # noqa: BLE001 - botocore's ClientError (NoSuchKey) and the network's
            code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404"):
                why = f"no drift report yet at s3://{self.bucket}/{self.key}: run ansible-playbook monitor.yml"
                return HTTPStatus.NOT_FOUND, json.dumps({"error": why}).encode()
            why = f"s3://{self.bucket}/{self.key} could not be read: {type(error).__name__}"
            return HTTPStatus.BAD_GATEWAY, json.dumps({"error": why}).encode()
        return HTTPStatus.OK, body


def handler_for(receiver: Receiver, reports: ReportReader | None = None) -> type[BaseHTTPRequestHandler]:
    """The events port's handler, or with `reports` the report port's (GET /drift-report only)."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if reports is not None:
                self._answer(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "this port serves GET /drift-report only"})
                return
            try:
                receiver.event({key.lower(): value for key, value in self.headers.items()}, body)
            except EventError as error:
                self._answer(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
            self._answer(HTTPStatus.ACCEPTED, {})

        def do_GET(self) -> None:  # noqa: N802
            if reports is not None and self.path == "/drift-report":
                status, data = reports.answer()
                self._send(status, data)
                return
            if reports is not None or self.path != "/healthz":
                self._answer(HTTPStatus.NOT_FOUND, {"error": f"no {self.path}"})
                return
            self._answer(HTTPStatus.OK, receiver.counts)

        def _answer(self, status: HTTPStatus, content: Mapping[str, Any]) -> None:
            self._send(status, json.dumps(content).encode())

        def _send(self, status: HTTPStatus, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature http.server calls
            if args and str(args[1]).startswith(("4", "5")):
                LOG.warning("%s %s", self.address_string(), format % args)

    return Handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train_job.payload_receiver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all, as in a pod)")  # noqa: S104
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--prefix", required=True, help="the payload log's key prefix (as the local model server's)")
    parser.add_argument("--model-name", required=True, help="the served model's name (the log's folder)")
    parser.add_argument("--sample", type=float, default=1.0, help="share of rows kept (default: %(default)s)")
    parser.add_argument("--batch-rows", type=int, default=1000, help="rows per object (default: %(default)s)")
    parser.add_argument("--keep", type=int, default=100, help="objects kept (default: %(default)s)")
    parser.add_argument("--flush-seconds", type=float, default=30.0, help="write what is held this often")
    parser.add_argument("--version-annotation", default="fraud-demo.io/model-version",
                        help="the InferenceService annotation naming the registered version (logger metadataAnnotations)")
    parser.add_argument("--ca-bundle", default=os.environ.get("TRAIN_CA_BUNDLE"),
                        help="CA bundle for the bucket (env TRAIN_CA_BUNDLE)")
    parser.add_argument("--report-port", type=int, default=0,
                        help="serve GET /drift-report on this port (default: not served)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.sample <= 1 or args.batch_rows < 1 or args.keep < 1 or args.flush_seconds <= 0:
        parser.error(f"--sample {args.sample} must be in (0, 1], --batch-rows {args.batch_rows} and --keep "
                     f"{args.keep} at least 1, --flush-seconds {args.flush_seconds} above 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bucket = os.environ.get("AWS_S3_BUCKET", "")
    if not bucket:
        LOG.error("the payload log's bucket is AWS_S3_BUCKET, which is not set")
        return 1
    folder = payload_folder(args.prefix, args.model_name)
    try:
        client = s3_client(os.environ, with_system_cas(args.ca_bundle), f"the payload log s3://{bucket}/{folder}")
    except SourceError as error:
        LOG.error("%s", error)
        return 1
    receiver = Receiver(bucket, folder, client, args.version_annotation, args.sample, args.batch_rows, args.keep,
                        args.flush_seconds)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(receiver))
    server.daemon_threads = True
    report_server = None
    if args.report_port:
        report_server = ThreadingHTTPServer((args.host, args.report_port),
                                            handler_for(receiver, ReportReader(client, bucket, folder)))
        report_server.daemon_threads = True
        threading.Thread(target=report_server.serve_forever, name="report-server", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    LOG.info("logging %s's payloads to s3://%s/%s (port %d, sample %s, %d rows per object, keep %d)",
             args.model_name, bucket, folder, args.port, args.sample, args.batch_rows, args.keep)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    receiver.close()
    server.server_close()
    if report_server is not None:
        report_server.shutdown()
        report_server.server_close()
    LOG.info("stopped: %s", json.dumps(receiver.counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
