"""A real MLflow registry for the site scenario: `mlflow server` (SQLite) with artifacts proxied to SeaweedFS S3.

The test control plane runs no pods, so the MLflow Deployment that site.yml makes never serves; model_artifact
asks this server instead (model_artifact_tracking_uri). It starts SeaweedFS S3 and `mlflow server` on free
127.0.0.1 ports (tests/support), logs a genuine ONNX model the way the training job does (`mlflow.onnx`),
registers it as version 1 of the demo's model and points the alias `champion` at it. It writes what it
registered to --info-file (JSON: experiment_id, run_id, model_id, version), then the server's URL to --url-file,
and stops both servers when --watch (the control plane's pidfile) disappears or on SIGTERM, so the scenario's
destroy stops it too.

Without --serve it starts itself with --serve in the background and returns once the URL is written (exit 0) or
the background process ended (exit 1, with the end of its log), as `python -m tests.cluster up` does. SeaweedFS
runs in a short temporary folder (its unix sockets need a path under 108 bytes; molecule's ephemeral folder
under pytest's tmp_path is longer). Logs: <workdir>/stack.log, <workdir>/weed.log (copied when it stops) and
<workdir>/mlflow/mlflow-server.log.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO))

from tests.support.mlflow_server import run_mlflow_server  # noqa: E402 (needs the path above)
from tests.support.onnx_models import logistic_model  # noqa: E402
from tests.support.processes import log_tail  # noqa: E402
from tests.support.s3 import run_s3_server  # noqa: E402

MODEL = "DNN-credit-card-fraud"
ALIAS = "champion"
EXPERIMENT = "credit-card-fraud"
START_TIMEOUT_S = 300.0


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


def serve(args: argparse.Namespace) -> None:
    """Run both servers, register the model, write the info and URL files, stop when the watched file goes."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the context managers below stop both servers
    s3_dir = Path(tempfile.mkdtemp(prefix="fraud-demo-s3-"))
    try:
        with (
            run_s3_server(s3_dir, bucket="mlflow-server") as s3,
            run_mlflow_server(s3, args.workdir / "mlflow") as server,
        ):
            write_atomically(args.info_file, json.dumps(register(server.tracking_uri)))
            write_atomically(args.url_file, server.tracking_uri + "\n")
            while args.watch.exists():
                time.sleep(1)
    finally:
        args.url_file.unlink(missing_ok=True)
        if (s3_dir / "weed.log").exists():
            shutil.copyfile(s3_dir / "weed.log", args.workdir / "weed.log")
        shutil.rmtree(s3_dir, ignore_errors=True)


def start(args: argparse.Namespace) -> int:
    """Start ``serve`` in the background; return 0 once its URL file exists, 1 (with its log's end) if it ends."""
    log_file = args.workdir / "stack.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--serve"]
    for name in ("workdir", "url_file", "info_file", "watch"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    with log_file.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 (our own script)
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if args.url_file.exists():
            print(args.url_file.read_text(encoding="utf-8").strip())
            return 0
        if process.poll() is not None:
            print(f"the MLflow stack exited with status {process.returncode}; end of {log_file}:\n{log_tail(log_file)}")
            return 1
        time.sleep(0.5)
    process.terminate()
    print(f"the MLflow stack was not ready within {START_TIMEOUT_S:.0f} s; end of {log_file}:\n{log_tail(log_file)}")
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="logs and MLflow's database")
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--info-file", type=Path, required=True)
    parser.add_argument("--watch", type=Path, required=True, help="stop when this file is gone")
    parser.add_argument("--serve", action="store_true", help="run in the foreground (what the background runs)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.serve:
        serve(args)
    else:
        sys.exit(start(args))


if __name__ == "__main__":
    main()
