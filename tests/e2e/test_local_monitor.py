"""monitor.yml against the shared demo (conftest.py), after the loop (version 1 served again) and before
test_local_pipeline.py: traffic from the training data's world gives no drift and retrains nothing; traffic from
the drifted world (train_job's generator, --drift 1) is named in the report, logged in MLflow with its plot, and
with monitor_retrain_on_drift retrains on that world: the challenger wins the gate and serves, and the report and
the version name each other; then version 1 is rolled back to, as test_local_pipeline.py expects."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from support.playbook import run_playbook

from train_job import traffic

pytestmark = pytest.mark.e2e

MODEL, SERVED = "e2e-fraud-model", "e2e-fraud"
ROWS = 1000  # sent in two requests of 500 rows: the shared demo's payload batch (conftest.py), written at once
CHALLENGER_ROWS = 50000  # as test_local_loop.py's challengers


def _infer_url(demo) -> str:
    return f"http://127.0.0.1:{demo['ports']['model_serving_local_port']}/v2/models/{SERVED}/infer"


def _send(demo, drift: float, seed: int) -> None:
    """ROWS rows of the given world (python -m train_job.traffic), scored in two requests; returns once the payload
    log wrote them."""
    base = f"http://127.0.0.1:{demo['ports']['model_serving_local_port']}"

    def written() -> float:
        text = requests.get(f"{base}/metrics", timeout=10).text
        return next(float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith('fraud_model_payload_rows_total{outcome="written"}'))

    before = written()
    tally = traffic.send(_infer_url(demo), rows=ROWS, batch=ROWS // 2, drift=drift, seed=seed,
                         seconds=60)
    assert (tally["rows"], tally["failed"], tally["versions"]) == (ROWS, {}, {"1": 2}), tally
    deadline = time.monotonic() + 30
    while written() < before + ROWS:
        assert time.monotonic() < deadline, "the payload log did not write the rows within 30 s"
        time.sleep(0.2)


def _vars(demo, tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "monitor-vars.json"
    path.write_text(json.dumps({**json.loads(demo["vars"].read_text()), "monitor_rows": ROWS, **extra}))
    return path


def test_traffic_like_the_training_data_is_no_drift_and_retrains_nothing(demo, mlflow_client, tmp_path) -> None:
    versions = len(mlflow_client.search_model_versions(f"name='{MODEL}'"))
    _send(demo, drift=0.0, seed=21)
    _, output = run_playbook("monitor.yml", _vars(demo, tmp_path, monitor_retrain_on_drift=True), demo["state_dir"])
    said = " ".join(output.split())
    assert f"{MODEL} version 1, {ROWS} served rows: no drift" in said, output[-3000:]
    report = json.loads((demo["state_dir"] / "monitor" / "report.json").read_text())
    assert report["verdict"] == "no drift" and report["version"] == "1" and report["rows"] == ROWS
    # retrain.yml's steps were skipped: none of their messages, no new version
    assert "Serving: version" not in said and "Drift: retraining" not in said
    assert len(mlflow_client.search_model_versions(f"name='{MODEL}'")) == versions


def test_drifted_traffic_is_named_logged_with_its_plot_retrains_and_serves_the_winner(demo, mlflow_client,
                                                                                       tmp_path) -> None:
    versions = len(mlflow_client.search_model_versions(f"name='{MODEL}'"))
    _send(demo, drift=1.0, seed=22)
    # Retrain on the drifted world (a seed of its own: the loop's challenger on that world was trained already).
    _, output = run_playbook("monitor.yml", _vars(demo, tmp_path, monitor_retrain_on_drift=True,
                                                  training_synthetic_drift=1, training_seed=11,
                                                  training_rows=CHALLENGER_ROWS), demo["state_dir"])
    said = " ".join(output.split())
    report = json.loads((demo["state_dir"] / "monitor" / "report.json").read_text())
    assert {"ratio_to_median_purchase_price", "online_order"} <= set(report["drifted"]), report["verdict"]
    assert f"served rows: {report['verdict']}" in said and "Drift: retraining (monitor_retrain_on_drift)" in said
    run = mlflow_client.get_run(report["run_id"])
    assert mlflow_client.get_experiment(run.info.experiment_id).name == f"{MODEL}-monitoring"
    assert run.data.tags["drifted"] == "true" and run.data.metrics["psi_online_order"] >= 0.1
    assert {item.path for item in mlflow_client.list_artifacts(run.info.run_id)} == {"drift.png", "drift_report.json"}
    # drift -> retrain -> promoted -> served, and the report and the new version name each other
    challenger = str(versions + 1)
    assert report["retrained"] == {"challenger": challenger, "promoted": True, "serving": challenger,
                                   "gate": report["retrained"]["gate"]}, output[-3000:]
    assert mlflow_client.get_model_version(MODEL, challenger).tags["drift_report"] == report["run_id"]
    assert f"led to version {challenger} (promoted); version {challenger} serves" in said
    assert traffic.send(_infer_url(demo), rows=10, batch=10, drift=0.0, seed=23, seconds=30)["versions"] == {
        challenger: 1}
    # Back to version 1 for test_local_pipeline.py: one command
    run_playbook("retrain.yml", _vars(demo, tmp_path, model_artifact_version=1), demo["state_dir"])
    assert traffic.send(_infer_url(demo), rows=10, batch=10, drift=0.0, seed=24, seconds=30)["versions"] == {"1": 1}
