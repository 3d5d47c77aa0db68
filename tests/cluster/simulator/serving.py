"""Model serving: InferenceServices go to ModelMesh (`serving.kserve.io/deploymentMode: ModelMesh`, modelmesh.py)
or KServe Raw/Standard (kserve.py); ServingRuntimes with `multiModel: true` get ModelMesh's runtime Deployment.
Outcome key `inferenceservices`: `ignore` leaves an InferenceService without status (no controller); `fail` fails a
ModelMesh load whose runtime pod does not run here."""

from __future__ import annotations

from ..kube import JSON
from . import kserve, modelmesh
from .engine import Kind, Simulator
from .objects import annotation

RUNTIMES = Kind("serving.kserve.io/v1alpha1", "servingruntimes", "ServingRuntime")
SERVICES = modelmesh.SERVICES_KIND
DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
MESH = modelmesh.ModelMesh()
runtime = modelmesh.runtime


def inference_service(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Serve (or fail to serve) one model."""
    if obj is None or obj["metadata"].get("deletionTimestamp") or sim.outcome([obj], "inferenceservices") == "ignore":
        return None
    model = obj["spec"]["predictor"].get("model") or {}
    runtime_name = model.get("runtime", "")
    runtime_obj = sim.kube.get(RUNTIMES.path(runtime_name, namespace)) if runtime_name else None
    if annotation(obj, "serving.kserve.io/deploymentMode") == "ModelMesh":
        real = False
        if runtime_obj is not None and sim.kubelet is not None:
            real = sim.kubelet.runnable({"spec": modelmesh.runtime_deployment(runtime_name, namespace, runtime_obj)["spec"]["template"]["spec"]})
        return MESH.reconcile(sim, kind, obj, namespace, name, runtime_obj, real)
    return kserve.reconcile(sim, kind, obj, namespace, name, runtime_obj)
