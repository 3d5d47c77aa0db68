"""health.py: the real model server's /metrics after known traffic turned into rates and quantiles - the fraud
model server's, and OpenVINO Model Server's as OpenShift serves it (the stand-in on the real OpenVINO runtime,
tests/cluster/runtimes/ovms.py) - counter resets, and the drift report train_job.monitor writes (made here by the
real drift code from drifted synthetic data)."""

import json
import math
import shutil
import uuid
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fraud_app.client import V2Client
from fraud_app.health import (DriftReports, HealthError, MetricsScraper, Sample, interval, parse_metrics, quantile,
                              read_drift_report)
from fraud_app.health_tab import HealthTab
from support.drift_reports import write_drift_report
from support.model_server import V2ModelServer
from support.payload_receiver import start_receiver
from support.ports import LOOPBACK, free_port
from support.processes import child_env, start_logged, stop_process_tree, wait_until_ready

REPO = Path(__file__).resolve().parents[2]
PLATFORM_PYTHON = Path(sys.prefix) / "platform" / "bin" / "python"  # OpenVINO's environment (make cluster-deps)
OVMS_MODEL = "credit-card-fraud"

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


@pytest.fixture(scope="module")
def ovms_url(v2_model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """OVMS as KServe starts it on OpenShift (`<path>/1/model.onnx`, --metrics_enable): its base URL."""
    assert PLATFORM_PYTHON.exists(), f"{PLATFORM_PYTHON} is missing: make cluster-deps installs OpenVINO there"
    folder = tmp_path_factory.mktemp("ovms")
    (folder / "model" / "1").mkdir(parents=True)
    shutil.copy(v2_model_file, folder / "model" / "1" / "model.onnx")
    port = free_port()
    command = [str(PLATFORM_PYTHON), "-m", "tests.cluster.runtimes.ovms", f"--model_name={OVMS_MODEL}",
               f"--model_path={folder / 'model'}", f"--rest_port={port}", f"--rest_bind_address={LOOPBACK}",
               "--metrics_enable"]
    process = start_logged(command, folder / "ovms.log", child_env({}), cwd=REPO)
    url = f"http://{LOOPBACK}:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v2/models/{OVMS_MODEL}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until_ready(process, ready, "OVMS", folder / "ovms.log", timeout_s=120)
    yield url
    stop_process_tree(process)


def test_ovms_metrics_give_the_request_counts_and_latency_without_rows(ovms_url: str) -> None:
    with V2Client(ovms_url, OVMS_MODEL, token="not-for-the-metrics-service") as client:
        scraper = MetricsScraper(f"{ovms_url}/metrics", client.http, interval_s=0.5, model=OVMS_MODEL)
        before = scraper.scrape()
        for _ in range(30):
            client.predict(ROWS)
        malformed = client.http.post(f"/v2/models/{OVMS_MODEL}/infer", content=b"{")
        after = scraper.scrape()
    assert malformed.status_code == 400
    assert (before.server, before.rows, before.flagged, before.threshold) == ("OpenVINO Model Server", None, None, None)
    assert after.total_requests - before.total_requests == 31
    assert after.failed_requests - before.failed_requests == 1
    rates = interval(before, after)
    assert rates.failed_share == pytest.approx(1 / 31)
    assert 0 < rates.p50_s <= rates.p99_s < 1.0  # microseconds read as seconds would be far above
    assert rates.flagged_share is None
    other = parse_metrics(httpx.get(f"{ovms_url}/metrics").text, 0.0, "another-model")
    assert other.total_requests == 0  # the series of another model name are not counted

    tab = HealthTab(scraper, None, "DNN-credit-card-fraud version 3")
    summary = tab.summary_html()
    assert "DNN-credit-card-fraud version 3" in summary and "OpenVINO Model Server" in summary
    assert "not counted by OpenVINO Model Server" in summary and tab.flagged_frame().empty


def test_the_token_goes_only_to_the_inference_endpoints_origin() -> None:
    with V2Client("https://model.example:8443", "m", token="secret-token") as client:
        assert client.client_for("https://model.example:8443/metrics") is client.http
        other = client.client_for("http://m-metrics.project.svc.cluster.local:8888/metrics")
        assert other is not client.http and "authorization" not in other.headers
        assert client.http.headers["authorization"] == "Bearer secret-token"


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


def test_the_drift_report_published_in_the_bucket_is_read_through_the_payload_receiver(
        s3_server, tmp_path: Path, closed_port_url: str) -> None:
    """OpenShift: train_job.monitor --publish puts the report in the payload folder, the receiver's report port
    serves it, the tab reads it there (FRAUD_DRIFT_REPORT=http://<model>-payload-log...:8081/drift-report)."""
    prefix = f"payloads-{uuid.uuid4().hex[:6]}"
    report_port = free_port()
    receiver = start_receiver(s3_server.env, tmp_path, prefix, "--report-port", str(report_port))
    try:
        url = f"http://{LOOPBACK}:{report_port}/drift-report"
        with httpx.Client() as http:
            tab = HealthTab(None, DriftReports(url, http, cache_s=0))
            assert "No drift report yet: run ansible-playbook monitor.yml (or wait for its CronJob)." in tab.drift_html()
            written = write_drift_report(tmp_path / "report.json", shift=1.0)
            s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"{prefix}/credit-card-fraud/drift-report.json",
                                          Body=written.read_bytes())
            deadline = time.monotonic() + 15  # the receiver reads the bucket at most every 10 s
            while "Last drift verdict" not in tab.drift_html() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert "Last drift verdict: drift" in tab.drift_html() and "online_order" in tab.drift_html()
            assert len(tab.drift_frame()) == len(json.loads(written.read_text())["columns"])
            unreachable = HealthTab(None, DriftReports(f"{closed_port_url}/drift-report", http, cache_s=0))
            assert "could not be read (ConnectError" in unreachable.drift_html() and unreachable.drift_frame().empty
    finally:
        stop_process_tree(receiver.process)
    assert s3_server.secret_access_key not in receiver.log.read_text()
