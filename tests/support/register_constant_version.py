"""Register a version that loads and answers but tells nothing apart (every score 0.5), tagged as train_job tags
its versions (threshold, model_sha256): what a rollout's smoke check must catch.

    python tests/support/register_constant_version.py <tracking-uri> <registered-model> <out.json>

Runs as its own process (MLflow's tracking state is process-wide); the login comes from MLFLOW_TRACKING_USERNAME
and MLFLOW_TRACKING_PASSWORD. Writes {"version": ..., "sha256": ...} to out.json.
"""

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.onnx_models import constant_model  # noqa: E402 (needs the path above)

TRAINED_OUTPUT = "probability"  # train_job's ONNX output: the same interface as the served model


def main(tracking_uri: str, model_name: str, out: Path) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(model_name)
    with mlflow.start_run(run_name="constant-0.5"):
        logged = mlflow.onnx.log_model(constant_model(output_name=TRAINED_OUTPUT), name="model",
                                       registered_model_name=model_name, pip_requirements=["onnxruntime"])
    version = str(logged.registered_model_version)
    with tempfile.TemporaryDirectory() as folder:
        local = mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version}", dst_path=folder)
        digest = hashlib.sha256((Path(local) / "model.onnx").read_bytes()).hexdigest()
    client = MlflowClient(tracking_uri)
    for key, value in {"threshold": "0.9", "threshold_policy": "fixed:0.9", "model_sha256": digest}.items():
        client.set_model_version_tag(model_name, version, key, value)
    out.write_text(json.dumps({"version": version, "sha256": digest}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
