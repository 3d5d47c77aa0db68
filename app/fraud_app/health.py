"""What the "Model health" tab shows: the model server's Prometheus metrics, scraped every few seconds and turned
into rates, and the last drift report (``python -m train_job.monitor --report-file``).

The scraper keeps the samples of the last `HISTORY_S` seconds in memory and derives, between consecutive samples,
the request rate, the latency quantiles (from the histogram's bucket increases, interpolated within a bucket as
Prometheus' ``histogram_quantile`` does) and the share of scored rows flagged as fraud. A counter that goes down
means the server restarted: the increase is then its new value, as Prometheus' ``rate`` takes it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LOG = logging.getLogger(__name__)
SCRAPE_INTERVAL_S = 5.0
HISTORY_S = 900.0
SUMMARY_WINDOW_S = 60.0
_LINE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


class HealthError(Exception):
    """The metrics could not be read or the drift report is unreadable; the message is fit for the page."""


@dataclass(frozen=True)
class Sample:
    """One scrape of the model server's counters."""

    time: float
    requests: dict[str, float]
    latency_buckets: tuple[tuple[float, float], ...]
    rows: float
    flagged: float
    threshold: float | None
    versions: dict[str, float] = field(default_factory=dict)

    @property
    def total_requests(self) -> float:
        """Inference requests answered, whatever the status."""
        return sum(self.requests.values())

    @property
    def failed_requests(self) -> float:
        """Inference requests answered with a status other than 200."""
        return sum(count for code, count in self.requests.items() if code != "200")


@dataclass(frozen=True)
class Interval:
    """What happened between two samples: rates over the interval."""

    end: float
    seconds: float
    requests_per_s: float
    failed_share: float | None
    p50_s: float | None
    p99_s: float | None
    flagged_share: float | None


def parse_metrics(text: str, at: float) -> Sample:
    """Read the model server's exposition text (fraud_model_server/metrics.py's families)."""
    requests: dict[str, float] = {}
    buckets: list[tuple[float, float]] = []
    versions: dict[str, float] = {}
    scalars: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if not match:
            raise HealthError(f"the metrics endpoint answered a line that is not Prometheus text: {line[:80]!r}")
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        value = float(match["value"])
        name = match["name"]
        if name == "fraud_model_requests_total":
            requests[labels.get("code", "other")] = value
        elif name == "fraud_model_request_duration_seconds_bucket":
            buckets.append((float(labels["le"]), value))
        elif name == "fraud_model_serving_processes":
            versions[labels.get("version", "")] = value
        else:
            scalars[name] = value
    if "fraud_model_rows_scored_total" not in scalars:
        raise HealthError("the metrics endpoint does not expose fraud_model_rows_scored_total: is it the fraud model "
                          "server's /metrics?")
    return Sample(time=at, requests=requests, latency_buckets=tuple(sorted(buckets)),
                  rows=scalars["fraud_model_rows_scored_total"], flagged=scalars.get("fraud_model_flagged_rows_total", 0.0),
                  threshold=scalars.get("fraud_model_threshold"), versions=versions)


def _increase(new: float, old: float) -> float:
    return new if new < old else new - old  # a restarted server starts from zero


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile``: cumulative (upper bound, count) pairs -> the q-quantile, None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower  # above the highest finite bound: that bound, as Prometheus answers
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = bound, count
    return lower


def interval(old: Sample, new: Sample) -> Interval:
    """The rates between two samples."""
    seconds = max(new.time - old.time, 1e-9)
    codes = set(old.requests) | set(new.requests)
    by_code = {code: _increase(new.requests.get(code, 0.0), old.requests.get(code, 0.0)) for code in codes}
    requests = sum(by_code.values())
    failed = sum(count for code, count in by_code.items() if code != "200")
    old_buckets = dict(old.latency_buckets)
    buckets = [(bound, _increase(count, old_buckets.get(bound, 0.0))) for bound, count in new.latency_buckets]
    rows = _increase(new.rows, old.rows)
    flagged = _increase(new.flagged, old.flagged)
    return Interval(end=new.time, seconds=seconds, requests_per_s=requests / seconds,
                    failed_share=failed / requests if requests else None,
                    p50_s=quantile(0.5, buckets), p99_s=quantile(0.99, buckets),
                    flagged_share=flagged / rows if rows else None)


class MetricsScraper:
    """Scrapes the metrics URL every `interval_s` seconds in a daemon thread and keeps `history_s` of samples."""

    def __init__(self, url: str, client: httpx.Client, interval_s: float = SCRAPE_INTERVAL_S,
                 history_s: float = HISTORY_S) -> None:
        """Nothing is contacted until `scrape` or `start`."""
        self.url = url
        self._client = client
        self._interval_s = interval_s
        self._samples: deque[Sample] = deque(maxlen=max(2, int(history_s / interval_s) + 1))
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def scrape(self) -> Sample:
        """Read the metrics once and keep the sample; HealthError when they cannot be read."""
        try:
            response = self._client.get(self.url)
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            raise HealthError(f"{self.url} answered HTTP {error.response.status_code}") from None
        except httpx.HTTPError as error:
            raise HealthError(f"{self.url} could not be read ({type(error).__name__}: {error})") from None
        sample = parse_metrics(response.text, time.time())
        with self._lock:
            self._samples.append(sample)
        return sample

    def start(self) -> None:
        """Scrape now and every interval until `stop`, keeping the last error for the page."""
        self._thread = threading.Thread(target=self._run, name="metrics-scraper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the scraping thread."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval_s + 1)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.scrape()
                self.last_error = None
            except HealthError as error:
                if error.args[0] != self.last_error:
                    LOG.warning("model metrics: %s", error)
                self.last_error = str(error)
            self._stopped.wait(self._interval_s)

    def samples(self) -> list[Sample]:
        """The kept samples, oldest first."""
        with self._lock:
            return list(self._samples)

    def intervals(self) -> list[Interval]:
        """The rates between each pair of consecutive samples."""
        samples = self.samples()
        return [interval(old, new) for old, new in zip(samples, samples[1:], strict=False)]

    def summary(self, window_s: float = SUMMARY_WINDOW_S) -> Interval | None:
        """The rates over the last `window_s` seconds (or the longest span kept); None before two samples."""
        samples = self.samples()
        if len(samples) < 2:
            return None
        newest = samples[-1]
        oldest = next((s for s in samples if newest.time - s.time <= window_s + self._interval_s / 2), samples[-2])
        if oldest is newest:
            oldest = samples[-2]
        return interval(oldest, newest)


@dataclass(frozen=True)
class DriftColumn:
    """One column of the drift report."""

    column: str
    psi: float
    p_value: float
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    """The last drift report, as the page shows it."""

    version: str
    rows: int
    verdict: str
    drifted: bool
    made: str
    run_id: str
    columns: tuple[DriftColumn, ...]


def read_drift_report(path: Path) -> DriftSummary | None:
    """The report train_job.monitor wrote at `path`; None when there is none yet, HealthError when unreadable."""
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise HealthError(f"the drift report {path} cannot be read ({error})") from None
    try:
        columns = tuple(DriftColumn(str(c["column"]), float(c["psi"]), float(c["p_value"]), bool(c["drifted"]))
                        for c in report["columns"])
        return DriftSummary(version=str(report["version"]), rows=int(report["rows"]), verdict=str(report["verdict"]),
                            drifted=bool(report["drifted"]), made=str(report.get("made", "")),
                            run_id=str(report.get("run_id", "")), columns=columns)
    except (KeyError, TypeError, ValueError) as error:
        raise HealthError(f"the drift report {path} is not train_job.monitor's report (missing {error})") from None
