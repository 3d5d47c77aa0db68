"""MLflow tracking: the client's connection, the run's parameters, inputs, tags, metrics, images and model.

Logging is explicit (one request per epoch, one per batch of final values) instead of autolog, which
measured several times slower (docs/benchmarks.md). Transient server failures (connection errors, HTTP 408, 429,
5xx) are retried by MLflow's HTTP client with exponential backoff, bounded by `CLIENT_DEFAULTS`.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.data
import mlflow.onnx
import numpy as np
import onnx
from matplotlib.figure import Figure
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import Schema, TensorSpec

from .data import TransactionData
from .model import INPUT_NAME, OUTPUT_NAME
from .schema import FEATURE_COLUMNS

CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "6",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    # Downloads (the gate's champion) go through the tracking server, which proxies the bucket. MLflow 3.17's
    # client otherwise takes presigned URLs of the server's own S3 endpoint whenever the server offers them: on
    # OpenShift that is ODF's in-cluster endpoint, signed by the service CA, which the client does not trust
    # (found by molecule site_rhoai3: the champion could not be scored, so every challenger lost).
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
}
"""Applied unless already set: 6 retries, waits of 1, 2, 4, 8, 16, 32 s (about a minute), 60 s per request;
artifacts downloaded through the tracking server."""

MODEL_ARTIFACT = "model"
"""Name of the logged ONNX model (its folder holds ``model.onnx``)."""

DATASET_NAME = "card_transdata"


def connect(tracking_uri: str, experiment: str, ca_bundle: str | None) -> str:
    """Point the MLflow client at ``tracking_uri`` (TLS verified, against ``ca_bundle`` when given), select or
    create ``experiment`` and return its id."""
    for name, value in CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if ca_bundle:
        os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = ca_bundle
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return str(mlflow.set_experiment(experiment).experiment_id)
    except MlflowException as error:
        raise MlflowException(f"tracking server {tracking_uri}: cannot open experiment {experiment!r}: "
                              f"{error.message}") from error


def code_tags() -> dict[str, str]:
    """Tags naming the code that trained the model: package version and, when known, the git commit.

    The commit comes from ``TRAIN_JOB_GIT_COMMIT`` (set when the image is built) or the checkout around the
    package.
    """
    tags = {"train_job.version": metadata.version("train-job")}
    commit = os.environ.get("TRAIN_JOB_GIT_COMMIT") or _git_commit()
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _git_commit() -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def log_setup(params: dict[str, Any], data: TransactionData) -> None:
    """Log the run's parameters, code tags and the data set (source, digest, row count) as a training input."""
    mlflow.set_tags(code_tags())
    mlflow.log_params(params)
    mlflow.log_input(
        mlflow.data.from_numpy(data.features, targets=data.labels, source=_dataset_source(data.source),
                               name=DATASET_NAME),
        context="training",
    )


def _dataset_source(source: str) -> Any:
    """MLflow's source type for a URL or path (http, s3, local file); a tagged code source for the generator."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "can be interpreted in multiple ways" for local paths
            return resolve_dataset_source(source)
    except MlflowException:
        return CodeDatasetSource(tags={"source": source})


def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
    """Log one epoch's metrics (one request) with the epoch number as step."""
    mlflow.log_metrics(metrics, step=epoch)


def log_results(metrics: dict[str, float], figures: dict[str, Figure]) -> None:
    """Log the final metrics (one request) and each figure as a PNG artifact named by its key."""
    mlflow.log_metrics(metrics)
    for file_name, figure in figures.items():
        mlflow.log_figure(figure, file_name)


def log_onnx_model(proto: onnx.ModelProto, example: np.ndarray) -> ModelInfo:
    """Log ``proto`` as one self-contained ``model.onnx`` with a tensor signature and an input example."""
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, len(FEATURE_COLUMNS)), INPUT_NAME)]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 1), OUTPUT_NAME)]),
    )
    return mlflow.onnx.log_model(
        proto,
        name=MODEL_ARTIFACT,
        signature=signature,
        input_example={INPUT_NAME: example.astype(np.float32)},
        save_as_external_data=False,
        onnx_execution_providers=["CPUExecutionProvider"],
        pip_requirements=mlflow.onnx.get_default_pip_requirements(),
        metadata={"feature_columns": list(FEATURE_COLUMNS)},
    )
