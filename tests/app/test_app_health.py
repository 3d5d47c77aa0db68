"""health.py: the real model server's /metrics after known traffic turned into rates and quantiles, counter resets,
and the drift report train_job.monitor writes (made here by the real drift code from drifted synthetic data)."""

import math
import time
from pathlib import Path

import httpx
import pytest
from fraud_app.client import V2Client
from fraud_app.health import HealthError, MetricsScraper, Sample, interval, parse_metrics, quantile, read_drift_report
from fraud_app.health_tab import HealthTab
from support.drift_reports import write_drift_report
from support.model_server import V2ModelServer

ROWS = [[10.0, 2.0, 3.5, 0.0, 0.0, 0.0, 1.0], [3.5, 0.4, 0.8, 1.0, 1.0, 1.0, 0.0]]


def test_known_traffic_gives_the_counts_the_rate_and_plausible_latency(v2_model_server: V2ModelServer) -> None:
    with V2Client(v2_model_server.base_url, v2_model_server.model_name) as client:
        scraper = MetricsScraper(f"{v2_model_server.base_url}/metrics", client.http, interval_s=0.5)
        before = scraper.scrape()
        for _ in range(40):
            client.predict(ROWS)
        with pytest.raises(Exception):  # noqa: B017,PT011 - any refusal: it is counted as not 200
            client.http.post(f"/v2/models/{v2_model_server.model_name}/infer", content=b"{").raise_for_status()
        time.sleep(0.2)
        after = scraper.scrape()
    assert after.total_requests - before.total_requests == 41
    assert after.failed_requests - before.failed_requests == 1
    assert after.rows - before.rows == 80
    rates = interval(before, after)
    assert rates.requests_per_s == pytest.approx(41 / (after.time - before.time))
    assert rates.failed_share == pytest.approx(1 / 41)
    assert 0 < rates.p50_s <= rates.p99_s < 1.0  # a loopback request of two rows: well under a second
    assert rates.flagged_share is not None and 0 <= rates.flagged_share <= 1
    assert scraper.summary() == rates


def test_quantiles_follow_histogram_quantile() -> None:
    buckets = [(0.001, 0.0), (0.005, 50.0), (0.01, 90.0), (0.1, 100.0), (math.inf, 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.005)
    assert quantile(0.7, buckets) == pytest.approx(0.0075)  # halfway between 50 and 90 in (0.005, 0.01]
    assert quantile(0.99, buckets) == pytest.approx(0.01 + 0.09 * 0.9)
    assert quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]) is None
    assert quantile(0.99, [(0.1, 1.0), (math.inf, 10.0)]) == 0.1  # beyond the last finite bound: that bound


def test_a_restarted_server_counts_from_its_new_value() -> None:
    old = Sample(100.0, {"200": 1000.0}, ((0.01, 1000.0), (math.inf, 1000.0)), rows=1000, flagged=10, threshold=0.8)
    new = Sample(110.0, {"200": 20.0}, ((0.01, 20.0), (math.inf, 20.0)), rows=40, flagged=4, threshold=0.8)
    rates = interval(old, new)
    assert rates.requests_per_s == pytest.approx(2.0) and rates.flagged_share == pytest.approx(0.1)


def test_text_that_is_not_the_model_servers_metrics_is_named() -> None:
    with pytest.raises(HealthError, match="fraud_model_rows_scored_total"):
        parse_metrics("# HELP up\nup 1\n", 0.0)
    with pytest.raises(HealthError, match="'<html>"):
        parse_metrics("<html>sign in</html>", 0.0)


def test_an_unreachable_metrics_url_is_shown_not_raised(closed_port_url: str) -> None:
    with httpx.Client() as http:
        scraper = MetricsScraper(f"{closed_port_url}/metrics", http, interval_s=0.1)
        scraper.start()
        deadline = time.monotonic() + 10
        while scraper.last_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        scraper.stop()
    assert "could not be read (ConnectError" in HealthTab(scraper, None).summary_html()


def test_the_drift_report_is_read_and_shown(tmp_path: Path) -> None:
    tab = HealthTab(None, tmp_path / "report.json")
    assert "No drift report yet" in tab.drift_html() and tab.drift_frame().empty
    report = read_drift_report(write_drift_report(tmp_path / "report.json", shift=1.0))
    assert report is not None and report.drifted and report.version == "4"
    assert "online_order" in {c.column for c in report.columns if c.drifted}
    assert "Last drift verdict: drift" in tab.drift_html() and "online_order" in tab.drift_html()
    frame = tab.drift_frame()
    assert set(frame["verdict"]) == {"drift", "no drift"} and len(frame) == len(report.columns)
    (tmp_path / "report.json").write_text("{not json")
    assert f"the drift report {tmp_path / 'report.json'} cannot be read" in tab.drift_html()
    assert "Metrics are not configured" in tab.summary_html()
