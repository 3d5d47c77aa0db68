"""pytest fixtures for the test control plane: `cluster` (session), `kube`, `namespace`, `sim_config`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .control_plane import ControlPlane
from .kube import JSON, Kube, object_path
from .polling import wait_for


@dataclass(frozen=True)
class Cluster:
    """A running control plane: its admin kubeconfig, API URL, and whether controllers run."""

    kubeconfig: Path
    url: str
    controllers: bool


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """etcd + kube-apiserver + kube-controller-manager + simulator, presenting OpenShift AI 2.x."""
    with ControlPlane(rhoai_major=2) as plane:
        yield Cluster(plane.kubeconfig, plane.url, plane.controllers)


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Kube:
    """An admin client of the cluster."""
    return Kube(cluster.kubeconfig)


@pytest.fixture
def needs_controllers(cluster: Cluster) -> None:
    """Skip when only envtest binaries (no kube-controller-manager) are at hand."""
    if not cluster.controllers:
        pytest.skip("kube-controller-manager not available (envtest assets without it): run `make cluster-bins`")


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    """A fresh namespace, deleted after the test (without waiting)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    wait_for("default service account", lambda: kube.get(object_path("v1", "serviceaccounts", "default", name)), 30)
    yield name
    kube.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def sim_config(kube: Kube) -> Iterator[dict[str, str]]:
    """Set keys of the simulator-config ConfigMap for one test (`sim_config[...] = ...`); removed after."""
    values: dict[str, str] = {}

    class Config(dict[str, str]):
        def __setitem__(self, key: str, value: str) -> None:
            super().__setitem__(key, value)
            values[key] = value
            body: JSON = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "simulator-config", "namespace": "kube-system"}, "data": dict(values)}
            kube.apply(object_path("v1", "configmaps", "simulator-config", "kube-system"), body, "tests")

    yield Config()
    if values:
        kube.request("DELETE", object_path("v1", "configmaps", "simulator-config", "kube-system"))
