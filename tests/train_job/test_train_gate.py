"""The gate against a real MLflow server (SQLite, artifacts proxied to a real SeaweedFS S3), on the data that makes
the MLOps loop worth showing: a champion trained before the drift loses to a challenger trained after it, on the
new data's holdout; a challenger trained on flipped labels loses to that one."""

import json
import uuid
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from support.mlflow_server import ARTIFACTS_PREFIX

from train_job.task import main

RUN = ["--rows", "30000", "--epochs", "3", "--batch-size", "512", "--seed", "5", "--alias", "champion"]


@pytest.fixture
def tracked(mlflow_server: str, s3_server, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in (*s3_server.env, "MLFLOW_TRACKING_URI", "MLFLOW_ROUTE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", f"s3://{s3_server.bucket}/{ARTIFACTS_PREFIX}")
    yield mlflow_server
    mlflow.set_tracking_uri(None)


def test_drifted_data_promotes_the_challenger_and_flipped_labels_do_not(tracked: str, tmp_path: Path) -> None:
    model = f"gate-test-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(tracking_uri=tracked)

    def train(*extra: str) -> dict:
        summary = tmp_path / "summary.json"
        assert main([*RUN, "--registered-model", model, "--summary-file", str(summary), *extra]) == 0
        return json.loads(summary.read_text())

    before = train("--drift", "0")
    after = train("--drift", "1", "--promotion-min-gain", "0.02")
    gate = after["gate"]
    assert (after["version"], after["alias_moved"], gate["gate_decision"], gate["gate_champion_version"]) == ("2", True, "promoted", "1")
    # the old champion, scored on the drifted holdout, is well below what it scored on its own data
    champion_on_new = float(gate["gate_champion_pr_auc"])
    assert champion_on_new < before["metrics"]["pr_auc"] - 0.05
    assert float(gate["gate_challenger_pr_auc"]) > champion_on_new + 0.02
    noisy = train("--drift", "1", "--label-noise", "0.4", "--promotion-min-gain", "0.02")
    assert (noisy["version"], noisy["alias_moved"], noisy["gate"]["gate_decision"]) == ("3", False, "kept")
    assert noisy["gate"]["gate_champion_version"] == "2"
    assert client.get_model_version_by_alias(model, "champion").version == "2"


def test_the_gates_rule() -> None:
    from train_job.gate import Champion, decide

    assert decide("pr_auc", 0.7, None, 0.0, False).moved
    # the same model scores the same: at a gain of 0 it passes (a forced retrain on unchanged data moves the alias)
    assert decide("pr_auc", 0.7, Champion("1", 0.7), 0.0, False).moved
    kept = decide("pr_auc", 0.705, Champion("1", 0.7), 0.01, False)
    assert (kept.moved, kept.previous_version, kept.previous_value) == (False, "1", 0.7)
    assert kept.reason == "holdout pr_auc: challenger 0.705000, champion version 1 0.700000, gain +0.005000 < 0.01"
    unscored = decide("roc_auc", 0.9, Champion("4", None, "OSError: gone"), 0.0, False)
    assert not unscored.moved and "champion version 4 cannot be scored on the holdout (OSError: gone)" in unscored.reason
    forced = decide("pr_auc", 0.1, Champion("1", 0.7), 0.0, True)
    assert forced.moved and forced.reason.startswith("forced (the gate said no: holdout pr_auc: challenger 0.100000")
