"""The local target end to end: `ansible-playbook site.yml` on a small generated dataset with real components,
then inference, the app, a second run that changes nothing, and a teardown that leaves nothing behind.

The run renames the model's identity (inventories/common/model.yml) in one place, on the command line: what is
trained, registered, resolved, served, smoke-checked and summarised must all follow (test_faults.py runs the
default names). The demo is the package fixture `demo` (conftest.py), shared with test_local_lockdown.py, which runs
first; this module ends with the teardown."""

from __future__ import annotations

import json

import pytest
import requests
from support.playbook import processes_under, run_playbook

pytestmark = pytest.mark.e2e


def test_first_run_reports_changes_and_the_summary(demo) -> None:
    assert demo["first_changed"] > 0
    assert "Fraud check app:" in demo["output"]
    assert "Model endpoint:" in demo["output"]
    # demo_verify's smoke check through the app's backend (Gradio API) gave both examples their labels
    assert "app, clearly fraudulent: Fraud" in demo["output"]
    assert "app, clearly normal: Not fraud" in demo["output"]
    assert "Registered:      e2e-fraud-model version 1" in demo["output"]
    assert "/v2/models/e2e-fraud/infer" in demo["output"]
    port = demo["ports"]["model_serving_local_port"]
    assert f"Monitoring:      metrics http://127.0.0.1:{port}/metrics; drift" in demo["output"]  # (YAML wraps the rest)
    # the state directory is the demo's: made by it (so teardown removes it, below), private, marked
    marker = demo["state_dir"] / ".fraud-demo-state"
    assert marker.read_text().splitlines()[-1] == "made: true"
    assert demo["state_dir"].stat().st_mode & 0o777 == 0o700


def test_the_renamed_identity_is_what_mlflow_holds(demo, mlflow_client) -> None:
    """Trained and registered under the overridden name, the overridden alias on the version, nothing else."""
    client = mlflow_client
    assert [model.name for model in client.search_registered_models()] == ["e2e-fraud-model"]
    assert [experiment.name for experiment in client.search_experiments()
            if experiment.name not in ("Default", "e2e-fraud-model-monitoring")] == ["e2e-fraud-model"]
    version = client.get_model_version_by_alias("e2e-fraud-model", "production")
    assert version.version == "1"
    threshold = float(version.tags["threshold"])
    # the summary's operating point is the version's own threshold, and the app applies it
    assert f"Operating point: fraud at or above {threshold}" in demo["output"]
    # the model server checks the file it serves against the version's digest: its serving spec (0600) names both,
    # and the threshold its metrics count flagged rows at
    spec_file = demo["state_dir"] / "model-server" / "serving-spec.json"
    spec = json.loads(spec_file.read_text())
    assert spec == {"storage_path": spec["storage_path"], "sha256": version.tags["model_sha256"], "version": "1",
                    "threshold": threshold}
    # the registry's download URI (MLflow 3's logged-model folder, proxied under the bucket's mlflow/ prefix)
    download_uri = client.get_model_version_download_uri("e2e-fraud-model", "1")
    assert spec["storage_path"] == "mlflow/" + download_uri.removeprefix("mlflow-artifacts:/"), download_uri
    assert spec_file.stat().st_mode & 0o777 == 0o600
    program = (demo["state_dir"] / "supervisor" / "conf.d" / "model-server.conf").read_text()
    assert f"--serving-spec={spec_file}" in program
    assert "--payload-log-prefix=payloads --payload-log-sample=1.0" in program  # the drift report's input


def test_v2_inference_returns_a_probability(demo) -> None:
    port = demo["ports"]["model_serving_local_port"]
    base = f"http://127.0.0.1:{port}/v2"
    assert requests.get(f"{base}/health/ready", timeout=10).status_code == 200
    meta = requests.get(f"{base}/models/e2e-fraud", timeout=10).json()
    assert meta["inputs"][0]["name"] == "dense_input"
    body = {"inputs": [{"name": "dense_input", "shape": [2, 7], "datatype": "FP32",
                        "data": [300.0, 100.0, 20.0, 0, 0, 0, 1, 3.0, 0.4, 0.6, 1, 1, 1, 0]}]}
    answer = requests.post(f"{base}/models/e2e-fraud/infer", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_name"] == "e2e-fraud"
    # the registered version that answered: what the registry's alias points at (the summary says it was checked)
    assert answer.json()["model_version"] == "1"
    assert meta["versions"] == ["1"]
    assert "Serving:         version 1 (model_version in every answer" in demo["output"]
    fraud, normal = answer.json()["outputs"][0]["data"]
    assert 0.0 <= normal < 0.5 < 0.995 < fraud <= 1.0
    # its Prometheus metrics: version 1 served, these rows (and the smoke checks' before them) counted
    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'fraud_model_serving_processes{version="1"}' in metrics
    rows = next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("fraud_model_rows_scored_total"))
    flagged = next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("fraud_model_flagged_rows_total"))
    assert rows >= 2 and 1 <= flagged < rows


def test_app_answers_over_http(demo, mlflow_client) -> None:
    port = demo["ports"]["fraud_app_local_port"]
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert page.status_code == 200
    assert "distance" in page.text.lower()
    # the app applies the served version's threshold (its intro names it)
    threshold = float(mlflow_client.get_model_version_by_alias("e2e-fraud-model", "production").tags["threshold"])
    assert f"at or above **{threshold:g}**" in page.text


def test_secrets_file_is_private_and_keys_stay_out_of_the_output(demo) -> None:
    secrets = demo["state_dir"] / "secrets" / "data-connection.env"
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    values = dict(line.split("=", 1) for line in secrets.read_text().splitlines() if "=" in line and not line.startswith("#"))
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert values[key] and values[key] not in demo["output"]
        assert not [c for c in processes_under(demo["state_dir"]) if values[key] in c]


def test_no_key_in_any_state_file_but_the_secrets_file(demo) -> None:
    secrets = demo["state_dir"] / "secrets" / "data-connection.env"
    values = dict(line.split("=", 1) for line in secrets.read_text().splitlines() if "=" in line and not line.startswith("#"))
    keys = [values["AWS_ACCESS_KEY_ID"].encode(), values["AWS_SECRET_ACCESS_KEY"].encode()]
    leaks = [str(path) for path in demo["state_dir"].rglob("*")
             if path.is_file() and path != secrets and any(key in path.read_bytes() for key in keys)]
    assert not leaks


def test_second_run_changes_nothing(demo) -> None:
    changed, output = run_playbook("site.yml", demo["vars"], demo["state_dir"])
    assert changed == 0, output[-6000:]


def test_teardown_leaves_no_process_and_no_state(demo) -> None:
    run_playbook("teardown.yml", demo["vars"], demo["state_dir"])
    assert not processes_under(demo["state_dir"])
    assert not demo["state_dir"].exists(), list(demo["state_dir"].rglob("*"))[:20]
