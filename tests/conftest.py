"""Shared fixtures: real servers on free 127.0.0.1 ports (launch logic in tests/support/, reusable by bench/)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.mlflow_server import run_mlflow_server
from support.model_server import V2ModelServer, run_model_server, upload_model
from support.onnx_models import write_logistic_model
from support.s3 import S3Server, run_s3_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server with generated keys and the bucket ``fraud-demo``; ``.env`` is the data connection."""
    with run_s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_server(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An MLflow tracking server (SQLite, artifacts proxied to ``s3://<bucket>/mlflow``); yields its tracking URI."""
    with run_mlflow_server(s3_server, tmp_path_factory.mktemp("mlflow")) as server:
        yield server.tracking_uri


@pytest.fixture(scope="module")
def v2_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model.onnx that ``v2_model_server`` serves; override in a module for another model (default: logistic)."""
    return write_logistic_model(tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="module")
def v2_model_server(
    s3_server: S3Server, v2_model_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[V2ModelServer]:
    """``v2_model_file`` uploaded to ``s3_server`` and served by ``python -m fraud_model_server`` on a free port."""
    storage_path = upload_model(s3_server, v2_model_file)
    with run_model_server(s3_server.env, storage_path, tmp_path_factory.mktemp("v2-server")) as server:
        yield server
