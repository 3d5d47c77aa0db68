"""GET /metrics of a running server (metrics.py) after known traffic: requests by status, latency, rows, the score
histogram and the rows flagged at the serving spec's threshold, added up over the server's processes; a threshold
changed alone is taken without loading the model again; --no-metrics answers 404 and counts nothing."""

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
from support.model_server import SERVING_PYTHON, run_model_server, upload_model
from support.onnx_models import BIAS, FRAUDULENT_TRANSACTION, INPUT_NAME, NORMAL_TRANSACTION, WEIGHTS, write_logistic_model
from support.s3 import S3Server

THRESHOLD = 0.5


def rows_body(rows: list[list[float]]) -> dict:
    return {"inputs": [{"name": INPUT_NAME, "shape": [len(rows), 7], "datatype": "FP32",
                        "data": [value for row in rows for value in row]}]}


def scores(rows: list[list[float]]) -> np.ndarray:
    logits = np.asarray(rows, dtype=np.float32) @ WEIGHTS + BIAS
    return (1.0 / (1.0 + np.exp(-logits))).ravel()


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample line."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def switch(workdir: Path, spec: Path) -> dict:
    done = subprocess.run([str(SERVING_PYTHON), "-m", "fraud_model_server.switch", "--workdir", str(workdir),
                           "--serving-spec", str(spec), "--timeout", "30"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_metrics_count_what_was_served_over_every_process(s3_server: S3Server, tmp_path: Path, workers: str) -> None:
    model = write_logistic_model(tmp_path / "v1" / "model.onnx")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"storage_path": upload_model(s3_server, model), "version": "7", "threshold": THRESHOLD}))
    batch = [[float(i), i / 10.0, i / 20.0, i % 2, 1.0, 0.0, (i + 1) % 2] for i in range(100)]
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path, extra_args=("--workers", workers)) as server:
        for _ in range(20):  # separate connections: both processes take some
            for row in (FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION):
                assert requests.post(server.infer_url, json=rows_body([row]), timeout=10).status_code == 200
        assert requests.post(server.infer_url, json=rows_body(batch), timeout=10).status_code == 200
        unknown = server.infer_url.replace(server.model_name, "no-such-model")
        assert requests.post(unknown, json=rows_body([NORMAL_TRANSACTION]), timeout=10).status_code == 404
        assert requests.post(server.infer_url, data=b"{not json", timeout=10).status_code == 400
        pages = [requests.get(f"{server.base_url}/metrics", timeout=10) for _ in range(6)]
        after = scores([FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION] * 20 + batch)
        threshold_page = None
        # the version's threshold changes alone: taken in place (no model loaded again), counted from now on
        spec.write_text(json.dumps({**json.loads(spec.read_text()), "threshold": 0.99}))
        assert switch(server.workdir / "model", spec)["changed"] is True
        threshold_page = samples(requests.get(f"{server.base_url}/metrics", timeout=10).text)
    assert {page.headers["content-type"] for page in pages} == {"text/plain; version=0.0.4; charset=utf-8"}
    assert len({page.text for page in pages}) == 1  # whichever process answers: the server's totals
    seen = samples(pages[0].text)
    assert seen['fraud_model_requests_total{code="200"}'] == 41
    assert seen['fraud_model_requests_total{code="400"}'] == 1
    assert seen['fraud_model_requests_total{code="404"}'] == 1
    assert seen["fraud_model_request_duration_seconds_count"] == 43
    assert seen['fraud_model_request_duration_seconds_bucket{le="+Inf"}'] == 43
    assert 0 < seen["fraud_model_request_duration_seconds_sum"] < 43 * 1.0
    assert seen["fraud_model_rows_scored_total"] == 140 == seen["fraud_model_score_count"]
    assert seen["fraud_model_score_sum"] == pytest.approx(float(after.sum()), rel=1e-5)
    assert seen['fraud_model_score_bucket{le="0.5"}'] == int(np.count_nonzero(after <= 0.5))
    assert seen["fraud_model_flagged_rows_total"] == int(np.count_nonzero(after >= THRESHOLD)) > 20
    assert seen["fraud_model_threshold"] == THRESHOLD
    assert seen['fraud_model_serving_processes{version="7"}'] == int(workers)
    buckets = [value for name, value in seen.items() if name.startswith("fraud_model_score_bucket")]
    assert buckets == sorted(buckets)  # cumulative
    assert threshold_page["fraud_model_threshold"] == 0.99
    assert threshold_page["fraud_model_rows_scored_total"] == 140  # the counts go on
    log = server.log_file.read_text()
    assert "now with threshold 0.99" in log and "now serving version" not in log
    assert len(re.findall(r"fetched ", log)) == 1  # the model was not fetched again


def test_without_metrics_nothing_is_counted_or_answered(s3_server: S3Server, tmp_path: Path) -> None:
    model = write_logistic_model(tmp_path / "v1" / "model.onnx")
    with run_model_server(s3_server.env, upload_model(s3_server, model), tmp_path, extra_args=("--no-metrics",)) as server:
        assert requests.post(server.infer_url, json=rows_body([FRAUDULENT_TRANSACTION]), timeout=10).status_code == 200
        assert requests.get(f"{server.base_url}/metrics", timeout=10).status_code == 404
    assert not list((tmp_path / "model" / "metrics").glob("*.bin"))
