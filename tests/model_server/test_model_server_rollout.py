"""Rollouts of a running server (--serving-spec, SIGHUP, `python -m fraud_model_server.switch`): under 16 clients
every request is answered, by the old version or the new one and by the new one only once the switch returns;
a model that cannot be fetched, opened or that has other inputs is refused and the served one keeps answering."""

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from support.model_server import SERVING_PYTHON, V2ModelServer, run_model_server, upload_model
from support.onnx_models import (
    FRAUDULENT_TRANSACTION,
    INPUT_NAME,
    NORMAL_TRANSACTION,
    WEIGHTS,
    constant_model,
    logistic_model,
    write_logistic_model,
)
from support.processes import log_tail
from support.s3 import S3Server

LOAD_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "http_load.py"
ROW = {"inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": NORMAL_TRANSACTION}]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _publish(s3: S3Server, model_file: Path) -> dict[str, str]:
    """Upload ``model_file`` to a fresh folder; (storage_path, sha256) for a spec."""
    return {"storage_path": upload_model(s3, model_file), "sha256": _sha256(model_file)}


def _write_spec(path: Path, published: dict[str, str], version: str) -> Path:
    path.write_text(json.dumps({**published, "version": version}))
    path.chmod(0o600)
    return path


def _switch(server: V2ModelServer, spec: Path, *extra: str) -> tuple[int, dict]:
    done = subprocess.run(
        [str(SERVING_PYTHON), "-m", "fraud_model_server.switch", "--workdir", str(server.workdir / "model"),
         "--serving-spec", str(spec), "--timeout", "30", *extra],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def _answer(server: V2ModelServer, row: list[float]) -> dict:
    body = {"inputs": [{"name": INPUT_NAME, "shape": [1, 7], "datatype": "FP32", "data": row}]}
    answer = requests.post(server.infer_url, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Version 1 (the tests' logistic model), version 2 (other weights: other scores), and broken ones."""
    folder = tmp_path_factory.mktemp("rollout-models")
    garbage = folder / "garbage" / "model.onnx"
    garbage.parent.mkdir()
    garbage.write_bytes(b"this is not an ONNX graph\n" * 10)
    return {
        "v1": write_logistic_model(folder / "v1" / "model.onnx"),
        "v2": write_logistic_model(folder / "v2" / "model.onnx", logistic_model(WEIGHTS * 1.5)),
        "constant": write_logistic_model(folder / "constant" / "model.onnx", constant_model()),
        "renamed": write_logistic_model(folder / "renamed" / "model.onnx", logistic_model(input_name="features")),
        "garbage": garbage,
    }


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_rollout_under_sixteen_clients_fails_no_request(
    s3_server: S3Server, models: dict[str, Path], tmp_path: Path, workers: str
) -> None:
    v1, v2 = _publish(s3_server, models["v1"]), _publish(s3_server, models["v2"])
    spec = _write_spec(tmp_path / "spec.json", v1, "1")
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path, extra_args=("--workers", workers)) as server:
        v1_score = _answer(server, FRAUDULENT_TRANSACTION)["outputs"][0]["data"][0]
        body, stop = tmp_path / "row.json", tmp_path / "stop"
        body.write_text(json.dumps(ROW))
        load = subprocess.Popen(
            [sys.executable, str(LOAD_SCRIPT), "--url", server.infer_url, "--body-file", str(body), "--clients", "16",
             "--requests", "10000000", "--seconds", "60", "--tally-field", "model_version",
             "--expect-fragment", '"outputs"', "--stop-file", str(stop)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            time.sleep(1.5)
            _write_spec(spec, v2, "2")
            status, result = _switch(server, spec)
            after = [_answer(server, FRAUDULENT_TRANSACTION) for _ in range(20)]  # new connections each
            time.sleep(1.0)
        finally:
            stop.touch()
            summary = json.loads(load.communicate(timeout=60)[0])
        assert status == 0 and result["changed"] is True, (result, log_tail(server.log_file))
        assert result["processes"] == int(workers)
        assert summary["errors"] == {}, summary
        assert set(summary["by_field"]) == {"1", "2"} and min(summary["by_field"].values()) > 0, summary
        assert {answer["model_version"] for answer in after} == {"2"}
        assert after[0]["outputs"][0]["data"][0] != pytest.approx(v1_score)
        assert requests.get(server.model_url, timeout=10).json()["versions"] == ["2"]
        # the same spec again: nothing to do, nothing signalled
        assert _switch(server, spec) == (0, {"changed": False, "serving": {**v2, "version": "2", "threshold": None},
                                             "processes": int(workers)})
        # back to version 1 (a rollback is a rollout to the older version)
        _write_spec(spec, v1, "1")
        assert _switch(server, spec)[0] == 0
        answer = _answer(server, FRAUDULENT_TRANSACTION)
        assert answer["model_version"] == "1"
        assert answer["outputs"][0]["data"][0] == pytest.approx(v1_score)
        assert requests.get(server.model_url, timeout=10).json()["versions"] == ["1"]
    log = server.log_file.read_text()
    assert "rollout: now serving version 2" in log and "rollout: now serving version 1" in log
    assert not list((tmp_path / "model").glob("rollout-*")), "a rollout's download is removed once loaded"


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("garbage", "INVALID_PROTOBUF"),
        ("wrong digest", "has SHA-256"),
        ("renamed", "its clients' requests would fail"),
        ("missing", "does not exist"),
    ],
)
def test_a_model_that_cannot_serve_is_refused_and_the_served_one_stays(
    s3_server: S3Server, models: dict[str, Path], tmp_path: Path, broken: str, reason: str
) -> None:
    v1 = _publish(s3_server, models["v1"])
    spec = _write_spec(tmp_path / "spec.json", v1, "1")
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path) as server:
        if broken == "wrong digest":
            bad = {**_publish(s3_server, models["v2"]), "sha256": "0" * 64}
        elif broken == "missing":
            bad = {"storage_path": "models/never-uploaded", "sha256": v1["sha256"]}
        else:
            bad = _publish(s3_server, models[broken])
        _write_spec(spec, bad, "9")
        status, result = _switch(server, spec)
        assert status == 1 and result["failed"] is True, result
        assert reason in result["msg"] and "version 9" in result["msg"], result
        answer = _answer(server, FRAUDULENT_TRANSACTION)
        assert answer["model_version"] == "1"
        assert requests.get(server.model_url, timeout=10).json()["versions"] == ["1"]
    assert "rollout refused, still serving version 1" in server.log_file.read_text()


def test_a_constant_model_rolls_out_its_checks_are_the_callers(
    s3_server: S3Server, models: dict[str, Path], tmp_path: Path
) -> None:
    """A model that loads and scores everything 0.5 is served: telling it is useless is the smoke check's job
    (the model_serving role's, which then rolls back)."""
    spec = _write_spec(tmp_path / "spec.json", _publish(s3_server, models["v1"]), "1")
    with run_model_server(s3_server.env, f"spec:{spec}", tmp_path) as server:
        _write_spec(spec, _publish(s3_server, models["constant"]), "3")
        assert _switch(server, spec)[0] == 0
        scores = [_answer(server, row)["outputs"][0]["data"][0] for row in (FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION)]
        assert np.allclose(scores, 0.5)


def test_switch_refuses_bad_input_and_says_when_no_server_runs(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"storage_path": "models/x", "sha256": "abc"}))
    command = [str(SERVING_PYTHON), "-m", "fraud_model_server.switch", "--workdir", str(tmp_path),
               "--serving-spec", str(spec)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "sha256 must be 64 hexadecimal digits, got 'abc'" in done.stderr
    spec.write_text(json.dumps({"storage_path": "models/x", "version": "1"}))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done
    assert json.loads(done.stdout)["msg"] == f"no model server runs from {tmp_path} (no readable server.pid)"
