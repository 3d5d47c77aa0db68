"""The "Model health" tab: request rate, latency p50/p99, share flagged (from the model server's metrics, see
health.py), the serving version and the last drift report's verdict and per-column PSI. Refreshed every
`health.SCRAPE_INTERVAL_S` seconds while the page is open."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from fraud_app.health import SCRAPE_INTERVAL_S, SUMMARY_WINDOW_S, DriftReports, HealthError, MetricsScraper

NOT_SHOWN = "-"
TIME_TITLE = "time (UTC)"
# The plots' columns: plain identifiers with fixed types (an empty frame's object columns would make Gradio draw a
# time axis as categories even after data arrives); the axes have titles.
TIME, NUMBER, LABEL = "datetime64[ns]", "float64", "object"
QUANTILES = ("p50", "p99")


class HealthTab:
    """Renders the tab from a scraper (None: no metrics URL configured) and the drift reports (a file path, its
    reader, or None: none configured); `model_label` (FRAUD_MODEL_VERSION) names the version where the server's
    metrics do not (OVMS)."""

    def __init__(self, scraper: MetricsScraper | None, drift_report: Path | DriftReports | None,
                 model_label: str | None = None) -> None:
        """Keep the sources; nothing is read here."""
        self.scraper = scraper
        self.drift_report = DriftReports(str(drift_report)) if isinstance(drift_report, Path) else drift_report
        self.model_label = model_label

    def build(self) -> None:
        """Lay out the tab (inside a gr.Blocks) and refresh it on a timer."""
        summary = gr.HTML(self.summary_html(), elem_id="health-summary")
        with gr.Row():
            rate = gr.LinePlot(self.rate_frame(), x="time", y="rate", title="Request rate", x_title=TIME_TITLE,
                               y_title="requests per second", elem_id="health-rate")
            latency = gr.LinePlot(self.latency_frame(), x="time", y="milliseconds", color="quantile", title="Latency",
                                  x_title=TIME_TITLE, y_title="milliseconds",
                                  color_map=dict(zip(QUANTILES, ("#0066cc", "#ec7a08"), strict=True)),
                                  colors_in_legend=list(QUANTILES),
                                  elem_id="health-latency")
            flagged = gr.LinePlot(self.flagged_frame(), x="time", y="flagged", title="Share flagged as fraud",
                                  x_title=TIME_TITLE, y_title="% of scored rows",
                                  elem_id="health-flagged")
        verdict = gr.HTML(self.drift_html(), elem_id="health-drift")
        drift = gr.BarPlot(self.drift_frame(), x="column", y="psi", color="verdict", title="Drift per column",
                           y_title="PSI (last drift report)", color_map={"drift": "#c9190b", "no drift": "#3e8635"},
                           elem_id="health-drift-plot")
        outputs = [summary, rate, latency, flagged, verdict, drift]
        gr.Timer(SCRAPE_INTERVAL_S).tick(self.refresh, None, outputs, show_progress="hidden")

    def refresh(self) -> tuple[Any, ...]:
        """Everything the tab shows, in `build`'s order of outputs."""
        return (self.summary_html(), self.rate_frame(), self.latency_frame(), self.flagged_frame(),
                self.drift_html(), self.drift_frame())

    def summary_html(self) -> str:
        """The serving version, its threshold and the last minute's rates; or why they are not shown."""
        if self.scraper is None:
            return _line("Metrics are not configured: set MODEL_METRICS_URL to the model server's /metrics URL.")
        samples = self.scraper.samples()
        if self.scraper.last_error:
            return _line(f"Metrics unavailable: {self.scraper.last_error}", error=True)
        if not samples:
            return _line("Waiting for the first metrics scrape ...")
        newest = samples[-1]
        versions = ", ".join(f"version {html.escape(v or '(not registered)')} ({n:g} process{'es' if n != 1 else ''})"
                             for v, n in sorted(newest.versions.items()) if n)
        if not versions:  # OVMS names no registered version: the one the app was deployed with
            versions = html.escape(self.model_label) if self.model_label else "no version"
        threshold = f"threshold {newest.threshold:g}" if newest.threshold is not None else "threshold unknown"
        parts = [f"<b>Serving</b> {versions} &middot; {threshold} &middot; {html.escape(newest.server)}"]
        rates = self.scraper.summary()
        if rates is not None:
            parts.append(
                f"<b>Last {min(rates.seconds, SUMMARY_WINDOW_S + SCRAPE_INTERVAL_S):.0f} s</b>: "
                f"{rates.requests_per_s:.2f} requests/s &middot; p50 {_ms(rates.p50_s)} &middot; "
                f"p99 {_ms(rates.p99_s)} &middot; {_percent(rates.flagged_share)} flagged &middot; "
                f"{_percent(rates.failed_share)} failed")
        if newest.rows is None:
            parts.append(f"Since the server started: {newest.total_requests:,.0f} requests, "
                         f"{newest.failed_requests:,.0f} failed (rows scored and flagged: not counted by "
                         f"{html.escape(newest.server)})")
        else:
            parts.append(f"Since the server started: {newest.total_requests:,.0f} requests, {newest.rows:,.0f} rows "
                         f"scored, {newest.flagged or 0:,.0f} flagged, {newest.failed_requests:,.0f} failed")
        return '<div class="fraud-health">' + "<br>".join(parts) + "</div>"

    def rate_frame(self) -> pd.DataFrame:
        """Requests per second between consecutive scrapes."""
        rows = [(_time(i.end), i.requests_per_s) for i in self._intervals()]
        return _frame(rows, time=TIME, rate=NUMBER)

    def latency_frame(self) -> pd.DataFrame:
        """p50 and p99 latency (ms) between consecutive scrapes that saw requests."""
        # One empty point per line first: the page takes the lines' colours from the first value it is given, so
        # both must be named before any latency is known (an empty point is not drawn).
        rows = [(None, name, None) for name in QUANTILES]
        rows += [(_time(i.end), name, value * 1000) for i in self._intervals()
                 for name, value in zip(QUANTILES, (i.p50_s, i.p99_s), strict=True) if value is not None]
        return _frame(rows, time=TIME, quantile=LABEL, milliseconds=NUMBER)

    def flagged_frame(self) -> pd.DataFrame:
        """The share of scored rows flagged as fraud (%) between consecutive scrapes that scored rows."""
        rows = [(_time(i.end), i.flagged_share * 100) for i in self._intervals() if i.flagged_share is not None]
        return _frame(rows, time=TIME, flagged=NUMBER)

    def drift_html(self) -> str:
        """The last drift report's verdict, or why there is none."""
        if self.drift_report is None:
            return _line("Drift reports are not configured: set FRAUD_DRIFT_REPORT to the report file.")
        try:
            report = self.drift_report.read()
        except HealthError as error:
            return _line(str(error), error=True)
        if report is None:
            return _line("No drift report yet: run ansible-playbook monitor.yml"
                         + (" (or wait for its CronJob)." if self.drift_report.is_url else "."))
        css = "drift" if report.drifted else "no-drift"
        return (f'<div class="fraud-drift {css}"><b>Last drift verdict: {html.escape(report.verdict)}</b>'
                f"<br><small>version {html.escape(report.version)}, {report.rows:,} served rows, made "
                f"{html.escape(report.made)}, MLflow run {html.escape(report.run_id)}</small></div>")

    def drift_frame(self) -> pd.DataFrame:
        """PSI per column of the last drift report (empty without one)."""
        try:
            report = self.drift_report.read() if self.drift_report else None
        except HealthError:
            report = None
        rows = [(c.column, c.psi, "drift" if c.drifted else "no drift") for c in (report.columns if report else ())]
        return _frame(rows, column=LABEL, psi=NUMBER, verdict=LABEL)

    def _intervals(self) -> list[Any]:
        return self.scraper.intervals() if self.scraper is not None else []


def _frame(rows: list[tuple[Any, ...]], **types: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(types)).astype(types)


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def _ms(seconds: float | None) -> str:
    return NOT_SHOWN if seconds is None else f"{seconds * 1000:.1f} ms"


def _percent(share: float | None) -> str:
    return NOT_SHOWN if share is None else f"{share * 100:.1f} %"


def _line(text: str, error: bool = False) -> str:
    css = "fraud-message error" if error else "fraud-message"
    return f'<p class="{css}">{html.escape(text)}</p>'
