"""The scripts the OpenShift roles run in Jobs, against real servers: copy_model.py (model_serving, KServe's
``1/`` version folder) with a real S3 server, smoke_infer.py (demo_verify's in-cluster check) with the real V2
model server."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.model_server import V2ModelServer
from support.onnx_models import FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION, expected_probabilities, write_logistic_model
from support.ports import free_port
from support.processes import child_env
from support.s3 import S3Server

ROLES = Path(__file__).resolve().parents[2] / "roles"
COPY_MODEL = ROLES / "model_serving" / "files" / "copy_model.py"
SMOKE_INFER = ROLES / "demo_verify" / "files" / "smoke_infer.py"


def run_script(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` the way its Job does: environment only, no arguments."""
    return subprocess.run([sys.executable, str(script)], env=child_env(env), capture_output=True, text=True, timeout=60)


@pytest.fixture
def model_folder(s3_server: S3Server, tmp_path: Path) -> str:
    """A fresh bucket folder holding model.onnx, as MLflow leaves a logged model."""
    folder = f"mlflow/1/models/m-{tmp_path.name}/artifacts"
    model = write_logistic_model(tmp_path / "model.onnx")
    s3_server.client().upload_file(str(model), s3_server.bucket, f"{folder}/model.onnx")
    return folder


def test_copy_model_places_the_model_in_a_version_folder_once(s3_server: S3Server, model_folder: str) -> None:
    env = s3_server.env | {"SOURCE_KEY": f"{model_folder}/model.onnx", "TARGET_KEY": f"serving/{model_folder}/1/model.onnx"}
    first = run_script(COPY_MODEL, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("copied ")
    client = s3_server.client()
    source = client.get_object(Bucket=s3_server.bucket, Key=env["SOURCE_KEY"])["Body"].read()
    target = client.get_object(Bucket=s3_server.bucket, Key=env["TARGET_KEY"])["Body"].read()
    assert target == source
    second = run_script(COPY_MODEL, env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("already there: ")


def test_copy_model_reports_a_folder_without_model_onnx(s3_server: S3Server) -> None:
    env = s3_server.env | {"SOURCE_KEY": "mlflow/1/models/m-none/artifacts/model.onnx", "TARGET_KEY": "serving/x/1/model.onnx"}
    result = run_script(COPY_MODEL, env)
    assert result.returncode == 1
    assert f"s3://{s3_server.bucket}/mlflow/1/models/m-none/artifacts/model.onnx does not exist" in result.stderr
    assert "no model.onnx" in result.stderr


def test_copy_model_reports_wrong_keys_without_printing_them(s3_server: S3Server, model_folder: str) -> None:
    wrong_secret = "wrong" + s3_server.secret_access_key[5:]
    env = s3_server.env | {"AWS_SECRET_ACCESS_KEY": wrong_secret, "SOURCE_KEY": f"{model_folder}/model.onnx", "TARGET_KEY": "t/1/model.onnx"}
    result = run_script(COPY_MODEL, env)
    assert result.returncode == 1
    assert f"reading s3://{s3_server.bucket}/{model_folder}/model.onnx or writing t/1/model.onnx failed" in result.stderr
    assert wrong_secret not in result.stderr + result.stdout
    assert s3_server.secret_access_key not in result.stderr + result.stdout


def test_copy_model_names_missing_variables() -> None:
    result = run_script(COPY_MODEL, {"SOURCE_KEY": "a/model.onnx"})
    assert result.returncode == 1
    assert "missing environment variables: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_S3_ENDPOINT, AWS_S3_BUCKET" in result.stderr


def _digest(s3_server: S3Server, key: str) -> str:
    return hashlib.sha256(s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()).hexdigest()


def test_copy_model_refuses_a_source_whose_digest_is_not_the_registered_one(s3_server: S3Server, model_folder: str) -> None:
    """model.onnx replaced in the bucket after registration: the Job fails naming both digests, writes nothing."""
    source = f"{model_folder}/model.onnx"
    registered = hashlib.sha256(b"the model that was trained").hexdigest()
    env = s3_server.env | {"SOURCE_KEY": source, "TARGET_KEY": f"serving/{model_folder}/1/model.onnx", "EXPECTED_SHA256": registered}
    result = run_script(COPY_MODEL, env)
    assert result.returncode == 1
    assert f"s3://{s3_server.bucket}/{source} has SHA-256 {_digest(s3_server, source)}, not {registered}" in result.stderr
    listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=f"serving/{model_folder}/")
    assert listed.get("KeyCount", 0) == 0
    verify_only = run_script(COPY_MODEL, {k: v for k, v in env.items() if k != "TARGET_KEY"})  # ModelMesh
    assert verify_only.returncode == 1
    assert f"not {registered}" in verify_only.stderr


def test_copy_model_checks_the_digest_and_replaces_an_altered_target(s3_server: S3Server, model_folder: str) -> None:
    source, target = f"{model_folder}/model.onnx", f"serving/{model_folder}/1/model.onnx"
    digest = _digest(s3_server, source)
    env = s3_server.env | {"SOURCE_KEY": source, "TARGET_KEY": target, "EXPECTED_SHA256": digest.upper()}
    first = run_script(COPY_MODEL, env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"SHA-256 {digest} checked: copied ")
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=target, Body=b"not the model")
    again = run_script(COPY_MODEL, env)
    assert again.returncode == 0, again.stderr
    assert "checked: copied" in again.stdout
    assert _digest(s3_server, target) == digest
    verify_only = run_script(COPY_MODEL, {k: v for k, v in env.items() if k != "TARGET_KEY"})
    assert verify_only.returncode == 0, verify_only.stderr
    assert verify_only.stdout == f"SHA-256 {digest} checked: s3://{s3_server.bucket}/{source}\n"


def test_copy_model_rejects_a_malformed_digest(s3_server: S3Server, model_folder: str) -> None:
    result = run_script(COPY_MODEL, s3_server.env | {"SOURCE_KEY": f"{model_folder}/model.onnx", "EXPECTED_SHA256": "abc"})
    assert result.returncode == 1
    assert "EXPECTED_SHA256 'abc' is not a SHA-256" in result.stderr


def _examples(threshold: float, flip: bool = False) -> list[dict[str, object]]:
    rows = np.array([FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION], dtype=np.float32)
    scores = expected_probabilities(rows).reshape(-1)
    assert scores[0] > threshold > scores[1], "the logistic model must separate the two transactions"
    return [
        {"name": "fraudulent", "features": FRAUDULENT_TRANSACTION, "fraud": not flip},
        {"name": "normal", "features": NORMAL_TRANSACTION, "fraud": flip},
    ]


def test_smoke_infer_passes_when_each_example_gets_its_label(v2_model_server: V2ModelServer) -> None:
    env = {"INFER_URL": v2_model_server.infer_url, "EXAMPLES": json.dumps(_examples(0.5)), "THRESHOLD": "0.5"}
    result = run_script(SMOKE_INFER, env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    expected = expected_probabilities(np.array([FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION], dtype=np.float32)).reshape(-1)
    assert [e["score"] for e in report["examples"]] == pytest.approx(expected.tolist(), abs=1e-5)


def test_smoke_infer_fails_when_the_model_disagrees(v2_model_server: V2ModelServer) -> None:
    env = {"INFER_URL": v2_model_server.infer_url, "EXAMPLES": json.dumps(_examples(0.5, flip=True)), "THRESHOLD": "0.5"}
    result = run_script(SMOKE_INFER, env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [e["ok"] for e in report["examples"]] == [False, False]


def test_smoke_infer_reports_an_unreachable_endpoint() -> None:
    url = f"http://127.0.0.1:{free_port()}/v2/models/credit-card-fraud/infer"
    result = run_script(SMOKE_INFER, {"INFER_URL": url, "EXAMPLES": json.dumps(_examples(0.5)), "THRESHOLD": "0.5"})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert all("error" in e for e in report["examples"])


def test_smoke_infer_reports_a_wrong_model_name(v2_model_server: V2ModelServer) -> None:
    url = f"{v2_model_server.base_url}/v2/models/no-such-model/infer"
    result = run_script(SMOKE_INFER, {"INFER_URL": url, "EXAMPLES": json.dumps(_examples(0.5)), "THRESHOLD": "0.5"})
    assert result.returncode == 1
    assert "HTTP 404" in json.loads(result.stdout)["examples"][0]["error"]


FETCH_MODEL = ROLES / "fraud_app" / "files" / "fetch_model.py"
REGISTER_MODELS = Path(__file__).resolve().parents[1] / "unit" / "register_test_models.py"


@pytest.fixture(scope="module")
def registered_model(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A registered model with versions 1 and 2 (logged as training does, mlflow.onnx) and an empty one."""
    workdir = tmp_path_factory.mktemp("registered")
    name = f"fetch-{workdir.name}"
    subprocess.run(
        [sys.executable, str(REGISTER_MODELS), mlflow_server, name, f"{name}-empty", str(workdir / "out.json")],
        check=True, cwd=workdir, env=child_env({"HOME": str(workdir)}), timeout=300, capture_output=True,
    )
    return name


def test_fetch_model_puts_model_onnx_in_the_version_folder(mlflow_server: str, registered_model: str, tmp_path: Path) -> None:
    import onnxruntime

    target = tmp_path / "models" / "credit-card-fraud" / "1"
    env = {"MLFLOW_TRACKING_URI": mlflow_server, "MODEL_URI": f"models:/{registered_model}/2", "TARGET_DIR": str(target),
           "HOME": str(tmp_path)}
    result = run_script(FETCH_MODEL, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"fetched models:/{registered_model}/2 -> {target / 'model.onnx'}")
    assert sorted(p.name for p in target.iterdir()) == ["model.onnx"]
    session = onnxruntime.InferenceSession(str(target / "model.onnx"))
    rows = np.array([FRAUDULENT_TRANSACTION, NORMAL_TRANSACTION], dtype=np.float32)
    scores = session.run(None, {session.get_inputs()[0].name: rows})[0]
    assert session.get_inputs()[0].name == "dense_input"
    assert scores.reshape(-1).tolist() == pytest.approx(expected_probabilities(rows).reshape(-1).tolist(), abs=1e-6)


def test_fetch_model_reports_an_unknown_version(mlflow_server: str, registered_model: str, tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_server, "MODEL_URI": f"models:/{registered_model}/9", "TARGET_DIR": str(tmp_path),
           "HOME": str(tmp_path)}
    result = run_script(FETCH_MODEL, env)
    assert result.returncode == 1
    assert f"MLflow cannot give models:/{registered_model}/9" in result.stderr
    assert not (tmp_path / "model.onnx").exists()


def test_fetch_model_refuses_a_uri_that_is_not_a_registered_model(tmp_path: Path) -> None:
    env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:1", "MODEL_URI": "s3://bucket/model.onnx", "TARGET_DIR": str(tmp_path)}
    result = run_script(FETCH_MODEL, env)
    assert result.returncode == 1
    assert "MODEL_URI='s3://bucket/model.onnx' is not a models:/<name>/<version> URI" in result.stderr
