"""The MLOps loop on the local target (retrain.yml) against the shared demo (conftest.py), between the read-only
lockdown probes and test_local_pipeline.py (which expects version 1 served: the last test here rolls back to it).

v1 served -> retrain on drifted data with a load generator (2 clients) running through the whole run: the
challenger wins the gate, is rolled out, no request fails, every answer comes from v1 or v2 (16 clients:
tests/model_server/test_model_server_rollout.py, bench/rollout_benchmark.py) -> the same run again changes
nothing -> a worse challenger (label noise) loses the gate and serving is untouched -> a version that answers 0.5
for everything, forced through, fails its smoke check and is rolled back (the run fails naming why) -> rollback
to version 1 by name is one command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from support.playbook import ansible_playbook, run_playbook

pytestmark = pytest.mark.e2e

MODEL, ALIAS, SERVED = "e2e-fraud-model", "production", "e2e-fraud"
LOAD_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "http_load.py"
REGISTER_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "register_constant_version.py"
ROW = {"inputs": [{"name": "dense_input", "shape": [1, 7], "datatype": "FP32", "data": [3.0, 0.4, 0.6, 1, 1, 1, 0]}]}


# The challengers train on 50k new rows (v1 had 100k): enough to win on drifted data (and, with label noise, to
# lose), in half the time.
CHALLENGER_ROWS = 50000


def _vars(demo, tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "retrain-vars.json"
    path.write_text(json.dumps({**json.loads(demo["vars"].read_text()), "training_rows": CHALLENGER_ROWS, **extra}))
    return path


def _served_version(demo) -> str:
    url = f"http://127.0.0.1:{demo['ports']['model_serving_local_port']}/v2/models/{SERVED}/infer"
    answer = requests.post(url, json=ROW, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["model_version"]


def test_a_challenger_on_drifted_data_wins_and_rolls_out_without_a_failed_request(
    demo, mlflow_client, tmp_path
) -> None:
    assert _served_version(demo) == "1"
    body, stop = tmp_path / "row.json", tmp_path / "stop"
    body.write_text(json.dumps(ROW))
    url = f"http://127.0.0.1:{demo['ports']['model_serving_local_port']}/v2/models/{SERVED}/infer"
    load = subprocess.Popen(
        [sys.executable, str(LOAD_SCRIPT), "--url", url, "--body-file", str(body), "--clients", "2",
         "--requests", "100000000", "--seconds", "900", "--tally-field", "model_version",
         "--expect-fragment", '"outputs"', "--stop-file", str(stop)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        changed, output = run_playbook("retrain.yml", _vars(demo, tmp_path, training_synthetic_drift=1),
                                       demo["state_dir"])
    finally:
        stop.touch()
        summary = json.loads(load.communicate(timeout=120)[0])
    assert changed > 0
    assert summary["errors"] == {}, summary
    assert set(summary["by_field"]) == {"1", "2"} and min(summary["by_field"].values()) > 0, summary
    assert _served_version(demo) == "2"
    version = mlflow_client.get_model_version_by_alias(MODEL, ALIAS)
    assert version.version == "2" and version.tags["gate_decision"] == "promoted", version.tags
    said = " ".join(output.split())  # the debug messages are folded over lines
    assert f"{MODEL} version 2" in said and f"alias {ALIAS} moved to it" in said
    assert "Serving: version 2" in said


def test_the_same_retrain_again_changes_nothing(demo, tmp_path) -> None:
    changed, _ = run_playbook("retrain.yml", _vars(demo, tmp_path, training_synthetic_drift=1), demo["state_dir"])
    assert changed == 0


def test_a_worse_challenger_loses_the_gate_and_serving_is_untouched(demo, mlflow_client, tmp_path) -> None:
    spec = demo["state_dir"] / "model-server" / "serving-spec.json"
    before = spec.stat().st_mtime_ns
    _, output = run_playbook("retrain.yml", _vars(demo, tmp_path, training_synthetic_drift=1,
                                                  training_label_noise=0.4), demo["state_dir"])
    loser = mlflow_client.get_model_version(MODEL, "3")
    assert loser.tags["gate_decision"] == "kept", loser.tags
    assert f"alias {ALIAS} stays" in " ".join(output.split())
    assert mlflow_client.get_model_version_by_alias(MODEL, ALIAS).version == "2"
    assert _served_version(demo) == "2" and spec.stat().st_mtime_ns == before


def test_a_version_that_fails_its_smoke_check_is_rolled_back_and_the_run_fails(
    demo, mlflow_client, tmp_path
) -> None:
    registered = tmp_path / "registered.json"
    tracking_uri = f"http://127.0.0.1:{demo['ports']['mlflow_server_local_port']}"
    subprocess.run([sys.executable, str(REGISTER_SCRIPT), tracking_uri, MODEL, str(registered)],
                   check=True, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)}, timeout=300,
                   capture_output=True)
    broken = json.loads(registered.read_text())["version"]
    returncode, output = ansible_playbook("retrain.yml", _vars(demo, tmp_path, model_artifact_version=broken),
                                          demo["state_dir"])
    assert returncode != 0
    said = " ".join(output.split())
    assert f"{MODEL} version {broken} failed its rollout" in said, output[-4000:]
    assert "The model scored the clearly fraudulent example 0.5" in said
    assert f"Rolled back: version 2 serves again, alias {ALIAS} points at it" in said
    assert _served_version(demo) == "2"
    assert mlflow_client.get_model_version_by_alias(MODEL, ALIAS).version == "2"
    assert mlflow_client.get_model_version(MODEL, broken).tags["rollout"].startswith("rolled back to version 2: ")


def test_rolling_back_to_a_named_version_is_one_command(demo, mlflow_client, tmp_path) -> None:
    changed, output = run_playbook("retrain.yml", _vars(demo, tmp_path, model_artifact_version=1),
                                   demo["state_dir"])
    assert changed > 0 and "nothing is trained" in " ".join(output.split())
    assert _served_version(demo) == "1"
    assert mlflow_client.get_model_version_by_alias(MODEL, ALIAS).version == "1"
