"""A real `mlflow server` (SQLite backend, artifacts proxied to an S3 bucket) on a free 127.0.0.1 port."""

import os
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .ports import LOOPBACK, free_port
from .processes import child_env, start_logged, stop_process_tree, wait_until_ready
from .s3 import S3Server

MLFLOW = Path(sys.executable).parent / "mlflow"
ARTIFACTS_PREFIX = "mlflow"


@dataclass(frozen=True)
class MlflowServer:
    """A running MLflow tracking server."""

    tracking_uri: str
    artifacts_destination: str
    workdir: Path
    log_file: Path
    pid: int


def _healthy(url: str) -> bool:
    """Tell whether MLflow's ``/health`` endpoint answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def run_mlflow_server(s3: S3Server, workdir: Path, timeout_s: float = 120.0,
                      login: tuple[str, str] | None = None) -> Iterator[MlflowServer]:
    """Start `mlflow server` with its SQLite store in ``workdir`` and artifacts in ``s3://<bucket>/mlflow``.

    The S3 keys reach the server through its environment only; clients need none (artifacts are proxied).
    With ``login`` (user, password) it runs MLflow's basic-auth app as the local target does (that user its admin,
    nobody else allowed anything). Trimmed footprint: one worker, no job runner. Stops the process tree on exit.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    destination = f"s3://{s3.bucket}/{ARTIFACTS_PREFIX}"
    command = [
        str(MLFLOW),
        "server",
        "--backend-store-uri",
        f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination",
        destination,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = child_env(
        {
            "PATH": os.pathsep.join([str(MLFLOW.parent), os.environ.get("PATH", os.defpath)]),
            "HOME": str(workdir),
            "AWS_ACCESS_KEY_ID": s3.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
            "AWS_DEFAULT_REGION": s3.region,
            "MLFLOW_S3_ENDPOINT_URL": s3.endpoint,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
    )
    if login:
        config = workdir / "basic_auth.ini"
        config.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                          f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n")
        command.append("--app-name=basic-auth")
        env.update({"MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_USERNAME": login[0],
                    "MLFLOW_AUTH_ADMIN_PASSWORD": login[1], "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16)})
    log_file = workdir / "mlflow-server.log"
    process = start_logged(command, log_file, env, cwd=workdir)
    try:
        wait_until_ready(process, lambda: _healthy(url), "mlflow server", log_file, timeout_s)
        yield MlflowServer(url, destination, workdir, log_file, process.pid)
    finally:
        stop_process_tree(process)
