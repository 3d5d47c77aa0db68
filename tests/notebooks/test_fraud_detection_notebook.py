"""The workbench's notebook (notebooks/fraud-detection.ipynb): a valid, output-free notebook whose cells run top to
bottom against a real MLflow server and S3 bucket, as they do in an OpenShift AI workbench."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.mlflow_server import run_mlflow_server
from support.s3 import S3Server

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "fraud-detection.ipynb"
# Runs every code cell in one namespace, as a kernel does; IPython magics (%pip) are the workbench's setup.
RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for number, cell in enumerate(json.load(open(sys.argv[1]))["cells"], 1):
    if cell["cell_type"] == "code":
        source = "".join(line for line in cell["source"] if not line.lstrip().startswith("%"))
        print(f"--- cell {number}", flush=True)
        exec(compile(source, f"cell {number}", "exec"), namespace)
"""


def load_notebook() -> dict[str, Any]:
    """The notebook as JSON."""
    return json.loads(NOTEBOOK.read_text())


def test_notebook_is_stored_without_outputs() -> None:
    """nbformat 4.5 with cell ids, no stored outputs or execution counts, and code that compiles."""
    notebook = load_notebook()
    assert (notebook["nbformat"], notebook["nbformat_minor"]) == (4, 5)
    ids = [cell["id"] for cell in notebook["cells"]]
    assert len(set(ids)) == len(ids)
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "the notebook has no code"
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, f"{cell['id']} stores outputs"
        source = "".join(line for line in cell["source"] if not line.lstrip().startswith("%"))
        compile(source, cell["id"], "exec")


@pytest.fixture(scope="module")
def login_server(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, tuple[str, str]]]:
    """An MLflow server with its basic-auth app, as the local target runs it: (tracking URI, login)."""
    login = ("notebook-user", secrets.token_urlsafe(24))
    with run_mlflow_server(s3_server, tmp_path_factory.mktemp("mlflow-login"), login=login) as server:
        yield server.tracking_uri, login


def test_notebook_runs_against_mlflow_and_s3(login_server: tuple[str, tuple[str, str]], s3_server: S3Server,
                                             tmp_path: Path) -> None:
    """Training, registration, the bucket location and the ONNX check all run against an MLflow that wants its
    login (from the environment, as `set -a; . .state/secrets/mlflow.env` gives it); the model ranks the suspicious
    example above the ordinary one."""
    tracking_uri, (username, password) = login_server
    assert requests.get(f"{tracking_uri}/api/2.0/mlflow/experiments/search", timeout=10).status_code == 401
    env = {
        **os.environ,
        **s3_server.env,
        "MLFLOW_ROUTE": tracking_uri,
        "MLFLOW_TRACKING_USERNAME": username,
        "MLFLOW_TRACKING_PASSWORD": password,
        "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{s3_server.bucket}/mlflow/",
        "TRAIN_ROWS": "5000",
        # as the workbench's ConfigMap sets them from the project's identity (roles/workbench)
        "TRAIN_REGISTERED_MODEL": "notebook-fraud-model",
        "TRAIN_ALIAS": "champion",
        "PYTHONUNBUFFERED": "1",
    }
    result = subprocess.run(  # noqa: S603 - our interpreter and notebook
        [sys.executable, "-c", RUNNER, str(NOTEBOOK)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    summary = json.loads((tmp_path / "last-run-summary.json").read_text())
    assert (summary["registered_model"], summary["alias"]) == ("notebook-fraud-model", "champion")
    assert f"is version {summary['version']}" in result.stdout
    assert f"s3://{s3_server.bucket}/{summary['artifact_path']}/model.onnx" in result.stdout
    scores = dict(re.findall(r"^\s*(suspicious|ordinary): ([0-9.]+) ->", result.stdout, re.MULTILINE))
    assert set(scores) == {"suspicious", "ordinary"}, result.stdout[-2000:]
    assert float(scores["suspicious"]) > float(scores["ordinary"])
