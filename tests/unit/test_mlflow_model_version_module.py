"""``fraud_demo.mlops.mlflow_model_version`` run by ansible-playbook against a real MLflow server: the alias moves
only when it points elsewhere, tags are set only when they differ, check mode changes nothing, and bad input fails
naming the value. Versions are registered by register_test_models.py (as the training job does)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient
from support.module_play import run_tasks

MODULE = "fraud_demo.mlops.mlflow_model_version"
SCRIPT = Path(__file__).with_name("register_test_models.py")


def test_alias_and_tags_move_once_check_mode_changes_nothing(mlflow_server: str, tmp_path: Path) -> None:
    model = "alias-module-model"
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([sys.executable, str(SCRIPT), mlflow_server, model, f"{model}-empty", str(tmp_path / "r.json")],
                   check=True, cwd=tmp_path, env=env, timeout=300, capture_output=True)
    base = {"tracking_uri": mlflow_server, "name": model}
    tasks = [
        {"name": "check", MODULE: {**base, "version": "2", "alias": "champion"}, "check_mode": True},
        {"name": "move", MODULE: {**base, "version": "2", "alias": "champion", "tags": {"rollout": "promoted"}}},
        {"name": "again", MODULE: {**base, "version": "2", "alias": "champion", "tags": {"rollout": "promoted"}}},
        {"name": "back", MODULE: {**base, "version": "1", "alias": "champion"}},
        {"name": "tag only", MODULE: {**base, "version": "2", "tags": {"rollout": "rolled back"}}},
        {"name": "new alias", MODULE: {**base, "version": "2", "alias": "staging"}},
        {"name": "no such version", MODULE: {**base, "version": "7", "alias": "champion"}, "ignore_errors": True},
        {"name": "not a number", MODULE: {**base, "version": "latest", "alias": "champion"}, "ignore_errors": True},
    ]
    results, completed = run_tasks(tmp_path, tasks)
    assert results, completed.stdout + completed.stderr
    assert results["check"]["changed"] is True and results["check"]["previous_version"] == "1"
    assert results["move"]["changed"] is True and results["move"]["previous_version"] == "1"
    assert results["again"]["changed"] is False
    assert results["back"]["changed"] is True and results["back"]["previous_version"] == "2"
    assert results["tag only"]["changed"] is True and results["tag only"]["version"] is None
    assert results["new alias"]["changed"] is True, results["new alias"]["msg"]
    assert results["new alias"]["previous_version"] is None
    assert results["no such version"]["failed"] and f"{model} version 7" in results["no such version"]["msg"]
    assert "RESOURCE_DOES_NOT_EXIST" in results["no such version"]["msg"]
    assert results["not a number"]["msg"] == "version must be a registered version number, got 'latest'"
    client = MlflowClient(mlflow_server)
    assert client.get_model_version_by_alias(model, "champion").version == "1"
    assert client.get_model_version_by_alias(model, "staging").version == "2"
    assert client.get_model_version(model, "2").tags["rollout"] == "rolled back"
    assert json.loads((tmp_path / "r.json").read_text())["versions"].keys() == {"1", "2"}


def test_the_documentation_is_the_argument_spec() -> None:
    """``ansible-doc`` renders it (with the shared connection fragment) and names every option with its type."""
    from ansible_collections.fraud_demo.mlops.plugins.modules.mlflow_model_version import ARGUMENT_SPEC

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "--json", MODULE],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(repo / "collections")})
    options = json.loads(done.stdout)[MODULE]["doc"]["options"]
    assert set(options) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("required", False) == spec.get("required", False), name
        assert options[name].get("default") == spec.get("default"), name
