"""``python -m train_job.payload_receiver`` as a process against a real SeaweedFS bucket, fed the CloudEvents KServe's
inference logger sends (binary mode, a request and a response event per inference under one ``ce-id``): the paired
rows land in the local model server's payload format, the drift report's reader finds them by version, the log
keeps its bound, and bad or unpaired events are answered without losing the rest."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from support.payload_receiver import start_receiver
from support.ports import LOOPBACK, free_port
from support.processes import stop_process_tree

from train_job import monitor, synthetic
from train_job.payload_receiver import KEY, REPORT_CACHE_S, REQUEST, RESPONSE

ANNOTATION = "fraud-demo.io/model-version"


def start(s3_server, folder: Path, prefix: str, *flags: str) -> tuple[object, str, Path]:
    started = start_receiver(s3_server.env, folder, prefix, *flags)
    return started.process, started.url, started.log


@pytest.fixture
def receiver(s3_server, tmp_path: Path) -> Iterator[tuple[object, str, str, Path]]:
    prefix = f"payloads-{uuid.uuid4().hex[:6]}"
    process, url, log = start(s3_server, tmp_path, prefix, "--batch-rows", "250", "--keep", "3")
    yield process, url, prefix, log
    stop_process_tree(process)


def send(url: str, rows: np.ndarray, version: str | None, event_id: str | None = None) -> None:
    """What KServe's agent sends for one answered V2 inference (pkg/logger/worker.go)."""
    event_id = event_id or str(uuid.uuid4())
    headers = {"ce-specversion": "1.0", "ce-id": event_id, "ce-source": "credit-card-fraud-predictor-abc",
               "ce-inferenceservicename": "credit-card-fraud", "ce-namespace": "fraud", "ce-component": "predictor",
               "ce-endpoint": "", "ce-metadata": "{}", "Content-Type": "application/json"}
    if version:
        headers["ce-annotations"] = json.dumps({ANNOTATION: version})
    body = {"inputs": [{"name": "dense_input", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
    answer = {"model_name": "credit-card-fraud", "model_version": "1",
              "outputs": [{"name": "probability", "shape": [len(rows), 1], "datatype": "FP32",
                           "data": np.linspace(0, 1, len(rows)).tolist()}]}
    for kind, content in ((REQUEST, body), (RESPONSE, answer)):
        response = requests.post(url, data=json.dumps(content), headers=headers | {"ce-type": kind}, timeout=5)
        assert response.status_code == 202, response.text


def keys(s3_server, prefix: str) -> list[str]:
    listing = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=f"{prefix}/credit-card-fraud/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_paired_events_become_the_payload_log_the_drift_report_reads(receiver, s3_server) -> None:
    process, url, prefix, _ = receiver
    features, _ = synthetic.generate(600, seed=4)
    for start_row in range(0, 600, 50):
        send(url, features[start_row:start_row + 50], "2")
    send(url, features[:10], "7")  # another version's traffic, held until the flush at SIGTERM
    stop_process_tree(process)
    written = keys(s3_server, prefix)
    assert all(KEY.fullmatch(key.rsplit("/", 1)[1]) for key in written) and len(written) == 3, written
    first = [json.loads(line) for line in
             s3_server.client().get_object(Bucket=s3_server.bucket, Key=written[0])["Body"].read().splitlines()]
    assert len(first) == 5 and {line["version"] for line in first} == {"2"}
    np.testing.assert_allclose(first[0]["features"], features[:50], rtol=1e-6)
    assert len(first[0]["scores"]) == 50
    rows, scores, window = monitor.recent_rows(s3_server.client(), s3_server.bucket, f"{prefix}/credit-card-fraud/",
                                               "2", 1000)
    assert rows.shape == (600, 7) and scores.size == 600 and len(window) == 2
    np.testing.assert_allclose(np.sort(rows[:, 0]), np.sort(features[:, 0]))


def test_the_log_keeps_its_bound_and_bad_or_unpaired_events_lose_nothing_else(receiver, s3_server) -> None:
    process, url, prefix, log = receiver
    features, _ = synthetic.generate(250, seed=5)
    refused = requests.post(url, data=b"{}", headers={"ce-type": "com.example.other", "ce-id": "1"}, timeout=5)
    assert refused.status_code == 400 and "not an inference-logger event" in refused.json()["error"]
    bad = requests.post(url, data=json.dumps({"inputs": [{"data": [1, 2, 3]}]}),
                        headers={"ce-type": REQUEST, "ce-id": "2"}, timeout=5)
    assert bad.status_code == 400 and "7 features per row" in bad.json()["error"]
    lonely = requests.post(url, data=json.dumps({"outputs": [{"data": [0.5]}]}),
                           headers={"ce-type": RESPONSE, "ce-id": "never-asked"}, timeout=5)
    assert lonely.status_code == 202
    for _ in range(12):  # 12 objects of 250 rows; --keep 3 prunes every write beyond it
        send(url, features, "2")
    counts = requests.get(f"{url}/healthz", timeout=5).json()
    assert counts["unpaired"] == 1 and counts["events"] == 26  # 24 paired, the bad request, the lonely answer
    stop_process_tree(process)
    assert len(keys(s3_server, prefix)) == 3, keys(s3_server, prefix)
    assert "stopped:" in log.read_text() and s3_server.secret_access_key not in log.read_text()


def test_the_report_port_serves_the_published_drift_report_and_takes_no_events(s3_server, tmp_path: Path) -> None:
    prefix = f"payloads-{uuid.uuid4().hex[:6]}"
    report_port = free_port()
    process, url, _ = start(s3_server, tmp_path, prefix, "--report-port", str(report_port))
    reports = f"http://{LOOPBACK}:{report_port}"
    try:
        none_yet = requests.get(f"{reports}/drift-report", timeout=5)
        assert none_yet.status_code == 404 and "no drift report yet" in none_yet.json()["error"]
        refused = requests.post(reports, data=b"{}", headers={"ce-type": REQUEST, "ce-id": "1"}, timeout=5)
        assert refused.status_code == 405  # payloads only through the events port
        assert requests.get(f"{reports}/healthz", timeout=5).status_code == 404
        assert requests.get(f"{url}/drift-report", timeout=5).status_code == 404  # and no report on the events port
        report = {"verdict": "drift in online_order", "version": "2", "rows": 1200, "columns": []}
        s3_server.client().put_object(Bucket=s3_server.bucket, Key=monitor.report_key(f"{prefix}/credit-card-fraud/"),
                                      Body=json.dumps(report).encode())
        deadline = time.monotonic() + REPORT_CACHE_S + 5
        answer = requests.get(f"{reports}/drift-report", timeout=5)
        while answer.status_code == 404 and time.monotonic() < deadline:  # the 404 is cached for REPORT_CACHE_S
            time.sleep(0.5)
            answer = requests.get(f"{reports}/drift-report", timeout=5)
        assert answer.status_code == 200 and answer.json() == report
    finally:
        stop_process_tree(process)
