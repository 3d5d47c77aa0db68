"""pytest fixtures for the test control plane: `cluster` (session), `kube`, `namespace`, `sim_config`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import binaries
from .control_plane import ControlPlane
from .kube import JSON, Kube, object_path
from .molecule_runner import Outcome, Runner
from .polling import wait_for

RUNNER = pytest.StashKey[Runner]()


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


# The molecule scenarios run in the background of the whole session (tests/cluster/molecule_runner.py): they start
# once collection is done, the molecule tests are moved to the end, and reaching them lets every worker run.
MOLECULE_WORKERS = int(os.environ.get("FRAUD_DEMO_MOLECULE_WORKERS", "2"))
# Workers while the rest of the suite runs (0: the scenarios wait for the suite, as `make test` did before).
# Measured on 2 cores: 2 early workers made the suite no faster (38:57 against 38:38, 2026-12-03) and starved the
# browser test; 2026-12-07, with 2 early and 3 in all, the rest of the suite ran about twice as slowly (the e2e
# tests reached the loop after 27 min instead of 13) although the CPU with 1 early worker was ~30 % idle.
MOLECULE_EARLY_WORKERS = int(os.environ.get("FRAUD_DEMO_MOLECULE_EARLY_WORKERS", "1"))


def _scenario_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("scenario") if callspec and item.get_closest_marker("molecule") else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("molecule") is not None)  # stable: the others keep their order


def pytest_collection_finish(session: pytest.Session) -> None:
    scenarios = [name for name in map(_scenario_of, session.items) if name]
    if not scenarios or session.config.option.collectonly:
        return
    binaries.find()  # a clear error when nothing is built yet
    session.config.stash[RUNNER] = Runner(scenarios, MOLECULE_WORKERS, MOLECULE_EARLY_WORKERS).start()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Each scenario's wall time, longest first: where `make test`'s time goes."""
    runner = config.stash.get(RUNNER, None)
    if runner is None or not runner.results:
        return
    terminalreporter.section("molecule scenarios")
    terminalreporter.line(f"{runner.workers} at a time, {runner.early} while the rest of the suite ran")
    for name, outcome in sorted(runner.results.items(), key=lambda item: -item[1].seconds):
        terminalreporter.line(f"{outcome.seconds:7.0f} s  {name}{'' if outcome.returncode == 0 else f'  (failed, exit {outcome.returncode})'}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    runner = session.config.stash.get(RUNNER, None)
    if runner is not None:
        runner.cancel()


@pytest.fixture(scope="session")
def molecule_outcomes(request: pytest.FixtureRequest) -> dict[str, Outcome]:
    """Every selected scenario's outcome, once the background runner has them all."""
    runner = request.config.stash.get(RUNNER, None)
    assert runner is not None, "the molecule runner did not start (see tests/cluster/conftest.py)"
    return runner.wait()
