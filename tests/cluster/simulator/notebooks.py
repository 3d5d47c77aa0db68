"""The kubeflow notebook controller (as OpenShift AI runs it): Notebook -> StatefulSet `<name>`
(replicas 1, or 0 with the `kubeflow-resource-stopped` annotation) and Service `<name>` (80 -> 8888),
plus Route `<name>` when `notebooks.opendatahub.io/inject-oauth` is "true" (2.x); all owned by the
Notebook. `status.readyReplicas` follows the StatefulSet, whose pod the kubelet part runs (outcome key
`notebooks`: fail = the pod never gets ready, so readyReplicas stays 0).
"""

from __future__ import annotations

from ..kube import JSON
from .engine import Kind, Simulator
from .objects import annotation, apply, condition, owner_reference, set_status

NOTEBOOKS = Kind("kubeflow.org/v1", "notebooks", "Notebook")
STATEFUL_SETS = Kind("apps/v1", "statefulsets", "StatefulSet")


def notebook(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Keep the notebook's StatefulSet, Service (and Route) in place and report readiness."""
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return None
    if sim.outcome([obj], "notebooks") == "ignore":
        return None
    owner = [owner_reference(obj)]
    selector = {"statefulset": name}
    template = obj["spec"].get("template") or {}
    replicas = 0 if annotation(obj, "kubeflow-resource-stopped") else 1
    apply(
        sim.kube,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner},
            "spec": {
                "replicas": replicas,
                "serviceName": name,
                "selector": {"matchLabels": selector},
                "template": {"metadata": {"labels": {**selector, "notebook-name": name}}, "spec": template.get("spec", {})},
            },
        },
        STATEFUL_SETS.plural,
    )
    apply(
        sim.kube,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner},
            "spec": {"selector": selector, "ports": [{"name": f"http-{name}", "port": 80, "targetPort": 8888, "protocol": "TCP"}]},
        },
        "services",
    )
    if annotation(obj, "notebooks.opendatahub.io/inject-oauth") == "true":
        apply(
            sim.kube,
            {
                "apiVersion": "route.openshift.io/v1",
                "kind": "Route",
                "metadata": {"name": name, "namespace": namespace, "ownerReferences": owner},
                "spec": {"to": {"kind": "Service", "name": name, "weight": 100}, "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}},
            },
            "routes",
        )
    sts = sim.kube.get(STATEFUL_SETS.path(name, namespace)) or {}
    ready = int((sts.get("status") or {}).get("readyReplicas") or 0)
    state = {"running": {"startedAt": obj["metadata"]["creationTimestamp"]}} if ready else {"waiting": {"reason": "PodInitializing"}}
    set_status(sim.kube, kind, obj, {"readyReplicas": ready, "containerState": state, "conditions": [condition("Ready", ready > 0)]})
    return None
