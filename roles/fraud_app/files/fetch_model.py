"""Download a registered model's ONNX file from MLflow into the version folder a model server reads.

The init container of the fraud app's MLflow variant (fraud_app_openshift_model_source=mlflow) runs it, as the
demo's optional path where the app takes its model straight from MLflow instead of a serving platform.
Environment: ``MLFLOW_TRACKING_URI`` (the in-cluster MLflow; it proxies the artifacts, so no S3 keys),
``MODEL_URI`` (``models:/<name>/<version>``), ``TARGET_DIR`` (e.g. ``/models/credit-card-fraud/1``), and
optionally ``MLFLOW_TRACKING_TOKEN`` / ``REQUESTS_CA_BUNDLE``, which MLflow reads itself. Exit status 0 when
``TARGET_DIR/model.onnx`` is in place, 1 with the reason on stderr otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

REQUIRED = ("MLFLOW_TRACKING_URI", "MODEL_URI", "TARGET_DIR")
MODEL_FILE = "model.onnx"


class FetchError(RuntimeError):
    """The model cannot be fetched; the message says why and names the model."""


def fetch(model_uri: str, target_dir: Path) -> Path:
    """Download ``model_uri``'s artifacts and place its model.onnx at ``target_dir/model.onnx``."""
    import mlflow  # noqa: PLC0415 - imported late: seconds of import, only once the environment is checked
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    # Through the tracking server (it proxies the bucket): MLflow's client otherwise takes a presigned URL of the
    # server's own S3 endpoint, which this pod may neither reach nor trust (ODF's, signed by the service CA).
    os.environ.setdefault("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")
    with tempfile.TemporaryDirectory(prefix="fetch-model-") as scratch:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        except MlflowException as error:
            raise FetchError(f"MLflow cannot give {model_uri}: {error.message}") from None
        found = sorted(local.rglob(MODEL_FILE)) if local.is_dir() else [local] if local.name == MODEL_FILE else []
        if not found:
            raise FetchError(f"{model_uri} has no {MODEL_FILE} among its artifacts")
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / MODEL_FILE
        shutil.copyfile(found[0], target)
    return target


def main(env: Mapping[str, str] | None = None) -> int:
    """Check the environment, fetch, report; returns the exit status."""
    env = os.environ if env is None else env
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        print(f"fetch_model: missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 1
    if not env["MODEL_URI"].startswith("models:/"):
        print(f"fetch_model: MODEL_URI={env['MODEL_URI']!r} is not a models:/<name>/<version> URI", file=sys.stderr)
        return 1
    try:
        target = fetch(env["MODEL_URI"], Path(env["TARGET_DIR"]))
    except FetchError as error:
        print(f"fetch_model: {error}", file=sys.stderr)
        return 1
    print(f"fetched {env['MODEL_URI']} -> {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
