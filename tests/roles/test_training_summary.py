"""The training role reads the run summary from the training pod's termination message (openshift target).

Against the real test control plane: a Job made the way the role makes it runs under the real job controller,
and the test plays the kubelet for its pod (the simulator is told to leave it alone), writing the termination
message a finished train_job leaves. Then ``ansible-playbook`` runs the role's read-only export tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster.control_plane import ControlPlane
from cluster.kube import Kube, object_path
from cluster.polling import wait_for

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
IMAGE = "image-registry.openshift-image-registry.svc:5000/ns/train-job@sha256:" + "a" * 64
SUMMARY = {
    "run_id": "0f1e2d3c4b5a",
    "registered_model": "DNN-credit-card-fraud",
    "version": "7",
    "alias": "champion",
    "alias_moved": True,
    "metrics": {"pr_auc": 0.91, "roc_auc": 0.99},
    "artifact_bucket": "mlflow-server-4f1c",
    "artifact_path": "mlflow/1/models/m-abc/artifacts",
}


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, Path]]:
    """A control plane without OpenShift AI kinds (only Jobs and Pods are needed) and its admin client."""
    with ControlPlane(rhoai_major=None, workdir=tmp_path_factory.mktemp("plane")) as plane:
        yield Kube(plane.kubeconfig), plane.kubeconfig


def _namespace(kube: Kube) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def _finished_job(kube: Kube, namespace: str, name: str, message: str) -> None:
    """A training Job whose pod the test completes as a kubelet would, leaving ``message``."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "train-job"},
            "annotations": {"fraud-demo.io/image": IMAGE, "sim.fraud-demo.test/outcome": "ignore"},
        },
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train-job", "image": IMAGE, "terminationMessagePolicy": "FallbackToLogsOnError"}],
                }
            },
        },
    }
    kube.request("POST", object_path("batch/v1", "jobs", namespace=namespace), job)
    pods = object_path("v1", "pods", namespace=namespace)
    pod = wait_for("the job controller's pod", lambda: (kube.get(f"{pods}?labelSelector=job-name={name}") or {}).get("items"), 60)[0]
    now = "2026-01-01T00:00:00Z"
    terminated = {"exitCode": 0, "reason": "Completed", "message": message, "startedAt": now, "finishedAt": now}
    status = {
        "phase": "Succeeded",
        "startTime": now,
        "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}],
        "containerStatuses": [
            {"name": "train-job", "image": IMAGE, "imageID": "", "ready": False, "restartCount": 0, "state": {"terminated": terminated}}
        ],
    }
    kube.merge_patch(f"{pods}/{pod['metadata']['name']}/status", {"status": status})
    job_path = object_path("batch/v1", "jobs", name, namespace)

    def complete() -> bool:
        conditions = ((kube.get(job_path) or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    wait_for(f"Job {name} Complete", complete, 60)


def _export(kubeconfig: Path, namespace: str, workdir: Path) -> tuple[int, dict[str, Any], str]:
    """Run the role's export tasks; returns the exit status, the exported facts and the output."""
    out = workdir / "facts.json"
    playbook = workdir / "export.yml"
    playbook.write_text(
        f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    fraud_demo_target: openshift
    training_openshift_namespace: {namespace}
  tasks:
    - ansible.builtin.include_role:
        name: training
        tasks_from: export_openshift
    - ansible.builtin.copy:
        content: "{{{{ {{'summary': training_summary, 'image': training_image}} | to_json }}}}"
        dest: {out}
        mode: "0600"
"""
    )
    env = {**os.environ, "K8S_AUTH_KUBECONFIG": str(kubeconfig), "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
           "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_FORCE_COLOR": "0"}
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    facts = json.loads(out.read_text()) if out.exists() else {}
    return result.returncode, facts, result.stdout + result.stderr


def test_the_summary_comes_from_the_termination_message(kube: tuple[Kube, Path], tmp_path: Path) -> None:
    client, kubeconfig = kube
    namespace = _namespace(client)
    _finished_job(client, namespace, "train-job-0123456789ab", json.dumps(SUMMARY, indent=2))
    status, facts, output = _export(kubeconfig, namespace, tmp_path)
    assert status == 0, output
    assert facts["summary"] == SUMMARY | {"job": "train-job-0123456789ab"}
    assert facts["image"] == IMAGE
    assert "registered DNN-credit-card-fraud version 7 (run 0f1e2d3c4b5a)" in " ".join(output.split())


def test_a_message_that_is_not_a_summary_is_reported_not_parsed(kube: tuple[Kube, Path], tmp_path: Path) -> None:
    client, kubeconfig = kube
    namespace = _namespace(client)
    truncated = json.dumps(SUMMARY)[:40]
    _finished_job(client, namespace, "train-job-ba9876543210", truncated)
    status, facts, output = _export(kubeconfig, namespace, tmp_path)
    assert status == 0, output
    assert facts["summary"] == {"job": "train-job-ba9876543210", "registered_model": "DNN-credit-card-fraud",
                                "alias": "champion", "summary_available": False}
    assert "no longer holds the run summary" in " ".join(output.split())


def test_no_completed_job_fails_with_what_to_do(kube: tuple[Kube, Path], tmp_path: Path) -> None:
    client, kubeconfig = kube
    namespace = _namespace(client)
    status, facts, output = _export(kubeconfig, namespace, tmp_path)
    assert status != 0
    assert f"No completed training Job in {namespace}: run the training first (--tags training)." in " ".join(output.split())
    assert facts == {}
