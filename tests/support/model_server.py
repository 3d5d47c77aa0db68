"""Start the project's V2 model server (``python -m fraud_model_server`` from ``.venv/serving``) against S3."""

import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .ports import LOOPBACK, free_port
from .processes import child_env, start_logged, stop_process_tree, wait_until_ready
from .s3 import S3Server

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVING_PYTHON = REPO_ROOT / ".venv" / "serving" / "bin" / "python"
DEFAULT_MODEL_NAME = "credit-card-fraud"


@dataclass(frozen=True)
class V2ModelServer:
    """A started model server process and where to reach it."""

    base_url: str
    model_name: str
    process: subprocess.Popen[bytes]
    log_file: Path
    workdir: Path

    @property
    def infer_url(self) -> str:
        """``POST`` target for inference."""
        return f"{self.base_url}/v2/models/{self.model_name}/infer"

    @property
    def model_url(self) -> str:
        """Model metadata URL (append ``/ready`` for readiness)."""
        return f"{self.base_url}/v2/models/{self.model_name}"


def upload_model(s3: S3Server, model_file: Path, folder: str | None = None) -> str:
    """Upload ``model_file`` as ``<folder>/model.onnx`` in the bucket; return the folder (a fresh one by default)."""
    folder = folder or f"models/{uuid.uuid4().hex}"
    s3.client().upload_file(str(model_file), s3.bucket, f"{folder}/model.onnx")
    return folder


def start_model_server(
    data_connection: Mapping[str, str],
    storage_path: str,
    workdir: Path,
    model_name: str = DEFAULT_MODEL_NAME,
    extra_args: Sequence[str] = (),
    port: int | None = None,
) -> V2ModelServer:
    """Start the server on ``port`` (default: a free one) of 127.0.0.1, keys in its environment only; does not
    wait for readiness.

    ``storage_path`` may be ``spec:<file>``: the server is started from that serving spec (rollouts on SIGHUP)."""
    if not SERVING_PYTHON.exists():
        raise FileNotFoundError(f"{SERVING_PYTHON} not found: run `make setup` to build the serving environment")
    port = port or free_port()
    command = [
        str(SERVING_PYTHON),
        "-m",
        "fraud_model_server",
        "--model-name",
        model_name,
        *(["--serving-spec", storage_path[len("spec:"):]] if storage_path.startswith("spec:")
          else ["--storage-path", storage_path]),
        "--host",
        LOOPBACK,
        "--http-port",
        str(port),
        "--workdir",
        str(workdir / "model"),
        *extra_args,
    ]
    log_file = workdir / "model-server.log"
    process = start_logged(command, log_file, child_env(dict(data_connection)), cwd=workdir)
    return V2ModelServer(f"http://{LOOPBACK}:{port}", model_name, process, log_file, workdir)


def model_is_ready(server: V2ModelServer) -> bool:
    """Tell whether ``GET /v2/models/<name>/ready`` answers 200."""
    try:
        with urllib.request.urlopen(f"{server.model_url}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def run_model_server(
    data_connection: Mapping[str, str],
    storage_path: str,
    workdir: Path,
    model_name: str = DEFAULT_MODEL_NAME,
    extra_args: Sequence[str] = (),
    timeout_s: float = 90.0,
    port: int | None = None,
) -> Iterator[V2ModelServer]:
    """Start the server, wait until the model is ready, stop the process tree on exit."""
    server = start_model_server(data_connection, storage_path, workdir, model_name, extra_args, port)
    try:
        wait_until_ready(server.process, lambda: model_is_ready(server), "V2 model server", server.log_file, timeout_s)
        yield server
    finally:
        stop_process_tree(server.process)
