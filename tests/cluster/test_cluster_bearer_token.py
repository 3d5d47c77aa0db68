"""``fraud_demo.mlops.k8s_bearer_token`` run by ansible-playbook against the test control plane: the connection's own
token (as after `oc login`), a TokenRequest token of a ServiceAccount for a client-certificate login (the admin
kubeconfig here), and the refusals. Each token is checked with the API server (TokenReview)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from support.module_play import run_tasks

from .conftest import Cluster
from .kube import Kube, object_path

pytestmark = pytest.mark.cluster


def play(workdir: Path, tasks: list[dict[str, Any]], kubeconfig: Path) -> dict[str, Any]:
    """Run the tasks (each goes on after a failure) against ``kubeconfig``; their results by task name."""
    for task in tasks:
        task["ignore_errors"] = True
        task["register"] = "result"
    results, completed = run_tasks(workdir, tasks, env={"K8S_AUTH_KUBECONFIG": str(kubeconfig)})
    assert results, completed.stdout[-3000:] + completed.stderr[-3000:]
    return results


def who(kube: Kube, token: str) -> str:
    review = kube.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}) or {}
    return review["status"]["user"]["username"] if review["status"].get("authenticated") else ""


def test_the_connections_token_or_a_service_accounts(cluster: Cluster, kube: Kube, namespace: str, tmp_path: Path) -> None:
    kube.request("POST", object_path("v1", "serviceaccounts", namespace=namespace), {"metadata": {"name": "client"}})
    module = "fraud_demo.mlops.k8s_bearer_token"
    account = {"name": "client", "namespace": namespace}
    admin = play(
        tmp_path,
        [
            {"name": "certificate login, no account", module: {}},
            {"name": "certificate login, an account", module: {"service_account": account, "expiration_seconds": 600}},
            {"name": "an account that does not exist", module: {"service_account": {"name": "absent", "namespace": namespace}}},
            {"name": "too short", module: {"service_account": account, "expiration_seconds": 60}},
        ],
        cluster.kubeconfig,
    )
    assert admin["certificate login, no account"]["failed"]
    assert "no bearer token (a client-certificate login?)" in admin["certificate login, no account"]["msg"]
    requested = admin["certificate login, an account"]
    assert requested["source"] == "service_account" and not requested["changed"] and requested["expiration"]
    assert who(kube, requested["token"]) == f"system:serviceaccount:{namespace}:client"
    assert admin["an account that does not exist"]["failed"]
    assert f"ServiceAccount {namespace}/absent failed: 404" in admin["an account that does not exist"]["msg"]
    assert "600 or more" in admin["too short"]["msg"]

    # a token login, as `oc login` writes it: the module hands back that very token, without asking for another
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"] = [{"name": "client", "user": {"token": requested["token"]}}]
    config["contexts"][0]["context"]["user"] = "client"
    token_login = tmp_path / "token-kubeconfig"
    token_login.write_text(yaml.safe_dump(config))
    token_login.chmod(0o600)
    mine = play(tmp_path, [{"name": "token login", module: {"service_account": {"name": "absent", "namespace": namespace}}}], token_login)
    assert mine["token login"].get("source") == "connection", mine["token login"].get("msg")
    assert mine["token login"]["token"] == requested["token"]
