"""Shared fixtures: real servers on free 127.0.0.1 ports (launch logic in tests/support/, reusable by bench/)."""

from collections.abc import Iterator

import pytest
from support.mlflow_server import run_mlflow_server
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
