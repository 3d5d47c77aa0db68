"""ModelMesh serving (kserve/modelmesh-serving controllers and model-mesh, as read at 9c7a2b71 and the ODH fork's
stable-2.x ed94b097), for namespaces labelled `modelmesh-enabled: "true"`:

- ServingRuntime with `multiModel: true` -> Deployment `modelmesh-serving-<runtime>` (label `modelmesh-service:
  modelmesh-serving`): the `mm` and `rest-proxy` containers, the runtime's own containers, and the built-in
  adapter `<serverType>-adapter` with the `storage-config` Secret at /storage-config and the models emptyDir at
  /models; Service `modelmesh-serving` (grpc 8033, http 8008 -> rest-proxy, prometheus 2112).
- InferenceService (`serving.kserve.io/deploymentMode: ModelMesh`): the controller rebuilds the whole status each
  time (no observedGeneration, no address). A named runtime that is missing -> FailedToLoad RuntimeNotRecognized;
  one without the model format -> NoSupportingRuntime; no ready runtime pod -> Loading, RuntimeUnhealthy "Waiting
  for runtime Pod to become available". Otherwise the model (id `<isvc>__isvc-<hash>`) is loaded in the runtime
  pod: where the kubelet runs that pod for real, the mesh asks its containers to pull and load it
  (runtimes/modelmesh.py) and the outcome is what happened; a pod whose images do not run here gets the outcome
  switch (simulator default: loaded). Loaded -> activeModelState Loaded, transitionStatus UpToDate, the URLs
  (`url`/`components.predictor.url` grpc://modelmesh-serving.<ns>:8033, `restUrl` http://...:8008); a failed first
  load -> activeModelState FailedToLoad with lastFailureInfo {reason ModelLoadFailed, message, location = the pod,
  modelRevisionName, time}. A changed spec loads the new model while the old one keeps serving (InProgress,
  targetModelState Loading), then switches (UpToDate) or keeps the old one (BlockedByFailedLoad, target
  FailedToLoad). A runtime annotated `enable-route: "true"` gets Route `<isvc>` (path `/v2/models/<isvc>`).
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import logging
import threading

from ..kube import JSON, object_path
from .engine import Kind, Simulator
from .objects import annotation, apply, condition, label, owner_reference, replace_status

log = logging.getLogger("modelmesh")

DEPLOYMENTS = Kind("apps/v1", "deployments", "Deployment")
IMAGES = {
    "mm": "kserve/modelmesh:v0.12.0",
    "rest-proxy": "kserve/rest-proxy:v0.12.0",
    "adapter": "kserve/modelmesh-runtime-adapter:v0.12.0",
}
MM_PORT, ADAPTER_PORT = 8090, 8085
SERVICE_PORTS = [
    {"name": "grpc", "port": 8033, "targetPort": "grpc", "protocol": "TCP"},
    {"name": "http", "port": 8008, "targetPort": "http", "protocol": "TCP"},
    {"name": "prometheus", "port": 2112, "targetPort": "prometheus", "protocol": "TCP"},
]


def enabled(sim: Simulator, namespace: str) -> bool:
    ns = sim.kube.get(object_path("v1", "namespaces", namespace)) or {"metadata": {}}
    return label(ns, "modelmesh-enabled") == "true"


def runtime_deployment(name: str, namespace: str, runtime: JSON) -> JSON:
    """What modelmesh-serving deploys for a runtime."""
    spec = runtime["spec"]
    adapter = spec.get("builtInAdapter") or {}
    management_port = int(adapter.get("runtimeManagementPort", 8888))
    labels = {"modelmesh-service": "modelmesh-serving", "name": f"modelmesh-serving-{name}", "app.kubernetes.io/managed-by": "modelmesh-controller"}
    env = [{"name": "MM_MANAGEMENT_PORT", "value": str(MM_PORT)}, {"name": "ADAPTER_PORT", "value": str(ADAPTER_PORT)}]
    containers: list[JSON] = [
        {"name": "mm", "image": IMAGES["mm"], "env": env, "ports": [{"name": "grpc", "containerPort": 8033}, {"name": "prometheus", "containerPort": 2112}],
         "readinessProbe": {"httpGet": {"path": "/ready", "port": MM_PORT}, "periodSeconds": 2, "failureThreshold": 3}},
        {"name": "rest-proxy", "image": IMAGES["rest-proxy"], "env": [*env, {"name": "REST_PROXY_LISTEN_PORT", "value": "8008"}, {"name": "RUNTIME_REST_PORT", "value": str(management_port)}],
         "ports": [{"name": "http", "containerPort": 8008}]},
    ]
    for container in spec.get("containers") or []:
        containers.append({k: v for k, v in container.items() if k in ("name", "image", "args", "command", "env", "ports", "resources")} | {"volumeMounts": [{"name": "models-dir", "mountPath": "/models"}]})
    server = adapter.get("serverType", "ovms")
    containers.append({
        "name": f"{server}-adapter",
        "image": IMAGES["adapter"],
        "env": [*env, {"name": "RUNTIME_PORT", "value": str(management_port)}, {"name": "ROOT_MODEL_DIR", "value": "/models"}, {"name": "STORAGE_CONFIG_DIR", "value": "/storage-config"}],
        "volumeMounts": [{"name": "models-dir", "mountPath": "/models"}, {"name": "storage-config", "mountPath": "/storage-config", "readOnly": True}],
    })
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"modelmesh-serving-{name}", "namespace": namespace, "labels": labels, "ownerReferences": [owner_reference(runtime)]},
        "spec": {
            "replicas": int(spec.get("replicas") or 1),
            "selector": {"matchLabels": {"modelmesh-service": "modelmesh-serving", "name": f"modelmesh-serving-{name}"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": containers,
                    "volumes": [{"name": "models-dir", "emptyDir": {}}, {"name": "storage-config", "secret": {"secretName": "storage-config"}}],
                },
            },
        },
    }


def runtime(sim: Simulator, kind: Kind, namespace: str, name: str, obj: JSON | None) -> float | None:
    """Deploy a ModelMesh runtime."""
    if obj is None or not obj["spec"].get("multiModel"):
        return None
    if not enabled(sim, namespace):
        return 5  # ModelMesh ignores namespaces without the label; look again in case it is added
    apply(sim.kube, runtime_deployment(name, namespace, obj), DEPLOYMENTS.plural)
    if sim.kube.get(object_path("v1", "services", "modelmesh-serving", namespace)) is None:
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "modelmesh-serving", "namespace": namespace, "ownerReferences": [owner_reference(obj, controller=False)]},
            "spec": {"selector": {"modelmesh-service": "modelmesh-serving"}, "ports": SERVICE_PORTS},
        }
        apply(sim.kube, service, "services")
    return None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ModelMesh:
    """The mesh's record of what is loaded, and the status it reports."""

    def __init__(self) -> None:
        self.loaded: dict[tuple[str, str], str] = {}  # (ns, isvc) -> model id serving now
        self.failed: dict[tuple[str, str], tuple[str, JSON]] = {}  # -> (model id, lastFailureInfo)
        self.loading: set[tuple[str, str, str]] = set()
        self.lock = threading.Lock()

    def reconcile(self, sim: Simulator, kind: Kind, obj: JSON, namespace: str, name: str, runtime_obj: JSON | None, real: bool) -> float | None:
        if not enabled(sim, namespace):
            return 5  # not ModelMesh's namespace: nobody sets a status
        key = (namespace, name)
        model = obj["spec"]["predictor"].get("model") or {}
        model_id = f"{name}__isvc-{hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:10]}"
        if runtime_obj is None:
            return self._write(sim, kind, obj, None, {"reason": "RuntimeNotRecognized", "message": "Specified runtime name not recognized", "time": _now()}, "UpToDate", "")
        fmt = (model.get("modelFormat") or {}).get("name", "")
        if fmt not in {f["name"] for f in runtime_obj["spec"].get("supportedModelFormats") or []}:
            return self._write(sim, kind, obj, None, {"reason": "NoSupportingRuntime", "message": "No ServingRuntime supports specified model type and/or protocol", "time": _now()}, "UpToDate", "")
        pod = self._runtime_pod(sim, namespace, runtime_obj["metadata"]["name"])
        with self.lock:
            active = self.loaded.get(key)
            failed = self.failed.get(key)
        if pod is None:
            waiting = {"reason": "RuntimeUnhealthy", "message": "Waiting for runtime Pod to become available", "time": _now()}
            return self._write(sim, kind, obj, active, waiting, "InProgress", "Loading") or 3
        if active == model_id:
            return self._write(sim, kind, obj, active, None, "UpToDate", "")
        if failed and failed[0] == model_id:
            return self._write(sim, kind, obj, active, failed[1], "BlockedByFailedLoad" if active else "UpToDate", "FailedToLoad" if active else "")
        if not real:
            storage_key = (model.get("storage") or {}).get("key", "")
            entries = ((sim.kube.get(object_path("v1", "secrets", "storage-config", namespace)) or {}).get("data")) or {}
            outcome = sim.outcome([obj], "inferenceservices")
            missing = bool(storage_key) and storage_key not in entries
            if missing or outcome == "fail":
                message = (
                    f"Failed to pull model from storage due to error: Did not find storage config for key {storage_key}: Storage secretKey not found: {storage_key}"
                    if missing
                    else sim.failure_message([obj], "simulated failure loading the model")
                )
                info = {"reason": "ModelLoadFailed", "message": message, "location": pod["metadata"]["name"], "modelRevisionName": model_id, "time": _now()}
                with self.lock:
                    self.failed[key] = (model_id, info)
            else:
                with self.lock:
                    self.loaded[key] = model_id
            return 0.1
        with self.lock:
            if (namespace, name, model_id) in self.loading:
                return self._write(sim, kind, obj, active, None, "InProgress", "Loading") or 2
            self.loading.add((namespace, name, model_id))
        request = {"modelId": model_id, "vModelId": name, "storageKey": (model.get("storage") or {}).get("key", ""), "path": (model.get("storage") or {}).get("path", ""), "modelType": fmt}
        threading.Thread(target=self._load, args=(sim, key, model_id, pod, request), daemon=True, name=f"mm-load-{name}").start()
        return self._write(sim, kind, obj, active, None, "InProgress", "Loading") or 2

    def _load(self, sim: Simulator, key: tuple[str, str], model_id: str, pod: JSON, request: JSON) -> None:
        ip = pod["status"]["podIP"]
        try:
            connection = http.client.HTTPConnection(ip, MM_PORT, timeout=120)
            connection.request("POST", "/load", json.dumps(request), {"Content-Type": "application/json"})
            answer = json.loads(connection.getresponse().read() or b"{}")
            connection.close()
        except (OSError, ValueError) as error:
            answer = {"ok": False, "message": f"model-mesh: {error}"}
        with self.lock:
            self.loading.discard((*key, model_id))
            if answer.get("ok"):
                self.loaded[key] = model_id
                self.failed.pop(key, None)
            else:
                info = {"reason": "ModelLoadFailed", "message": answer.get("message", ""), "location": pod["metadata"]["name"], "modelRevisionName": model_id, "time": _now()}
                self.failed[key] = (model_id, info)
        log.info("model %s in %s: %s", model_id, pod["metadata"]["name"], "loaded" if answer.get("ok") else answer.get("message"))
        sim.enqueue((SERVICES_KIND, key[0], key[1]))

    @staticmethod
    def _runtime_pod(sim: Simulator, namespace: str, runtime_name: str) -> JSON | None:
        query = {"labelSelector": f"name=modelmesh-serving-{runtime_name}"}
        pods = (sim.kube.request("GET", object_path("v1", "pods", namespace=namespace), query=query) or {}).get("items") or []
        ready = [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])]
        return sorted(ready, key=lambda p: p["metadata"]["creationTimestamp"])[0] if ready else None

    def _write(self, sim: Simulator, kind: Kind, obj: JSON, active: str | None, failure: JSON | None, transition: str, target: str) -> None:
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        available = bool(active)
        states = {"activeModelState": "Loaded" if available else ("FailedToLoad" if failure and failure["reason"] != "RuntimeUnhealthy" else "Loading" if failure else "Pending")}
        if target:
            states["targetModelState"] = target
        model_status: JSON = {"transitionStatus": transition, "states": states, "copies": {"failedCopies": 0 if available or not failure else 1, "totalCopies": 1 if available else 0}}
        if failure:
            model_status["lastFailureInfo"] = failure
        status: JSON = {"conditions": [condition("PredictorReady", available), condition("Ready", available)], "modelStatus": model_status}
        if available:
            runtime_obj_name = (obj["spec"]["predictor"].get("model") or {}).get("runtime", "")
            rest = f"http://modelmesh-serving.{namespace}:8008"
            grpc = f"grpc://modelmesh-serving.{namespace}:8033"
            status |= {"url": grpc, "components": {"predictor": {"url": grpc, "grpcUrl": grpc, "restUrl": rest}}}
            runtime_obj = sim.kube.get(object_path("serving.kserve.io/v1alpha1", "servingruntimes", runtime_obj_name, namespace)) if runtime_obj_name else None
            if runtime_obj and annotation(runtime_obj, "enable-route") == "true":
                route = {
                    "apiVersion": "route.openshift.io/v1",
                    "kind": "Route",
                    "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(obj)]},
                    "spec": {"to": {"kind": "Service", "name": "modelmesh-serving", "weight": 100}, "port": {"targetPort": "http"}, "path": f"/v2/models/{name}", "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}},
                }
                apply(sim.kube, route, "routes")
        replace_status(sim.kube, kind, obj, status)
        return None



SERVICES_KIND = Kind("serving.kserve.io/v1beta1", "inferenceservices", "InferenceService")
