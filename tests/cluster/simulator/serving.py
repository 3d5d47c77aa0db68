"""ModelMesh serving and KServe (odh-model-controller, modelmesh-serving, kserve controllers).

ServingRuntime with `multiModel: true` in a namespace labelled `modelmesh-enabled: "true"` ->
Deployment `modelmesh-serving-<runtime>` (the runtime's containers) and Service `modelmesh-serving`
(REST 8008, gRPC 8033, metrics 2112), owned by the runtime.

InferenceService:
- `serving.kserve.io/deploymentMode: ModelMesh`: once the runtime's Deployment is Available, Ready
  with `modelStatus.states.activeModelState: Loaded` and `components.predictor.restUrl`
  `http://modelmesh-serving.<ns>:8008`; FailedToLoad with `lastFailureInfo` when the runtime is
  missing or does not support the model format, the `storage.key` Secret is missing, or outcome
  `fail`. A runtime annotated `enable-route: "true"` gets Route `<isvc>` (path `/v2/models/<isvc>`).
- otherwise (RawDeployment): Deployment and headless Service `<isvc>-predictor` from the named
  runtime, Ready once the Deployment is Available, `status.address.url`
  `http://<isvc>-predictor.<ns>.svc.cluster.local:8888`.
Outcome key `inferenceservices` (`servingruntimes` for the runtime's pods).
"""

from __future__ import annotations

from ..kube import JSON, object_path
from .engine import Kind, Simulator
from .objects import annotation, apply, condition, label, owner_reference, set_status

RUNTIMES = Kind("serving.kserve.io/v1alpha1", "servingruntimes", "ServingRuntime")
SERVICES = Kind("serving.kserve.io/v1beta1", "inferenceservices", "InferenceService")
DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
MODELMESH_PORTS = [
    {"name": "grpc", "port": 8033, "targetPort": 8033, "protocol": "TCP"},
    {"name": "http", "port": 8008, "targetPort": 8008, "protocol": "TCP"},
    {"name": "prometheus", "port": 2112, "targetPort": 2112, "protocol": "TCP"},
]


def _modelmesh_enabled(sim: Simulator, namespace: str) -> bool:
    ns = sim.kube.get(object_path("v1", "namespaces", namespace)) or {"metadata": {}}
    return label(ns, "modelmesh-enabled") == "true"


def _available(sim: Simulator, name: str, namespace: str) -> bool:
    deployment = sim.kube.get(DEPLOYMENTS.path(name, namespace)) or {}
    conditions = (deployment.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def _deployment(name: str, namespace: str, owner: JSON, labels: dict[str, str], containers: list[JSON]) -> JSON:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner_reference(owner)]},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers}},
        },
    }


def runtime(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Deploy a ModelMesh runtime."""
    if obj is None or not obj["spec"].get("multiModel"):
        return None
    if not _modelmesh_enabled(sim, namespace):
        return 5  # ModelMesh ignores namespaces without the label; look again in case it is added
    labels = {"modelmesh-service": "modelmesh-serving", "name": f"modelmesh-serving-{name}"}
    containers = [{k: v for k, v in c.items() if k in ("name", "image", "args", "command", "env", "ports", "resources")} for c in obj["spec"]["containers"]]
    apply(sim.kube, _deployment(f"modelmesh-serving-{name}", namespace, obj, labels, containers), DEPLOYMENTS.plural)
    if sim.kube.get(object_path("v1", "services", "modelmesh-serving", namespace)) is None:
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "modelmesh-serving", "namespace": namespace, "ownerReferences": [owner_reference(obj, controller=False)]},
            "spec": {"selector": {"modelmesh-service": "modelmesh-serving"}, "ports": MODELMESH_PORTS},
        }
        apply(sim.kube, service, "services")
    return None


def _failed(reason: str, message: str) -> JSON:
    return {
        "conditions": [condition("PredictorReady", False, reason, message), condition("Ready", False, reason, message)],
        "modelStatus": {
            "transitionStatus": "BlockedByFailedLoad" if reason == "ModelLoadFailed" else "InvalidSpec",
            "states": {"activeModelState": "FailedToLoad", "targetModelState": ""},
            "copies": {"failedCopies": 1, "totalCopies": 0},
            "lastFailureInfo": {"reason": reason, "message": message, "location": "simulated"},
        },
    }


def _loading() -> JSON:
    return {
        "conditions": [condition("PredictorReady", False, "Loading"), condition("Ready", False, "Loading")],
        "modelStatus": {"transitionStatus": "InProgress", "states": {"activeModelState": "Loading", "targetModelState": "Loaded"}},
    }


def _loaded(url: str) -> JSON:
    return {
        "conditions": [condition("PredictorReady", True), condition("Ready", True)],
        "modelStatus": {
            "transitionStatus": "UpToDate",
            "states": {"activeModelState": "Loaded", "targetModelState": ""},
            "copies": {"failedCopies": 0, "totalCopies": 1},
        },
        "url": url,
        "address": {"url": url},
    }


def _problem(sim: Simulator, obj: JSON, namespace: str, runtime_obj: JSON | None) -> tuple[str, str] | None:
    model = obj["spec"]["predictor"].get("model") or {}
    name = model.get("runtime", "")
    if runtime_obj is None:
        return "RuntimeNotRecognized", f"ServingRuntime {name!r} not found in namespace {namespace}"
    fmt = (model.get("modelFormat") or {}).get("name", "")
    if fmt not in {f["name"] for f in runtime_obj["spec"].get("supportedModelFormats") or []}:
        return "NoSupportingRuntime", f"ServingRuntime {name!r} does not support model format {fmt!r}"
    key = (model.get("storage") or {}).get("key")
    if key and sim.kube.get(object_path("v1", "secrets", key, namespace)) is None:
        return "ModelLoadFailed", f"storage key {key!r}: no such data connection Secret in {namespace}"
    if sim.outcome([obj], "inferenceservices") == "fail":
        return "ModelLoadFailed", sim.failure_message([obj], "simulated failure loading the model")
    return None


def inference_service(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Serve (or fail to serve) one model."""
    if obj is None or obj["metadata"].get("deletionTimestamp") or sim.outcome([obj], "inferenceservices") == "ignore":
        return None
    model = obj["spec"]["predictor"].get("model") or {}
    runtime_name = model.get("runtime", "")
    runtime_obj = sim.kube.get(RUNTIMES.path(runtime_name, namespace)) if runtime_name else None
    problem = _problem(sim, obj, namespace, runtime_obj)
    if annotation(obj, "serving.kserve.io/deploymentMode") == "ModelMesh":
        return _modelmesh(sim, kind, obj, namespace, name, runtime_obj, problem)
    return _raw(sim, kind, obj, namespace, name, runtime_obj, problem)


def _modelmesh(sim: Simulator, kind: Kind, obj: JSON, namespace: str, name: str, runtime_obj: JSON | None, problem: tuple[str, str] | None) -> float | None:
    if not _modelmesh_enabled(sim, namespace):
        return 5  # not ModelMesh's namespace: nobody sets a status
    if problem:
        set_status(sim.kube, kind, obj, _failed(*problem))
        return None
    assert runtime_obj is not None  # _problem() reports a missing runtime
    if not _available(sim, f"modelmesh-serving-{runtime_obj['metadata']['name']}", namespace):
        set_status(sim.kube, kind, obj, _loading())
        return 5  # the Deployment's own events wake us sooner
    if annotation(runtime_obj, "enable-route") == "true":
        route = {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(obj)]},
            "spec": {"to": {"kind": "Service", "name": "modelmesh-serving", "weight": 100}, "port": {"targetPort": 8008}, "path": f"/v2/models/{name}", "tls": {"termination": "edge"}},
        }
        apply(sim.kube, route, "routes")
    rest = f"http://modelmesh-serving.{namespace}:8008"
    status = _loaded(f"grpc://modelmesh-serving.{namespace}:8033") | {
        "deploymentMode": "ModelMesh",
        "components": {"predictor": {"restUrl": rest, "grpcUrl": f"grpc://modelmesh-serving.{namespace}:8033", "url": rest}},
    }
    set_status(sim.kube, kind, obj, status)
    return None


def _raw(sim: Simulator, kind: Kind, obj: JSON, namespace: str, name: str, runtime_obj: JSON | None, problem: tuple[str, str] | None) -> float | None:
    if problem:
        set_status(sim.kube, kind, obj, _failed(*problem))
        return None
    assert runtime_obj is not None
    container = dict(runtime_obj["spec"]["containers"][0])
    container["args"] = [a.replace("{{.Name}}", name) for a in container.get("args", [])]
    container = {k: v for k, v in container.items() if k in ("name", "image", "args", "command", "env", "ports", "resources")}
    labels = {"serving.kserve.io/inferenceservice": name, "app": f"isvc.{name}-predictor"}
    apply(sim.kube, _deployment(f"{name}-predictor", namespace, obj, labels, [container]), DEPLOYMENTS.plural)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-predictor", "namespace": namespace, "ownerReferences": [owner_reference(obj)]},
        "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": "http", "port": 8888, "targetPort": 8888, "protocol": "TCP"}]},
    }
    apply(sim.kube, service, "services")
    if not _available(sim, f"{name}-predictor", namespace):
        set_status(sim.kube, kind, obj, _loading())
        return 5  # the Deployment's own events wake us sooner
    url = f"http://{name}-predictor.{namespace}.svc.cluster.local:8888"
    set_status(sim.kube, kind, obj, _loaded(url) | {"deploymentMode": "RawDeployment", "components": {"predictor": {"url": url, "address": {"url": url}}}})
    return None
