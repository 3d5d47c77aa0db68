"""What the "Model health" tab shows: the model server's Prometheus metrics, scraped every few seconds and turned
into rates, and the last drift report (``python -m train_job.monitor --report-file``).

Two servers' metrics are read: the fraud model server's (local target, fraud_model_server/metrics.py: requests by
code, latency, rows scored and flagged, threshold, served version) and OpenVINO Model Server's (OpenShift, the
InferenceService's `<isvc>-metrics` Service: `ovms_requests_success`/`_fail` of method ModelInfer and the
`ovms_request_time_us` histogram, model_server docs/metrics.md). OVMS counts requests, not rows, and knows no
threshold: rows and the share flagged are then None and the page says so.

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
    rows: float | None
    flagged: float | None
    threshold: float | None
    versions: dict[str, float] = field(default_factory=dict)
    server: str = "fraud model server"

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


def _series(text: str) -> list[tuple[str, dict[str, str], float]]:
    series = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if not match:
            raise HealthError(f"the metrics endpoint answered a line that is not Prometheus text: {line[:80]!r}")
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        series.append((match["name"], labels, float(match["value"])))
    return series


def parse_metrics(text: str, at: float, model: str | None = None) -> Sample:
    """Read the model server's exposition text: the fraud model server's families, or OVMS's (of `model` when
    given, else of every model it serves)."""
    series = _series(text)
    if any(name == "ovms_requests_success" for name, _, _ in series):
        return _parse_ovms(series, at, model)
    requests: dict[str, float] = {}
    buckets: list[tuple[float, float]] = []
    versions: dict[str, float] = {}
    scalars: dict[str, float] = {}
    for name, labels, value in series:
        if name == "fraud_model_requests_total":
            requests[labels.get("code", "other")] = value
        elif name == "fraud_model_request_duration_seconds_bucket":
            buckets.append((float(labels["le"]), value))
        elif name == "fraud_model_serving_processes":
            versions[labels.get("version", "")] = value
        else:
            scalars[name] = value
    if "fraud_model_rows_scored_total" not in scalars:
        raise HealthError("the metrics endpoint exposes neither fraud_model_rows_scored_total nor ovms_requests_success: "
                          "is it the model server's /metrics?")
    return Sample(time=at, requests=requests, latency_buckets=tuple(sorted(buckets)),
                  rows=scalars["fraud_model_rows_scored_total"], flagged=scalars.get("fraud_model_flagged_rows_total", 0.0),
                  threshold=scalars.get("fraud_model_threshold"), versions=versions)


def _parse_ovms(series: list[tuple[str, dict[str, str], float]], at: float, model: str | None) -> Sample:
    """OVMS: inference requests (method ModelInfer, every interface and version) as "200" (success) and "failed",
    latency from ovms_request_time_us (whole request, successful inferences; microseconds -> seconds)."""
    requests = {"200": 0.0, "failed": 0.0}
    buckets: dict[float, float] = {}
    for name, labels, value in series:
        if model is not None and labels.get("name") != model:
            continue
        if name in ("ovms_requests_success", "ovms_requests_fail") and labels.get("method") == "ModelInfer":
            requests["200" if name.endswith("success") else "failed"] += value
        elif name == "ovms_request_time_us_bucket":
            bound = float(labels["le"]) / 1e6
            buckets[bound] = buckets.get(bound, 0.0) + value
    return Sample(time=at, requests=requests, latency_buckets=tuple(sorted(buckets.items())), rows=None,
                  flagged=None, threshold=None, server="OpenVINO Model Server")


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
    rows = _increase(new.rows, old.rows) if new.rows is not None and old.rows is not None else 0.0
    flagged = _increase(new.flagged or 0.0, old.flagged or 0.0)
    return Interval(end=new.time, seconds=seconds, requests_per_s=requests / seconds,
                    failed_share=failed / requests if requests else None,
                    p50_s=quantile(0.5, buckets), p99_s=quantile(0.99, buckets),
                    flagged_share=flagged / rows if rows else None)


class MetricsScraper:
    """Scrapes the metrics URL every `interval_s` seconds in a daemon thread and keeps `history_s` of samples."""

    def __init__(self, url: str, client: httpx.Client, interval_s: float = SCRAPE_INTERVAL_S,
                 history_s: float = HISTORY_S, model: str | None = None) -> None:
        """Nothing is contacted until `scrape` or `start`; `model`: the name whose series count (OVMS)."""
        self.url = url
        self.model = model
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
        sample = parse_metrics(response.text, time.time(), self.model)
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
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise HealthError(f"the drift report {path} cannot be read ({error})") from None
    return parse_drift_report(text, str(path))


def fetch_drift_report(url: str, client: httpx.Client) -> DriftSummary | None:
    """The report the OpenShift payload receiver serves (GET /drift-report, train_job.monitor --publish's); None
    when it answers 404 (none published yet), HealthError when it cannot be read."""
    try:
        response = client.get(url)
    except httpx.HTTPError as error:
        raise HealthError(f"the drift report {url} could not be read ({type(error).__name__}: {error})") from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise HealthError(f"the drift report {url} answered HTTP {response.status_code}: {response.text[:200]}")
    return parse_drift_report(response.text, url)


def parse_drift_report(text: str, where: str) -> DriftSummary:
    """train_job.monitor's report JSON -> what the page shows; HealthError naming `where` when it is not one."""
    try:
        report: dict[str, Any] = json.loads(text)
    except ValueError as error:
        raise HealthError(f"the drift report {where} cannot be read ({error})") from None
    try:
        columns = tuple(DriftColumn(str(c["column"]), float(c["psi"]), float(c["p_value"]), bool(c["drifted"]))
                        for c in report["columns"])
        return DriftSummary(version=str(report["version"]), rows=int(report["rows"]), verdict=str(report["verdict"]),
                            drifted=bool(report["drifted"]), made=str(report.get("made", "")),
                            run_id=str(report.get("run_id", "")), columns=columns)
    except (KeyError, TypeError, ValueError) as error:
        raise HealthError(f"the drift report {where} is not train_job.monitor's report (missing {error})") from None


class DriftReports:
    """The last drift report from a file (local: monitor.yml's --report-file) or a URL (OpenShift: the payload
    receiver's GET /drift-report), read at most every `cache_s` seconds (the page asks on every refresh)."""

    def __init__(self, where: str, client: httpx.Client | None = None, cache_s: float = SCRAPE_INTERVAL_S) -> None:
        """`where`: an absolute path or an http(s) URL (then `client` reads it); nothing is read here."""
        self.where = where
        self._client = client if client is not None or not self.is_url else httpx.Client()
        self._cache_s = cache_s
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._last: DriftSummary | HealthError | None = None

    @property
    def is_url(self) -> bool:
        """Whether the report is read over HTTP."""
        return self.where.startswith(("http://", "https://"))

    def read(self) -> DriftSummary | None:
        """The report (None when there is none yet); HealthError when it cannot be read."""
        if not self.is_url:
            return read_drift_report(Path(self.where))  # a local file: cheap, and new the moment it is written
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self._cache_s:
                try:
                    self._last = fetch_drift_report(self.where, self._client)
                except HealthError as error:
                    self._last = error
                self._read_at = now
            if isinstance(self._last, HealthError):
                raise self._last
            return self._last
