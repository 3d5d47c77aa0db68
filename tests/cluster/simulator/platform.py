"""The OpenShift AI operator's status: DataScienceCluster and DSCInitialization -> Ready, with the
release that the installed CRD variant stands for (2.25.0 when DataScienceCluster serves only v1,
3.0.0 when it serves v2; the simulator-config key `rhoai-version` overrides it). Outcome keys
`datascienceclusters` / `dscinitializations`: fail = Ready False.
"""

from __future__ import annotations

from ..kube import JSON, Kube, object_path
from .engine import CONFIG_MAP, Kind, Simulator
from .objects import condition, set_status

CLUSTERS = Kind("datasciencecluster.opendatahub.io/v1", "datascienceclusters", "DataScienceCluster", namespaced=False)
INITIALIZATIONS = Kind("dscinitialization.opendatahub.io/v1", "dscinitializations", "DSCInitialization", namespaced=False)
RELEASE_NAME = "OpenShift AI Self-Managed"


def _release(sim: Simulator) -> dict[str, str]:
    return release(sim.kube)


def release(kube: Kube) -> dict[str, str]:
    """The release the cluster presents: simulator-config `rhoai-version`, else by the CRD variant."""
    namespace, name = CONFIG_MAP
    config = kube.get(object_path("v1", "configmaps", name, namespace)) or {}
    version = (config.get("data") or {}).get("rhoai-version")
    if not version:
        crd = kube.get(object_path("apiextensions.k8s.io/v1", "customresourcedefinitions", "datascienceclusters.datasciencecluster.opendatahub.io")) or {}
        served = {v["name"] for v in crd.get("spec", {}).get("versions", []) if v.get("served")}
        version = "3.0.0" if "v2" in served else "2.25.0"
    return {"name": RELEASE_NAME, "version": version}


def release_version(kube: Kube) -> tuple[int, int]:
    """(major, minor) of the OpenShift AI release the cluster presents."""
    major, minor, *_ = (release(kube)["version"].split(".") + ["0", "0"])
    return int(major), int(minor)


def rhoai_version(sim: Simulator) -> tuple[int, int]:
    """(major, minor) of the OpenShift AI release the cluster presents."""
    return release_version(sim.kube)


def rhoai_major(sim: Simulator) -> int:
    """2 or 3: the OpenShift AI generation the cluster presents."""
    return rhoai_version(sim)[0]


def data_science_cluster(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Report the cluster Ready with each component's managementState."""
    if obj is None:
        return None
    outcome = sim.outcome([obj], kind.plural)
    if outcome == "ignore":
        return None
    ready = outcome == "succeed"
    components = ((obj.get("spec") or {}).get("components")) or {}
    status = {
        "phase": "Ready" if ready else "Not Ready",
        "conditions": [condition("Ready", ready, "Ready" if ready else "ComponentsNotReady", "" if ready else sim.failure_message([obj], "simulated component failure"))],
        "components": {c: {"managementState": (v or {}).get("managementState", "Removed")} for c, v in components.items()},
        "release": _release(sim),
    }
    set_status(sim.kube, kind, obj, status)
    return None


def initialization(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Report the initialization Ready."""
    if obj is None:
        return None
    outcome = sim.outcome([obj], kind.plural)
    if outcome == "ignore":
        return None
    ready = outcome == "succeed"
    status = {"phase": "Ready" if ready else "Error", "conditions": [condition("Available", ready), condition("Ready", ready)], "release": _release(sim)}
    set_status(sim.kube, kind, obj, status)
    return None
