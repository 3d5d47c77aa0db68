"""The payload log: a sampled, bounded record of what the server was asked and answered, written to the bucket.

With ``--payload-log-prefix P`` every server process keeps a share (``--payload-log-sample``) of the rows it scores
and writes them in batches of ``--payload-log-batch-rows`` rows (or whatever it holds every ``FLUSH_S`` seconds, and
at shutdown) as one JSON-lines object, ``s3://<bucket>/<P>/<model>/<UTC time>-<pid>-<sequence>.jsonl``, one line per
request: ``{"time": ISO 8601 UTC, "version": the version that answered, "features": [[7 numbers] per row],
"scores": [one per row]}``. Every ``keep // 10``-th write (every write
for a keep under 20) it removes the oldest of those objects beyond ``--payload-log-keep``, so the log stays within
``keep`` plus ``keep // 10`` objects per process; it touches no other key. The
writing happens in a thread of its own: a request only appends its sampled rows to a buffer, and when the writer
falls behind (it writes at most 1 / ``MIN_WRITE_INTERVAL_S`` objects a second, ``PENDING_BATCHES`` wait), whole
batches are dropped and counted (`dropped_rows`), never the request. No secret is in a record.
The drift report (train_job/drift.py) reads the newest objects as the served traffic.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger("fraud_model_server")

FLUSH_S = 30.0
PENDING_BATCHES = 4
MIN_WRITE_INTERVAL_S = 0.2
KEY = re.compile(r"\d{8}T\d{6}\.\d{6}Z-\d+-\d+\.jsonl")
Entry = tuple[float, "str | None", np.ndarray, np.ndarray]
"""(time, version, the rows' features, their scores) of one inference's sampled rows."""


@dataclass(frozen=True)
class PayloadSettings:
    """Where and how much to log."""

    bucket: str
    prefix: str
    model_name: str
    sample: float = 1.0
    batch_rows: int = 1000
    keep: int = 100

    @property
    def folder(self) -> str:
        """The key prefix of this model's objects (ends with '/')."""
        return f"{self.prefix.strip('/')}/{self.model_name}/"


class PayloadLog:
    """One server process's payload log: ``record`` on the request path, a writer thread for the bucket."""

    def __init__(self, settings: PayloadSettings, client: Callable[[], BaseClient], seed: int | None = None,
                 counted: Callable[[int, int], None] = lambda logged, dropped: None) -> None:
        self.settings = settings
        self._counted = counted
        self._client_factory = client
        self._rng = np.random.default_rng(seed)
        self._rows: list[Entry] = []
        self._buffered = 0
        self._lock = threading.Lock()
        self._pending: queue.Queue[list[Entry] | None] = queue.Queue(PENDING_BATCHES)
        self._sequence = 0
        self.logged_rows = 0
        self.dropped_rows = 0
        self.written_objects = 0
        self._last_flush = time.monotonic()
        self._writer = threading.Thread(target=self._write_batches, name="payload-log", daemon=True)
        self._writer.start()

    def record(self, features: np.ndarray, scores: np.ndarray, version: str | None) -> None:
        """Keep the sampled rows of one inference (``features``: rows x inputs, ``scores``: one per row); they are
        turned into JSON by the writer, not here."""
        sample = self.settings.sample
        rows = features.shape[0] if features.ndim == 2 else 0
        if rows == 0 or sample <= 0.0 or scores.size != rows:
            return
        if sample < 1.0:
            chosen = np.flatnonzero(self._rng.random(rows) < sample)
            if chosen.size == 0:
                return
            features, scores = features[chosen], scores.reshape(-1)[chosen]
        # The arrays are this request's own (decoded from its body, answered by the session): kept, not copied.
        entry = (time.time(), version, features, scores.reshape(-1))
        with self._lock:
            self._rows.append(entry)
            self._buffered += entry[3].size
            full = self._buffered >= self.settings.batch_rows
            due = time.monotonic() - self._last_flush >= FLUSH_S
            batch = self._take() if full or due else None
        if batch:
            self._hand_over(batch)

    def _take(self) -> list[Entry]:
        batch, self._rows, self._buffered = self._rows, [], 0
        self._last_flush = time.monotonic()
        return batch

    def _hand_over(self, batch: list[Entry]) -> None:
        try:
            self._pending.put_nowait(batch)
        except queue.Full:
            dropped = sum(entry[3].size for entry in batch)
            self.dropped_rows += dropped
            self._counted(0, dropped)
            logger.warning("payload log: the bucket writes fall behind, %d rows dropped", dropped)

    def flush(self) -> None:
        """Hand what is buffered to the writer (also when it is due by time alone)."""
        with self._lock:
            batch = self._take() if self._rows else None
        if batch:
            self._hand_over(batch)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is buffered and stop the writer (waits up to ``timeout_s``)."""
        self.flush()
        try:
            self._pending.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._writer.join(timeout_s)

    def _write_batches(self) -> None:
        client = None
        last_write = 0.0
        while True:
            try:
                batch = self._pending.get(timeout=FLUSH_S)
            except queue.Empty:
                self.flush()
                continue
            if batch is None:
                return
            pause = last_write + MIN_WRITE_INTERVAL_S - time.monotonic()
            if pause > 0:  # at most 1 / MIN_WRITE_INTERVAL_S writes a second: the batches beyond wait, then drop
                time.sleep(pause)
            last_write = time.monotonic()
            try:
                client = client or self._client_factory()
                self._write(client, batch)
            except (BotoCoreError, ClientError, OSError) as error:
                dropped = sum(entry[3].size for entry in batch)
                self.dropped_rows += dropped
                self._counted(0, dropped)
                logger.warning("payload log: cannot write %d rows to s3://%s/%s: %s", dropped,
                               self.settings.bucket, self.settings.folder, error)

    def _write(self, client: BaseClient, batch: list[Entry]) -> None:
        settings = self.settings
        self._sequence += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        key = f"{settings.folder}{stamp}-{os.getpid()}-{self._sequence}.jsonl"
        # One line per request: its sampled rows' features and scores as arrays (orjson writes numpy's in C).
        lines = [orjson.dumps({"time": datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds"),
                               "version": version, "features": np.ascontiguousarray(features),
                               "scores": np.ascontiguousarray(scores)}, option=orjson.OPT_SERIALIZE_NUMPY)
                 for seconds, version, features, scores in batch]
        client.put_object(Bucket=settings.bucket, Key=key, Body=b"\n".join(lines) + b"\n",
                          ContentType="application/x-ndjson")
        rows = sum(entry[3].size for entry in batch)
        self.logged_rows += rows
        self._counted(rows, 0)
        self.written_objects += 1
        if self.written_objects % max(1, settings.keep // 10) == 0:  # listing the folder costs more than a write
            self._prune(client)

    def _prune(self, client: BaseClient) -> None:
        """Remove this model's oldest payload objects beyond ``keep`` (only keys this log writes)."""
        settings = self.settings
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.folder):
            keys += [item["Key"] for item in page.get("Contents", [])
                     if KEY.fullmatch(item["Key"].removeprefix(settings.folder))]
        for key in sorted(keys)[:-settings.keep] if len(keys) > settings.keep else []:
            client.delete_object(Bucket=settings.bucket, Key=key)
