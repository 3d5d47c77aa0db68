"""Register a version that loads and answers but tells nothing apart (every score 0.5), tagged as train_job tags
its versions (threshold, model_sha256): what a rollout's smoke check must catch.

    python tests/support/register_constant_version.py <tracking-uri> <registered-model> <out.json>
        [--token-file FILE] [--ca-bundle FILE]

Runs as its own process (MLflow's tracking state is process-wide). The login comes from MLFLOW_TRACKING_USERNAME
and MLFLOW_TRACKING_PASSWORD (the local MLflow), or a bearer token read from --token-file (an OpenShift Route's
oauth-proxy: the token never goes on a command line); --ca-bundle is the CA that signed the server's certificate.
Writes {"version": ..., "sha256": ...} to out.json.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.onnx_models import constant_model  # noqa: E402 (needs the path above)

TRAINED_OUTPUT = "probability"  # train_job's ONNX output: the same interface as the served model


def main(tracking_uri: str, model_name: str, out: Path) -> None:
    model = constant_model(output_name=TRAINED_OUTPUT)
    # The digest of model.onnx as MLflow writes it, computed here: reading it back could take a presigned URL of a
    # bucket only the cluster reaches (the server's own S3 endpoint).
    with tempfile.TemporaryDirectory() as folder:
        mlflow.onnx.save_model(model, f"{folder}/model", pip_requirements=["onnxruntime"])
        digest = hashlib.sha256((Path(folder) / "model" / "model.onnx").read_bytes()).hexdigest()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(model_name)
    with mlflow.start_run(run_name="constant-0.5"):
        logged = mlflow.onnx.log_model(model, name="model", registered_model_name=model_name,
                                       pip_requirements=["onnxruntime"])
    version = str(logged.registered_model_version)
    client = MlflowClient(tracking_uri)
    for key, value in {"threshold": "0.9", "threshold_policy": "fixed:0.9", "model_sha256": digest}.items():
        client.set_model_version_tag(model_name, version, key, value)
    out.write_text(json.dumps({"version": version, "sha256": digest}))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracking_uri")
    parser.add_argument("model_name")
    parser.add_argument("out", type=Path)
    parser.add_argument("--token-file", type=Path, help="a file holding the bearer token MLflow's proxy accepts")
    parser.add_argument("--ca-bundle", type=Path, help="the CA bundle to verify the server's certificate with")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    if args.token_file:  # the token is the login: a username/password in the environment would be sent instead
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
        os.environ["MLFLOW_TRACKING_TOKEN"] = args.token_file.read_text().strip()
    if args.ca_bundle:
        os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = str(args.ca_bundle)
    main(args.tracking_uri, args.model_name, args.out)
