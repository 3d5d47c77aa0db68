"""The payload log of a running server (payload.py) in a real SeaweedFS bucket: what was asked and answered, in
batches of JSON lines; a sampled share; and its bounds under 50 clients (objects kept, rows buffered), touching no
key it did not write."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from support.model_server import run_model_server, upload_model
from support.onnx_models import BIAS, FRAUDULENT_TRANSACTION, INPUT_NAME, NORMAL_TRANSACTION, WEIGHTS, write_logistic_model
from support.s3 import S3Server

LOAD_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "http_load.py"


def rows_body(rows: list[list[float]]) -> dict:
    return {"inputs": [{"name": INPUT_NAME, "shape": [len(rows), 7], "datatype": "FP32",
                        "data": [value for row in rows for value in row]}]}


def logged(s3: S3Server, folder: str) -> tuple[list[str], list[dict]]:
    """The payload objects' keys (oldest first) and their lines (one per request), oldest first."""
    client = s3.client()
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=s3.bucket, Prefix=folder).get("Contents", []))
    records = [json.loads(line) for key in keys if key.endswith(".jsonl")
               for line in client.get_object(Bucket=s3.bucket, Key=key)["Body"].read().decode().splitlines()]
    return keys, records


def metric(server, name: str) -> float:
    text = requests.get(f"{server.base_url}/metrics", timeout=10).text
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


@pytest.fixture
def spec(s3_server: S3Server, tmp_path: Path) -> Path:
    path = tmp_path / "spec.json"
    model = write_logistic_model(tmp_path / "v1" / "model.onnx")
    path.write_text(json.dumps({"storage_path": upload_model(s3_server, model), "version": "4", "threshold": 0.5}))
    return path


def test_the_rows_asked_and_their_scores_are_logged_in_batches(s3_server: S3Server, spec: Path, tmp_path: Path) -> None:
    folder = "payloads/first/credit-card-fraud/"
    batch = [[float(i), i / 10.0, i / 20.0, i % 2, 1.0, 0.0, (i + 1) % 2] for i in range(100)]
    flags = ("--payload-log-prefix", "payloads/first", "--payload-log-batch-rows", "50")
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path, extra_args=flags) as server:
        for row in [FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION] * 20:
            assert requests.post(server.infer_url, json=rows_body([row]), timeout=10).status_code == 200
        answer = requests.post(server.infer_url, json=rows_body(batch), timeout=10).json()
        assert requests.post(server.infer_url, json=rows_body([NORMAL_TRANSACTION]), timeout=10).status_code == 200
    keys, lines = logged(s3_server, folder)  # the server stopped: what it held was written too
    assert len(keys) == 2  # 40 single rows + the 100-row batch handed over at once, then the last row at shutdown
    assert [len(line["scores"]) for line in lines] == [1] * 40 + [100, 1]  # one line per request
    sent = [FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION] * 20 + batch + [NORMAL_TRANSACTION]
    rows = [row for line in lines for row in line["features"]]
    assert np.array_equal(np.array(rows, dtype=np.float32), np.asarray(sent, dtype=np.float32))  # float32 as sent
    expected = 1 / (1 + np.exp(-(np.asarray(sent, dtype=np.float32) @ WEIGHTS + BIAS))).ravel()
    scores = [score for line in lines for score in line["scores"]]
    assert scores == pytest.approx(expected.tolist(), rel=1e-3, abs=1e-6)  # float32
    assert lines[40]["scores"] == pytest.approx(answer["outputs"][0]["data"])
    assert {line["version"] for line in lines} == {"4"}
    assert all(line["time"].endswith("+00:00") for line in lines)
    assert s3_server.env["AWS_SECRET_ACCESS_KEY"] not in json.dumps(lines)


def test_a_sample_keeps_its_share(s3_server: S3Server, spec: Path, tmp_path: Path) -> None:
    flags = ("--payload-log-prefix", "payloads/sampled", "--payload-log-sample", "0.1")
    rows = [[float(i % 50), 1.0, 1.0, 1.0, 1.0, 0.0, 0.0] for i in range(1000)]
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path, extra_args=flags) as server:
        for _ in range(2):
            assert requests.post(server.infer_url, json=rows_body(rows), timeout=10).status_code == 200
    _, lines = logged(s3_server, "payloads/sampled/credit-card-fraud/")
    assert 140 <= sum(len(line["scores"]) for line in lines) <= 260  # 10 % of 2,000 rows: 200, binomial sd 13


def test_under_fifty_clients_the_log_stays_within_its_bounds(s3_server: S3Server, spec: Path, tmp_path: Path) -> None:
    folder = "payloads/load/credit-card-fraud/"
    foreign = f"{folder}notes.txt"  # not the log's: never removed
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=foreign, Body=b"kept")
    flags = ("--payload-log-prefix", "payloads/load", "--payload-log-batch-rows", "200", "--payload-log-keep", "3",
             "--workers", "2")
    body = tmp_path / "row.json"
    body.write_text(json.dumps(rows_body([NORMAL_TRANSACTION])))
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path, extra_args=flags) as server:
        load = subprocess.run([sys.executable, str(LOAD_SCRIPT), "--url", server.infer_url, "--body-file", str(body),
                               "--clients", "50", "--requests", "6000", "--seconds", "20", "--expect-fragment",
                               '"outputs"'], capture_output=True, text=True, timeout=120, check=True)
        summary = json.loads(load.stdout)
        scored = metric(server, "fraud_model_rows_scored_total")
        written = metric(server, 'fraud_model_payload_rows_total{outcome="written"}')
        dropped = metric(server, 'fraud_model_payload_rows_total{outcome="dropped"}')
    keys, lines = logged(s3_server, folder)
    assert summary["errors"] == {} and summary["ok"] >= 2000, summary
    assert scored == summary["ok"]
    assert written >= 200 * 5 and written % 200 == 0 and written + dropped <= scored  # whole batches; some still held
    objects = [key for key in keys if key.endswith(".jsonl")]
    # 3 kept (each write prunes; the two processes' last writes at shutdown may leave one more between them)
    assert foreign in keys and 3 <= len(objects) <= 4, keys
    assert sum(len(line["scores"]) for line in lines) <= 4 * 200
