"""A real MLflow registry for the site scenario: `mlflow server` (SQLite) with artifacts proxied to SeaweedFS S3.

The test control plane runs no pods, so the MLflow Deployment that site.yml makes never serves; model_artifact
asks this server instead (model_artifact_tracking_uri). It starts SeaweedFS S3 and `mlflow server` on free
127.0.0.1 ports (tests/support), logs a genuine ONNX model the way the training job does (`mlflow.onnx`),
registers it as version 1 of the demo's model and points the alias `champion` at it. It writes what it
registered to --info-file (JSON: experiment_id, run_id, model_id, version), then the server's URL to --url-file,
and stops both servers when --watch (the control plane's pidfile) disappears or on SIGTERM, so the scenario's
destroy stops it too. Logs: <workdir>/s3/weed.log and <workdir>/mlflow/mlflow-server.log.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO))

from tests.support.mlflow_server import run_mlflow_server  # noqa: E402 (needs the path above)
from tests.support.onnx_models import logistic_model  # noqa: E402
from tests.support.s3 import run_s3_server  # noqa: E402

MODEL = "DNN-credit-card-fraud"
ALIAS = "champion"
EXPERIMENT = "credit-card-fraud"


def register(tracking_uri: str) -> dict[str, str]:
    """Log the ONNX model in one run, register it as a version of MODEL behind ALIAS, and describe it."""
    import mlflow  # noqa: PLC0415 (heavy: imported once the servers run)
    from mlflow import MlflowClient  # noqa: PLC0415

    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
    with mlflow.start_run() as run:
        mlflow.log_metrics({"roc_auc": 0.95, "accuracy": 0.93})
        logged = mlflow.onnx.log_model(
            logistic_model(), name="model", registered_model_name=MODEL, pip_requirements=["onnxruntime"]
        )
    version = str(logged.registered_model_version)
    MlflowClient(tracking_uri).set_registered_model_alias(MODEL, ALIAS, version)
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "model_id": logged.model_id, "version": version}


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="data and logs of both servers")
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--info-file", type=Path, required=True)
    parser.add_argument("--watch", type=Path, required=True, help="stop when this file is gone")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the context managers below stop both servers
    try:
        with (
            run_s3_server(args.workdir / "s3", bucket="mlflow-server") as s3,
            run_mlflow_server(s3, args.workdir / "mlflow") as server,
        ):
            write_atomically(args.info_file, json.dumps(register(server.tracking_uri)))
            write_atomically(args.url_file, server.tracking_uri + "\n")
            while args.watch.exists():
                time.sleep(1)
    finally:
        args.url_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
