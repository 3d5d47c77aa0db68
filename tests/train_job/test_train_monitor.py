"""``python -m train_job.monitor`` against a real MLflow server and a real SeaweedFS bucket: the served version's
reference profile, the payload log's newest rows of that version, the verdict, and the drift run in MLflow."""

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from train_job import drift, monitor, synthetic


def rule_scores(features: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-synthetic.fraud_score(features)))


@pytest.fixture
def served(mlflow_server: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A registered version holding the alias, whose run stores the profile of 40,000 in-distribution rows."""
    name = f"monitor-test-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow_server)
    experiment = client.create_experiment(name)
    run = client.create_run(experiment)
    features, _ = synthetic.generate(40_000, seed=0)
    client.log_dict(run.info.run_id, drift.reference_profile(features, rule_scores(features)), drift.PROFILE_ARTIFACT)
    client.set_terminated(run.info.run_id)
    client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_model_version_tag(name, version.version, drift.PROFILE_TAG, drift.PROFILE_ARTIFACT)
    client.set_registered_model_alias(name, "production", version.version)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    return {"name": name, "client": client, "version": version.version, "run_id": run.info.run_id}


def put_rows(s3_server, prefix: str, key_time: str, version: str, rows: int, seed: int, drift_level: float) -> None:
    """The model server's payload lines (one per request of 100 rows) of ``rows`` rows of the given world."""
    features, _ = synthetic.generate(rows, seed=seed, drift=drift_level)
    lines = [json.dumps({"time": f"2026-12-07T00:00:{seed:02d}.000+00:00", "version": version,
                         "features": features[start:start + 100].tolist(),
                         "scores": rule_scores(features[start:start + 100]).tolist()})
             for start in range(0, rows, 100)]
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"{prefix}/credit-card-fraud/{key_time}Z-1-{seed}.jsonl",
                                  Body=("\n".join(lines) + "\n").encode())


def run_monitor(served: dict, s3_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, prefix: str,
                *extra: str) -> tuple[int, dict]:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    report = tmp_path / f"{uuid.uuid4().hex}.json"
    status = monitor.main(["--registered-model", served["name"], "--alias", "production", "--payload-prefix", prefix,
                           "--model-name", "credit-card-fraud", "--rows", "2000", "--report-file", str(report), *extra])
    return status, json.loads(report.read_text()) if report.exists() else {}


def test_in_distribution_traffic_is_no_drift_and_drifted_traffic_is(served: dict, s3_server, monkeypatch, tmp_path) -> None:
    prefix = f"payloads-{uuid.uuid4().hex[:6]}"
    put_rows(s3_server, prefix, "20261207T000001.000000", served["version"], 3000, seed=1, drift_level=0.0)
    put_rows(s3_server, prefix, "20261207T000002.000000", "99", 3000, seed=2, drift_level=1.0)  # another version's
    status, report = run_monitor(served, s3_server, monkeypatch, tmp_path, prefix)
    assert status == 0 and report["verdict"] == "no drift" and report["rows"] == 2000, report
    assert report["version"] == served["version"] and report["window"][0].startswith("2026-12-07T00:00:01")
    # newer traffic from the drifted world: the newest 2,000 rows of the served version are all drifted ones
    put_rows(s3_server, prefix, "20261207T000003.000000", served["version"], 2500, seed=3, drift_level=1.0)
    status, report = run_monitor(served, s3_server, monkeypatch, tmp_path, prefix, "--publish")
    assert status == 0 and set(report["drifted"]) >= {"ratio_to_median_purchase_price", "online_order"}, report
    # --publish: the same report in the payload folder, where the OpenShift payload receiver serves it to the app
    published = s3_server.client().get_object(Bucket=s3_server.bucket,
                                              Key=monitor.report_key(f"{prefix}/credit-card-fraud/"))
    assert json.loads(published["Body"].read()) == report
    assert report["verdict"].startswith("drift in ")
    client: MlflowClient = served["client"]
    run = client.get_run(report["run_id"])
    assert client.get_experiment(run.info.experiment_id).name == f"{served['name']}-monitoring"
    assert run.data.tags["verdict"] == report["verdict"] and run.data.tags["drifted"] == "true"
    assert run.data.metrics["psi_online_order"] == pytest.approx(
        next(c["psi"] for c in report["columns"] if c["column"] == "online_order"))
    assert run.data.params["version"] == served["version"] and run.data.params["rows"] == "2000"
    assert {item.path for item in client.list_artifacts(run.info.run_id)} == {"drift.png", "drift_report.json"}


def test_too_little_traffic_gives_no_verdict_and_a_version_without_a_profile_is_named(served: dict, s3_server,
                                                                                     monkeypatch, tmp_path, caplog) -> None:
    prefix = f"payloads-{uuid.uuid4().hex[:6]}"
    put_rows(s3_server, prefix, "20261207T000001.000000", served["version"], 100, seed=1, drift_level=1.0)
    status, report = run_monitor(served, s3_server, monkeypatch, tmp_path, prefix)
    assert status == 0 and report["drifted"] == [] and report["verdict"].startswith("not enough data (100 rows")
    client: MlflowClient = served["client"]
    bare = client.create_model_version(served["name"], "s3://nowhere/model", run_id=served["run_id"])
    client.set_registered_model_alias(served["name"], "production", bare.version)
    status, report = run_monitor(served, s3_server, monkeypatch, tmp_path, prefix)
    assert status == 1 and report == {}
    assert f"version {bare.version} has no reference_profile tag" in caplog.text
