"""The demo that test_local_lockdown.py and test_local_pipeline.py share (test_faults.py stands up its own)."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from support.playbook import demo_ports, mlflow_login, run_playbook

IDENTITY = {"fraud_demo_registered_model": "e2e-fraud-model", "fraud_demo_model_alias": "production",
            "fraud_demo_serving_name": "e2e-fraud"}


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """Stand the demo up once on free ports and a temporary state directory; torn down after the last e2e module.

    Modules run in name order: test_local_lockdown.py (read-only probes), then test_local_pipeline.py, which reruns
    the playbook and ends with its own teardown test."""
    base = tmp_path_factory.mktemp("e2e")
    state_dir = base / "state"
    ports = demo_ports()
    extra_vars = base / "vars.json"
    # 100k rows, 3 epochs: small enough for CI, enough for the smoke examples to fall clearly on their side of the
    # threshold the run chooses.
    # Payload batches of 500 rows: test_local_monitor.py's requests of 500 rows are in the bucket at once.
    extra_vars.write_text(json.dumps({**ports, **IDENTITY, "training_rows": 100000, "training_epochs": 3,
                                      "model_serving_payload_log_batch_rows": 500}))
    try:
        # -vvv on the first run: the secrets tests prove that even verbose output carries no key.
        changed, output = run_playbook("site.yml", extra_vars, state_dir, "-vvv")
        yield {"state_dir": state_dir, "ports": ports, "vars": extra_vars, "first_changed": changed, "output": output}
    finally:
        if state_dir.exists():
            run_playbook("teardown.yml", extra_vars, state_dir)


@pytest.fixture
def mlflow_client(demo, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """An MLflow client of the demo's server with its login (MLflow's clients read it from the environment)."""
    username, password = mlflow_login(demo["state_dir"])
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    return MlflowClient(f"http://127.0.0.1:{demo['ports']['mlflow_server_local_port']}")
